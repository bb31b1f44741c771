//! The layer never drops a refresh whose grant is out: with a token endpoint in strict-rotation
//! mode (a rotated-away refresh token is refused), a stale token, storage with a lease and no
//! spawner, requests to an API that answers at once never lose a rotated refresh token. Nor does
//! it hold a response for a refresh that has sent nothing yet.

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::Context;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::secrecy::{ExposeSecret, SecretString};
use credkit_core::{
    AccessToken, Clock, CredentialRecord, Credentials, Error, ErrorKind, MemoryStorage, Result,
    Storage, TokenSource, TokenState,
};
use credkit_testing::FakeClock;
use credkit_tower::AuthLayer;
use futures::FutureExt;
use futures::executor::block_on;
use futures::task::noop_waker_ref;
use http::{Request, Response};
use http_body_util::Full;
use tower::{Layer, ServiceExt, service_fn};

const HOUR: Duration = Duration::from_secs(3600);
const KEY: &str = "user";

/// The token endpoint: each grant must present the current refresh token, and rotates it.
#[derive(Debug, Default)]
struct Endpoint {
    current: usize,
    presented: Vec<String>,
    refused: usize,
}

/// A provider's source: the grant reaches the endpoint at once, its answer a second later.
#[derive(Debug)]
struct Strict {
    clock: FakeClock,
    endpoint: Arc<Mutex<Endpoint>>,
    refresh_token: Mutex<String>,
}

#[async_trait]
impl TokenSource for Strict {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let presented = self.refresh_token.lock().unwrap().clone();
        let sent_at = self.clock.now();
        let granted = {
            let mut endpoint = self.endpoint.lock().unwrap();
            endpoint.presented.push(presented.clone());
            if presented == format!("rt-{}", endpoint.current) {
                endpoint.current += 1;
                Some(endpoint.current)
            } else {
                endpoint.refused += 1;
                None
            }
        };
        self.clock.sleep(Duration::from_secs(1)).await;
        let n = granted.ok_or_else(|| Error::new(ErrorKind::TokenEndpoint, "invalid_grant"))?;
        let rotated = format!("rt-{n}");
        rotated.clone_into(&mut self.refresh_token.lock().unwrap());
        Ok(AccessToken::new(format!("at-{n}"))
            .with_lifetime(sent_at, HOUR)
            .with_rotated_refresh_token(SecretString::from(rotated)))
    }

    fn adopt_record(&self, record: &CredentialRecord) {
        if let Some(stored) = record.refresh_token() {
            stored
                .expose_secret()
                .clone_into(&mut self.refresh_token.lock().unwrap());
        }
    }
}

/// A strict endpoint, a storage holding the login (`rt-0`), and a source for them.
fn setup() -> (FakeClock, Arc<Mutex<Endpoint>>, MemoryStorage, Strict) {
    let clock = FakeClock::new();
    let endpoint = Arc::new(Mutex::new(Endpoint::default()));
    let source = Strict {
        clock: clock.clone(),
        endpoint: Arc::clone(&endpoint),
        refresh_token: Mutex::new("rt-0".to_owned()),
    };
    let storage = MemoryStorage::new();
    let login = CredentialRecord::new().with_refresh_token(SecretString::from("rt-0"));
    block_on(storage.store(KEY, &login)).unwrap();
    (clock, endpoint, storage, source)
}

/// Credentials over `source` and `storage` holding a token with a minute left of an hour:
/// stale from the start.
fn stale(clock: &FakeClock, source: Strict, storage: &MemoryStorage) -> Credentials {
    let stale = AccessToken::new("at-0").with_lifetime(
        clock.now() - credkit_core::time::Duration::seconds(3540),
        HOUR,
    );
    Credentials::builder(source)
        .with_clock(clock.clone())
        .with_storage(storage.clone(), KEY)
        .with_initial_token(stale)
        .without_retries()
        .build()
        .unwrap()
}

/// An API that answers every request at once.
fn answering() -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>>,
> + Clone {
    service_fn(|_request: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    })
}

fn pending<F: Future + Unpin>(future: &mut F) -> bool {
    future
        .poll_unpin(&mut Context::from_waker(noop_waker_ref()))
        .is_pending()
}

#[test]
fn requests_answered_at_once_never_lose_a_rotation_driven_beside_them() {
    let (clock, endpoint, storage, source) = setup();
    let credentials = stale(&clock, source, &storage);
    let service = AuthLayer::new(credentials.clone()).layer(answering());

    // The first request carries the stale token and drives the refresh ahead; the API answers
    // at once, but the grant is out: the response waits for its answer.
    let mut first = Box::pin(service.clone().oneshot(Request::new(Full::default())));
    assert!(pending(&mut first), "the grant's answer comes first");
    clock.advance(Duration::from_secs(1));
    block_on(first).unwrap();
    // Two more, then one after the first token's expiry.
    for _ in 0..2 {
        block_on(service.clone().oneshot(Request::new(Full::default()))).unwrap();
    }
    clock.advance(HOUR);
    let mut late = Box::pin(service.clone().oneshot(Request::new(Full::default())));
    if pending(&mut late) {
        clock.advance(Duration::from_secs(1));
    }
    block_on(late).unwrap();

    let endpoint = endpoint.lock().unwrap();
    assert_eq!(endpoint.refused, 0, "presented: {:?}", endpoint.presented);
    assert_eq!(endpoint.presented, ["rt-0", "rt-1"]);
    let stored = block_on(storage.load(KEY)).unwrap().unwrap();
    assert_eq!(
        stored.refresh_token().map(ExposeSecret::expose_secret),
        Some("rt-2")
    );
    // Nothing holds the lease.
    let options = credkit_core::LeaseOptions::new(Duration::ZERO, clock.clone());
    assert!(matches!(
        block_on(storage.lease(KEY, &options)),
        Ok(Some(_))
    ));
}

#[test]
fn a_refresh_ahead_waiting_before_its_grant_does_not_hold_the_response() {
    let (clock, endpoint, storage, source) = setup();
    // Another process holds the lease: the refresh ahead waits for it, its grant not sent.
    let options = credkit_core::LeaseOptions::new(Duration::ZERO, clock.clone());
    let other = block_on(storage.lease(KEY, &options)).unwrap().unwrap();
    let credentials = stale(&clock, source, &storage);
    let service = AuthLayer::new(credentials.clone()).layer(answering());

    // The API answers at once, and so does the layer: the refresh ahead it drove had sent
    // nothing, so dropping it loses nothing.
    let request = service.clone().oneshot(Request::new(Full::default()));
    let response = request
        .now_or_never()
        .expect("not held by the refresh ahead");
    assert_eq!(response.unwrap().status(), 200);
    assert!(endpoint.lock().unwrap().presented.is_empty());
    assert_eq!(credentials.token_state(), TokenState::Stale);

    // Once the lease is free, the next request's refresh ahead sends the grant.
    drop(other);
    let mut next = Box::pin(service.oneshot(Request::new(Full::default())));
    assert!(pending(&mut next), "the grant's answer comes first");
    clock.advance(Duration::from_secs(1));
    block_on(next).unwrap();
    assert_eq!(endpoint.lock().unwrap().presented, ["rt-0"]);
    assert_eq!(credentials.token_state(), TokenState::Fresh);
}
