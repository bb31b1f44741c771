//! The probe: is a metadata server there?

use std::time::Duration;

use credkit_core::{Error, ErrorKind};

use crate::MetadataServer;
use crate::server::{FLAVOR_HEADER, FLAVOR_VALUE, request};

/// The first wait between probe attempts; each wait doubles, up to [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(50);

/// The longest wait between probe attempts.
const MAX_WAIT: Duration = Duration::from_millis(500);

/// What [`MetadataServer::probe`] found.
///
/// ```
/// use credkit_metadata::{MetadataServer, Probe};
/// use credkit_testing::MockTransport;
///
/// # futures::executor::block_on(async {
/// let server = MetadataServer::builder()
///     .with_env(|name| (name == "NO_GCE_CHECK").then(|| "true".to_owned()))
///     .with_transport(MockTransport::new()) // never called
///     .build()?;
/// assert!(matches!(server.probe().await, Probe::Disabled));
/// assert!(!server.is_available().await);
/// # Ok::<(), credkit_core::BuildError>(())
/// # }).unwrap();
/// ```
///
/// How long a probe takes, at most: a server that answers, one round trip; `NO_GCE_CHECK`,
/// nothing; a request that hangs, the probe timeout (3 s by default); connections refused (or
/// reset) and `5xx` answers are retried with waits of 50 ms doubling to 500 ms until the retry
/// window (3 s by default) would be passed, so a metadata server that is still starting is
/// found, and a host where none listens is given up on after the window.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Probe {
    /// A metadata server answered `200` with `Metadata-Flavor: Google`.
    Available,
    /// `NO_GCE_CHECK=true`: nothing was asked.
    Disabled,
    /// Something answered, but not as the metadata server does: another status (the last one,
    /// after retrying `5xx`), or no `Metadata-Flavor: Google`.
    NotMetadataServer {
        /// The status of the answer.
        status: u16,
    },
    /// No answer within the probe timeout.
    TimedOut,
    /// The request failed (refused, reset, or refused by the transport's policy): the last
    /// error.
    Unreachable(Error),
}

impl Probe {
    /// Whether a metadata server is there.
    ///
    /// ```
    /// assert!(credkit_metadata::Probe::Available.is_available());
    /// assert!(!credkit_metadata::Probe::TimedOut.is_available());
    /// ```
    pub fn is_available(&self) -> bool {
        matches!(self, Self::Available)
    }
}

/// One attempt's outcome, and whether another is worth it.
enum Attempt {
    Final(Probe),
    Retry(Probe),
}

pub(crate) async fn run(server: &MetadataServer) -> Probe {
    if server.probe_disabled() {
        return Probe::Disabled;
    }
    let clock = server.clock();
    let started = clock.now();
    let window = server.probe_retry_window();
    let mut wait = FIRST_WAIT;
    loop {
        let last = match attempt(server).await {
            Attempt::Final(probe) => return probe,
            Attempt::Retry(probe) => probe,
        };
        let spent = (clock.now() - started).try_into().unwrap_or(Duration::MAX);
        if spent.saturating_add(wait) > window {
            tracing::debug!(
                ?last,
                "metadata server probe: giving up after the retry window"
            );
            return last;
        }
        tracing::debug!(
            ?last,
            wait_ms = wait.as_millis(),
            "metadata server probe: trying again"
        );
        clock.sleep(wait).await;
        wait = wait.saturating_mul(2).min(MAX_WAIT);
    }
}

async fn attempt(server: &MetadataServer) -> Attempt {
    let uri = format!("http://{}/", server.probe_host());
    let request = match request(&uri) {
        Ok(request) => request,
        Err(err) => {
            return Attempt::Final(Probe::Unreachable(
                Error::new(
                    ErrorKind::Configuration,
                    "the metadata probe host does not make a valid URL",
                )
                .with_source(err),
            ));
        }
    };
    match server.send(request, server.probe_timeout()).await {
        None => Attempt::Final(Probe::TimedOut),
        Some(Err(err)) if err.kind() == ErrorKind::Timeout => Attempt::Final(Probe::TimedOut),
        Some(Err(err)) if err.is_transient() => Attempt::Retry(Probe::Unreachable(err)),
        Some(Err(err)) => Attempt::Final(Probe::Unreachable(err)),
        Some(Ok(response)) => {
            let status = response.status();
            let flavored = response
                .headers()
                .get(FLAVOR_HEADER)
                .is_some_and(|value| value.as_bytes() == FLAVOR_VALUE.as_bytes());
            if status == http::StatusCode::OK && flavored {
                Attempt::Final(Probe::Available)
            } else if status.is_server_error() {
                Attempt::Retry(Probe::NotMetadataServer {
                    status: status.as_u16(),
                })
            } else {
                Attempt::Final(Probe::NotMetadataServer {
                    status: status.as_u16(),
                })
            }
        }
    }
}
