//! The authorization-code flow for installed applications: PKCE, `state`, a loopback redirect,
//! the code exchange.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use credkit_core::{Clock, Result, SystemClock, Transport};
use credkit_refresh_token::UserCredentials;
use futures::channel::oneshot;
use futures::future::{self, Either};
use secrecy::{ExposeSecret, SecretString};
use url::{Host, Url};

use crate::authorize::{AuthorizationParams, Prompt};
use crate::client::{ClientKind, OAuthClient};
use crate::loopback::{Arrival, Listener};
use crate::pkce::{self, PkceVerifier};
use crate::redirect::Page;
use crate::{endpoint, error, grant};

/// The scopes a login asks for when none are given: the user's identity (an ID token and the
/// email) and Google Cloud, as gcloud's `auth application-default login` asks.
pub const DEFAULT_SCOPES: &[&str] = &[
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/cloud-platform",
];

/// How long a login waits for the browser to come back, unless set otherwise.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// How long, after the exchange, the login waits for the browser to receive its page.
const PAGE_WAIT: Duration = Duration::from_secs(10);

/// The authorization-code flow for an installed application (RFC 6749 section 4.1, with
/// PKCE's S256 method from RFC 7636 and a loopback redirect on an ephemeral port as RFC 8252
/// prescribes).
///
/// [`start`](Self::start) listens on `127.0.0.1` and makes the authorization URL; the user
/// opens it, signs in and consents; the authorization server redirects the browser to the
/// listener with a code; [`PendingLogin::finish`] checks the redirect's `state`, exchanges
/// the code with the PKCE verifier, and returns [`UserCredentials`] holding the refresh token,
/// the access token, the ID token and the granted scopes. The browser is then shown a page
/// saying whether the sign-in worked, and that the tab can be closed.
///
/// ```no_run
/// use credkit_login::{InstalledFlow, OAuthClient};
///
/// # async fn f(transport: credkit_reqwest::ReqwestTransport) -> Result<(), Box<dyn std::error::Error>> {
/// let client = OAuthClient::from_client_secrets_file("client_secret.json")?;
/// let login = InstalledFlow::new(client, transport).start()?;
/// println!("Open this URL in your browser:\n\n    {}\n", login.authorization_url());
/// let credentials = login.finish().await?; // waits for the browser, at most 5 minutes
/// std::fs::write("authorized_user.json", credentials.to_json(&["token", "expiry"]).as_bytes())?;
/// # Ok(())
/// # }
/// # let _ = f;
/// ```
///
/// # Failures
///
/// Each ends the login with an error that says what to do, and the browser is shown a page
/// that says so too: the server's refusal (`access_denied` when the user declines, kept in
/// [`Error::oauth_error`](credkit_core::Error::oauth_error)); a redirect whose `state` is
/// missing, repeated or not this login's (nothing in it is believed, and no code is
/// exchanged); a redirect without exactly one code; a token endpoint that refuses the code or
/// answers something that is not a token response; an answer without a refresh token; a
/// port already in use (from [`start`](Self::start)); and nobody coming back within the
/// timeout ([`with_timeout`](Self::with_timeout), on the flow's clock).
///
/// # Cancellation
///
/// Dropping the [`PendingLogin`] (or the future of `finish`) stops the listener and closes
/// its port. The code is single-use and valid for minutes: once its exchange is sent, a
/// dropped `finish` loses the answer, and the user signs in again.
#[derive(Clone)]
pub struct InstalledFlow {
    client: OAuthClient,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    scopes: Vec<String>,
    prompt: Option<Prompt>,
    login_hint: Option<String>,
    include_granted_scopes: bool,
    port: Option<u16>,
    timeout: Duration,
}

impl fmt::Debug for InstalledFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstalledFlow")
            .field("client", &self.client)
            .field("scopes", &self.scopes)
            .field("prompt", &self.prompt)
            .field("login_hint", &self.login_hint)
            .field("include_granted_scopes", &self.include_granted_scopes)
            .field("port", &self.port)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl InstalledFlow {
    /// A flow for `client`, sending the code exchange (and the credentials' later refreshes)
    /// through `transport`, asking for [`DEFAULT_SCOPES`].
    pub fn new(client: OAuthClient, transport: impl Transport + 'static) -> Self {
        Self {
            client,
            transport: Arc::new(transport),
            clock: Arc::new(SystemClock),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            prompt: None,
            login_hint: None,
            include_granted_scopes: false,
            port: None,
            timeout: DEFAULT_LOGIN_TIMEOUT,
        }
    }

    /// The scopes to ask for (replacing [`DEFAULT_SCOPES`]).
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// What the server should ask the user; none by default, so a returning user is not asked
    /// to consent again.
    #[must_use]
    pub fn with_prompt(mut self, prompt: Prompt) -> Self {
        self.prompt = Some(prompt);
        self
    }

    /// The account to suggest (an email address), Google's `login_hint`.
    #[must_use]
    pub fn with_login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// Google's incremental authorization: the new grant also covers the scopes the user
    /// granted this client before.
    #[must_use]
    pub fn with_include_granted_scopes(mut self, include: bool) -> Self {
        self.include_granted_scopes = include;
        self
    }

    /// Listen on this port rather than one the system chooses (to forward it over SSH, say;
    /// for a "web" client, the port of one of its registered loopback redirect URIs).
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// How long [`PendingLogin::finish`] waits for the browser ([`DEFAULT_LOGIN_TIMEOUT`]).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The clock the timeout and the token's expiry are measured on.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Listens for the redirect and makes the authorization URL.
    ///
    /// # Errors
    ///
    /// A configuration error when no scope is asked for, when the authorization or token
    /// endpoint is not `https://` (or `http://` to loopback), when a "web" client has no
    /// loopback redirect URI to listen on, or when the port is in use.
    pub fn start(&self) -> Result<PendingLogin> {
        if self.scopes.is_empty() {
            return Err(error::no_scopes());
        }
        let auth_uri = endpoint::checked(self.client.auth_uri(), "authorization endpoint")?;
        endpoint::checked(self.client.token_uri(), "token endpoint")?;
        let redirect = self.redirect_target()?;
        let verifier = PkceVerifier::generate()?;
        let state = pkce::new_state()?;
        let (listener, arrival) =
            Listener::bind(redirect.addr, redirect.path.clone(), state.clone())?;
        let redirect_uri = redirect.uri(listener.local_addr().port());
        let url = AuthorizationParams {
            client_id: self.client.client_id(),
            redirect_uri: &redirect_uri,
            scopes: &self.scopes,
            state: &state,
            code_challenge: &verifier.challenge(),
            prompt: self.prompt,
            login_hint: self.login_hint.as_deref(),
            include_granted_scopes: self.include_granted_scopes,
        }
        .url(auth_uri);
        tracing::debug!(
            client_id = self.client.client_id(),
            redirect_uri,
            "waiting for the sign-in redirect"
        );
        Ok(PendingLogin {
            flow: self.clone(),
            url: url.into(),
            redirect_uri,
            verifier,
            listener,
            arrival,
        })
    }

    /// Where to listen, and the redirect URI to name.
    fn redirect_target(&self) -> Result<RedirectTarget> {
        if self.client.kind() != ClientKind::Web {
            return Ok(RedirectTarget {
                addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port.unwrap_or(0)),
                host: "127.0.0.1".to_owned(),
                path: "/".to_owned(),
            });
        }
        self.client
            .redirect_uris()
            .iter()
            .filter_map(|uri| RedirectTarget::registered(uri))
            .find(|target| self.port.is_none_or(|port| port == target.addr.port()))
            .ok_or_else(error::web_client_without_loopback)
    }

    /// Exchanges the code (RFC 6749 section 4.1.3, with RFC 7636's `code_verifier`).
    async fn exchange(
        &self,
        code: &SecretString,
        verifier: &PkceVerifier,
        redirect_uri: &str,
    ) -> Result<UserCredentials> {
        let grant = [
            ("grant_type", "authorization_code"),
            ("code", code.expose_secret()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier.secret().expose_secret()),
        ];
        grant::redeem(
            &self.client,
            &self.scopes,
            &self.transport,
            &self.clock,
            &grant,
            &[code, verifier.secret()],
        )
        .await
    }
}

/// Where the listener listens and the path it expects.
#[derive(Debug)]
struct RedirectTarget {
    addr: SocketAddr,
    host: String,
    path: String,
}

impl RedirectTarget {
    /// A registered redirect URI the login can listen for: `http`, a loopback host, a port.
    fn registered(uri: &str) -> Option<Self> {
        let url = Url::parse(uri).ok()?;
        if url.scheme() != "http" || url.query().is_some() {
            return None;
        }
        let port = url.port()?;
        let (ip, host) = match url.host()? {
            Host::Domain(name) if name.eq_ignore_ascii_case("localhost") => {
                (IpAddr::V4(Ipv4Addr::LOCALHOST), name.to_owned())
            }
            Host::Ipv4(ip) if ip.is_loopback() => (IpAddr::V4(ip), ip.to_string()),
            Host::Ipv6(ip) if ip.is_loopback() => (IpAddr::V6(ip), format!("[{ip}]")),
            _ => return None,
        };
        Some(Self {
            addr: SocketAddr::new(ip, port),
            host,
            path: url.path().to_owned(),
        })
    }

    /// The redirect URI, with the port the listener got.
    fn uri(&self, port: u16) -> String {
        format!("http://{}:{port}{}", self.host, self.path)
    }
}

/// A login waiting for the user: the URL to open, and the listener the browser comes back to.
///
/// Made by [`InstalledFlow::start`]; [`finish`](Self::finish) waits for the redirect and
/// exchanges its code. Dropping it closes the listener.
pub struct PendingLogin {
    flow: InstalledFlow,
    url: String,
    redirect_uri: String,
    verifier: PkceVerifier,
    listener: Listener,
    arrival: oneshot::Receiver<Arrival>,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("redirect_uri", &self.redirect_uri)
            .field("listening_on", &self.listener.local_addr())
            .finish_non_exhaustive()
    }
}

impl PendingLogin {
    /// The URL the user opens to sign in. It holds no secret (only the PKCE challenge and the
    /// `state`), so it may be printed.
    pub fn authorization_url(&self) -> &str {
        &self.url
    }

    /// The redirect URI the authorization server sends the browser back to
    /// (`http://127.0.0.1:PORT/` for an installed client).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The address the listener listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// Waits for the browser to come back (at most the flow's timeout, on its clock), checks
    /// the redirect, exchanges the code, and shows the browser whether that worked.
    ///
    /// # Errors
    ///
    /// See [`InstalledFlow`]'s "Failures".
    pub async fn finish(self) -> Result<UserCredentials> {
        let Self {
            flow,
            redirect_uri,
            verifier,
            listener,
            arrival,
            ..
        } = self;
        let timeout = flow.clock.sleep(flow.timeout);
        let arrival = match future::select(arrival, timeout).await {
            Either::Left((Ok(arrival), _)) => arrival,
            Either::Left((Err(oneshot::Canceled), _)) => return Err(error::listener_gone()),
            Either::Right(((), _)) => return Err(error::timed_out(flow.timeout)),
        };
        // The listener stays open until the end, so a reloaded tab is told the sign-in is over.
        let result = match arrival {
            Arrival::Failed(err) => Err(err),
            Arrival::Code {
                code,
                page,
                written,
            } => {
                let result = flow.exchange(&code, &verifier, &redirect_uri).await;
                let shown = if result.is_ok() {
                    Page::SignedIn
                } else {
                    Page::ExchangeFailed
                };
                if page.send(shown).is_ok() {
                    // The browser gets its page before the caller (a CLI about to exit) does.
                    let _ = future::select(written, flow.clock.sleep(PAGE_WAIT)).await;
                }
                result
            }
        };
        drop(listener);
        result
    }
}
