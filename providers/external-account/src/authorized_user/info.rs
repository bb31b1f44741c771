//! The `external_account_authorized_user` credentials file, read as the reference's
//! `from_info` reads it.

use std::fmt;
use std::path::Path;

use credkit_core::time::OffsetDateTime;
use credkit_core::time::format_description::well_known::Rfc3339;
use credkit_core::{BuildError, credentials_file};
use secrecy::SecretString;
use serde_json::{Map, Value};

use super::{
    ExternalAccountAuthorizedUserCredentials, ExternalAccountAuthorizedUserCredentialsBuilder,
};
use crate::info::optional_string;

/// The `type` of an external account authorized user's credentials file (what
/// `gcloud auth application-default login --login-config=...` writes for a workforce pool
/// user).
pub const EXTERNAL_ACCOUNT_AUTHORIZED_USER: &str = "external_account_authorized_user";

/// An `external_account_authorized_user` credentials file, read: the members the reference's
/// `external_account_authorized_user.Credentials.from_info` reads, each of the type it must
/// be. The secrets (`refresh_token`, `client_secret`, `token`) are held as [`SecretString`]s,
/// and the file's JSON is wiped once read.
///
/// Like the reference, reading checks no more than the members' types (and `type`, when
/// present): whether the credentials can be used at all, a valid `token` or the four members
/// a refresh needs, is checked when they are built ([`builder`](Self::builder)), by the
/// builder's clock.
///
/// ```
/// use credkit_external_account::ExternalAccountAuthorizedUserInfo;
///
/// let info = ExternalAccountAuthorizedUserInfo::from_json_str(r#"{
///   "type": "external_account_authorized_user",
///   "audience": "//iam.googleapis.com/locations/global/workforcePools/pool/providers/oidc",
///   "refresh_token": "refresh-token",
///   "token_url": "https://sts.googleapis.com/v1/oauth/token",
///   "token_info_url": "https://sts.googleapis.com/v1/introspect",
///   "client_id": "client-id",
///   "client_secret": "client-secret",
///   "revoke_url": "https://sts.googleapis.com/v1/revoke"
/// }"#)?;
/// assert!(info.can_refresh());
/// assert_eq!(info.token_url(), Some("https://sts.googleapis.com/v1/oauth/token"));
/// assert!(!format!("{info:?}").contains("client-secret"));
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[derive(Clone)]
pub struct ExternalAccountAuthorizedUserInfo {
    pub(crate) audience: Option<String>,
    pub(crate) refresh_token: Option<SecretString>,
    pub(crate) token_url: Option<String>,
    pub(crate) token_info_url: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<SecretString>,
    pub(crate) revoke_url: Option<String>,
    pub(crate) quota_project: Option<String>,
    pub(crate) scopes: Option<Vec<String>>,
    pub(crate) universe_domain: Option<String>,
    pub(crate) token: Option<SecretString>,
    pub(crate) expiry: Option<OffsetDateTime>,
    pub(crate) trust_boundary: Option<Value>,
}

impl ExternalAccountAuthorizedUserInfo {
    /// Reads the file at `path` (at most 1 MiB).
    ///
    /// # Errors
    ///
    /// The file is missing, unreadable or not JSON (the reference's texts), or as
    /// [`from_json`](Self::from_json).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, BuildError> {
        let json = credentials_file::read_json(path.as_ref())?;
        Self::from_json(&json)
    }

    /// Reads the file's JSON text.
    ///
    /// # Errors
    ///
    /// As [`from_json`](Self::from_json), and text that is not JSON.
    pub fn from_json_str(text: &str) -> Result<Self, BuildError> {
        crate::info::from_text(text, EXTERNAL_ACCOUNT_AUTHORIZED_USER, Self::from_json)
    }

    /// Reads the file's JSON.
    ///
    /// # Errors
    ///
    /// Not a JSON object; a `type` other than `external_account_authorized_user`; a member of
    /// the wrong type (`{name} must be a string`; `scopes` must be a list of strings); an
    /// `expiry` that is not a time as the reference writes one (`2024-01-01T00:00:00Z`,
    /// fractional seconds allowed, or RFC 3339 with an offset). No error quotes a secret.
    pub fn from_json(json: &Value) -> Result<Self, BuildError> {
        let map = crate::info::object_of_type(json, EXTERNAL_ACCOUNT_AUTHORIZED_USER)?;
        let secret =
            |name: &str| -> Result<Option<SecretString>, BuildError> { secret_string(map, name) };
        let expiry = match optional_string(map, "expiry")? {
            // The reference's `if expiry:`: an empty one is none.
            Some(text) if !text.is_empty() => Some(parse_expiry(&text).ok_or_else(|| {
                BuildError::invalid_value(
                    "expiry must be a time such as 2024-01-01T00:00:00Z (the format %Y-%m-%dT%H:%M:%S)",
                )
            })?),
            _ => None,
        };
        Ok(Self {
            audience: optional_string(map, "audience")?,
            refresh_token: secret("refresh_token")?,
            token_url: optional_string(map, "token_url")?,
            token_info_url: optional_string(map, "token_info_url")?,
            client_id: optional_string(map, "client_id")?,
            client_secret: secret("client_secret")?,
            revoke_url: optional_string(map, "revoke_url")?,
            quota_project: optional_string(map, "quota_project_id")?,
            scopes: scopes(map)?,
            universe_domain: optional_string(map, "universe_domain")?,
            token: secret("token")?,
            expiry,
            trust_boundary: map.get("trust_boundary").filter(|v| !v.is_null()).cloned(),
        })
    }

    /// The STS audience: the workforce pool provider.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The STS endpoint refreshes go to.
    pub fn token_url(&self) -> Option<&str> {
        self.token_url.as_deref()
    }

    /// The STS introspection endpoint (kept, never called).
    pub fn token_info_url(&self) -> Option<&str> {
        self.token_info_url.as_deref()
    }

    /// The STS revocation endpoint (kept, never called).
    pub fn revoke_url(&self) -> Option<&str> {
        self.revoke_url.as_deref()
    }

    /// The OAuth client ID.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The quota project (`quota_project_id`).
    pub fn quota_project(&self) -> Option<&str> {
        self.quota_project.as_deref()
    }

    /// The scopes the file lists (kept; the refresh grant sends none).
    pub fn scopes(&self) -> Option<&[String]> {
        self.scopes.as_deref()
    }

    /// The universe domain, if the file names one.
    pub fn universe_domain(&self) -> Option<&str> {
        self.universe_domain.as_deref()
    }

    /// When the file's `token` expires, if it says.
    pub fn expiry(&self) -> Option<OffsetDateTime> {
        self.expiry
    }

    /// Whether the file holds an access token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// The reference's `can_refresh`: `refresh_token`, `token_url`, `client_id` and
    /// `client_secret` all present and not empty.
    pub fn can_refresh(&self) -> bool {
        super::can_refresh(
            self.refresh_token.as_ref(),
            self.token_url.as_deref(),
            self.client_id.as_deref(),
            self.client_secret.as_ref(),
        )
    }

    /// A builder of credentials from this file; add the transport and build.
    pub fn builder(&self) -> ExternalAccountAuthorizedUserCredentialsBuilder {
        ExternalAccountAuthorizedUserCredentials::from_info(self)
    }
}

impl fmt::Debug for ExternalAccountAuthorizedUserInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |present: bool| present.then_some("[REDACTED]");
        f.debug_struct("ExternalAccountAuthorizedUserInfo")
            .field("audience", &self.audience)
            .field("refresh_token", &redacted(self.refresh_token.is_some()))
            .field("token_url", &self.token_url)
            .field("token_info_url", &self.token_info_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(self.client_secret.is_some()))
            .field("revoke_url", &self.revoke_url)
            .field("quota_project", &self.quota_project)
            .field("scopes", &self.scopes)
            .field("universe_domain", &self.universe_domain)
            .field("token", &redacted(self.token.is_some()))
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

/// A secret string member; `null` is absent. Parsed from the JSON's own string (which the
/// caller wipes).
fn secret_string(map: &Map<String, Value>, name: &str) -> Result<Option<SecretString>, BuildError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(SecretString::from(value.as_str()))),
        Some(_) => Err(BuildError::invalid_value(format!(
            "{name} must be a string"
        ))),
    }
}

/// `scopes`: a list of strings (or, leniently, one space-separated string); `null` is absent.
fn scopes(map: &Map<String, Value>) -> Result<Option<Vec<String>>, BuildError> {
    let wrong = || BuildError::invalid_value("scopes must be a list of strings");
    match map.get("scopes") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.split_whitespace().map(str::to_owned).collect())),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(wrong))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong()),
    }
}

/// Reads an expiry as the reference does (`expiry.rstrip("Z").split(".")[0]` in the format
/// `%Y-%m-%dT%H:%M:%S`, naive UTC), or as RFC 3339 with an offset.
pub(crate) fn parse_expiry(text: &str) -> Option<OffsetDateTime> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at.replace_nanosecond(0).unwrap_or(at));
    }
    let naive = text.trim_end_matches('Z');
    let naive = naive.split('.').next().unwrap_or(naive);
    // `YYYY-MM-DDTHH:MM:SS` read as UTC: RFC 3339 once a `Z` is put back.
    if naive.len() != "YYYY-MM-DDTHH:MM:SS".len() {
        return None;
    }
    OffsetDateTime::parse(&format!("{naive}Z"), &Rfc3339).ok()
}

/// The reference's `expiry.isoformat() + "Z"` of a naive UTC time: `YYYY-MM-DDTHH:MM:SS`,
/// `.ffffff` only with non-zero microseconds, then `Z`.
pub(crate) fn format_expiry(expiry: OffsetDateTime) -> String {
    let utc = expiry.to_offset(time::UtcOffset::UTC);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    );
    match utc.microsecond() {
        0 => format!("{base}Z"),
        micros => format!("{base}.{micros:06}Z"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    #[test]
    fn expiries_read_and_written_as_the_reference() {
        for text in [
            "2020-08-14T15:54:01Z",
            "2020-08-14T15:54:01",
            "2020-08-14T15:54:01.999Z",
            "2020-08-14T17:54:01+02:00",
        ] {
            assert_eq!(
                parse_expiry(text),
                Some(at("2020-08-14T15:54:01Z")),
                "{text}"
            );
        }
        for bad in ["yesterday", "2020-13-14T15:54:01Z", "2020-08-14"] {
            assert_eq!(parse_expiry(bad), None, "{bad}");
        }
        assert_eq!(
            format_expiry(at("2020-08-14T15:54:01Z")),
            "2020-08-14T15:54:01Z"
        );
        assert_eq!(
            format_expiry(at("2020-08-14T15:54:01.123456789Z")),
            "2020-08-14T15:54:01.123456Z"
        );
    }
}
