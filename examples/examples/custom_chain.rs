//! A custom credential chain: the gcloud CLI, then an `authorized_user` file, then a fixed
//! token, with `ChainSource`. The first source that gives a token wins, on every refresh; a
//! source with nothing configured (gcloud not installed, no file) passes the turn to the next,
//! and any other failure (a malformed file, a token endpoint that is down) stops the chain.
//!
//! ```text
//! cargo run -p credkit-examples --example custom_chain [-- FILE]
//! ```
//!
//! FILE defaults to `authorized_user.json` in the current folder. On a machine without gcloud
//! and without that file it falls back to the fixed token, so it runs anywhere without an
//! outside service; where gcloud is signed in, gcloud's token wins; where FILE is malformed, it
//! fails with that file's error.

use std::error::Error;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{AccessToken, ChainSource, Credentials, StaticSource, TokenSource, Transport};
use credkit_gcloud::{DEFAULT_PROGRAM, GcloudSource};
use credkit_refresh_token::UserCredentials;
use credkit_reqwest::ReqwestTransport;

/// The last resort: a token from configuration (here, `CREDKIT_EXAMPLE_TOKEN` or a made-up
/// one), for a tool that must start without credentials.
const FALLBACK_TOKEN: &str = "ya29.example-fallback-token";

/// A log of what each source of the chain did, in order.
type Log = Arc<Mutex<Vec<String>>>;

/// Wraps a source to log whether it gave a token, so the example can show what the chain
/// tried. (`ChainSource` itself lists every reason in its error when no source is configured.)
#[derive(Debug)]
struct Logged<S> {
    inner: S,
    log: Log,
}

impl<S> Logged<S> {
    fn new(inner: S, log: &Log) -> Self {
        Self {
            inner,
            log: Arc::clone(log),
        }
    }
}

#[async_trait]
impl<S: TokenSource> TokenSource for Logged<S> {
    async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
        let result = self.inner.fetch_token().await;
        let line = match &result {
            Ok(_) => format!("{}: gave a token", self.inner.name()),
            Err(err) => format!("{}: failed: {err}", self.inner.name()),
        };
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(line);
        result
    }

    fn name(&self) -> &str {
        self.inner.name()
    }
}

/// Stands in the chain for a credentials file that could not be loaded: fails with why.
#[derive(Debug)]
struct Unloadable(credkit_core::Error);

#[async_trait]
impl TokenSource for Unloadable {
    async fn fetch_token(&self) -> credkit_core::Result<AccessToken> {
        Err(self.0.clone())
    }

    fn name(&self) -> &'static str {
        "authorized_user file"
    }
}

/// Builds the chain (gcloud, then `file` if it loads, then `fallback`), fetches a token through
/// it and returns what each source did.
async fn run(
    gcloud_program: &Path,
    file: &Path,
    fallback: &str,
) -> Result<(Credentials, Vec<String>), Box<dyn Error>> {
    let log = Log::default();
    let transport: Arc<dyn Transport> = Arc::new(ReqwestTransport::new()?);

    let gcloud = GcloudSource::builder()
        .with_program(gcloud_program)
        .with_timeout(Duration::from_secs(20))
        .build()?;
    let mut chain = ChainSource::new().with(Logged::new(gcloud, &log));
    // A file that is missing or malformed is known now; it keeps its place in the chain. A
    // missing file is "not configured", so the chain moves on (and, when no source is
    // configured, its error says why each was not); a malformed one stops the chain.
    chain = match UserCredentials::from_authorized_user_file(file, None) {
        Ok(user) => {
            let user = user.to_builder().with_transport(transport).build()?;
            chain.with(Logged::new(user, &log))
        }
        Err(err) => {
            let err = if file.exists() {
                err.into()
            } else {
                credkit_core::Error::not_configured(err.to_string()).with_source(err)
            };
            chain.with(Logged::new(Unloadable(err), &log))
        }
    };
    chain = chain.with(Logged::new(
        StaticSource::new(AccessToken::new(fallback)),
        &log,
    ));

    // The chain is one TokenSource: Credentials caches its token and retries transient failures.
    let credentials = Credentials::builder(chain).build()?;
    credentials.headers().await?;
    let lines = log.lock().unwrap_or_else(PoisonError::into_inner).clone();
    Ok((credentials, lines))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let file = std::env::args().nth(1);
    let file = Path::new(file.as_deref().unwrap_or("authorized_user.json"));
    let fallback = std::env::var("CREDKIT_EXAMPLE_TOKEN").unwrap_or(FALLBACK_TOKEN.to_owned());
    let (credentials, log) = run(Path::new(DEFAULT_PROGRAM), file, &fallback).await?;
    for line in log {
        println!("{line}");
    }
    println!(
        "token state: {}, expiry: {:?}",
        credentials.token_state(),
        credentials.expiry()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[tokio::test]
    async fn the_example_runs_and_falls_back_to_the_fixed_token() {
        let dir = tempfile::tempdir().unwrap();
        let (credentials, log) = run(
            &dir.path().join("no-gcloud-here"),
            &dir.path().join("no-such-file.json"),
            "ya29.fixed",
        )
        .await
        .unwrap();
        let token = credentials.access_token().await.unwrap();
        assert_eq!(token.secret().expose_secret(), "ya29.fixed");
        assert_eq!(log.len(), 3, "{log:?}");
        assert!(log[0].starts_with("gcloud: failed: "), "{log:?}");
        assert!(log[1].starts_with("authorized_user file: failed: File "));
        assert_eq!(log[2], "static token: gave a token");
    }

    #[tokio::test]
    async fn a_malformed_file_stops_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("authorized_user.json");
        std::fs::write(&file, "{not json").unwrap();
        let err = run(&dir.path().join("no-gcloud-here"), &file, "ya29.fixed")
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("is not a valid json file"),
            "{err}"
        );
    }
}
