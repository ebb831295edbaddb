//! The SDK against a real Usagi server: offline queueing, server failures, 413 splitting,
//! clock correction, instructions, opt-out and kill -9 mid-sync.

mod failures;
mod helpers;
mod instructions;
mod kill9;
mod lifecycle;
mod offline;
mod opt_out;
