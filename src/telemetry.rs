//! Logging: text or JSON lines, to stdout and optionally a file.

use std::fs::OpenOptions;
use std::io::IsTerminal;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Config, LogFormat};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error("cannot open log file: {0}")]
    File(#[from] std::io::Error),
    #[error("logging is already set up: {0}")]
    Init(#[from] tracing_subscriber::util::TryInitError),
}

/// Installs the global subscriber. Request ids come from the request span, so every line
/// logged while a request is served carries its id.
pub fn init(config: &Config) -> Result<(), TelemetryError> {
    let filter = EnvFilter::try_new(&config.log)?;
    let file = match &config.log_file {
        Some(path) => Some(Mutex::new(OpenOptions::new().create(true).append(true).open(path)?)),
        None => None,
    };
    let registry = tracing_subscriber::registry().with(filter);
    match config.log_format {
        LogFormat::Json => {
            let stdout = tracing_subscriber::fmt::layer().json().with_current_span(true).with_span_list(false);
            let file = file.map(|f| {
                tracing_subscriber::fmt::layer().json().with_current_span(true).with_span_list(false).with_writer(f)
            });
            registry.with(stdout).with(file).try_init()?;
        }
        LogFormat::Text => {
            let stdout = tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal());
            let file = file.map(|f| tracing_subscriber::fmt::layer().with_ansi(false).with_writer(f));
            registry.with(stdout).with(file).try_init()?;
        }
    }
    Ok(())
}
