//! The transport, built on the first request: a run served from a fresh token (in the file or
//! the cache) never pays for building an HTTPS client (loading the system's root
//! certificates costs more than the rest of such a run).

use std::sync::OnceLock;
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::bytes::Bytes;
use credkit_core::{Error, ErrorKind, Result, Transport, http};
use credkit_reqwest::ReqwestTransport;

/// A [`ReqwestTransport`] with the given total timeout, built when first used.
#[derive(Debug)]
pub(crate) struct LazyTransport {
    timeout: Option<Duration>,
    built: OnceLock<std::result::Result<ReqwestTransport, String>>,
}

impl LazyTransport {
    pub(crate) fn new(timeout: Option<Duration>) -> Self {
        Self {
            timeout,
            built: OnceLock::new(),
        }
    }

    fn get(&self) -> Result<&ReqwestTransport> {
        self.built
            .get_or_init(|| {
                let mut builder = ReqwestTransport::builder();
                if let Some(timeout) = self.timeout {
                    builder = builder.with_timeout(timeout);
                }
                // Plain http to the metadata server the environment names, and no wider.
                if let Some(host) = std::env::var("GCE_METADATA_HOST")
                    .ok()
                    .filter(|host| !host.is_empty())
                {
                    builder = builder.allow_plain_http_host(host);
                }
                builder.build().map_err(|err| err.to_string())
            })
            .as_ref()
            .map_err(|message| Error::new(ErrorKind::Configuration, message.clone()))
    }
}

#[async_trait]
impl Transport for LazyTransport {
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
        self.get()?.send(request).await
    }
}
