//! Call-home protocol v1 (`callhome-protocol.md`): wire types, body decoding, request signing
//! and validation of everything an SDK sends.
//!
//! The server reads a request in the order of §9.1: [`verify_request`] on the raw bytes,
//! [`decode_body`], then one of the parsers ([`parse_sync`], [`parse_license_check`], …),
//! whose result is valid by construction. SDKs and the simulator build the [`wire`] types,
//! which serialize to exactly what the parsers accept.

#![warn(missing_docs)]

pub mod calls;
pub mod decode;
pub mod error;
mod json;
pub mod limits;
pub mod record;
pub mod signing;
pub mod sync;
mod validate;
pub mod wire;

pub use calls::{parse_license_check, parse_license_set, parse_optout, parse_ping};
pub use decode::decode_body;
pub use error::{AuthFailure, DecodeError, SecretError, SyntaxError};
pub use record::{
    CustomGroup, CustomPairs, EventValue, GpuInfo, JavaInfo, LicenseType, MachineGroup, OsInfo, ProductGroup,
    PropertiesRecord, Record, RecordBody,
};
pub use signing::{sign, verify_request, ProductSecret, SIGNATURE_HEADER, TIMESTAMP_HEADER};
pub use sync::{parse_sync, SyncBatch};
pub use wire::{
    ErrorBody, Instruction, LicenseCheckRequest, LicenseResponse, LicenseSetRequest, OptOutRequest, OptOutResponse,
    PingRequest, PingResponse, SdkInfo, SyncRequest, SyncResponse, WireRecord,
};

/// The protocol version in the path (`/callhome/v1`) and in `ping` answers.
pub const PROTOCOL_VERSION: u32 = 1;
