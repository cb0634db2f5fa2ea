//! Local fakes of the platforms taskbridge talks to, one file each, written once and shared
//! by the tests that need it: this is where to find how a platform is faked. Every fake
//! serves on a free loopback port and records what it was sent, so a test can check both
//! what taskbridge answered and what reached the platform.
//! Where tests need a platform to answer differently, the fake takes options rather than
//! being written again.

pub mod atlassian;
pub mod discord;
pub mod dovecot;
pub mod jira;
pub mod llm;
pub mod microsoft;
pub mod oauth;
pub mod slack;
pub mod smtp;
pub mod speech;
pub mod taiga;
pub mod telegram;
pub mod twilio;
pub mod webhook;
pub mod zendesk;

pub use atlassian::Trouble;
