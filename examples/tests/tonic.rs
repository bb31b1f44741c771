//! The tonic example's clients against its loopback gRPC server, which accepts only the bearer
//! tokens it is told to: through credkit-tower's layer and through the synchronous
//! interceptor, the token on the call, `UNAUTHENTICATED` → invalidate → one retry, the
//! interceptor with no usable token (refused before sending), and a stale token written at
//! once while the spawner refreshes it.
// Test helpers unwrap: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

#[path = "../examples/tonic_client.rs"]
#[allow(dead_code)] // the example's main
mod tonic_client;

use std::time::Duration;

use credkit_core::TokenState;
use credkit_testing::{ScriptedCredentials, scripted_credentials};
use credkit_tokio::TokioSpawner;
use tokio::task::JoinHandle;
use tonic::Code;
use tonic::transport::Channel;
use tonic_client::{Gate, check, client_through_layer, client_with_interceptor, serve};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

/// The server accepting `tokens`, and a channel to it.
async fn server(tokens: &[&'static str]) -> (Gate, Channel, JoinHandle<()>) {
    let gate = Gate::accepting(tokens.iter().copied());
    let (url, task) = serve(gate.clone()).await.unwrap();
    let channel = Channel::from_shared(url).unwrap().connect().await.unwrap();
    (gate, channel, task)
}

#[tokio::test]
async fn the_layer_puts_the_bearer_on_grpc_calls() {
    let (gate, channel, _server) = server(&["ya29.good"]).await;
    let kit = scripted_credentials(["ya29.good"]);
    let mut client = client_through_layer(channel, kit.credentials.clone());
    assert_eq!(
        check(&mut client, &kit.credentials).await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(gate.seen(), ["ya29.good"]);
    assert_eq!(kit.source.fetches(), 1);
}

#[tokio::test]
async fn the_layer_after_unauthenticated_invalidates_and_retries_once() {
    let (gate, channel, _server) = server(&["ya29.good"]).await;
    let kit = scripted_credentials(["ya29.refused", "ya29.good"]);
    let mut client = client_through_layer(channel, kit.credentials.clone());
    assert_eq!(
        check(&mut client, &kit.credentials).await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(gate.seen(), ["ya29.refused", "ya29.good"]);
    assert_eq!(kit.source.fetches(), 2, "one refresh for the refusal");
}

#[tokio::test]
async fn the_interceptor_puts_the_bearer_on_grpc_calls() {
    let (gate, channel, _server) = server(&["ya29.good"]).await;
    let kit = scripted_credentials(["ya29.good"]);
    let mut client = client_with_interceptor(channel, kit.credentials.clone());
    assert_eq!(
        check(&mut client, &kit.credentials).await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(gate.seen(), ["ya29.good"]);
}

#[tokio::test]
async fn the_interceptor_after_unauthenticated_invalidates_and_retries_once() {
    let (gate, channel, _server) = server(&["ya29.good"]).await;
    let kit = scripted_credentials(["ya29.refused", "ya29.good"]);
    let mut client = client_with_interceptor(channel, kit.credentials.clone());
    assert_eq!(
        check(&mut client, &kit.credentials).await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(gate.seen(), ["ya29.refused", "ya29.good"]);
    assert_eq!(kit.source.fetches(), 2);
}

#[tokio::test]
async fn a_server_refusing_every_token_is_retried_once_only() {
    let (gate, channel, _server) = server(&[]).await;
    let kit = ScriptedCredentials::new();
    let mut client = client_with_interceptor(channel, kit.credentials.clone());
    let status = check(&mut client, &kit.credentials).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(gate.seen(), ["scripted-token-1", "scripted-token-2"]);
}

/// Without a warm-up, `apply` has nothing to write: the interceptor refuses the call before it
/// is sent, and fetches nothing (it cannot wait).
#[tokio::test]
async fn the_interceptor_without_a_usable_token_refuses_before_sending() {
    let (gate, channel, _server) = server(&["ya29.good"]).await;
    let kit = scripted_credentials(["ya29.good"]);
    let mut client = client_with_interceptor(channel, kit.credentials.clone());
    let request = HealthCheckRequest {
        service: String::new(),
    };
    let status = client.check(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("no usable token"), "{status:?}");
    assert!(gate.seen().is_empty(), "nothing was sent");
    assert_eq!(kit.source.fetches(), 0);
}

/// A stale token is written at once by the interceptor, and the spawner refreshes it in the
/// background: the call after that carries the new token, and no call waited for it.
#[tokio::test]
async fn the_interceptor_writes_a_stale_token_while_the_spawner_refreshes_it() {
    let (gate, channel, _server) = server(&["ya29.one", "ya29.two"]).await;
    let kit = ScriptedCredentials::build(["ya29.one", "ya29.two"], |builder| {
        builder.with_spawner(TokioSpawner::current())
    })
    .unwrap();
    let mut client = client_with_interceptor(channel, kit.credentials.clone());
    check(&mut client, &kit.credentials).await.unwrap();
    kit.clock.advance(Duration::from_secs(3600 - 225)); // stale from here
    assert_eq!(kit.credentials.token_state(), TokenState::Stale);
    let request = HealthCheckRequest {
        service: String::new(),
    };
    client.check(request).await.unwrap(); // the stale token, at once
    // The background refresh is a task on this runtime: let it run (no clock involved).
    for _ in 0..1000 {
        if kit.credentials.token_state() == TokenState::Fresh {
            break;
        }
        tokio::task::yield_now().await;
    }
    check(&mut client, &kit.credentials).await.unwrap();
    assert_eq!(gate.seen(), ["ya29.one", "ya29.one", "ya29.two"]);
    assert_eq!(kit.source.fetches(), 2);
}
