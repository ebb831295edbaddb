//! API tests: the real server on a random port, real SQLite (or PostgreSQL, with
//! `USAGI_TEST_CATALOG=postgres`) and DuckDB files.

mod auth;
mod bad_input;
mod callhome;
mod client_profile;
mod dashboard;
mod durability;
mod engagement;
mod erasure;
mod event_reference;
mod event_reports;
mod event_tracking;
mod example2;
mod exports;
mod generic;
mod geo;
mod helpers;
mod history;
mod license_keys;
mod load_balancer;
mod meta;
mod openapi;
mod previews;
mod reports_reference;
mod retention;
