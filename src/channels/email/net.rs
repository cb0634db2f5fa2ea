//! Connections the mail clients make by themselves (SMTP, IMAP), outside the HTTP client:
//! the SSRF guard is checked on the addresses the host resolves to, and exactly those are
//! connected to, so a second lookup cannot point elsewhere; TLS through rustls.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Why a connection failed: worth retrying, or not (refused by the guard, a bad name).
#[derive(Debug)]
pub enum NetError {
    Transient(String),
    Permanent(String),
}

/// A TCP connection to `host:port` for protocol `what` (`SMTP`, `IMAP`), if the guard allows
/// where the host points.
pub async fn connect(
    host: &str,
    port: u16,
    guard: crate::integrations::ssrf::Guard,
    what: &str,
) -> Result<Box<dyn Io>, NetError> {
    let target = format!("{host}:{port}");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addresses = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| NetError::Transient(format!("{what} resolve {target}: {e}")))?;
    let allowed = match guard.allowed(addresses) {
        Ok(allowed) => allowed,
        Err(Some(why)) => return Err(NetError::Permanent(format!("{what} host {host}: refused: {why}"))),
        // Nothing resolved: connecting to nothing fails below, as a transient error.
        Err(None) => Vec::new(),
    };
    let tcp = TcpStream::connect(&allowed[..])
        .await
        .map_err(|e| NetError::Transient(format!("{what} connect to {target}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    Ok(Box::new(tcp))
}

/// The stream wrapped in TLS, the server's certificate checked for `host`.
pub async fn handshake(
    stream: Box<dyn Io>,
    host: &str,
    tls: &Arc<rustls::ClientConfig>,
    what: &str,
) -> Result<Box<dyn Io>, NetError> {
    let name = rustls::pki_types::ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']').to_string())
        .map_err(|_| NetError::Permanent(format!("{what} host {host:?} is not a valid name")))?;
    let connector = tokio_rustls::TlsConnector::from(tls.clone());
    let stream = connector
        .connect(name, stream)
        .await
        .map_err(|e| NetError::Transient(format!("{what} TLS handshake with {host}: {e}")))?;
    Ok(Box::new(stream))
}
