//! The tracker's data model and its validation rules. No I/O happens here.

pub mod comment;
pub mod coordinator;
pub mod delivery;
pub mod event;
pub mod id;
pub mod integration;
pub mod job;
pub mod label;
pub mod list;
pub mod message;
pub mod notify;
pub mod project;
pub mod run_outcome;
pub mod secret;
pub mod sync_run;
pub mod task;
pub mod team;
pub mod tenant;
mod validate;
pub mod webhook;

pub use validate::{DomainError, is_disguising};

/// Deserialises a field that distinguishes "absent" (outer `None`) from "null" (`Some(None)`),
/// so a PATCH can clear a value as well as leave it alone.
pub(crate) fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}

/// A new time-ordered identifier: ids sort by creation, which keeps cursor pages stable.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
