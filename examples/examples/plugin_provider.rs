//! A plugin provider: a `TokenSource` of your own that fetches from an HTTP token broker in
//! about 20 lines, given caching, single flight, refresh ahead and retries by wrapping it in
//! `Credentials`.
//!
//! ```text
//! cargo run -p credkit-examples --example plugin_provider
//! cargo test -p credkit-examples --example plugin_provider   # includes the contract suite
//! ```
//!
//! The broker sends its request through any `Transport` (`credkit_reqwest::ReqwestTransport` in
//! production) and reads the reply with `credkit_core::oauth::read_token_response`, which turns
//! a success into a token and every failure into a classified error with no secret in it. Here
//! the broker is credkit-testing's in-memory token endpoint: nothing leaves the machine.

use std::error::Error;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::bytes::Bytes;
use credkit_core::{
    AccessToken, Clock, Credentials, Result, SystemClock, TokenSource, Transport, oauth,
};
use credkit_testing::FakeTokenEndpoint;

// ===== The plugin: everything a provider needs =====

/// Gets tokens from an in-house broker over HTTP.
#[derive(Debug)]
struct Broker {
    url: String,
    transport: Arc<dyn Transport>,
    /// The clock `Credentials` uses too, so lifetimes and the cache agree on the time.
    clock: Arc<dyn Clock>,
}

#[async_trait]
impl TokenSource for Broker {
    async fn fetch_token(&self) -> Result<AccessToken> {
        // `?` turns an http::Error into credkit's (permanent, configuration) error.
        let request = http::Request::post(self.url.as_str())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from_static(
                b"grant_type=client_credentials&audience=files",
            ))?;
        // The lifetime counts from before the request, on the shared clock.
        let sent_at = self.clock.now();
        let response = self.transport.send(request).await?;
        // No caching, no retries here: Credentials does both. Pass every secret the request
        // carried as the last argument, so an endpoint echoing it cannot leak it into an error.
        oauth::read_token_response(&response, sent_at, &[])
    }

    fn name(&self) -> &'static str {
        "in-house broker"
    }
}

// ===== Using it =====

/// What the run saw: how many tokens the broker minted after each phase.
#[derive(Debug, PartialEq, Eq)]
struct Minted {
    after_three_requests: u32,
    after_a_401: u32,
}

/// Puts headers on three requests (one fetch, then the cache), then handles a 401 (the token
/// is dropped, and the next request fetches a new one).
async fn run(clock: Arc<dyn Clock>) -> std::result::Result<Minted, Box<dyn Error>> {
    let broker_service = FakeTokenEndpoint::new().with_clock(Arc::clone(&clock));
    let broker = Broker {
        url: broker_service.token_url(),
        transport: Arc::new(broker_service.clone()),
        clock: Arc::clone(&clock),
    };
    let credentials = Credentials::builder(broker).with_clock(clock).build()?;
    let fetched = || u32::try_from(broker_service.request_count()).unwrap_or(u32::MAX);

    let mut last = None;
    for request in 1..=3 {
        let headers = credentials.headers().await?;
        println!(
            "request {request}: authorization set (token hidden), {} fetched so far",
            fetched()
        );
        last = Some(headers);
    }
    let after_three_requests = fetched();

    // The server answered 401: drop the token that request carried; the next call refreshes.
    if let Some(rejected) = &last {
        credentials.invalidate_if(rejected);
    }
    credentials.headers().await?;
    let after_a_401 = fetched();
    println!("after a 401: {after_a_401} fetched in all");
    Ok(Minted {
        after_three_requests,
        after_a_401,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::result::Result<(), Box<dyn Error>> {
    run(Arc::new(SystemClock)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use credkit_core::TokenState;
    use std::time::Duration;

    use credkit_testing::FakeClock;
    use credkit_testing::contract::token_source::Contract;
    use secrecy::ExposeSecret;

    #[tokio::test]
    async fn the_example_runs() {
        let minted = run(Arc::new(FakeClock::new())).await.unwrap();
        assert_eq!(
            minted,
            Minted {
                after_three_requests: 1,
                after_a_401: 2
            }
        );
    }

    #[tokio::test]
    async fn the_broker_is_asked_again_when_its_token_expires() {
        let clock = FakeClock::new();
        let service = FakeTokenEndpoint::new().with_clock(clock.clone());
        let broker = Broker {
            url: service.token_url(),
            transport: Arc::new(service.clone()),
            clock: Arc::new(clock.clone()),
        };
        let credentials = Credentials::builder(broker)
            .with_clock(clock.clone())
            .build()
            .unwrap();
        let token = credentials.access_token().await.unwrap();
        assert_eq!(token.secret().expose_secret(), "fake-access-token-1");
        clock.advance(Duration::from_secs(3600));
        assert_eq!(credentials.token_state(), TokenState::Invalid);
        let token = credentials.access_token().await.unwrap();
        assert_eq!(token.secret().expose_secret(), "fake-access-token-2");
        assert_eq!(service.request_count(), 2);
    }

    /// The `TokenSource` contract suite, in a few lines: no secret in `Debug` or errors, safe to
    /// cancel, lifetimes counted from before the request, failures classified.
    #[test]
    fn the_broker_keeps_the_token_source_contract() {
        Contract::new(|far| Broker {
            url: far.token_url().to_owned(),
            transport: Arc::new(far.endpoint().clone()),
            clock: Arc::new(far.clock().clone()),
        })
        .check();
    }
}
