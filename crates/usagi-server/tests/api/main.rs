//! API tests: the real server on a random port, real SQLite and DuckDB files.

mod auth;
mod callhome;
mod durability;
mod generic;
mod geo;
mod helpers;
mod history;
mod meta;
mod openapi;
