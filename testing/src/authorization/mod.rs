//! `FakeAuthorizationServer`: Google's OAuth 2.0 authorization server for installed apps (the
//! authorization-code flow with PKCE, the device flow, revocation) on 127.0.0.1.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::json;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::IdTokenMinter;

mod reply;
mod request;
mod serve;

pub use reply::{AuthorizeReply, DevicePoll, TokenReply};
pub use request::AuthorizationRequest;

/// The OAuth client the fake knows by default (an installed app's client ID).
pub const FAKE_CLIENT_ID: &str = "fake-client-id.apps.googleusercontent.com";

/// The secret of [`FAKE_CLIENT_ID`].
pub const FAKE_CLIENT_SECRET: &str = "fake-client-secret";

/// The user who consents: the `email` of the ID tokens the fake issues.
pub const FAKE_USER_EMAIL: &str = "user@example.com";

/// The device flow's user code, the one the user would type at the verification URL.
pub const FAKE_USER_CODE: &str = "WDJB-MJHT";

/// Google's OAuth 2.0 authorization server on 127.0.0.1, for tests of the authorization-code
/// flow of installed apps (RFC 6749 §4.1 with PKCE, RFC 7636, and a loopback redirect, RFC
/// 8252), the device flow (RFC 8628) and revocation (RFC 7009).
///
/// It knows one OAuth client ([`FAKE_CLIENT_ID`] and [`FAKE_CLIENT_SECRET`] unless
/// [`with_client`](FakeAuthorizationServerBuilder::with_client) names another) and one user
/// ([`FAKE_USER_EMAIL`]), and serves five endpoints; any other path is `404`, another method
/// `405`, and a `POST` whose body is not `application/x-www-form-urlencoded` gets `400`
/// `invalid_request`. Every JSON error is `{"error", "error_description"}` and never echoes a
/// token, code, verifier or secret.
///
/// **`GET /o/oauth2/auth`**, the authorization endpoint ([`authorize_url`](Self::authorize_url);
/// RFC 6749 §4.1.1, RFC 7636 §4.3). The checks, in order:
///
/// 1. `client_id` is the known client, and `redirect_uri` is present and a loopback `http`
///    URI (host `127.0.0.1`, `[::1]` or `localhost`, any port and path, no fragment). Failing
///    either, the answer is a `400` `text/html` page saying `Error 400: invalid_request` (no or
///    an unknown client, no `redirect_uri`) or `Error 400: redirect_uri_mismatch`, and never a
///    redirect (RFC 6749 §4.1.2.1).
/// 2. `response_type=code`; a non-empty `scope`; a `code_challenge` of 43 to 128 characters of
///    `[A-Za-z0-9-._~]`; `code_challenge_method=S256` (`plain` or none is refused). Failing
///    one, a `302` to `redirect_uri?error=invalid_request&error_description=...&state=...`.
///
/// Then the next [`AuthorizeReply`] (default [`AuthorizeReply::Code`]): a `302` to the
/// `redirect_uri` (its own query kept) with `code`, `state` (when the request had one) and
/// `scope`, the granted scopes space-separated. The granted scopes are the requested ones, or
/// those of [`with_granted_scopes`](FakeAuthorizationServerBuilder::with_granted_scopes). A code
/// (`fake-code-<n>-<random hex>`) remembers the client, the `redirect_uri`, the
/// `code_challenge`, the granted scopes and whether `access_type=offline` was sent; it is
/// single-use.
///
/// **`POST /token`**, the token endpoint ([`token_url`](Self::token_url)); the client
/// authenticates with `client_id` and `client_secret` in the form (an unknown or missing
/// client, or a wrong or missing secret: `401` `invalid_client`). By `grant_type`:
///
/// - `authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5) takes the next [`TokenReply`]
///   (default [`TokenReply::Issue`]) before any check. For `Issue` and `NoRefreshToken`, in
///   order: the client; `code` present and issued (else `400` `invalid_grant` "Malformed auth
///   code.") and unused (else `400` `invalid_grant` "Bad Request"), after which it is used,
///   whatever the later checks say; `redirect_uri` equal to the authorized one (else `400`
///   `redirect_uri_mismatch`); `code_verifier` present with `BASE64URL-NOPAD(SHA-256(verifier))`
///   equal to the `code_challenge` (else `400` `invalid_grant` "Invalid code verifier."). Then
///   `200` `{"access_token": "fake-user-access-token-<n>", "expires_in": 3599,
///   "refresh_token": "fake-user-refresh-token-<n>", "scope": <granted scopes>, "token_type":
///   "Bearer", "id_token": <JWT>}`, with `refresh_token` only when `access_type=offline` was
///   authorized (as Google does) and the reply is not `NoRefreshToken`, and `id_token` only
///   when the granted scopes include `openid`.
/// - `refresh_token`: the client, then a refresh token this server issued and nobody revoked
///   (else `400` `invalid_grant` "Token has been expired or revoked."): `200` with a new
///   access token, the scopes and (with `openid`) an ID token, and no new refresh token.
/// - `urn:ietf:params:oauth:grant-type:device_code` (RFC 8628 §3.4): the client; `device_code`
///   present (else `400` `invalid_request`), issued and not used up (else `400`
///   `invalid_grant`); then the next [`DevicePoll`] (default [`DevicePoll::Approve`]):
///   `Pending` is `428` `authorization_pending` (Google's status), `SlowDown` `403`
///   `slow_down`, `Deny` `403` `access_denied`, `Expire` `400` `expired_token`, and `Approve`
///   `200` with tokens as for a code (always with a refresh token), after which the device
///   code is used up.
/// - Anything else (or none): `400` `unsupported_grant_type`.
///
/// **`POST /device/code`** ([`device_url`](Self::device_url); RFC 8628 §3.1/§3.2): `client_id`
/// the known client (else `401` `invalid_client`; no secret is needed) and a non-empty `scope`
/// (else `400` `invalid_scope`): `200` `{"device_code": "fake-device-code-<n>-<hex>",
/// "user_code": FAKE_USER_CODE, "verification_url": "{url}/device", "expires_in": 1800,
/// "interval": 5}`, Google's names; under
/// [`with_rfc_device_names`](FakeAuthorizationServerBuilder::with_rfc_device_names), RFC 8628's
/// `verification_uri` and `verification_uri_complete` (`{url}/device?user_code=WDJB-MJHT`)
/// instead of `verification_url`.
///
/// **`GET /device`**: a small `200` `text/html` page, where a user would type the code.
///
/// **`POST /revoke`** ([`revoke_url`](Self::revoke_url); RFC 7009 §2.1): `token` in the form
/// (else `400` `invalid_request`; `token_type_hint` is ignored). An access or refresh token
/// this server issued and nobody revoked: `200` `{}`, and it is revoked (revoking a refresh
/// token revokes the access tokens issued with it too). Otherwise `400` `{"error":
/// "invalid_token", "error_description": "Token expired or revoked"}`, as Google answers.
///
/// The ID tokens are JWTs with the claims `iss` `https://accounts.google.com`, `aud` and `azp`
/// the client ID, `sub` `1234567890`, `email` [`FAKE_USER_EMAIL`], `email_verified` `true`,
/// `iat` now and `exp` an hour later; a fake signature unless
/// [`with_id_token_minter`](FakeAuthorizationServerBuilder::with_id_token_minter) signs them.
///
/// Every request is recorded first ([`requests`](Self::requests)). The server must be started
/// inside a tokio runtime; dropping it stops it.
///
/// # Examples
///
/// ```
/// use credkit_testing::{AuthorizeReply, FakeAuthorizationServer, FAKE_CLIENT_ID};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = FakeAuthorizationServer::builder()
///     .with_authorize_replies([AuthorizeReply::Error("access_denied".to_owned())])
///     .start()
///     .await?;
/// assert_eq!(server.token_url(), format!("{}/token", server.url()));
/// let secrets: serde_json::Value = serde_json::from_str(&server.client_secrets_json("installed"))?;
/// assert_eq!(secrets["installed"]["client_id"], FAKE_CLIENT_ID);
///
/// // The browser's request: the user refuses, and is sent back to the loopback listener.
/// let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// let query = format!(
///     "client_id={FAKE_CLIENT_ID}&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2F\
///      &response_type=code&scope=openid+email&state=s1\
///      &code_challenge={challenge}&code_challenge_method=S256"
/// );
/// let mut stream = tokio::net::TcpStream::connect(server.url().trim_start_matches("http://")).await?;
/// let request = format!("GET /o/oauth2/auth?{query} HTTP/1.1\r\nhost: fake\r\nconnection: close\r\n\r\n");
/// tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await?;
/// let mut answer = String::new();
/// tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut answer).await?;
/// assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
/// assert!(answer.contains("location: http://127.0.0.1:8765/?error=access_denied&"), "{answer}");
///
/// assert_eq!(server.requests()[0].param("state"), Some("s1"));
/// assert!(server.issued_refresh_tokens().is_empty());
/// # Ok(())
/// # }
/// ```
pub struct FakeAuthorizationServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

/// Builds a [`FakeAuthorizationServer`]; from [`FakeAuthorizationServer::builder`].
#[must_use]
pub struct FakeAuthorizationServerBuilder {
    client_id: String,
    client_secret: String,
    authorize_replies: VecDeque<AuthorizeReply>,
    token_replies: VecDeque<TokenReply>,
    device_polls: VecDeque<DevicePoll>,
    rfc_device_names: bool,
    device_interval: u64,
    device_expires_in: u64,
    granted_scopes: Option<Vec<String>>,
    minter: Option<IdTokenMinter>,
}

/// What the server was built with; fixed once it runs.
pub(crate) struct Config {
    pub(crate) url: String,
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    pub(crate) rfc_device_names: bool,
    pub(crate) device_interval: u64,
    pub(crate) device_expires_in: u64,
    pub(crate) granted_scopes: Option<Vec<String>>,
    pub(crate) minter: Option<IdTokenMinter>,
}

pub(crate) struct State {
    pub(crate) config: Config,
    inner: Mutex<Inner>,
}

/// A code the authorization endpoint issued.
#[derive(Clone)]
pub(crate) struct IssuedCode {
    pub(crate) redirect_uri: String,
    pub(crate) challenge: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) offline: bool,
    pub(crate) used: bool,
}

/// A device code the device endpoint issued.
pub(crate) struct IssuedDevice {
    pub(crate) scopes: Vec<String>,
    pub(crate) used: bool,
}

/// A token the token endpoint issued.
pub(crate) struct IssuedToken {
    pub(crate) token: String,
    /// For a refresh token, its scopes; for an access token, the refresh token it came with.
    pub(crate) kind: TokenKind,
    pub(crate) revoked: bool,
}

pub(crate) enum TokenKind {
    Access { refresh_token: Option<String> },
    Refresh { scopes: Vec<String> },
}

/// The mutable half, behind one lock: a request is recorded, checked and answered in one step.
#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) record: Vec<AuthorizationRequest>,
    pub(crate) authorize_replies: VecDeque<AuthorizeReply>,
    pub(crate) token_replies: VecDeque<TokenReply>,
    pub(crate) device_polls: VecDeque<DevicePoll>,
    pub(crate) codes: HashMap<String, IssuedCode>,
    pub(crate) devices: HashMap<String, IssuedDevice>,
    /// Every token issued, in order.
    pub(crate) tokens: Vec<IssuedToken>,
    /// The tokens `/revoke` accepted, in order.
    pub(crate) revoked: Vec<String>,
    pub(crate) codes_made: u64,
    pub(crate) devices_made: u64,
    pub(crate) tokens_made: u64,
}

impl State {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FakeAuthorizationServerBuilder {
    /// The one OAuth client the server knows. Default [`FAKE_CLIENT_ID`] and
    /// [`FAKE_CLIENT_SECRET`].
    pub fn with_client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = id.into();
        self.client_secret = secret.into();
        self
    }

    /// The answers of the authorization endpoint, one per request that passes its checks, in
    /// order; with none left, [`AuthorizeReply::Code`].
    pub fn with_authorize_replies(
        mut self,
        replies: impl IntoIterator<Item = AuthorizeReply>,
    ) -> Self {
        self.authorize_replies.extend(replies);
        self
    }

    /// The answers of the `authorization_code` grant, one per request, in order; with none
    /// left, [`TokenReply::Issue`].
    pub fn with_token_replies(mut self, replies: impl IntoIterator<Item = TokenReply>) -> Self {
        self.token_replies.extend(replies);
        self
    }

    /// The answers of the device flow's polls, one per poll with a known device code, in
    /// order; with none left, [`DevicePoll::Approve`].
    pub fn with_device_polls(mut self, polls: impl IntoIterator<Item = DevicePoll>) -> Self {
        self.device_polls.extend(polls);
        self
    }

    /// The device endpoint answers RFC 8628's `verification_uri` and
    /// `verification_uri_complete` instead of Google's `verification_url`.
    pub fn with_rfc_device_names(mut self) -> Self {
        self.rfc_device_names = true;
        self
    }

    /// The device endpoint's `interval`, in seconds. Default 5.
    pub fn with_device_interval(mut self, secs: u64) -> Self {
        self.device_interval = secs;
        self
    }

    /// The device endpoint's `expires_in`, in seconds. Default 1800.
    pub fn with_device_expires_in(mut self, secs: u64) -> Self {
        self.device_expires_in = secs;
        self
    }

    /// The scopes the user grants, whatever was asked (fewer, say, as with Google's granular
    /// consent). Default: exactly the requested scopes.
    pub fn with_granted_scopes(
        mut self,
        scopes: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.granted_scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Signs the ID tokens with `minter` (a test issuer whose keys a verifier can fetch)
    /// instead of a fake signature. The claims are the same.
    pub fn with_id_token_minter(
        mut self,
        minter: impl Fn(&serde_json::Value) -> String + Send + Sync + 'static,
    ) -> Self {
        self.minter = Some(IdTokenMinter::new(minter));
        self
    }

    /// Binds 127.0.0.1 on a free port and serves.
    ///
    /// # Errors
    ///
    /// Binding the port.
    pub async fn start(self) -> io::Result<FakeAuthorizationServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            config: Config {
                url: format!("http://{addr}"),
                client_id: self.client_id,
                client_secret: self.client_secret,
                rfc_device_names: self.rfc_device_names,
                device_interval: self.device_interval,
                device_expires_in: self.device_expires_in,
                granted_scopes: self.granted_scopes,
                minter: self.minter,
            },
            inner: Mutex::new(Inner {
                authorize_replies: self.authorize_replies,
                token_replies: self.token_replies,
                device_polls: self.device_polls,
                ..Inner::default()
            }),
        });
        let task = tokio::spawn(serve::accept_loop(listener, Arc::clone(&state)));
        Ok(FakeAuthorizationServer { addr, state, task })
    }
}

impl FakeAuthorizationServer {
    /// A builder.
    pub fn builder() -> FakeAuthorizationServerBuilder {
        FakeAuthorizationServerBuilder {
            client_id: FAKE_CLIENT_ID.to_owned(),
            client_secret: FAKE_CLIENT_SECRET.to_owned(),
            authorize_replies: VecDeque::new(),
            token_replies: VecDeque::new(),
            device_polls: VecDeque::new(),
            rfc_device_names: false,
            device_interval: 5,
            device_expires_in: 1800,
            granted_scopes: None,
            minter: None,
        }
    }

    /// Starts a server with the defaults: [`FAKE_CLIENT_ID`], every reply the normal one.
    ///
    /// # Errors
    ///
    /// Binding the port.
    pub async fn start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// `http://127.0.0.1:{port}`, without a trailing slash.
    pub fn url(&self) -> String {
        self.state.config.url.clone()
    }

    /// `{url}/o/oauth2/auth`, the authorization endpoint (Google's `auth_uri`).
    pub fn authorize_url(&self) -> String {
        format!("{}/o/oauth2/auth", self.url())
    }

    /// `{url}/token`, the token endpoint (Google's `token_uri`).
    pub fn token_url(&self) -> String {
        format!("{}/token", self.url())
    }

    /// `{url}/device/code`, the device authorization endpoint.
    pub fn device_url(&self) -> String {
        format!("{}/device/code", self.url())
    }

    /// `{url}/revoke`, the revocation endpoint.
    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.url())
    }

    /// A `client_secret.json` as the Google Cloud console downloads it, naming this server's
    /// endpoints and client: `{"<kind>": {"client_id", "project_id": "fake-project",
    /// "auth_uri", "token_uri", "auth_provider_x509_cert_url", "client_secret",
    /// "redirect_uris": ["http://localhost"]}}`, `kind` being `installed` (a desktop app) or
    /// `web`.
    pub fn client_secrets_json(&self, kind: &str) -> String {
        let config = &self.state.config;
        json!({ kind: {
            "client_id": config.client_id,
            "project_id": "fake-project",
            "auth_uri": self.authorize_url(),
            "token_uri": self.token_url(),
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_secret": config.client_secret,
            "redirect_uris": ["http://localhost"],
        }})
        .to_string()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<AuthorizationRequest> {
        self.state.lock().record.clone()
    }

    /// Every refresh token the token endpoint issued, in order (revoked ones too).
    pub fn issued_refresh_tokens(&self) -> Vec<String> {
        self.state
            .lock()
            .tokens
            .iter()
            .filter(|issued| matches!(issued.kind, TokenKind::Refresh { .. }))
            .map(|issued| issued.token.clone())
            .collect()
    }

    /// Every token the revocation endpoint accepted, in order (not the access tokens revoked
    /// along with a refresh token).
    pub fn revoked_tokens(&self) -> Vec<String> {
        self.state.lock().revoked.clone()
    }
}

impl Drop for FakeAuthorizationServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Shows the address and counts; no token.
impl fmt::Debug for FakeAuthorizationServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.state.lock();
        f.debug_struct("FakeAuthorizationServer")
            .field("addr", &self.addr)
            .field("client_id", &self.state.config.client_id)
            .field("requests", &inner.record.len())
            .field("tokens_issued", &inner.tokens.len())
            .field("tokens_revoked", &inner.revoked.len())
            .finish_non_exhaustive()
    }
}

/// Shows the settings; not the client secret.
impl fmt::Debug for FakeAuthorizationServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAuthorizationServerBuilder")
            .field("client_id", &self.client_id)
            .field("authorize_replies", &self.authorize_replies)
            .field("token_replies", &self.token_replies)
            .field("device_polls", &self.device_polls)
            .field("rfc_device_names", &self.rfc_device_names)
            .field("device_interval", &self.device_interval)
            .field("device_expires_in", &self.device_expires_in)
            .field("granted_scopes", &self.granted_scopes)
            .field("id_token_minter", &self.minter.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
