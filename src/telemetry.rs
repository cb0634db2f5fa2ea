//! Logging: text or JSON lines, to stdout (stderr for tools) and optionally a file.

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
/// logged while a request is served carries its id. Commands whose answer is stdout
/// (administration tools) log to stderr instead (`to_stderr`).
pub fn init(config: &Config, to_stderr: bool) -> Result<(), TelemetryError> {
    use tracing_subscriber::fmt::writer::BoxMakeWriter;
    let console = || if to_stderr { BoxMakeWriter::new(std::io::stderr) } else { BoxMakeWriter::new(std::io::stdout) };
    let filter = EnvFilter::try_new(&config.log)?;
    let file = match &config.log_file {
        Some(path) => Some(Mutex::new(OpenOptions::new().create(true).append(true).open(path)?)),
        None => None,
    };
    let registry = tracing_subscriber::registry().with(filter);
    match config.log_format {
        LogFormat::Json => {
            let stdout = tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(false)
                .with_writer(console());
            let file = file.map(|f| {
                tracing_subscriber::fmt::layer().json().with_current_span(true).with_span_list(false).with_writer(f)
            });
            registry.with(stdout).with(file).try_init()?;
        }
        LogFormat::Text => {
            let terminal = if to_stderr { std::io::stderr().is_terminal() } else { std::io::stdout().is_terminal() };
            let stdout = tracing_subscriber::fmt::layer().with_ansi(terminal).with_writer(console());
            let file = file.map(|f| tracing_subscriber::fmt::layer().with_ansi(false).with_writer(f));
            registry.with(stdout).with(file).try_init()?;
        }
    }
    Ok(())
}
