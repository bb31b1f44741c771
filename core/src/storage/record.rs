//! The record a [`Storage`](super::Storage) persists, and its serialized form: the one door
//! secrets leave by.

use std::collections::BTreeMap;
use std::fmt::{self, Debug};

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::{AccessToken, Error, ErrorKind, Result};

/// What [`Storage`](crate::Storage) persists for one credential: the cached access token
/// (secret, expiry, issue time, granted scopes), the refresh token if any, the provider's own
/// non-secret fields as JSON, and the provider's own secrets by name (a reauthentication's rapt
/// token, say).
///
/// It serializes only through [`to_json`](CredentialRecord::to_json) and
/// [`from_json`](CredentialRecord::from_json), whose private form is the one place secrets are
/// written out; `Debug` shows no secret and no provider field values.
///
/// # Format
///
/// A JSON object with a format `version` (written as [`FORMAT_VERSION`](Self::FORMAT_VERSION))
/// and the fields that are set. Reading accepts any version and ignores members it does not
/// know, so a record written by a newer credkit with more fields still loads after a rollback,
/// with the fields this version knows; a record from before versions (no `version`) loads too.
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
    provider_secrets: BTreeMap<String, SecretString>,
}

impl CredentialRecord {
    /// The format version [`to_json`](CredentialRecord::to_json) writes.
    pub const FORMAT_VERSION: u32 = 1;

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

    /// Clears the cached access token with its expiry, issue time and granted scopes: what a
    /// source needs to resume from (its refresh token, its provider's fields and secrets)
    /// without a copy of a token the cache already holds.
    ///
    /// ```
    /// use credkit_core::{AccessToken, CredentialRecord};
    /// use secrecy::SecretString;
    ///
    /// let record = CredentialRecord::new()
    ///     .with_access_token(&AccessToken::new("ya29.cached"))
    ///     .with_refresh_token(SecretString::from("1//refresh"));
    /// let resume = record.without_access_token();
    /// assert!(resume.access_token().is_none());
    /// assert!(resume.refresh_token().is_some());
    /// ```
    #[must_use]
    pub fn without_access_token(mut self) -> Self {
        self.access_token = None;
        self.expiry = None;
        self.issued_at = None;
        self.granted_scopes = None;
        self
    }

    /// Sets the refresh token.
    #[must_use]
    pub fn with_refresh_token(mut self, refresh_token: SecretString) -> Self {
        self.refresh_token = Some(refresh_token);
        self
    }

    /// Sets the provider's own secret `name` (replacing one of that name): kept as a
    /// `SecretString`, wiped on drop, shown by name only in `Debug`.
    ///
    /// ```
    /// use credkit_core::CredentialRecord;
    /// use secrecy::{ExposeSecret, SecretString};
    ///
    /// let record = CredentialRecord::new()
    ///     .with_provider_secret("rapt_token", SecretString::from("rapt-secret"));
    /// let back = CredentialRecord::from_json(&record.to_json()?)?;
    /// assert_eq!(back.provider_secret("rapt_token").map(ExposeSecret::expose_secret), Some("rapt-secret"));
    /// assert!(!format!("{back:?}").contains("rapt-secret"));
    /// # Ok::<(), credkit_core::Error>(())
    /// ```
    #[must_use]
    pub fn with_provider_secret(mut self, name: impl Into<String>, secret: SecretString) -> Self {
        self.provider_secrets.insert(name.into(), secret);
        self
    }

    /// Sets the provider's own fields (never secrets: those go in
    /// [`with_provider_secret`](Self::with_provider_secret)).
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

    /// The provider's own secret `name`, if stored.
    pub fn provider_secret(&self, name: &str) -> Option<&SecretString> {
        self.provider_secrets.get(name)
    }

    /// The record's one serialized form, as JSON in a buffer that is zeroized on drop.
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Internal`] error if serialization fails (it cannot for these types).
    pub fn to_json(&self) -> Result<Zeroizing<Vec<u8>>> {
        let form = RecordForm {
            version: Self::FORMAT_VERSION,
            access_token: self.access_token.as_ref().map(Exposed),
            expiry: self.expiry,
            issued_at: self.issued_at,
            granted_scopes: self.granted_scopes.as_deref(),
            refresh_token: self.refresh_token.as_ref().map(Exposed),
            provider: &self.provider,
            provider_secrets: self
                .provider_secrets
                .iter()
                .map(|(name, secret)| (name.as_str(), Exposed(secret)))
                .collect(),
        };
        let failed =
            |err| Error::internal("a credential record could not be serialized").with_source(err);
        // Measured first, then written into a buffer of exactly that size: a buffer that grew
        // while being written would give back memory holding copies of the secrets, unwiped.
        let mut length = Length(0);
        serde_json::to_writer(&mut length, &form).map_err(failed)?;
        let mut json = Zeroizing::new(Vec::with_capacity(length.0));
        serde_json::to_writer(&mut *json, &form).map_err(failed)?;
        Ok(json)
    }

    /// Reads a record written by [`to_json`](CredentialRecord::to_json), by this or any other
    /// version of credkit (see [Format](CredentialRecord#format)).
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Storage`] error when it is not such a record. The message gives the
    /// position only: the parser's own message, which may quote a secret from the input, is
    /// deliberately not kept as the error's source.
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
            provider_secrets: form.provider_secrets,
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
            .field(
                "provider_secret_names",
                &self.provider_secrets.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Counts the bytes written to it, and keeps none.
struct Length(usize);

impl std::io::Write for Length {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(bytes.len());
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The serialized form. Every secret written to storage passes through [`Exposed`] here.
#[derive(Serialize)]
struct RecordForm<'a> {
    version: u32,
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
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    provider_secrets: BTreeMap<&'a str, Exposed<'a>>,
}

/// The form read back. Unknown members are ignored (no `deny_unknown_fields`) so a newer
/// record still loads; the version is accepted whatever it is and not kept, as a record is always
/// written back in this version's format.
#[derive(Deserialize)]
struct StoredForm {
    #[serde(default, rename = "version")]
    _version: Option<u32>,
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
    #[serde(default)]
    provider_secrets: BTreeMap<String, SecretString>,
}

/// A secret on its way into the serialized record: the one place storage exposes a secret.
struct Exposed<'a>(&'a SecretString);

impl Serialize for Exposed<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.expose_secret())
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn the_json_is_written_into_a_buffer_of_its_exact_size() {
        let record = CredentialRecord::new()
            .with_access_token(&AccessToken::new("ya29.".repeat(200)))
            .with_refresh_token(SecretString::from("1//rt"))
            .with_provider_secret("rapt_token", SecretString::from("rapt".repeat(100)));
        let json = record.to_json().unwrap();
        assert!(json.len() > 1000);
        assert_eq!(json.capacity(), json.len(), "the buffer never grew");
        assert_eq!(
            CredentialRecord::from_json(&json)
                .unwrap()
                .to_json()
                .unwrap(),
            json
        );
    }

    #[test]
    fn without_access_token_keeps_what_a_source_resumes_from() {
        let mut fields = serde_json::Map::new();
        fields.insert("client_id".into(), "123".into());
        let record = CredentialRecord::new()
            .with_access_token(
                &AccessToken::new("ya29.cached")
                    .with_expiry(time::macros::datetime!(2026-01-01 12:00 UTC))
                    .with_granted_scopes(["s"]),
            )
            .with_refresh_token(SecretString::from("1//rt"))
            .with_provider_fields(fields.clone())
            .with_provider_secret("rapt_token", SecretString::from("rapt"));
        let resume = record.without_access_token();
        assert!(resume.access_token().is_none());
        let json = String::from_utf8(resume.to_json().unwrap().to_vec()).unwrap();
        for gone in ["ya29.cached", "expiry", "granted_scopes", "issued_at"] {
            assert!(!json.contains(gone), "{gone} in {json}");
        }
        assert_eq!(resume.refresh_token().unwrap().expose_secret(), "1//rt");
        assert_eq!(resume.provider_fields(), &fields);
        assert_eq!(
            resume
                .provider_secret("rapt_token")
                .unwrap()
                .expose_secret(),
            "rapt"
        );
    }

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
    fn empty_record_serializes_to_its_version_alone() {
        let json = CredentialRecord::new().to_json().unwrap();
        assert_eq!(&json[..], br#"{"version":1}"#);
    }

    #[test]
    fn version_is_written() {
        let record = CredentialRecord::new().with_access_token(&AccessToken::new("at"));
        let json: serde_json::Value = serde_json::from_slice(&record.to_json().unwrap()).unwrap();
        assert_eq!(json["version"], CredentialRecord::FORMAT_VERSION);
        assert_eq!(CredentialRecord::FORMAT_VERSION, 1);
    }

    #[test]
    fn newer_record_with_unknown_fields_loads_with_the_known_ones() {
        let json = br#"{
            "version": 7,
            "access_token": "at-secret",
            "expiry": "2026-01-01T12:00:00Z",
            "refresh_token": "rt-secret",
            "provider": {"client_id": "cid"},
            "generation": 42,
            "lease": {"holder": "another process"}
        }"#;
        let record = CredentialRecord::from_json(json).unwrap();
        let token = record.access_token().unwrap();
        assert_eq!(token.secret().expose_secret(), "at-secret");
        assert_eq!(token.expiry(), Some(datetime!(2026-01-01 12:00 UTC)));
        assert_eq!(record.refresh_token().unwrap().expose_secret(), "rt-secret");
        assert_eq!(record.provider_fields()["client_id"], "cid");
        // Written back, it is this version's record.
        let again: serde_json::Value = serde_json::from_slice(&record.to_json().unwrap()).unwrap();
        assert_eq!(again["version"], 1);
        assert!(again.get("generation").is_none());
    }

    #[test]
    fn record_without_a_version_loads() {
        let record = CredentialRecord::from_json(br#"{"refresh_token":"rt"}"#).unwrap();
        assert_eq!(record.refresh_token().unwrap().expose_secret(), "rt");
    }

    #[test]
    fn malformed_record_error_hides_the_input() {
        let err = CredentialRecord::from_json(br#"{"access_token": 5, "secret-ish"}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(!err.to_string().contains("secret-ish"));
    }

    #[test]
    fn corrupt_record_is_a_storage_error_without_the_secret() {
        for json in [
            &br#"{"version":1,"access_token":"ya29.secret","expiry":"ya29.secret"}"#[..],
            br#"{"version":1,"refresh_token":["1//secret"]}"#,
            br#"{"version":1,"access_token":"ya29.secret""#,
            br#"{"version":"ya29.secret"}"#,
        ] {
            let err = CredentialRecord::from_json(json).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Storage);
            assert!(!err.is_transient());
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("secret"), "{shown}");
            assert!(std::error::Error::source(&err).is_none());
        }
    }
}
