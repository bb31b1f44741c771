//! The authorizer's decisions, one trip each.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use futures::executor::block_on;
use http::{HeaderMap, StatusCode};

use super::*;
use crate::{AccessToken, Credentials, Result, TokenSource, TokenState};

/// Hands out `ya29.1`, `ya29.2`, … and counts (also used by the transport's tests).
#[derive(Debug, Default)]
pub(super) struct Counting(AtomicUsize);

#[async_trait]
impl TokenSource for Counting {
    async fn fetch_token(&self) -> Result<AccessToken> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(AccessToken::new(format!("ya29.{n}")))
    }
}

fn counting() -> (Credentials, Arc<Counting>) {
    let source = Arc::new(Counting::default());
    (Credentials::new(Arc::clone(&source)), source)
}

fn ready(authorizer: &Authorizer, headers: &mut HeaderMap) -> Ready {
    let authorization = authorizer.authorize_headers(Some("https"), Some("api.example"), headers);
    block_on(authorization.ready(headers)).unwrap().unwrap()
}

#[test]
fn an_invalid_token_waits_then_writes_without_a_map_of_its_own() {
    let (credentials, source) = counting();
    let authorizer = Authorizer::new(credentials);
    let mut headers = HeaderMap::new();
    let authorization =
        authorizer.authorize_headers(Some("https"), Some("api.example"), &mut headers);
    let Authorization::Wait(wait) = authorization else {
        panic!("nothing cached: the request waits");
    };
    assert!(headers.is_empty());
    let sent = block_on(wait).unwrap().write(&mut headers);
    assert_eq!(headers["authorization"], "Bearer ya29.1");
    assert!(!sent.replayed());
    assert_eq!(source.0.load(Ordering::SeqCst), 1);
    // Now fresh: ready at once, naming the same token.
    let mut again = HeaderMap::new();
    let Authorization::Ready(ready) =
        authorizer.authorize_headers(Some("https"), Some("api.example"), &mut again)
    else {
        panic!("a fresh token is ready");
    };
    assert_eq!(ready.sent, sent);
    assert!(ready.ahead.is_none());
}

#[test]
fn a_401_replays_once_and_the_replay_is_the_last_try() {
    let (credentials, _) = counting();
    let authorizer = Authorizer::new(credentials.clone());
    let first = ready(&authorizer, &mut HeaderMap::new());
    assert_eq!(
        authorizer.answered(StatusCode::FORBIDDEN, first.sent),
        Answer::Return
    );
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert_eq!(
        authorizer.answered(StatusCode::UNAUTHORIZED, first.sent),
        Answer::Replay
    );
    assert_eq!(credentials.token_state(), TokenState::Invalid);

    let mut headers = HeaderMap::new();
    let authorization = authorizer.authorize_replay(&mut headers);
    let replay = block_on(authorization.ready(&mut headers))
        .unwrap()
        .unwrap();
    assert!(replay.sent.replayed());
    assert_ne!(replay.sent, first.sent);
    assert_eq!(headers["authorization"], "Bearer ya29.2");
    assert_eq!(
        authorizer.answered(StatusCode::UNAUTHORIZED, replay.sent),
        Answer::Return
    );
}

#[test]
fn many_401s_with_one_token_drop_it_once_and_all_replay() {
    let (credentials, source) = counting();
    let authorizer = Authorizer::new(credentials);
    let sent: Vec<_> = (0..5)
        .map(|_| ready(&authorizer, &mut HeaderMap::new()).sent)
        .collect();
    for sent in &sent {
        // The first drops it; the rest find it gone, and replay with the next one.
        assert_eq!(
            authorizer.answered(StatusCode::UNAUTHORIZED, *sent),
            Answer::Replay
        );
    }
    let replay = ready(&authorizer, &mut HeaderMap::new());
    assert_ne!(replay.sent.token, sent[0].token);
    assert_eq!(source.0.load(Ordering::SeqCst), 2);
}

#[test]
fn a_token_refused_right_after_replacing_a_rejected_one_is_kept() {
    let (credentials, source) = counting();
    let authorizer = Authorizer::new(credentials.clone());
    let first = ready(&authorizer, &mut HeaderMap::new());
    assert_eq!(
        authorizer.answered(StatusCode::UNAUTHORIZED, first.sent),
        Answer::Replay
    );
    let second = ready(&authorizer, &mut HeaderMap::new());
    // Refused too, within the minimum retry interval: kept, not replayed.
    assert_eq!(
        authorizer.answered(StatusCode::UNAUTHORIZED, second.sent),
        Answer::Return
    );
    for _ in 0..10 {
        let next = ready(&authorizer, &mut HeaderMap::new());
        assert_eq!(next.sent, second.sent);
        assert_eq!(
            authorizer.answered(StatusCode::UNAUTHORIZED, next.sent),
            Answer::Return
        );
    }
    assert_eq!(credentials.token_state(), TokenState::Fresh);
    assert_eq!(source.0.load(Ordering::SeqCst), 2);
}

#[test]
fn without_replay_a_401_still_drops_the_token() {
    let (credentials, _) = counting();
    let authorizer = Authorizer::new(credentials.clone()).without_replay();
    // Adapters keep no copy for a replay.
    assert!(!authorizer.replays());
    let first = ready(&authorizer, &mut HeaderMap::new());
    assert_eq!(
        authorizer.answered(StatusCode::UNAUTHORIZED, first.sent),
        Answer::Return
    );
    assert_eq!(credentials.token_state(), TokenState::Invalid);
}

#[test]
fn the_rules_decide_which_requests_are_skipped() {
    let (credentials, _) = counting();
    let authorizer = Authorizer::new(credentials);
    let mut own = http::Request::get("https://api.example/x")
        .body(())
        .unwrap();
    own.headers_mut()
        .insert(http::header::AUTHORIZATION, "Basic mine".parse().unwrap());
    assert!(matches!(
        authorizer.authorize(&mut own),
        Authorization::Skip
    ));
    assert_eq!(own.headers()["authorization"], "Basic mine");
    let mut plain = http::Request::get("http://api.example/x").body(()).unwrap();
    assert!(matches!(
        authorizer.authorize(&mut plain),
        Authorization::Skip
    ));
    let loose = authorizer
        .clone()
        .dangerous_allow_http(true)
        .with_overwrite_authorization(true);
    assert!(matches!(loose.authorize(&mut own), Authorization::Wait(_)));
    assert!(matches!(
        loose.authorize(&mut plain),
        Authorization::Wait(_)
    ));
    assert_eq!(
        loose.policy(),
        AttachPolicy::new()
            .dangerous_allow_http(true)
            .with_overwrite_authorization(true)
    );
}

#[test]
fn debug_shows_no_secret() {
    let (credentials, _) = counting();
    let authorizer = Authorizer::new(credentials);
    let mut headers = HeaderMap::new();
    let authorization =
        authorizer.authorize_headers(Some("https"), Some("api.example"), &mut headers);
    let Authorization::Wait(wait) = authorization else {
        panic!("nothing cached");
    };
    assert_eq!(format!("{wait:?}"), "TokenWait { .. }");
    let token = block_on(wait).unwrap();
    assert_eq!(format!("{token:?}"), "UsableToken { .. }");
    let sent = token.write(&mut headers);
    assert!(!format!("{sent:?} {authorizer:?}").contains("ya29"));
}
