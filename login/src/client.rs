//! The OAuth client a login runs as: its ID and secret and the authorization server's endpoints,
//! from Google's `client_secret.json` or from given values.

use std::fmt;
use std::io::Read as _;
use std::path::Path;

use credkit_core::BuildError;
use secrecy::SecretString;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error;

/// Google's authorization endpoint, where the user signs in and consents.
pub const GOOGLE_AUTH_URI: &str = "https://accounts.google.com/o/oauth2/auth";

/// Google's token endpoint, where a code or a device code is exchanged for tokens.
pub const GOOGLE_TOKEN_URI: &str = credkit_refresh_token::GOOGLE_TOKEN_URI;

/// Google's device authorization endpoint (RFC 8628), where the device flow starts.
pub const GOOGLE_DEVICE_AUTHORIZATION_URI: &str = "https://oauth2.googleapis.com/device/code";

/// Google's revocation endpoint (RFC 7009).
pub const GOOGLE_REVOKE_URI: &str = "https://oauth2.googleapis.com/revoke";

/// The most a `client_secret.json` may hold: a real one is under 1 KiB.
pub const MAX_CLIENT_SECRETS_BYTES: usize = 64 * 1024;

/// What kind of OAuth client a `client_secret.json` describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientKind {
    /// A desktop ("installed") application: any loopback redirect URI on any port is allowed.
    Installed,
    /// A web application: Google accepts only the redirect URIs registered for it, so the
    /// login listens on the port of a registered loopback URI.
    Web,
    /// A client made from given values ([`OAuthClient::new`]); treated as installed.
    Given,
}

/// An OAuth 2.0 client and the endpoints of its authorization server.
///
/// Made from Google's `client_secret.json` (the file the Cloud console downloads for an OAuth
/// client ID, of type "Desktop app" or "Web application") or from an ID and secret, with
/// Google's endpoints unless set otherwise. A desktop client's secret is not confidential
/// (Google says so: it ships inside the application), but it is still kept out of `Debug`,
/// errors and logs, and zeroized on drop.
///
/// ```
/// use credkit_login::{ClientKind, OAuthClient};
///
/// let json = br#"{"installed": {"client_id": "123.apps.googleusercontent.com",
///     "client_secret": "GOCSPX-abc", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
///     "token_uri": "https://oauth2.googleapis.com/token", "redirect_uris": ["http://localhost"]}}"#;
/// let client = OAuthClient::from_client_secrets_json(json)?;
/// assert_eq!(client.client_id(), "123.apps.googleusercontent.com");
/// assert_eq!(client.kind(), ClientKind::Installed);
/// assert!(!format!("{client:?}").contains("GOCSPX-abc"));
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[derive(Clone)]
pub struct OAuthClient {
    kind: ClientKind,
    client_id: String,
    client_secret: Option<SecretString>,
    auth_uri: String,
    token_uri: String,
    device_authorization_uri: String,
    revoke_uri: String,
    redirect_uris: Vec<String>,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("kind", &self.kind)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[REDACTED]"),
            )
            .field("auth_uri", &self.auth_uri)
            .field("token_uri", &self.token_uri)
            .field("device_authorization_uri", &self.device_authorization_uri)
            .field("revoke_uri", &self.revoke_uri)
            .field("redirect_uris", &self.redirect_uris)
            .finish()
    }
}

/// The members of `client_secret.json` this crate reads; any other is ignored.
#[derive(Deserialize)]
struct ClientSecretsFile {
    installed: Option<ClientSecretsEntry>,
    web: Option<ClientSecretsEntry>,
}

#[derive(Deserialize)]
struct ClientSecretsEntry {
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    auth_uri: Option<String>,
    token_uri: Option<String>,
    #[serde(default)]
    redirect_uris: Vec<String>,
}

impl OAuthClient {
    /// A client with the given ID and (for Google, required) secret, and Google's endpoints.
    ///
    /// ```
    /// use credkit_login::{OAuthClient, GOOGLE_AUTH_URI};
    ///
    /// let client = OAuthClient::new("123.apps.googleusercontent.com", Some("GOCSPX-abc".into()));
    /// assert_eq!(client.auth_uri(), GOOGLE_AUTH_URI);
    /// ```
    pub fn new(client_id: impl Into<String>, client_secret: Option<SecretString>) -> Self {
        Self {
            kind: ClientKind::Given,
            client_id: client_id.into(),
            client_secret,
            auth_uri: GOOGLE_AUTH_URI.to_owned(),
            token_uri: GOOGLE_TOKEN_URI.to_owned(),
            device_authorization_uri: GOOGLE_DEVICE_AUTHORIZATION_URI.to_owned(),
            revoke_uri: GOOGLE_REVOKE_URI.to_owned(),
            redirect_uris: Vec::new(),
        }
    }

    /// Reads Google's `client_secret.json`: an object with one member, `installed` or `web`,
    /// holding `client_id`, `client_secret`, and optionally `auth_uri`, `token_uri` and
    /// `redirect_uris` (Google's endpoints when absent). Other members are ignored.
    ///
    /// # Errors
    ///
    /// A parsing error (never quoting the file) when it is not such an object, when it holds
    /// both or neither of `installed` and `web`, or when it is larger than
    /// [`MAX_CLIENT_SECRETS_BYTES`]; a missing-field error without `client_id`.
    pub fn from_client_secrets_json(json: &[u8]) -> Result<Self, BuildError> {
        if json.len() > MAX_CLIENT_SECRETS_BYTES {
            return Err(error::client_secrets_too_large());
        }
        let file: ClientSecretsFile = serde_json::from_slice(json)
            .map_err(|err| error::client_secrets_not_json(err.is_data()))?;
        let (kind, entry) = match (file.installed, file.web) {
            (Some(entry), None) => (ClientKind::Installed, entry),
            (None, Some(entry)) => (ClientKind::Web, entry),
            (Some(_), Some(_)) => return Err(error::client_secrets_both_kinds()),
            (None, None) => return Err(error::client_secrets_no_kind()),
        };
        let client_id = entry
            .client_id
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| BuildError::missing_field("client_id"))?;
        Ok(Self {
            kind,
            client_id,
            client_secret: entry.client_secret,
            auth_uri: entry.auth_uri.unwrap_or_else(|| GOOGLE_AUTH_URI.to_owned()),
            token_uri: entry
                .token_uri
                .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned()),
            device_authorization_uri: GOOGLE_DEVICE_AUTHORIZATION_URI.to_owned(),
            revoke_uri: GOOGLE_REVOKE_URI.to_owned(),
            redirect_uris: entry.redirect_uris,
        })
    }

    /// Reads a `client_secret.json` file (see [`from_client_secrets_json`](Self::from_client_secrets_json)).
    ///
    /// # Errors
    ///
    /// A loading error naming the path when the file cannot be read; the parsing errors above.
    pub fn from_client_secrets_file(path: impl AsRef<Path>) -> Result<Self, BuildError> {
        let path = path.as_ref();
        let file = std::fs::File::open(path)
            .map_err(|err| error::client_secrets_unreadable(path, &err))?;
        let limit = u64::try_from(MAX_CLIENT_SECRETS_BYTES + 1).unwrap_or(u64::MAX);
        let mut bytes = Zeroizing::new(Vec::new());
        file.take(limit)
            .read_to_end(&mut bytes)
            .map_err(|err| error::client_secrets_unreadable(path, &err))?;
        Self::from_client_secrets_json(&bytes)
    }

    /// Another authorization endpoint (a test server's, or another provider's).
    #[must_use]
    pub fn with_auth_uri(mut self, uri: impl Into<String>) -> Self {
        self.auth_uri = uri.into();
        self
    }

    /// Another token endpoint.
    #[must_use]
    pub fn with_token_uri(mut self, uri: impl Into<String>) -> Self {
        self.token_uri = uri.into();
        self
    }

    /// Another device authorization endpoint.
    #[must_use]
    pub fn with_device_authorization_uri(mut self, uri: impl Into<String>) -> Self {
        self.device_authorization_uri = uri.into();
        self
    }

    /// Another revocation endpoint.
    #[must_use]
    pub fn with_revoke_uri(mut self, uri: impl Into<String>) -> Self {
        self.revoke_uri = uri.into();
        self
    }

    /// Whether the client came from an `installed` or `web` entry, or from given values.
    pub fn kind(&self) -> ClientKind {
        self.kind
    }

    /// The client ID.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret, if the client has one.
    pub fn client_secret(&self) -> Option<&SecretString> {
        self.client_secret.as_ref()
    }

    /// The authorization endpoint.
    pub fn auth_uri(&self) -> &str {
        &self.auth_uri
    }

    /// The token endpoint.
    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }

    /// The device authorization endpoint.
    pub fn device_authorization_uri(&self) -> &str {
        &self.device_authorization_uri
    }

    /// The revocation endpoint.
    pub fn revoke_uri(&self) -> &str {
        &self.revoke_uri
    }

    /// The redirect URIs the file registers (empty for a client made from values).
    pub fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }
}
