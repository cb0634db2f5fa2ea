//! Tenants and their API keys.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::id::TenantId;
use super::validate::{self, DomainError};

/// The tenant that exists from the first start; its admins may create other tenants.
pub const DEFAULT_TENANT_ID: &str = "00000000-0000-7000-8000-000000000001";

/// [`DEFAULT_TENANT_ID`] as an id.
pub fn default_tenant() -> TenantId {
    TenantId::from(DEFAULT_TENANT_ID)
}
const KEY_PREFIX: &str = "tb_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    #[default]
    Member,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tenant {
    #[schema(value_type = String)]
    pub id: TenantId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// An API key as listed: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// Who is calling: resolved from the API key on every request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant_id: TenantId,
    pub key_id: String,
    pub role: Role,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn is_default_tenant_admin(&self) -> bool {
        self.is_admin() && self.tenant_id == DEFAULT_TENANT_ID
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTenantInput {
    pub name: String,
}

impl NewTenantInput {
    pub fn validate(self) -> Result<String, DomainError> {
        validate::required_line("name", &self.name, 200)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewApiKeyInput {
    #[serde(default)]
    pub name: Option<String>,
    /// `member` unless told otherwise.
    #[serde(default)]
    pub role: Option<Role>,
}

pub struct NewApiKey {
    pub name: String,
    pub role: Role,
}

impl NewApiKeyInput {
    pub fn validate(self) -> Result<NewApiKey, DomainError> {
        Ok(NewApiKey {
            name: validate::optional_name("name", self.name.as_deref(), 200)?.unwrap_or_else(|| "api key".into()),
            role: self.role.unwrap_or_default(),
        })
    }
}

/// A freshly generated key: 256 random bits, shown once.
pub fn generate_key() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{KEY_PREFIX}{}", hex(&bytes)))
}

/// What the database keeps of a key. Keys are high-entropy, so a fast hash is enough
/// and keeps authentication cheap on every request.
pub fn hash_key(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_unique_and_long() {
        let a = generate_key().expect("random");
        let b = generate_key().expect("random");
        assert_ne!(a, b);
        assert_eq!(a.len(), KEY_PREFIX.len() + 64);
    }

    #[test]
    fn the_hash_is_stable_and_hides_the_key() {
        assert_eq!(hash_key("abc"), hash_key("abc"));
        assert_ne!(hash_key("abc"), hash_key("abd"));
        assert!(!hash_key("secret-key").contains("secret"));
    }
}
