//! Domain and API types shared by every Usagi crate.
//!
//! Everything here is parsed once at the edge ("parse, don't validate"): holding a
//! [`ProductId`] or a [`ClientId`] means the value is well-formed.

pub mod ids;

pub use ids::{ClientId, IdError, ProductId};
