//! OAuth states: 256 random bits, single use, expiring after ten minutes, bound to the
//! tenant, project, key and provider that asked, with the PKCE verifier. Kept in Redis when
//! one is configured (so every instance sees them), in the database otherwise; either way
//! under the state's SHA-256, never the state itself.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::id::{ProjectId, TenantId};
use crate::redis::Redis;
use crate::store::Store;
use crate::store::oauth_states::StoredState;

pub const LIFETIME: Duration = Duration::from_secs(600);

/// What a state stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub tenant_id: TenantId,
    pub project_id: ProjectId,
    /// The API key that started the install.
    pub key_id: String,
    pub provider: String,
    pub verifier: Option<String>,
    /// Provider details chosen at install (a Zendesk subdomain, a Microsoft tenant).
    pub extra: serde_json::Map<String, serde_json::Value>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("the state store is unavailable: {0}")]
    Unavailable(String),
}

/// 32 random bytes, URL-safe: a state or a PKCE verifier.
pub fn random_token() -> Result<String, StateError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StateError::Unavailable(format!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The S256 challenge of a PKCE verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn hash(state: &str) -> String {
    Sha256::digest(state.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Clone)]
pub enum States {
    Database(Store),
    Redis(Redis),
}

impl States {
    pub async fn put(&self, state: &str, pending: &Pending) -> Result<(), StateError> {
        match self {
            States::Database(store) => {
                let stored = StoredState {
                    tenant_id: pending.tenant_id.clone(),
                    project_id: pending.project_id.clone(),
                    key_id: pending.key_id.clone(),
                    provider: pending.provider.clone(),
                    verifier: pending.verifier.clone(),
                    extra: serde_json::Value::Object(pending.extra.clone()).to_string(),
                    expires_at: pending.expires_at,
                };
                store.put_oauth_state(&hash(state), &stored).await.map_err(|e| StateError::Unavailable(e.to_string()))
            }
            States::Redis(redis) => {
                let value = serde_json::to_string(pending).map_err(|e| StateError::Unavailable(e.to_string()))?;
                redis.set_ex(&key(state), &value, LIFETIME).await.map_err(StateError::Unavailable)
            }
        }
    }

    /// The state's binding if it is known, unused and unexpired; it is used up either way.
    pub async fn take(&self, state: &str) -> Result<Option<Pending>, StateError> {
        let pending = match self {
            States::Database(store) => {
                let taken =
                    store.take_oauth_state(&hash(state)).await.map_err(|e| StateError::Unavailable(e.to_string()))?;
                // A binding that cannot be read is no binding: the state is refused.
                taken.and_then(|s| {
                    Some(Pending {
                        extra: serde_json::from_str(&s.extra).ok()?,
                        tenant_id: s.tenant_id,
                        project_id: s.project_id,
                        key_id: s.key_id,
                        provider: s.provider,
                        verifier: s.verifier,
                        expires_at: s.expires_at,
                    })
                })
            }
            States::Redis(redis) => {
                let value = redis.get_del(&key(state)).await.map_err(StateError::Unavailable)?;
                value.and_then(|v| serde_json::from_str(&v).ok())
            }
        };
        Ok(pending.filter(|p| p.expires_at > Utc::now()))
    }
}

fn key(state: &str) -> String {
    format!("taskbridge:oauth-state:{}", hash(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_challenges_follow_rfc_7636() {
        let token = random_token().expect("random");
        assert_eq!(URL_SAFE_NO_PAD.decode(&token).map(|b| b.len()).ok(), Some(32));
        assert_ne!(token, random_token().expect("random"));
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
