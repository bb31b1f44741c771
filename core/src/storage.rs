//! The `Storage` trait, the record it persists, and the in-memory store.

use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::{AccessToken, Error, ErrorKind, Result};

/// Persists credential records by key, so a restarted process can reuse a still-valid token and
/// never loses a rotated refresh token.
///
/// # Contract
///
/// - `store` replaces the whole record for the key, atomically where the medium allows: a reader
///   sees the old record or the new one, never a mix. `load` of an unknown key is `Ok(None)`.
///   `remove` of an unknown key is `Ok(())`.
/// - Records hold secrets. Write them only where the user chose to (with restrictive permissions
///   for files) and never log them. [`CredentialRecord::to_json`] is the one serialized form.
/// - Thread safety: shared as `Arc<dyn Storage>`. Cancellation: a dropped `store` may or may not
///   have written the record, but must not leave a torn one.
/// - Errors use [`ErrorKind::Storage`]; transient only where a retry may help (a busy database).
///
/// # Examples
///
/// A storage that remembers only the last record:
///
/// ```
/// use std::sync::Mutex;
/// use async_trait::async_trait;
/// use credkit_core::{CredentialRecord, Result, Storage};
///
/// #[derive(Debug, Default)]
/// struct LastOne(Mutex<Option<(String, CredentialRecord)>>);
///
/// #[async_trait]
/// impl Storage for LastOne {
///     async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
///         let slot = self.0.lock().unwrap();
///         Ok(slot.as_ref().filter(|(k, _)| k == key).map(|(_, r)| r.clone()))
///     }
///     async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
///         *self.0.lock().unwrap() = Some((key.to_owned(), record.clone()));
///         Ok(())
///     }
///     async fn remove(&self, key: &str) -> Result<()> {
///         let mut slot = self.0.lock().unwrap();
///         if slot.as_ref().is_some_and(|(k, _)| k == key) {
///             *slot = None;
///         }
///         Ok(())
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let storage = LastOne::default();
/// storage.store("me", &CredentialRecord::new()).await?;
/// assert!(storage.load("me").await?.is_some());
/// assert!(storage.load("you").await?.is_none());
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Storage: Send + Sync + Debug {
    /// Loads the record stored under `key`, if any.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Storage`] error when the medium fails or the record is unreadable.
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>>;

    /// Stores `record` under `key`, replacing any previous one.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Storage`] error when the medium fails.
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()>;

    /// Removes the record under `key`, if any.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Storage`] error when the medium fails.
    async fn remove(&self, key: &str) -> Result<()>;
}

#[async_trait]
impl<T: Storage + ?Sized> Storage for &T {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        (**self).load(key).await
    }
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        (**self).store(key, record).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        (**self).remove(key).await
    }
}

#[async_trait]
impl<T: Storage + ?Sized> Storage for Box<T> {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        (**self).load(key).await
    }
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        (**self).store(key, record).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        (**self).remove(key).await
    }
}

#[async_trait]
impl<T: Storage + ?Sized> Storage for Arc<T> {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        (**self).load(key).await
    }
    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        (**self).store(key, record).await
    }
    async fn remove(&self, key: &str) -> Result<()> {
        (**self).remove(key).await
    }
}

/// What [`Storage`] persists for one credential: the cached access token (secret, expiry, issue
/// time, granted scopes), the refresh token if any, and the provider's own non-secret fields as
/// JSON.
///
/// It serializes only through [`to_json`](CredentialRecord::to_json) and
/// [`from_json`](CredentialRecord::from_json), whose private form is the one place secrets are
/// written out; `Debug` shows no secret and no provider field values.
///
/// ```
/// use secrecy::{ExposeSecret, SecretString};
/// use credkit_core::{AccessToken, CredentialRecord};
///
/// let record = CredentialRecord::new()
///     .with_access_token(&AccessToken::new("ya29.secret"))
///     .with_refresh_token(SecretString::from("1//refresh"));
/// let json = record.to_json()?;
/// let back = CredentialRecord::from_json(&json)?;
/// assert_eq!(back.refresh_token().map(ExposeSecret::expose_secret), Some("1//refresh"));
/// assert!(!format!("{record:?}").contains("ya29.secret"));
/// # Ok::<(), credkit_core::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct CredentialRecord {
    access_token: Option<SecretString>,
    expiry: Option<OffsetDateTime>,
    issued_at: Option<OffsetDateTime>,
    granted_scopes: Option<Vec<String>>,
    refresh_token: Option<SecretString>,
    provider: serde_json::Map<String, serde_json::Value>,
}

impl CredentialRecord {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the cached access token from `token`: its secret, expiry, issue time and granted
    /// scopes (the ID token and extras are not persisted).
    #[must_use]
    pub fn with_access_token(mut self, token: &AccessToken) -> Self {
        self.access_token = Some(token.secret().clone());
        self.expiry = token.expiry();
        self.issued_at = token.issued_at();
        self.granted_scopes = token.granted_scopes().map(<[String]>::to_vec);
        self
    }

    /// Sets the refresh token.
    #[must_use]
    pub fn with_refresh_token(mut self, refresh_token: SecretString) -> Self {
        self.refresh_token = Some(refresh_token);
        self
    }

    /// Sets the provider's own fields (never secrets: those belong in the typed fields).
    #[must_use]
    pub fn with_provider_fields(
        mut self,
        fields: serde_json::Map<String, serde_json::Value>,
    ) -> Self {
        self.provider = fields;
        self
    }

    /// The cached access token, rebuilt with its expiry, issue time and granted scopes.
    pub fn access_token(&self) -> Option<AccessToken> {
        let secret = self.access_token.clone()?;
        let mut token = AccessToken::from_secret(secret).with_optional_expiry(self.expiry);
        if let Some(issued_at) = self.issued_at {
            token = token.with_issued_at(issued_at);
        }
        if let Some(scopes) = &self.granted_scopes {
            token = token.with_granted_scopes(scopes.iter().cloned());
        }
        Some(token)
    }

    /// The refresh token, if stored.
    pub fn refresh_token(&self) -> Option<&SecretString> {
        self.refresh_token.as_ref()
    }

    /// The provider's own fields.
    pub fn provider_fields(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.provider
    }

    /// The record's one serialized form, as JSON in a buffer that is zeroized on drop.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Internal`] error if serialization fails (it cannot for these types).
    pub fn to_json(&self) -> Result<Zeroizing<Vec<u8>>> {
        let form = RecordForm {
            access_token: self.access_token.as_ref().map(Exposed),
            expiry: self.expiry,
            issued_at: self.issued_at,
            granted_scopes: self.granted_scopes.as_deref(),
            refresh_token: self.refresh_token.as_ref().map(Exposed),
            provider: &self.provider,
        };
        serde_json::to_vec(&form)
            .map(Zeroizing::new)
            .map_err(|_| Error::internal("a credential record could not be serialized"))
    }

    /// Reads a record written by [`to_json`](CredentialRecord::to_json).
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Storage`] error, without the input, when it is not such a record.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        let form: StoredForm = serde_json::from_slice(json).map_err(|err| {
            Error::new(
                ErrorKind::Storage,
                format!(
                    "the stored credential record is malformed (line {}, column {}); remove it to start afresh",
                    err.line(),
                    err.column()
                ),
            )
        })?;
        Ok(Self {
            access_token: form.access_token,
            expiry: form.expiry,
            issued_at: form.issued_at,
            granted_scopes: form.granted_scopes,
            refresh_token: form.refresh_token,
            provider: form.provider,
        })
    }
}

impl Debug for CredentialRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialRecord")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("expiry", &self.expiry)
            .field("issued_at", &self.issued_at)
            .field("granted_scopes", &self.granted_scopes)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("provider_keys", &self.provider.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The serialized form. Every secret written to storage passes through [`Exposed`] here.
#[derive(Serialize)]
struct RecordForm<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<Exposed<'a>>,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    expiry: Option<OffsetDateTime>,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    issued_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    granted_scopes: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<Exposed<'a>>,
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    provider: &'a serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredForm {
    #[serde(default)]
    access_token: Option<SecretString>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    expiry: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    issued_at: Option<OffsetDateTime>,
    #[serde(default)]
    granted_scopes: Option<Vec<String>>,
    #[serde(default)]
    refresh_token: Option<SecretString>,
    #[serde(default)]
    provider: serde_json::Map<String, serde_json::Value>,
}

/// A secret on its way into the serialized record: the one place storage exposes a secret.
struct Exposed<'a>(&'a SecretString);

impl Serialize for Exposed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.expose_secret())
    }
}

/// A [`Storage`] in process memory: records live as long as the value (and its clones, which
/// share it).
///
/// ```
/// use credkit_core::{CredentialRecord, MemoryStorage, Storage};
///
/// # futures::executor::block_on(async {
/// let storage = MemoryStorage::new();
/// storage.store("user", &CredentialRecord::new()).await?;
/// assert!(storage.load("user").await?.is_some());
/// storage.remove("user").await?;
/// assert!(storage.load("user").await?.is_none());
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct MemoryStorage {
    records: Arc<Mutex<HashMap<String, CredentialRecord>>>,
}

impl MemoryStorage {
    /// An empty storage.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records it holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CredentialRecord>> {
        // A panic while holding the lock cannot leave a map half-updated: every operation is a
        // single insert, get or remove.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Debug for MemoryStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let records = self.lock();
        f.debug_struct("MemoryStorage")
            .field("keys", &records.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[async_trait]
impl Storage for MemoryStorage {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        Ok(self.lock().get(key).cloned())
    }

    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        self.lock().insert(key.to_owned(), record.clone());
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<()> {
        self.lock().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn round_trip_keeps_every_field() {
        let token = AccessToken::new("at-secret")
            .with_expiry(datetime!(2026-01-01 12:00 UTC))
            .with_issued_at(datetime!(2026-01-01 11:00 UTC))
            .with_granted_scopes(["a", "b"]);
        let mut fields = serde_json::Map::new();
        fields.insert("client_id".into(), "cid".into());
        let record = CredentialRecord::new()
            .with_access_token(&token)
            .with_refresh_token(SecretString::from("rt-secret"))
            .with_provider_fields(fields.clone());
        let back = CredentialRecord::from_json(&record.to_json().unwrap()).unwrap();
        let back_token = back.access_token().unwrap();
        assert_eq!(back_token.secret().expose_secret(), "at-secret");
        assert_eq!(back_token.expiry(), token.expiry());
        assert_eq!(back_token.issued_at(), token.issued_at());
        assert_eq!(back_token.granted_scopes(), token.granted_scopes());
        assert_eq!(back.refresh_token().unwrap().expose_secret(), "rt-secret");
        assert_eq!(back.provider_fields(), &fields);
    }

    #[test]
    fn empty_record_serializes_to_an_empty_object() {
        let json = CredentialRecord::new().to_json().unwrap();
        assert_eq!(&json[..], b"{}");
    }

    #[test]
    fn malformed_record_error_hides_the_input() {
        let err = CredentialRecord::from_json(br#"{"access_token": 5, "secret-ish"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(!err.to_string().contains("secret-ish"));
    }
}
