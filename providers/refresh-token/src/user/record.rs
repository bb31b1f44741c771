//! `UserCredentials` in and out of a `CredentialRecord`, the form `Storage` persists.

use credkit_core::{AccessToken, CredentialRecord};
use secrecy::SecretString;
use serde_json::{Map, Value};

use super::UserCredentials;

/// The name a rapt token (the proof of the last reauthentication) is stored under, as a
/// provider secret of the record.
pub(crate) const RAPT_TOKEN: &str = "rapt_token";

impl UserCredentials {
    /// The credentials' state as a [`CredentialRecord`] for a
    /// [`Storage`](credkit_core::Storage): the latest access token with its expiry and granted
    /// scopes, the refresh token, and the non-secret configuration (`client_id`, `token_uri`,
    /// `scopes`, `quota_project_id`, `universe_domain`, `account`) as provider fields, and the
    /// rapt token (the proof of the last reauthentication) as the provider secret `rapt_token`.
    /// The client secret is not written: it stays where the configuration came from.
    ///
    /// Every token the refresh grant returns carries the current rapt token for storage
    /// ([`AccessToken::with_provider_secret`]), so `Credentials` stores a new one with the
    /// token it came with, and the other processes sharing the record adopt it.
    ///
    /// `Credentials` writes the same kind of record itself after every refresh when given a
    /// storage (`CredentialsBuilder::with_storage`); this is for seeding one.
    ///
    /// ```
    /// use credkit_refresh_token::UserCredentials;
    ///
    /// let creds = UserCredentials::builder()
    ///     .with_refresh_token("1//refresh")
    ///     .with_client_id("123")
    ///     .with_client_secret("s3cret")
    ///     .build()?;
    /// let record = creds.to_record();
    /// assert_eq!(record.provider_fields()["client_id"], "123");
    /// assert!(!String::from_utf8(record.to_json()?.to_vec())?.contains("s3cret"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_record(&self) -> CredentialRecord {
        let mut fields = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                fields.insert(key.to_owned(), value);
            }
        };
        put("client_id", self.client_id().map(Value::from));
        put("token_uri", self.token_uri().map(Value::from));
        put("scopes", self.scopes().map(Value::from));
        put("quota_project_id", self.quota_project().map(Value::from));
        put("universe_domain", Some(self.universe_domain().into()));
        put("account", Some(self.account().into()));
        let mut record = CredentialRecord::new().with_provider_fields(fields);
        if let Some(rapt) = self.rapt_token() {
            record = record.with_provider_secret(RAPT_TOKEN, rapt);
        }
        if let Some(token) = self.token() {
            let mut access = AccessToken::from_secret(token).with_optional_expiry(self.expiry());
            if let Some(granted) = self.granted_scopes() {
                access = access.with_granted_scopes(granted);
            }
            record = record.with_access_token(&access);
        }
        if let Some(refresh_token) = self.refresh_token() {
            record = record.with_refresh_token(refresh_token);
        }
        record
    }

    /// A copy that resumes from a stored record: its refresh token (a rotated one survives a
    /// restart this way), access token, expiry, granted scopes and rapt token replace the
    /// current ones where present. The configuration (client, endpoint, scopes) stays this copy's own.
    ///
    /// The restart recipe: load the configuration, resume from the record, cache with the same
    /// storage:
    ///
    /// ```
    /// use credkit_core::{Credentials, MemoryStorage, Storage};
    /// use credkit_refresh_token::UserCredentials;
    /// use secrecy::{ExposeSecret, SecretString};
    ///
    /// # futures::executor::block_on(async {
    /// let storage = MemoryStorage::new();
    /// # storage.store("me", &credkit_core::CredentialRecord::new().with_refresh_token(SecretString::from("rotated"))).await?;
    /// let creds = UserCredentials::builder().with_refresh_token("from-file").build()?;
    /// let creds = match storage.load("me").await? {
    ///     Some(record) => creds.with_record(&record),
    ///     None => creds,
    /// };
    /// assert_eq!(creds.refresh_token().unwrap().expose_secret(), "rotated");
    /// let credentials = Credentials::builder(creds.clone()).with_storage(storage, "me").build()?;
    /// # let _ = credentials;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    #[must_use]
    pub fn with_record(&self, record: &CredentialRecord) -> Self {
        self.copy_with_state(|state| {
            if let Some(refresh_token) = record.refresh_token() {
                state.refresh_token = Some(refresh_token.clone());
            }
            if let Some(rapt) = stored_rapt(record) {
                state.rapt_token = Some(rapt);
            }
            if let Some(token) = record.access_token() {
                state.token = Some(token.secret().clone());
                state.expiry = token.expiry();
                if let Some(granted) = token.granted_scopes() {
                    state.granted_scopes = Some(granted.to_vec());
                }
            }
        })
    }

    /// Takes the refresh token and rapt token of a record read from shared storage, so that
    /// the next grant uses the ones the last holder stored (another process may have rotated
    /// the refresh token, or reauthenticated). What `Credentials` calls through
    /// [`TokenSource::adopt_record`](credkit_core::TokenSource::adopt_record).
    pub(crate) fn adopt(&self, record: &CredentialRecord) {
        let rapt = stored_rapt(record);
        let mut state = self.state();
        if let Some(refresh_token) = record.refresh_token() {
            state.refresh_token = Some(refresh_token.clone());
        }
        if let Some(rapt) = rapt {
            state.rapt_token = Some(rapt);
        }
    }
}

/// The rapt token of a stored record: its provider secret, or the plain provider field that
/// records written before provider secrets carried.
fn stored_rapt(record: &CredentialRecord) -> Option<SecretString> {
    record.provider_secret(RAPT_TOKEN).cloned().or_else(|| {
        record
            .provider_fields()
            .get(RAPT_TOKEN)
            .and_then(Value::as_str)
            .map(|rapt| SecretString::from(rapt.to_owned()))
    })
}
