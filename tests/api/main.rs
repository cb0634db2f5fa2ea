//! Integration tests: each starts the real server on a random port over a fresh database
//! and talks HTTP to it, on SQLite and (with `TEST_DATABASE_URL`) PostgreSQL.

mod helpers;

mod ai;
mod ai_chat;
mod ai_follow_ups;
mod ai_model;
mod atlassian;
mod auth;
mod binary;
mod comments;
mod concurrent_intake;
mod confluence_sync;
mod dedup;
mod discord;
mod email;
mod errors;
mod health;
mod history;
mod intake;
mod integrations;
mod isolation;
mod jira;
mod jira_project;
mod jobs;
mod json_fuzz;
mod labels;
mod legacy;
mod llm;
mod msteams;
mod oauth;
mod openapi;
mod outgoing_webhooks;
mod projects;
mod restart;
mod shutdown;
mod slack;
mod sync_crash;
mod taiga;
mod tasks;
mod teams;
mod teams_bot;
mod telegram;
mod voice;
mod whatsapp;
mod zendesk;
