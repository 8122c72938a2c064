//! Credentials: HTTP Basic (Argon2id password hashes) and bearer tokens
//! (random, stored as SHA-256 digests: they carry 256 bits of entropy, so a
//! slow hash adds nothing and a fast one keeps lookups cheap).
//!
//! Argon2id verification costs tens of milliseconds by design, too much for
//! every request of a paging client. A successful check is remembered for a
//! short while under a keyed digest of the credentials (the key is random
//! per process, so the cache is useless to anyone who reads memory dumps
//! looking for password hashes to crack offline); a changed or removed
//! account takes effect when the entry expires.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};
use store::{Account, Store};

use crate::error::ApiError;

const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX_ENTRIES: usize = 10_000;
const TOKEN_PREFIX: &str = "tl_";

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// An Argon2id PHC string for `password` (default parameters: m=19 MiB,
/// t=2, p=1, as OWASP recommends).
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|err| HashError(err.to_string()))
}

pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// A new bearer token and the digest to store for it.
pub fn new_token() -> (String, String) {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(secret));
    let digest = token_digest(&token);
    (token, digest)
}

/// What the store keeps for a token.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Turns an `Authorization` header into an account, or refuses.
#[derive(Debug)]
pub struct Authenticator {
    cache_key: [u8; 32],
    cache: Mutex<HashMap<[u8; 32], (Account, Instant)>>,
    /// Verified against when the name is unknown, so that unknown names
    /// take as long as wrong passwords.
    decoy_hash: String,
}

impl Default for Authenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl Authenticator {
    pub fn new() -> Self {
        let mut cache_key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut cache_key);
        let decoy_hash = hash_password("decoy password").unwrap_or_default();
        Authenticator {
            cache_key,
            cache: Mutex::new(HashMap::new()),
            decoy_hash,
        }
    }

    pub async fn authenticate(
        &self,
        store: &dyn Store,
        authorization: Option<&str>,
    ) -> Result<Account, ApiError> {
        let header = authorization.ok_or(ApiError::Unauthorized)?.trim();
        let (scheme, credentials) = header.split_once(' ').ok_or(ApiError::Unauthorized)?;
        let credentials = credentials.trim();
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => self.basic(store, credentials).await,
            // taxii2-client's TokenAuth sends the `Token` scheme.
            "bearer" | "token" => {
                if credentials.is_empty() || credentials.len() > 512 {
                    return Err(ApiError::Unauthorized);
                }
                store
                    .account_by_token(&token_digest(credentials))
                    .await?
                    .ok_or(ApiError::Unauthorized)
            }
            _ => Err(ApiError::Unauthorized),
        }
    }

    async fn basic(&self, store: &dyn Store, credentials: &str) -> Result<Account, ApiError> {
        if credentials.len() > 4096 {
            return Err(ApiError::Unauthorized);
        }
        let decoded = STANDARD
            .decode(credentials)
            .map_err(|_| ApiError::Unauthorized)?;
        let decoded = String::from_utf8(decoded).map_err(|_| ApiError::Unauthorized)?;
        let (name, password) = decoded.split_once(':').ok_or(ApiError::Unauthorized)?;
        let key = self.cache_entry_key(name, password);
        if let Some(account) = self.cached(&key) {
            return Ok(account);
        }
        let found = store.account_by_name(name).await?;
        let (account, phc) = match found {
            Some((account, Some(phc))) => (Some(account), phc),
            _ => (None, self.decoy_hash.clone()),
        };
        let password = password.to_owned();
        let verified = tokio::task::spawn_blocking(move || verify_password(&phc, &password))
            .await
            .map_err(|err| ApiError::Internal(format!("password check: {err}")))?;
        match account {
            Some(account) if verified => {
                self.remember(key, account.clone());
                Ok(account)
            }
            _ => Err(ApiError::Unauthorized),
        }
    }

    fn cache_entry_key(&self, name: &str, password: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.cache_key);
        hasher.update((name.len() as u64).to_be_bytes());
        hasher.update(name.as_bytes());
        hasher.update(password.as_bytes());
        hasher.finalize().into()
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Account> {
        let cache = self.cache.lock().ok()?;
        let (account, verified_at) = cache.get(key)?;
        (verified_at.elapsed() < CACHE_TTL).then(|| account.clone())
    }

    fn remember(&self, key: [u8; 32], account: Account) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_MAX_ENTRIES {
                cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
                if cache.len() >= CACHE_MAX_ENTRIES {
                    cache.clear();
                }
            }
            cache.insert(key, (account, Instant::now()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_verifies_only_the_password() {
        let phc = hash_password("correct horse").unwrap_or_default();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password(&phc, "correct horse"));
        assert!(!verify_password(&phc, "correct horse "));
        assert!(!verify_password("not a hash", "correct horse"));
    }

    #[test]
    fn tokens_are_random_and_digested() {
        let (a, digest_a) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX));
        assert_eq!(token_digest(&a), digest_a);
        assert_eq!(digest_a.len(), 64);
    }
}
