//! A plugin provider: a `TokenSource` of your own in under 30 lines, given caching, single
//! flight, refresh ahead and retries by wrapping it in `Credentials`.
//!
//! ```text
//! cargo run -p credkit-examples --example plugin_provider
//! ```
//!
//! The provider here mints numbered tokens, valid for an hour, as an in-house token broker
//! would hand them out. Nothing leaves the machine.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{AccessToken, Clock, Credentials, Result, SystemClock, TokenSource};

// ===== The plugin: everything a provider needs =====

/// Gets tokens from an in-house broker (made up here: numbered tokens), each valid for an hour.
#[derive(Debug)]
struct Broker {
    clock: Arc<dyn Clock>,
    minted: AtomicU32,
}

#[async_trait]
impl TokenSource for Broker {
    async fn fetch_token(&self) -> Result<AccessToken> {
        // A real broker calls its service here. It neither caches nor retries: Credentials does
        // both. It classifies its failures (`Error::is_transient`) and never puts a token in one.
        let n = self.minted.fetch_add(1, Ordering::Relaxed) + 1;
        let token = AccessToken::new(format!("broker-token-{n}"));
        Ok(token.with_lifetime(self.clock.now(), Duration::from_secs(3600)))
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
    let broker = Arc::new(Broker {
        clock: Arc::clone(&clock),
        minted: AtomicU32::new(0),
    });
    // `Arc<Broker>` is a TokenSource too, so we keep a handle to read its counter.
    let credentials = Credentials::builder(Arc::clone(&broker))
        .with_clock(clock)
        .build()?;

    let mut last = None;
    for request in 1..=3 {
        let headers = credentials.headers().await?;
        println!(
            "request {request}: authorization set (token hidden), {} fetched so far",
            broker.minted.load(Ordering::Relaxed)
        );
        last = Some(headers);
    }
    let after_three_requests = broker.minted.load(Ordering::Relaxed);

    // The server answered 401: drop the token that request carried; the next call refreshes.
    if let Some(rejected) = &last {
        credentials.invalidate_if(rejected);
    }
    credentials.headers().await?;
    let after_a_401 = broker.minted.load(Ordering::Relaxed);
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
    use credkit_testing::FakeClock;
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
        let broker = Arc::new(Broker {
            clock: Arc::new(clock.clone()),
            minted: AtomicU32::new(0),
        });
        let credentials = Credentials::builder(Arc::clone(&broker))
            .with_clock(clock.clone())
            .build()
            .unwrap();
        let token = credentials.access_token().await.unwrap();
        assert_eq!(token.secret().expose_secret(), "broker-token-1");
        clock.advance(Duration::from_secs(3600));
        assert_eq!(credentials.token_state(), TokenState::Invalid);
        let token = credentials.access_token().await.unwrap();
        assert_eq!(token.secret().expose_secret(), "broker-token-2");
        assert_eq!(broker.minted.load(Ordering::Relaxed), 2);
    }
}
