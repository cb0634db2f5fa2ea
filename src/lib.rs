//! taskbridge: turns conversations into tracked work.
//!
//! # Layers
//!
//! Modules are layered; each uses only its own layer and those below it, and no two
//! modules use each other (checked by a test in `src/layers.rs`). Lowest first:
//!
//! 1. `domain`: the types and rules every layer speaks (tasks, messages, integrations,
//!    jobs as data, secrets, validation). Imports nothing of the crate.
//! 2. `store` (PostgreSQL and SQLite), `jobs` (the durable queue and its workers; typed job
//!    kinds are defined beside their handlers, higher up), `redis` (the little of Redis
//!    that OAuth states and shared rate limits need).
//! 3. Plumbing: `integrations` (records, sealed secrets, the SSRF guard), `outbound` (the
//!    shared HTTP client and how a platform's failure maps to retries), `llm`, `dedup`,
//!    `voice`, `limits` (rate limits per API key and per webhook integration).
//! 4. Adapters, which only talk to their platform and decide nothing about tasks:
//!    `channels` (chat platforms), `trackers` (Taiga, Jira, Confluence, Zendesk), `events`
//!    (outgoing webhooks), `oauth` (providers' installs and token refresh).
//! 5. Services: `tasks` (every change to a task and who hears of it; the one rule for a
//!    tracker's change), `intake` (a request to a task or a duplicate), `sync` (sync runs,
//!    tracker polling and import, undo), `coordinator` (the AI coordinator).
//! 6. `http`: thin handlers over the services.
//! 7. `serve`: the accept loop.
//! 8. `config`, `telemetry`, `app`: reading the environment and wiring it all up; `doctor`,
//!    which checks what the configuration names.

pub mod app;
pub mod channels;
pub mod config;
pub mod coordinator;
pub mod dedup;
pub mod doctor;
pub mod domain;
pub mod events;
pub mod http;
pub mod intake;
pub mod integrations;
pub mod jobs;
pub mod limits;
pub mod llm;
pub mod oauth;
pub mod outbound;
pub mod redis;
pub mod serve;
pub mod store;
pub mod sync;
pub mod tasks;
pub mod telemetry;
pub mod trackers;
pub mod voice;

#[cfg(test)]
mod layers;
