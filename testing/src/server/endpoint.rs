//! `FakeTokenEndpoint`: the fake token endpoint as an in-memory `Transport`.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::{Clock, Error, Result, SystemClock, Transport, TransportFailure};

use super::record::RecordedRequest;
use super::reply::Reply;
use super::script::{PlannedBody, Shared};

/// The token URL of an in-memory endpoint. Nothing is ever sent to it: an in-memory endpoint
/// answers whatever URL it is given. It is a loopback address on the discard port, so that even
/// a real transport given it by mistake would stay on the machine.
pub const IN_MEMORY_TOKEN_URL: &str = "http://127.0.0.1:9/token";

/// The fake token endpoint without sockets: a [`Transport`] that answers from the same script
/// and keeps the same record as a [`FakeTokenServer`](crate::FakeTokenServer), for fast unit
/// tests on any executor.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use credkit_core::Transport;
/// use credkit_testing::{FakeTokenEndpoint, Reply};
///
/// # futures::executor::block_on(async {
/// let endpoint = FakeTokenEndpoint::new();
/// endpoint.push_reply(Reply::oauth_error(503, "temporarily_unavailable", None));
/// endpoint.push_reply(Reply::reset());
/// endpoint.push_reply(Reply::default_token());
/// let transport: Arc<dyn Transport> = Arc::new(endpoint.clone());
///
/// let post = || http::Request::post(endpoint.token_url()).body(bytes::Bytes::new());
/// assert_eq!(transport.send(post()?).await?.status(), 503);
/// let reset = transport.send(post()?).await.unwrap_err();
/// assert!(reset.is_transient());
/// let ok = transport.send(post()?).await?;
/// let body: serde_json::Value = serde_json::from_slice(ok.body())?;
/// assert_eq!(body["access_token"], "fake-access-token-1");
/// assert_eq!(endpoint.request_count(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// Each request is recorded, then answered with the next scripted [`Reply`] (the last one
/// repeats; with no script, [`Reply::default_token`]). Hostile replies become what a conforming
/// transport returns, at once:
///
/// | reply | in memory |
/// |---|---|
/// | [`Reply::stall`], [`Reply::drip`] | a transient [`Timeout`](credkit_core::ErrorKind::Timeout) error |
/// | [`Reply::reset`] | a transient [`Transport`](credkit_core::ErrorKind::Transport) error (reset) |
/// | [`Reply::oversize`], any body over the cap | a permanent body-too-large error |
/// | [`Reply::redirect`] | the `302` response, not followed |
///
/// A [`Reply::with_delay`] waits on the endpoint's [`Clock`] (the system clock unless
/// [`with_clock`](Self::with_clock) gives another, such as a `FakeClock`). The endpoint does not
/// apply a URL policy: it never connects anywhere.
///
/// Clones share the script and the record.
#[derive(Clone, Debug)]
pub struct FakeTokenEndpoint {
    pub(crate) shared: Arc<Shared>,
    clock: Arc<dyn Clock>,
    max_body_size: usize,
}

impl FakeTokenEndpoint {
    /// The body cap an in-memory endpoint models by default: 1 MiB, as `credkit-reqwest`'s.
    pub const DEFAULT_MAX_BODY_SIZE: usize = 1024 * 1024;
}

impl Default for FakeTokenEndpoint {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeTokenEndpoint {
    /// An endpoint with an empty script (so every request gets a new default token), the system
    /// clock and a 1 MiB body cap.
    pub fn new() -> Self {
        Self::with_shared(Arc::new(Shared::default()))
    }

    pub(crate) fn with_shared(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            clock: Arc::new(SystemClock),
            max_body_size: Self::DEFAULT_MAX_BODY_SIZE,
        }
    }

    /// Waits out [`Reply::with_delay`] on `clock`. Default: the system clock.
    ///
    /// ```
    /// use std::time::Duration;
    /// use credkit_core::Transport;
    /// use credkit_testing::{FakeClock, FakeTokenEndpoint, Reply};
    ///
    /// let clock = FakeClock::new().with_auto_advance(true);
    /// let endpoint = FakeTokenEndpoint::new().with_clock(clock.clone());
    /// endpoint.push_reply(Reply::token("slow").with_delay(Duration::from_secs(20)));
    /// # futures::executor::block_on(async {
    /// endpoint.send(http::Request::post(endpoint.token_url()).body(bytes::Bytes::new())?).await?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// assert_eq!(clock.sleeps(), [Duration::from_secs(20)]);
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The body cap of the transport this endpoint stands in for: a reply body over it fails
    /// with the body-too-large error. Default [`Self::DEFAULT_MAX_BODY_SIZE`] (1 MiB).
    #[must_use]
    pub fn with_max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// [`IN_MEMORY_TOKEN_URL`]; any URL works.
    pub fn token_url(&self) -> String {
        IN_MEMORY_TOKEN_URL.to_owned()
    }

    /// Appends `reply` to the script. Returns `self` so pushes chain.
    pub fn push_reply(&self, reply: Reply) -> &Self {
        self.shared.push(reply);
        self
    }

    /// Appends every reply of `replies` to the script, in order.
    pub fn push_replies(&self, replies: impl IntoIterator<Item = Reply>) -> &Self {
        for reply in replies {
            self.shared.push(reply);
        }
        self
    }

    /// Checks JWT-bearer grants from now on (see [`JwtBearerCheck`](crate::JwtBearerCheck)).
    pub fn accept_jwt_bearer(&self, check: crate::JwtBearerCheck) -> &Self {
        self.shared.accept_jwt_bearer(check);
        self
    }

    /// How many scripted replies are waiting, the repeating last one included.
    pub fn pending_replies(&self) -> usize {
        self.shared.pending_replies()
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.shared.request_count()
    }

    /// The latest request, if any.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.shared.last_request()
    }

    /// Waits until at least `count` requests were received: a real event to wait on, in place
    /// of a sleep. Needs no runtime in particular.
    ///
    /// ```
    /// use credkit_core::Transport;
    /// use credkit_testing::FakeTokenEndpoint;
    ///
    /// # futures::executor::block_on(async {
    /// let endpoint = FakeTokenEndpoint::new();
    /// let post = http::Request::post(endpoint.token_url()).body(bytes::Bytes::new())?;
    /// let (sent, ()) = futures::join!(endpoint.send(post), endpoint.wait_for_requests(1));
    /// sent?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn wait_for_requests(&self, count: usize) {
        self.shared.wait_for_requests(count).await;
    }

    /// Turns strict rotation on, with `initial_refresh_token` the one refresh token accepted.
    ///
    /// From then on, every successful token reply (scripted or default) carries a new refresh
    /// token, `fake-rotated-refresh-token-<n>`, which becomes the only one accepted; a refresh
    /// grant with any other refresh token (one rotated away, say) gets `400 invalid_grant`
    /// without using the script. So a client that loses a rotation fails loudly. A reply that
    /// never arrives (a stall, a reset) rotates nothing.
    ///
    /// ```
    /// use credkit_core::Transport;
    /// use credkit_testing::FakeTokenEndpoint;
    ///
    /// let endpoint = FakeTokenEndpoint::new();
    /// endpoint.set_strict_rotation("rt-0");
    /// let refresh = |rt: &str| {
    ///     let body = format!("grant_type=refresh_token&refresh_token={rt}");
    ///     http::Request::post(endpoint.token_url())
    ///         .header("content-type", "application/x-www-form-urlencoded")
    ///         .body(bytes::Bytes::from(body))
    /// };
    /// # futures::executor::block_on(async {
    /// let first = endpoint.send(refresh("rt-0")?).await?;
    /// let token: serde_json::Value = serde_json::from_slice(first.body())?;
    /// assert_eq!(token["refresh_token"], "fake-rotated-refresh-token-1");
    /// assert_eq!(endpoint.valid_refresh_token().as_deref(), Some("fake-rotated-refresh-token-1"));
    /// // The rotated-away token is refused.
    /// assert_eq!(endpoint.send(refresh("rt-0")?).await?.status(), 400);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn set_strict_rotation(&self, initial_refresh_token: &str) -> &Self {
        self.shared
            .start_strict_rotation(initial_refresh_token.to_owned());
        self
    }

    /// The refresh token strict rotation accepts now; `None` when it is off.
    pub fn valid_refresh_token(&self) -> Option<String> {
        self.shared.valid_refresh_token()
    }

    /// Forgets the requests received so far; the script and the token counter stay.
    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }
}

#[async_trait]
impl Transport for FakeTokenEndpoint {
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
        let (parts, body) = request.into_parts();
        let base = match (parts.uri.scheme_str(), parts.uri.authority()) {
            (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
            _ => "http://127.0.0.1:9".to_owned(),
        };
        let recorded = RecordedRequest::new(parts.method, parts.uri, parts.headers, body);
        let planned = self.shared.record_and_plan(recorded, &base);
        if !planned.delay.is_zero() {
            self.clock.sleep(planned.delay).await;
        }
        let body = match planned.body {
            PlannedBody::Full(bytes) => bytes,
            PlannedBody::Stall | PlannedBody::Drip(_) => {
                return Err(Error::transport(
                    TransportFailure::Timeout,
                    "the fake token endpoint never finished its response (in memory: stall)",
                ));
            }
            PlannedBody::Reset => {
                return Err(Error::transport(
                    TransportFailure::Reset,
                    "the fake token endpoint reset the connection (in memory)",
                ));
            }
            PlannedBody::Oversize { len, .. } => match usize::try_from(len) {
                Ok(len) if len <= self.max_body_size => Bytes::from(vec![b' '; len]),
                _ => return Err(self.too_large()),
            },
        };
        if body.len() > self.max_body_size {
            return Err(self.too_large());
        }
        let mut response = http::Response::new(body);
        *response.status_mut() = planned.status;
        *response.headers_mut() = planned.headers;
        Ok(response)
    }
}

impl FakeTokenEndpoint {
    fn too_large(&self) -> Error {
        Error::transport(
            TransportFailure::BodyTooLarge,
            format!(
                "the response from the fake token endpoint is larger than {} bytes (in memory)",
                self.max_body_size
            ),
        )
    }
}
