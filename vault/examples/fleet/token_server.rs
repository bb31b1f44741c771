//! A loopback OAuth token endpoint for many users, for the fleet benchmark and the vault's
//! multi-process tests: it keeps a book of every grant per user, rotates each user's refresh
//! token on its own (strict rotation: only the latest one is accepted, so two processes racing
//! for one user's grant show up as `invalid_grant`), issues short-lived tokens, and can hold
//! requests unanswered (a worker killed mid-refresh).
//!
//! A user's refresh tokens are `rt.USER.N` (seed a user with `rt.USER.0`, see
//! [`initial_refresh_token`]); access tokens `at.USER.N`.
//!
//! (`credkit_testing::FakeTokenServer` rotates one refresh token for the whole server: this
//! one keeps a chain per user.)

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The refresh token a user is seeded with.
pub(crate) fn initial_refresh_token(user: &str) -> String {
    format!("rt.{user}.0")
}

/// Seconds since the Unix epoch, as the server books grants.
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// What the server knows of one user.
#[derive(Clone, Debug, Default)]
pub(crate) struct UserBook {
    /// The generation of the refresh token in force (strict rotation).
    pub(crate) generation: u64,
    /// When each grant was answered (Unix seconds), in order.
    pub(crate) grants: Vec<f64>,
    /// Refresh grants refused `invalid_grant`.
    pub(crate) invalid: u64,
}

#[derive(Debug, Default)]
struct Book {
    users: HashMap<String, UserBook>,
    requests: u64,
    invalid: u64,
    /// Requests still to hold unanswered.
    to_hold: u64,
    held: u64,
    /// Requests still to hold until the gate opens, and how many wait there now.
    to_gate: u64,
    gated: u64,
}

#[derive(Debug)]
struct State {
    strict: bool,
    lifetime: Duration,
    book: Mutex<Book>,
    changed: Notify,
    gate: tokio::sync::Semaphore,
}

impl State {
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The server; dropping it stops it.
#[derive(Debug)]
pub(crate) struct TokenServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl TokenServer {
    /// Starts a server on 127.0.0.1 (inside a tokio runtime) issuing tokens valid for
    /// `lifetime` (whole seconds), rotating refresh tokens when `strict`.
    ///
    /// # Errors
    ///
    /// When the socket cannot be bound.
    pub(crate) async fn start(lifetime: Duration, strict: bool) -> std::io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            strict,
            lifetime,
            book: Mutex::default(),
            changed: Notify::new(),
            gate: tokio::sync::Semaphore::new(0),
        });
        let task = tokio::spawn(accept(listener, Arc::clone(&state)));
        Ok(Self { addr, state, task })
    }

    /// The token endpoint's URL.
    pub(crate) fn token_url(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// The revocation endpoint's URL (answers 200).
    pub(crate) fn revoke_url(&self) -> String {
        format!("http://{}/revoke", self.addr)
    }

    /// Holds the next `count` refresh requests unanswered, forever, before they are booked or
    /// rotate anything (their sender is meant to die waiting).
    pub(crate) fn hold_next(&self, count: u64) {
        self.state.book().to_hold += count;
    }

    /// Holds the next `count` refresh requests until [`open_gate`](Self::open_gate), before
    /// they are booked or rotate anything; then they are answered as usual.
    pub(crate) fn gate_next(&self, count: u64) {
        self.state.book().to_gate += count;
    }

    /// Requests waiting at the gate now.
    pub(crate) fn gated(&self) -> u64 {
        self.state.book().gated
    }

    /// Lets the requests waiting at the gate (and the next ones held there) go on, one each.
    pub(crate) fn open_gate(&self, count: usize) {
        self.state.gate.add_permits(count);
    }

    /// Requests held so far.
    pub(crate) fn held(&self) -> u64 {
        self.state.book().held
    }

    /// Requests received so far (held ones included).
    pub(crate) fn requests(&self) -> u64 {
        self.state.book().requests
    }

    /// Refresh grants refused `invalid_grant` so far.
    pub(crate) fn invalid_grants(&self) -> u64 {
        self.state.book().invalid
    }

    /// Grants answered so far.
    pub(crate) fn grants(&self) -> u64 {
        self.state
            .book()
            .users
            .values()
            .map(|user| user.grants.len() as u64)
            .sum()
    }

    /// A copy of every user's book.
    pub(crate) fn users(&self) -> HashMap<String, UserBook> {
        self.state.book().users.clone()
    }

    /// `user`'s book.
    pub(crate) fn user(&self, user: &str) -> UserBook {
        self.state
            .book()
            .users
            .get(user)
            .cloned()
            .unwrap_or_default()
    }

    /// The refresh token the server accepts for `user` now.
    pub(crate) fn valid_refresh_token(&self, user: &str) -> String {
        format!("rt.{user}.{}", self.user(user).generation)
    }

    /// Waits until `condition` holds of the server (checked after each request), or `within`
    /// has passed: whether it holds.
    pub(crate) async fn wait_until(
        &self,
        within: Duration,
        condition: impl Fn(&Self) -> bool,
    ) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let changed = self.state.changed.notified();
            if condition(self) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, changed).await.is_err() {
                return condition(self);
            }
        }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, state: Arc<State>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let service = service_fn(move |request| answer(Arc::clone(&state), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        // Reap finished connections (dropping the set aborts the rest with the server).
        while connections.try_join_next().is_some() {}
    }
}

fn json(status: u16, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn invalid_grant() -> Response<Full<Bytes>> {
    json(
        400,
        &serde_json::json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
    )
}

async fn answer(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let body = request
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    if path == "/revoke" {
        return Ok(json(200, &serde_json::json!({})));
    }
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
        return Ok(json(
            400,
            &serde_json::json!({"error": "unsupported_grant_type"}),
        ));
    }
    let presented = form.get("refresh_token").cloned().unwrap_or_default();
    let parsed = presented
        .strip_prefix("rt.")
        .and_then(|rest| rest.rsplit_once('.'))
        .and_then(|(user, n)| Some((user.to_owned(), n.parse::<u64>().ok()?)));
    let gated = {
        let mut book = state.book();
        book.requests += 1;
        let gated = book.to_gate > 0;
        if gated {
            book.to_gate -= 1;
            book.gated += 1;
        }
        gated
    };
    if gated {
        state.changed.notify_waiters();
        if let Ok(permit) = state.gate.acquire().await {
            permit.forget();
        }
        state.book().gated -= 1;
    }
    let reply = {
        let mut book = state.book();
        if book.to_hold > 0 {
            book.to_hold -= 1;
            book.held += 1;
            None
        } else {
            Some(grant(&state, &mut book, parsed))
        }
    };
    state.changed.notify_waiters();
    match reply {
        Some(reply) => Ok(reply),
        // Held: never answered (the connection dies with its client).
        None => std::future::pending().await,
    }
}

fn grant(state: &State, book: &mut Book, parsed: Option<(String, u64)>) -> Response<Full<Bytes>> {
    let Some((user, generation)) = parsed else {
        book.invalid += 1;
        return invalid_grant();
    };
    let entry = book.users.entry(user.clone()).or_default();
    if state.strict && generation != entry.generation {
        entry.invalid += 1;
        book.invalid += 1;
        return invalid_grant();
    }
    entry.grants.push(unix_now());
    let n = entry.grants.len();
    let mut token = serde_json::json!({
        "access_token": format!("at.{user}.{n}"),
        "expires_in": state.lifetime.as_secs(),
        "token_type": "Bearer",
    });
    if state.strict {
        entry.generation += 1;
        token["refresh_token"] = format!("rt.{user}.{}", entry.generation).into();
    }
    json(200, &token)
}

/// Grants of one user answered less than `fresh_for` after the one before (minus `margin`):
/// a token was asked for while the last one was still fresh, so some process did not see it.
pub(crate) fn early_grants(grants: &[f64], fresh_for: Duration, margin: Duration) -> usize {
    let limit = fresh_for.as_secs_f64() - margin.as_secs_f64();
    grants
        .windows(2)
        .filter(|pair| pair[1] - pair[0] < limit)
        .count()
}
