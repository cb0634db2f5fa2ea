//! Confluence Cloud: pages read and written in storage format.

pub mod storage;
