//! Secrets at rest: AES-256-GCM with a random nonce, a version byte in front so the key can
//! be rotated, base64 for storage. The key comes from `TASKBRIDGE_ENCRYPTION_KEY`, or from a
//! key file generated with mode 0600 on first start.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the encryption key must be 32 bytes, given as 64 hex digits or base64")]
    BadKey,
    #[error("cannot read or create the key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("random source failed")]
    Random,
    #[error("a stored secret cannot be decrypted with this key")]
    Decrypt,
}

/// The cipher for secrets: seals with the current key, opens with it or with a previous
/// one (kept through a rotation, so what an instance still on the old key wrote meanwhile
/// stays readable). `Debug` never shows a key.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
    previous: Vec<Aes256Gcm>,
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher([redacted])")
    }
}

fn parse_key(raw: &str) -> Result<[u8; 32], CryptoError> {
    let raw = raw.trim();
    let bytes = if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32).map(|i| u8::from_str_radix(&raw[2 * i..2 * i + 2], 16).map_err(|_| CryptoError::BadKey)).collect()
    } else {
        STANDARD.decode(raw).map_err(|_| CryptoError::BadKey)
    }?;
    bytes.try_into().map_err(|_| CryptoError::BadKey)
}

impl Cipher {
    pub fn from_key(raw: &str) -> Result<Self, CryptoError> {
        let key = parse_key(raw)?;
        Ok(Cipher { aead: Aes256Gcm::new_from_slice(&key).map_err(|_| CryptoError::BadKey)?, previous: Vec::new() })
    }

    /// Also opens what `raw` (a previous key) sealed.
    pub fn with_previous(mut self, raw: &str) -> Result<Self, CryptoError> {
        let key = parse_key(raw)?;
        self.previous.push(Aes256Gcm::new_from_slice(&key).map_err(|_| CryptoError::BadKey)?);
        Ok(self)
    }

    /// Also opens what the key in `path` sealed, when that file exists (`<key file>.old`
    /// after a rotation).
    pub fn with_previous_file(self, path: &Path) -> Result<Self, CryptoError> {
        match std::fs::read_to_string(path) {
            Ok(raw) => self.with_previous(&raw),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(self),
            Err(source) => Err(CryptoError::KeyFile { path: path.display().to_string(), source }),
        }
    }

    /// Reads the key file, or creates it (mode 0600) with a new random key.
    pub fn from_key_file(path: &Path) -> Result<Self, CryptoError> {
        let fail = |source| CryptoError::KeyFile { path: path.display().to_string(), source };
        match std::fs::read_to_string(path) {
            Ok(raw) => Self::from_key(&raw),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key).map_err(|_| CryptoError::Random)?;
                let encoded = STANDARD.encode(key);
                write_private(path, &encoded).map_err(fail)?;
                tracing::info!(path = %path.display(), "generated a new encryption key file");
                Self::from_key(&encoded)
            }
            Err(e) => Err(fail(e)),
        }
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let sealed = self.aead.encrypt(Nonce::from_slice(&nonce), plaintext).map_err(|_| CryptoError::Random)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(STANDARD.encode(out))
    }

    pub fn decrypt(&self, stored: &str) -> Result<Vec<u8>, CryptoError> {
        let bytes = STANDARD.decode(stored).map_err(|_| CryptoError::Decrypt)?;
        if bytes.len() < 1 + NONCE_LEN || bytes[0] != VERSION {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, sealed) = bytes[1..].split_at(NONCE_LEN);
        std::iter::once(&self.aead)
            .chain(&self.previous)
            .find_map(|key| key.decrypt(Nonce::from_slice(nonce), sealed).ok())
            .ok_or(CryptoError::Decrypt)
    }
}

#[cfg(unix)]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(content.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    std::fs::write(path, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() {
        let c = Cipher::from_key(&"ab".repeat(32)).expect("key");
        let sealed = c.encrypt(b"xoxb-secret").expect("encrypt");
        assert!(!sealed.contains("xoxb"));
        assert_ne!(sealed, c.encrypt(b"xoxb-secret").expect("encrypt"), "random nonce");
        assert_eq!(c.decrypt(&sealed).expect("decrypt"), b"xoxb-secret");
        let other = Cipher::from_key(&"cd".repeat(32)).expect("key");
        assert!(other.decrypt(&sealed).is_err());
        let mut bytes = STANDARD.decode(&sealed).expect("b64");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(c.decrypt(&STANDARD.encode(bytes)).is_err());
    }

    #[test]
    fn a_previous_key_still_opens_what_it_sealed() {
        let old = Cipher::from_key(&"ab".repeat(32)).expect("key");
        let sealed = old.encrypt(b"xoxb-old").expect("encrypt");
        let new = Cipher::from_key(&"cd".repeat(32)).expect("key");
        assert!(new.decrypt(&sealed).is_err());
        let both = new.with_previous(&"ab".repeat(32)).expect("previous");
        assert_eq!(both.decrypt(&sealed).expect("opens"), b"xoxb-old");
        let resealed = both.encrypt(b"xoxb-old").expect("encrypt");
        assert!(old.decrypt(&resealed).is_err(), "sealing uses the current key");
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert!(Cipher::from_key("short").is_err());
        assert!(Cipher::from_key(&STANDARD.encode([7u8; 32])).is_ok());
        assert!(Cipher::from_key(&STANDARD.encode([7u8; 31])).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_generated_key_file_is_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("tb-key-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("taskbridge.key");
        let first = Cipher::from_key_file(&path).expect("created");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let sealed = first.encrypt(b"s").expect("encrypt");
        let again = Cipher::from_key_file(&path).expect("read");
        assert_eq!(again.decrypt(&sealed).expect("same key"), b"s");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
