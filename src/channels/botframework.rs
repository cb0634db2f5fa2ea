//! The Bot Framework side of Microsoft Teams: activities sent to a bot carry a JWT signed by
//! the Bot Connector (RS256, keys published through OpenID metadata, endorsed per channel),
//! and a bot answers by posting to the conversation with a token from the Microsoft
//! identity platform (client credentials).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub const DEFAULT_OPENID_URL: &str = "https://login.botframework.com/v1/.well-known/openidconfiguration";
pub const DEFAULT_TOKEN_URL: &str = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token";
pub const ISSUER: &str = "https://api.botframework.com";
/// Where proactive messages go when no activity named a regional service URL: Microsoft's
/// public global endpoint for Teams (`TeamsProactiveServiceEndpoints.publicGlobal`).
pub const DEFAULT_SERVICE_URL: &str = "https://smba.trafficmanager.net/teams/";
const SCOPE: &str = "https://api.botframework.com/.default";
/// Clock skew the Bot Framework documents as acceptable.
const SKEW_SECS: i64 = 300;
/// Published keys change rarely; Microsoft advises caching them for days.
const KEYS_TTL: Duration = Duration::from_secs(24 * 3600);
/// An unknown key id refreshes the keys, but not more often than this.
const REFRESH_FLOOR: Duration = Duration::from_secs(60);

/// One signing key of the Bot Connector.
#[derive(Debug, Clone)]
pub struct Key {
    pub kid: String,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
    /// Channels that may use this key (`msteams`…); empty means any.
    pub endorsements: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BotError {
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("Bot Framework keys: {0}")]
    Keys(String),
    #[error("{0}")]
    Token(String),
}

/// Verifies a Bot Connector token for `app_id`, an activity from `channel_id` sent from
/// `service_url`.
pub fn verify(
    token: &str,
    keys: &[Key],
    app_id: &str,
    channel_id: &str,
    service_url: &str,
    now: DateTime<Utc>,
) -> Result<(), BotError> {
    let unauthorized = BotError::Unauthorized;
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(unauthorized("not a JWT"));
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).map_err(|_| unauthorized("not a JWT"));
    let header: Value = serde_json::from_slice(&decode(h)?).map_err(|_| unauthorized("not a JWT"))?;
    if header["alg"] != "RS256" {
        return Err(unauthorized("unexpected signing algorithm"));
    }
    let kid = header["kid"].as_str().ok_or(unauthorized("no key id"))?;
    let key = keys.iter().find(|k| k.kid == kid).ok_or(unauthorized("unknown signing key"))?;
    if !key.endorsements.is_empty() && !key.endorsements.iter().any(|e| e == channel_id) {
        return Err(unauthorized("the key is not endorsed for this channel"));
    }
    let signature = decode(s)?;
    let public = ring::signature::RsaPublicKeyComponents { n: &key.n, e: &key.e };
    let signed = &token[..h.len() + 1 + p.len()];
    public
        .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
        .map_err(|_| unauthorized("signature mismatch"))?;
    let claims: Value = serde_json::from_slice(&decode(p)?).map_err(|_| unauthorized("not a JWT"))?;
    if claims["iss"] != ISSUER {
        return Err(unauthorized("wrong issuer"));
    }
    let audience_ok = match &claims["aud"] {
        Value::String(a) => a == app_id,
        Value::Array(list) => list.iter().any(|a| a == app_id),
        _ => false,
    };
    if !audience_ok {
        return Err(unauthorized("token is for another bot"));
    }
    let now = now.timestamp();
    let exp = claims["exp"].as_i64().ok_or(unauthorized("no expiry"))?;
    if now > exp + SKEW_SECS {
        return Err(unauthorized("token expired"));
    }
    if claims["nbf"].as_i64().is_some_and(|nbf| now + SKEW_SECS < nbf) {
        return Err(unauthorized("token not yet valid"));
    }
    // The claim ties the token to where answers will go.
    let claimed = claims["serviceurl"].as_str().or(claims["serviceUrl"].as_str()).unwrap_or_default();
    if claimed.trim_end_matches('/') != service_url.trim_end_matches('/') {
        return Err(unauthorized("serviceUrl does not match the token"));
    }
    Ok(())
}

/// Keys from a JWKS document.
pub fn parse_keys(jwks: &Value) -> Vec<Key> {
    let Some(keys) = jwks["keys"].as_array() else { return Vec::new() };
    keys.iter()
        .filter(|k| k["kty"] == "RSA")
        .filter_map(|k| {
            let decode = |v: &Value| v.as_str().and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok());
            Some(Key {
                kid: k["kid"].as_str()?.to_string(),
                n: decode(&k["n"])?,
                e: decode(&k["e"])?,
                endorsements: k["endorsements"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|e| e.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

struct CachedKeys {
    keys: Vec<Key>,
    fetched: Instant,
}

/// The Bot Connector's keys and this service's bot tokens, cached.
pub struct BotFramework {
    openid_url: String,
    token_url: String,
    service_url: String,
    /// Reaches the two configured endpoints above, and nothing else (outside the SSRF guard).
    operator: reqwest::Client,
    keys: tokio::sync::Mutex<Option<CachedKeys>>,
    /// Held across the fetch, so concurrent answers share one token request.
    tokens: tokio::sync::Mutex<HashMap<String, (String, Instant)>>,
}

impl BotFramework {
    pub fn new(urls: BotUrls<'_>, operator: reqwest::Client) -> Self {
        BotFramework {
            openid_url: urls.openid.unwrap_or(DEFAULT_OPENID_URL).to_string(),
            token_url: urls.token.unwrap_or(DEFAULT_TOKEN_URL).to_string(),
            service_url: urls.service.unwrap_or(DEFAULT_SERVICE_URL).to_string(),
            operator,
            keys: tokio::sync::Mutex::new(None),
            tokens: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The signing keys, fetched when missing or old, or when `kid` is not among them. The
    /// metadata names where the keys are: that URL is fetched through `guarded`.
    pub async fn keys(&self, guarded: &reqwest::Client, kid: Option<&str>) -> Result<Vec<Key>, BotError> {
        let mut cached = self.keys.lock().await;
        let fresh = cached.as_ref().is_some_and(|c| c.fetched.elapsed() < KEYS_TTL);
        let knows_kid = cached.as_ref().is_some_and(|c| kid.is_none_or(|kid| c.keys.iter().any(|k| k.kid == kid)));
        let may_refresh = cached.as_ref().is_none_or(|c| c.fetched.elapsed() >= REFRESH_FLOOR);
        if !(fresh && knows_kid) && may_refresh {
            match self.fetch_keys(guarded).await {
                Ok(keys) => *cached = Some(CachedKeys { keys, fetched: Instant::now() }),
                // Keys rotate slowly: the last ones known beat refusing every activity.
                Err(e) if cached.is_some() => tracing::warn!(error = %e, "Bot Framework keys not refreshed"),
                Err(e) => return Err(e),
            }
        }
        Ok(cached.as_ref().map(|c| c.keys.clone()).unwrap_or_default())
    }

    async fn fetch_keys(&self, guarded: &reqwest::Client) -> Result<Vec<Key>, BotError> {
        let metadata = get_json(&self.operator, &self.openid_url).await?;
        let jwks_uri = metadata["jwks_uri"].as_str().ok_or(BotError::Keys("metadata without jwks_uri".into()))?;
        Ok(parse_keys(&get_json(guarded, jwks_uri).await?))
    }

    /// The Bot Connector proactive messages go to when no activity named one.
    pub fn service_url(&self) -> &str {
        &self.service_url
    }

    /// Forgets the token cached for these credentials (the Bot Connector refused it).
    pub async fn forget(&self, app_id: &str, password: &str) {
        self.tokens.lock().await.remove(&token_key(app_id, password));
    }

    /// A token for posting as the bot `app_id`, reused until shortly before it expires.
    pub async fn token(&self, app_id: &str, password: &str) -> Result<String, BotError> {
        let key = token_key(app_id, password);
        let mut tokens = self.tokens.lock().await;
        if let Some((token, until)) = tokens.get(&key)
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let res = self
            .operator
            .post(&self.token_url)
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", app_id),
                ("client_secret", password),
                ("scope", SCOPE),
            ])
            .send()
            .await
            .map_err(|e| BotError::Token(format!("Bot Framework token: {}", crate::integrations::ssrf::describe(e))))?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or_default();
        let Some(token) = body["access_token"].as_str() else {
            let why = body["error_description"].as_str().or(body["error"].as_str()).unwrap_or("no access_token");
            // The first line of Microsoft's description says what is wrong; the rest is trace ids.
            let why = why.lines().next().unwrap_or(why);
            return Err(BotError::Token(format!("Bot Framework token (HTTP {}): {why}", status.as_u16())));
        };
        let lifetime = body["expires_in"].as_u64().unwrap_or(3600).saturating_sub(300).max(60);
        tokens.insert(key, (token.to_string(), Instant::now() + Duration::from_secs(lifetime)));
        Ok(token.to_string())
    }
}

/// The cache key of a bot token: the credentials, not the app id alone, so a wrong or rotated
/// password never rides on a token another integration obtained.
fn token_key(app_id: &str, password: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(format!("{app_id}\0{password}")).iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the Bot Framework is reached; `None` for Microsoft's own endpoints.
#[derive(Debug, Clone, Copy, Default)]
pub struct BotUrls<'a> {
    pub openid: Option<&'a str>,
    pub token: Option<&'a str>,
    /// The Bot Connector for proactive messages.
    pub service: Option<&'a str>,
}

async fn get_json(client: &reqwest::Client, url: &str) -> Result<Value, BotError> {
    let failed = |e: reqwest::Error| BotError::Keys(crate::integrations::ssrf::describe(e));
    let res = client.get(url).send().await.and_then(reqwest::Response::error_for_status).map_err(failed)?;
    res.json().await.map_err(failed)
}

/// The key id a token names, to refresh the keys when it is new.
pub fn key_id(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')).ok()?).ok()?;
    header["kid"].as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_tokens_are_refused() {
        let keys = parse_keys(&serde_json::json!({"keys": [{"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB"}]}));
        assert_eq!(keys.len(), 1);
        for token in ["", "a.b", "a.b.c.d", "eyJhbGciOiJub25lIn0.e30.", "!!.!!.!!"] {
            assert!(verify(token, &keys, "app", "msteams", "https://s", Utc::now()).is_err(), "{token}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_tokens_never_panic(token in "\\PC{0,300}") {
            let _ = verify(&token, &[], "app", "msteams", "https://s", Utc::now());
            let _ = key_id(&token);
        }
    }
}
