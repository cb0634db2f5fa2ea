//! Why a webhook (a chat platform's or a tracker's) is refused: shared by the adapters that
//! read them and the HTTP layer that answers the platform.

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Not signed by the platform: answered 401.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Signed, but not something the platform sends: answered 400.
    #[error("{0}")]
    Malformed(String),
}
