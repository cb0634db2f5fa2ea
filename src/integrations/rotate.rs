//! Key rotation: every integration's secrets opened with the old key (or the one before it)
//! and sealed with the new one, all in one transaction. A secret neither opens stops the
//! rotation before anything is written. The old key is kept as the previous one, so what an
//! instance not yet restarted seals with it meanwhile stays readable; rotating again
//! re-seals that too.

use super::{Cipher, CryptoError};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("integration {0}'s secrets cannot be opened with the current key; nothing was changed")]
    Unreadable(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Re-seals every integration's secrets from `old` to `new`; answers how many. Writes that
/// race with it (a running instance saving a token) make it read again and retry.
pub async fn rotate_key(store: &Store, old: &Cipher, new: &Cipher) -> Result<usize, RotateError> {
    let mut attempt = 0;
    loop {
        let sealed = store.sealed_secrets().await?;
        let mut changes = Vec::with_capacity(sealed.len());
        for (id, secrets) in sealed {
            let plain = old.decrypt(&secrets).map_err(|_| RotateError::Unreadable(id.clone()))?;
            changes.push((id, secrets, new.encrypt(&plain)?));
        }
        match store.reseal_secrets(&changes).await {
            Ok(()) => return Ok(changes.len()),
            Err(StoreError::Conflict(_)) if attempt < 5 => attempt += 1,
            Err(e) => return Err(e.into()),
        }
    }
}
