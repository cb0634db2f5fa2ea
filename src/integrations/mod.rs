//! Per-project integration records: settings, encrypted secrets, and the guard that keeps
//! tenant-configured URLs away from internal addresses.

pub mod crypto;
pub mod import_env;
pub mod in_flight;
pub mod rotate;
pub mod ssrf;

pub use crypto::{Cipher, CryptoError};

use serde_json::{Map, Value};

use crate::domain::DomainError;
use crate::domain::id::{IntegrationId, ProjectId, TenantId};
use crate::domain::integration::{
    Integration, IntegrationPatchInput, NewIntegrationInput, check_record, check_secrets, check_settings, merge,
    name_or_default,
};
use crate::store::integrations::{IntegrationRecord, new_record};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

/// Integration records of every tenant: validation, sealing of secrets, and the view
/// answers show (which secrets are set, never their values).
#[derive(Clone)]
pub struct Integrations {
    store: Store,
    cipher: Cipher,
    public_url: String,
    allow_private_urls: bool,
}

impl Integrations {
    pub fn new(store: Store, cipher: Cipher, public_url: &str, allow_private_urls: bool) -> Self {
        Integrations { store, cipher, public_url: public_url.trim_end_matches('/').to_string(), allow_private_urls }
    }

    fn view(&self, r: IntegrationRecord) -> Integration {
        Integration {
            webhook_url: format!("{}/webhooks/{}/{}", self.public_url, r.kind.as_str(), r.id),
            cannot_send: crate::domain::integration::cannot_send(r.kind, &r.settings, &r.secret_names),
            id: r.id,
            project_id: r.project_id,
            kind: r.kind,
            name: r.name,
            settings: r.settings,
            status: r.status,
            last_error: r.last_error,
            secrets_set: r.secret_names,
            installation: None,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }

    fn url_check(&self) -> impl Fn(&str) -> Result<(), String> + '_ {
        move |url| ssrf::Guard::new(self.allow_private_urls).check_url(url).map(|_| ()).map_err(|e| e.to_string())
    }

    /// Seals `secrets` into the record (names kept in clear, sorted).
    fn seal(&self, record: &mut IntegrationRecord, secrets: &Map<String, Value>) -> Result<(), IntegrationError> {
        let mut names: Vec<String> = secrets.keys().cloned().collect();
        names.sort();
        record.secret_names = names;
        record.sealed_secrets = if secrets.is_empty() {
            None
        } else {
            Some(self.cipher.encrypt(Value::Object(secrets.clone()).to_string().as_bytes())?)
        };
        Ok(())
    }

    fn open(&self, record: &IntegrationRecord) -> Result<Map<String, Value>, IntegrationError> {
        match &record.sealed_secrets {
            None => Ok(Map::new()),
            Some(sealed) => {
                let plain = self.cipher.decrypt(sealed)?;
                serde_json::from_slice(&plain).map_err(|_| IntegrationError::Crypto(CryptoError::Decrypt))
            }
        }
    }

    pub async fn create(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        input: NewIntegrationInput,
    ) -> Result<Integration, IntegrationError> {
        check_settings(input.kind, &input.settings, &self.url_check())?;
        check_secrets(input.kind, &input.secrets)?;
        let mut settings = Map::new();
        merge(&mut settings, &input.settings);
        settings.entry("mode").or_insert_with(|| Value::String("commands".into()));
        let mut secrets = Map::new();
        merge(&mut secrets, &input.secrets);
        if input.kind == crate::domain::integration::IntegrationType::Webhook {
            for (what, map) in [("settings.url", &settings), ("secrets.signing_secret", &secrets)] {
                let name = what.split('.').nth(1).unwrap_or_default();
                if crate::domain::integration::setting(map, name).is_none() {
                    return Err(DomainError::invalid(what, "a webhook needs it").into());
                }
            }
        }
        check_record(input.kind, &settings, &secrets.keys().map(String::as_str).collect::<Vec<_>>())?;
        let name = name_or_default(input.kind, input.name.as_deref())?;
        let mut record = new_record(project_id, input.kind, name, settings);
        self.seal(&mut record, &secrets)?;
        self.store.create_integration(tenant_id, &record).await?;
        Ok(self.view(record))
    }

    /// One integration, with what its OAuth install is about (opened from the sealed blob).
    pub async fn get(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        id: &IntegrationId,
    ) -> Result<Integration, IntegrationError> {
        let record = self.store.get_integration(tenant_id, project_id, id).await?;
        let installation = self.open(&record).ok().and_then(|mut s| s.remove("installation"));
        let mut view = self.view(record);
        view.installation = installation;
        Ok(view)
    }

    pub async fn list(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
    ) -> Result<Vec<Integration>, IntegrationError> {
        // An unknown project answers 404 rather than an empty list.
        self.store.get_project(tenant_id, project_id).await?;
        let records = self.store.list_integrations(tenant_id, project_id).await?;
        Ok(records.into_iter().map(|r| self.view(r)).collect())
    }

    pub async fn update(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        id: &IntegrationId,
        patch: IntegrationPatchInput,
    ) -> Result<Integration, IntegrationError> {
        let mut record = self.store.get_integration(tenant_id, project_id, id).await?;
        check_settings(record.kind, &patch.settings, &self.url_check())?;
        check_secrets(record.kind, &patch.secrets)?;
        if patch.name.is_some() {
            record.name = name_or_default(record.kind, patch.name.as_deref())?;
        }
        merge(&mut record.settings, &patch.settings);
        // Which secrets it will hold, from their names: nothing is opened for the check.
        let mut held: Vec<&str> = record.secret_names.iter().map(String::as_str).collect();
        for (name, value) in &patch.secrets {
            held.retain(|n| n != name);
            if !value.is_null() {
                held.push(name);
            }
        }
        check_record(record.kind, &record.settings, &held)?;
        if !patch.secrets.is_empty() {
            let mut secrets = self.open(&record)?;
            merge(&mut secrets, &patch.secrets);
            self.seal(&mut record, &secrets)?;
        }
        record.updated_at = crate::store::now();
        self.store.save_integration(tenant_id, &record).await?;
        Ok(self.view(record))
    }

    pub async fn delete(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        id: &IntegrationId,
    ) -> Result<(), IntegrationError> {
        Ok(self.store.delete_integration(tenant_id, project_id, id).await?)
    }

    /// A webhook's integration: its tenant, record and secrets in clear.
    pub async fn for_webhook(
        &self,
        id: &IntegrationId,
    ) -> Result<(TenantId, IntegrationRecord, Map<String, Value>), IntegrationError> {
        let (tenant_id, record) = self.store.integration_for_webhook(id).await?;
        let secrets = self.open(&record)?;
        Ok((tenant_id, record, secrets))
    }

    /// An integration of a tenant with its secrets in clear, for replies.
    pub async fn with_secrets(
        &self,
        tenant_id: &TenantId,
        id: &IntegrationId,
    ) -> Result<(IntegrationRecord, Map<String, Value>), IntegrationError> {
        // Not from the webhooks' cache: what is read here may be written back (a refreshed
        // token), so it must be what the database holds now.
        let (owner, record) = self.store.integration_by_id(id).await?;
        if owner != *tenant_id {
            return Err(IntegrationError::Store(StoreError::NotFound));
        }
        let secrets = self.open(&record)?;
        Ok((record, secrets))
    }

    /// Writes what an OAuth install brought into the project's integration of `kind`:
    /// created, or updated keeping what else it holds (a Jira project key, say); active
    /// again. Settings and secrets here come from the provider, not from a request.
    pub async fn install(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        kind: crate::domain::integration::IntegrationType,
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<Integration, IntegrationError> {
        for attempt in 0..2 {
            let existing =
                self.store.list_integrations(tenant_id, project_id).await?.into_iter().find(|r| r.kind == kind);
            let result = match existing {
                Some(mut record) => {
                    merge(&mut record.settings, settings);
                    let mut sealed = self.open(&record)?;
                    merge(&mut sealed, secrets);
                    self.seal(&mut record, &sealed)?;
                    record.status = crate::domain::integration::IntegrationStatus::Active;
                    record.last_error = None;
                    record.updated_at = crate::store::now();
                    self.store.save_integration(tenant_id, &record).await.map(|()| record)
                }
                None => {
                    let mut all = Map::new();
                    all.insert("mode".into(), Value::String("commands".into()));
                    merge(&mut all, settings);
                    let mut record = new_record(project_id, kind, kind.as_str().to_string(), all);
                    let mut sealed = Map::new();
                    merge(&mut sealed, secrets);
                    self.seal(&mut record, &sealed)?;
                    self.store.create_integration(tenant_id, &record).await.map(|()| record)
                }
            };
            match result {
                Ok(record) => return Ok(self.view(record)),
                // Another callback created it a moment ago: update that one instead.
                Err(StoreError::Conflict(_)) if attempt == 0 => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(IntegrationError::Store(StoreError::NotFound))
    }

    /// Disconnects: the secrets are deleted, the record stays as `revoked` (with why the
    /// provider could not be told, if it could not) until it is installed again or deleted.
    pub async fn revoke(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        id: &IntegrationId,
        provider_failure: Option<String>,
    ) -> Result<Integration, IntegrationError> {
        let mut record = self.store.get_integration(tenant_id, project_id, id).await?;
        self.seal(&mut record, &Map::new())?;
        record.status = crate::domain::integration::IntegrationStatus::Revoked;
        record.last_error = provider_failure.map(|why| why.chars().take(500).collect());
        record.settings.remove("expires_at");
        record.settings.insert("revoked_at".into(), Value::String(chrono::Utc::now().to_rfc3339()));
        record.updated_at = crate::store::now();
        self.store.save_integration(tenant_id, &record).await?;
        Ok(self.view(record))
    }

    /// Writes a refresh's new tokens into integration `id`, unless it was revoked, installed
    /// again or otherwise written since its token expiring at `expires_at` was read (then
    /// nothing is written and `None` answered: a newer state wins).
    pub async fn apply_refresh(
        &self,
        tenant_id: &TenantId,
        id: &IntegrationId,
        expires_at: &str,
        settings: &Map<String, Value>,
        secrets: &Map<String, Value>,
    ) -> Result<Option<Integration>, IntegrationError> {
        let (owner, mut record, mut sealed) = self.for_webhook(id).await?;
        let current = crate::domain::integration::OAuthGrant::read(&record.settings).expires_at;
        if owner != *tenant_id
            || record.status == crate::domain::integration::IntegrationStatus::Revoked
            || current.as_deref() != Some(expires_at)
        {
            return Ok(None);
        }
        let seen = record.updated_at;
        merge(&mut record.settings, settings);
        merge(&mut sealed, secrets);
        self.seal(&mut record, &sealed)?;
        record.status = crate::domain::integration::IntegrationStatus::Active;
        record.last_error = None;
        record.updated_at = crate::store::now();
        let written = self.store.save_integration_if_unchanged(tenant_id, &record, seen).await?;
        Ok(written.then(|| self.view(record)))
    }

    /// Marks the integration `error` with why (a failed token refresh); its secrets stay.
    pub async fn mark_error(
        &self,
        tenant_id: &TenantId,
        id: &IntegrationId,
        why: &str,
    ) -> Result<(), IntegrationError> {
        let (_, mut record, _) = self.for_webhook(id).await?;
        record.status = crate::domain::integration::IntegrationStatus::Error;
        record.last_error = Some(why.chars().take(500).collect());
        record.updated_at = crate::store::now();
        Ok(self.store.save_integration(tenant_id, &record).await?)
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The secrets in clear, for the adapter that calls the platform. Never for an answer.
    pub async fn secrets(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        id: &IntegrationId,
    ) -> Result<Map<String, Value>, IntegrationError> {
        let record = self.store.get_integration(tenant_id, project_id, id).await?;
        self.open(&record)
    }
}
