//! Black-box tests of the simulator: the generated fleet (`fleet`) and the sender against an
//! in-process call-home server (`sender`).

mod fleet;
mod helpers;
mod sender;
