//! taskbridge: turns conversations into tracked work.

pub mod app;
pub mod channels;
pub mod config;
pub mod coordinator;
pub mod dedup;
pub mod domain;
pub mod events;
pub mod http;
pub mod intake;
pub mod integrations;
pub mod jobs;
pub mod llm;
pub mod oauth;
pub mod outbound;
pub mod serve;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod trackers;
pub mod voice;
