//! The device authorization grant (RFC 8628): a code the user enters on another device, and
//! polling until they approve it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use credkit_core::oauth::{self, scrub};
use credkit_core::{Clock, Error, Result, SystemClock, Transport};
use credkit_refresh_token::UserCredentials;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::client::OAuthClient;
use crate::installed::DEFAULT_SCOPES;
use crate::{endpoint, error, grant};

/// The grant type of the device code's token request (RFC 8628 section 3.4).
pub const DEVICE_CODE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval when the server names none (RFC 8628 section 3.2).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The longest polling interval: a server asking for more (or a run of `slow_down` answers and
/// transient failures growing it) is polled this often.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(60);

/// How much a `slow_down` answer adds to the interval (RFC 8628 section 3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The longest user code shown.
const MAX_USER_CODE_CHARS: usize = 64;

/// The device flow (RFC 8628), for a machine without a browser: the user opens a URL on
/// another device and enters a short code, while this one polls the token endpoint.
///
/// Google allows this flow only for clients of type "TVs and Limited Input devices", and only
/// for a short list of scopes (`openid`, `email`, `profile`, Drive's `drive.file` and
/// `drive.appdata`, and the video platform's): not for Google Cloud's `cloud-platform`. For Cloud on a
/// machine without a browser, use [`InstalledFlow`](crate::InstalledFlow) with its URL opened
/// elsewhere and the listener's port forwarded (`ssh -L`).
///
/// ```no_run
/// use credkit_login::{DeviceFlow, OAuthClient};
///
/// # async fn f(transport: credkit_reqwest::ReqwestTransport) -> Result<(), Box<dyn std::error::Error>> {
/// let client = OAuthClient::from_client_secrets_file("client_secret.json")?;
/// let device = DeviceFlow::new(client, transport)
///     .with_scopes(["openid", "email"])
///     .start()
///     .await?;
/// println!("On another device, open {} and enter {}", device.verification_uri(), device.user_code());
/// let credentials = device.finish().await?; // polls until approved, denied or expired
/// # let _ = credentials;
/// # Ok(())
/// # }
/// # let _ = f;
/// ```
///
/// # Polling
///
/// [`DeviceAuthorization::finish`] waits the interval the server named (5 s without one), on
/// the flow's clock, before each token request. `authorization_pending` polls again;
/// `slow_down` adds 5 s to the interval for good; a transient failure (a 503, a reset
/// connection) doubles it, and the poll goes on; the interval never exceeds
/// [`MAX_POLL_INTERVAL`]. `access_denied` ends with the refusal, `expired_token` (or the
/// device code's own expiry, reached on the clock) with an error saying to start again; any
/// other error ends the flow as the server answered it.
#[derive(Clone)]
pub struct DeviceFlow {
    client: OAuthClient,
    transport: Arc<dyn Transport>,
    clock: Arc<dyn Clock>,
    scopes: Vec<String>,
}

impl fmt::Debug for DeviceFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceFlow")
            .field("client", &self.client)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// The device authorization response (RFC 8628 section 3.2; Google names the URI
/// `verification_url`).
#[derive(Deserialize)]
struct Wire {
    device_code: Option<SecretString>,
    user_code: Option<String>,
    verification_uri: Option<String>,
    verification_url: Option<String>,
    verification_uri_complete: Option<String>,
    expires_in: Option<serde_json::Value>,
    interval: Option<serde_json::Value>,
}

impl DeviceFlow {
    /// A flow for `client`, sending its requests (and the credentials' later refreshes)
    /// through `transport`, asking for [`DEFAULT_SCOPES`].
    pub fn new(client: OAuthClient, transport: impl Transport + 'static) -> Self {
        Self {
            client,
            transport: Arc::new(transport),
            clock: Arc::new(SystemClock),
            scopes: DEFAULT_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
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

    /// The clock the polling waits and the expiries are measured on.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Asks the device authorization endpoint for a device code and a user code (RFC 8628
    /// section 3.1: `client_id` and `scope`).
    ///
    /// # Errors
    ///
    /// A configuration error when no scope is asked for or an endpoint is not `https://` (or
    /// `http://` to loopback); the endpoint's error (`invalid_client`, `invalid_scope`, ...);
    /// an invalid-response error when the answer lacks `device_code`, `user_code`, the
    /// verification URI or `expires_in`, or holds a value that cannot be shown or used.
    pub async fn start(&self) -> Result<DeviceAuthorization> {
        if self.scopes.is_empty() {
            return Err(error::no_scopes());
        }
        let url = endpoint::checked(
            self.client.device_authorization_uri(),
            "device authorization endpoint",
        )?;
        endpoint::checked(self.client.token_uri(), "token endpoint")?;
        let scope = self.scopes.join(" ");
        let request = grant::form_request(
            &url,
            &[("client_id", self.client.client_id()), ("scope", &scope)],
        )?;
        let sent_at = self.clock.now();
        let response = self.transport.send(request).await?;
        let secrets: Vec<&SecretString> = self.client.client_secret().into_iter().collect();
        if response.status() != http::StatusCode::OK {
            return Err(oauth::error_from_response(
                &response,
                self.clock.now(),
                &secrets,
            ));
        }
        self.read_authorization(response.body(), sent_at)
    }

    fn read_authorization(
        &self,
        body: &Bytes,
        sent_at: OffsetDateTime,
    ) -> Result<DeviceAuthorization> {
        let answer = Answer::parse(body, sent_at)?;
        Ok(DeviceAuthorization {
            flow: self.clone(),
            device_code: answer.device_code,
            user_code: answer.user_code,
            verification_uri: answer.verification_uri,
            verification_uri_complete: answer.verification_uri_complete,
            expires_at: answer.expires_at,
            interval: answer.interval,
        })
    }

    /// One token request with the device code (RFC 8628 section 3.4).
    async fn poll(&self, device_code: &SecretString) -> Result<UserCredentials> {
        let grant = [
            ("grant_type", DEVICE_CODE_GRANT_TYPE),
            ("device_code", device_code.expose_secret()),
        ];
        grant::redeem(
            &self.client,
            &self.scopes,
            &self.transport,
            &self.clock,
            &grant,
            &[device_code],
        )
        .await
    }
}

/// The device authorization response, checked.
pub(crate) struct Answer {
    pub(crate) device_code: SecretString,
    pub(crate) user_code: String,
    pub(crate) verification_uri: String,
    pub(crate) verification_uri_complete: Option<String>,
    pub(crate) expires_at: OffsetDateTime,
    pub(crate) interval: Duration,
}

impl Answer {
    /// Reads the answer to a request sent at `sent_at`.
    pub(crate) fn parse(body: &[u8], sent_at: OffsetDateTime) -> Result<Self> {
        let wire: Wire = serde_json::from_slice(body).map_err(|_| {
            error::bad_device_answer("is not a JSON object of the expected members")
        })?;
        let device_code = wire
            .device_code
            .filter(|code| is_printable(code.expose_secret(), 4096))
            .ok_or_else(|| error::bad_device_answer("has no usable device_code"))?;
        let user_code = wire
            .user_code
            .filter(|code| is_printable(code, MAX_USER_CODE_CHARS))
            .ok_or_else(|| error::bad_device_answer("has no user_code that can be shown"))?;
        let verification_uri = wire
            .verification_uri
            .or(wire.verification_url)
            .and_then(|uri| shown_uri(&uri))
            .ok_or_else(|| {
                error::bad_device_answer("has no verification_uri that is an https:// URL")
            })?;
        let verification_uri_complete = wire
            .verification_uri_complete
            .and_then(|uri| shown_uri(&uri));
        let expires_in = wire
            .expires_in
            .as_ref()
            .and_then(seconds)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| error::bad_device_answer("has no positive expires_in"))?;
        let interval = match wire.interval {
            None | Some(serde_json::Value::Null) => DEFAULT_POLL_INTERVAL,
            Some(value) => seconds(&value).ok_or_else(|| {
                error::bad_device_answer("has an interval that is not a number of seconds")
            })?,
        };
        let lifetime = time::Duration::try_from(expires_in).unwrap_or(time::Duration::MAX);
        Ok(Self {
            device_code,
            user_code,
            verification_uri,
            verification_uri_complete,
            expires_at: sent_at.saturating_add(lifetime),
            interval: interval.clamp(Duration::from_secs(1), MAX_POLL_INTERVAL),
        })
    }
}

/// A device authorization in progress: what to show the user, and the polling that ends it.
pub struct DeviceAuthorization {
    flow: DeviceFlow,
    device_code: SecretString,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_at: OffsetDateTime,
    interval: Duration,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("verification_uri_complete", &self.verification_uri_complete)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl DeviceAuthorization {
    /// The code the user enters (such as `WDJB-MJHT`).
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// Where the user enters it.
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// A URL with the code already in it, when the server gives one (for a QR code).
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.verification_uri_complete.as_deref()
    }

    /// When the codes expire.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }

    /// The interval between polls, as the server asked (at least 1 s, at most
    /// [`MAX_POLL_INTERVAL`]).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Polls the token endpoint until the user approves, denies, or the codes expire (see
    /// [`DeviceFlow`]'s "Polling").
    ///
    /// # Errors
    ///
    /// The refusal (`access_denied`, kept in
    /// [`Error::oauth_error`](credkit_core::Error::oauth_error)); an expiry error (a timeout,
    /// with the last transient failure among its causes); any other error of the token
    /// endpoint; an answer without a refresh token.
    pub async fn finish(self) -> Result<UserCredentials> {
        let clock = Arc::clone(&self.flow.clock);
        let mut interval = self.interval;
        let mut last_failure: Option<Error> = None;
        loop {
            let left = self.expires_at - clock.now();
            let Ok(left) = Duration::try_from(left) else {
                return Err(error::device_code_expired(last_failure));
            };
            if left.is_zero() {
                return Err(error::device_code_expired(last_failure));
            }
            clock.sleep(interval.min(left)).await;
            if clock.now() >= self.expires_at {
                return Err(error::device_code_expired(last_failure));
            }
            let err = match self.flow.poll(&self.device_code).await {
                Ok(credentials) => return Ok(credentials),
                Err(err) => err,
            };
            match err.oauth_error() {
                Some("authorization_pending") => {}
                Some("slow_down") => interval = (interval + SLOW_DOWN_STEP).min(MAX_POLL_INTERVAL),
                Some("access_denied") => return Err(error::device_refused(&err)),
                Some("expired_token") => return Err(error::device_code_expired(Some(err))),
                _ if err.is_transient() => {
                    interval = (interval * 2).min(MAX_POLL_INTERVAL);
                    tracing::debug!(error = %err, "a device-flow poll failed transiently; polling on");
                    last_failure = Some(err);
                }
                _ => return Err(err),
            }
        }
    }
}

/// Text that can be shown on a terminal: printable ASCII, no spaces, within `max` characters.
fn is_printable(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(|b| b.is_ascii_graphic())
}

/// A verification URI that may be shown to the user: `https://` (or `http://` to loopback), in
/// the URL parser's normal form (so no control character reaches the terminal).
fn shown_uri(uri: &str) -> Option<String> {
    let url = endpoint::checked(uri, "verification URI").ok()?;
    let text = String::from(url);
    is_printable(&text, 2048).then(|| scrub(&text, &[]))
}

/// A number of seconds: a non-negative integer or decimal, or a string of one.
fn seconds(value: &serde_json::Value) -> Option<Duration> {
    let number = match value {
        serde_json::Value::Number(n) => n.as_f64()?,
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (0.0..1e9)
        .contains(&number)
        .then(|| Duration::from_secs_f64(number))
}
