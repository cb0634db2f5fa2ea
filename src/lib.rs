//! taskbridge: turns conversations into tracked work.

pub mod app;
pub mod config;
pub mod domain;
pub mod http;
pub mod store;
pub mod telemetry;
