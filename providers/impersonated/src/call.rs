//! One IAM Credentials call: a JSON `POST` for a target principal, authorized by the source
//! credentials through core's `AuthorizedTransport` (their `authorization` and, when they
//! have one, their `x-goog-user-project`; a 401 drops the source's token and replays once).

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use credkit_core::{AuthorizedTransport, BuildError, Clock, Credentials, Result, Transport};
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::endpoint;
use crate::error;

/// What every IAM call of one target principal shares: cheap to clone.
#[derive(Clone)]
pub(crate) struct Iam {
    pub(crate) source: Credentials,
    pub(crate) authorized: AuthorizedTransport<Arc<dyn Transport>>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) principal: String,
    pub(crate) delegates: Option<Vec<String>>,
    pub(crate) universe_domain: String,
    /// The origin every method is under: the universe's, or the override.
    pub(crate) base_url: String,
}

impl Iam {
    /// The calls for `principal` by `source`, checked: a principal that can go into a URL
    /// path, a universe domain that is a DNS name, and the origin of every method (`base_url`,
    /// an absolute `http(s)` URL, else the universe's).
    pub(crate) fn build(
        source: Credentials,
        transport: Arc<dyn Transport>,
        clock: Arc<dyn Clock>,
        principal: String,
        delegates: Option<Vec<String>>,
        universe_domain: String,
        base_url: Option<String>,
    ) -> std::result::Result<Self, BuildError> {
        endpoint::check_principal(&principal)?;
        endpoint::check_universe(&universe_domain)?;
        let base_url = match base_url {
            Some(url) => endpoint::check_url(&url, "IAM base URL", true)?,
            None => endpoint::origin(&universe_domain),
        };
        Ok(Self {
            authorized: AuthorizedTransport::new(Arc::clone(&transport), source.clone()),
            source,
            transport,
            clock,
            principal,
            delegates,
            universe_domain,
            base_url,
        })
    }

    /// The URL of `method` for the target principal.
    pub(crate) fn url(&self, method: &str) -> String {
        endpoint::method_url(&self.base_url, &self.principal, method)
    }

    /// The delegates as the wire wants them: `null` when none were given.
    pub(crate) fn delegates_json(&self) -> serde_json::Value {
        match &self.delegates {
            Some(list) if !list.is_empty() => serde_json::json!(list),
            _ => serde_json::Value::Null,
        }
    }

    /// Posts `body` as JSON to `url`, authorized by the source. Returns the 200 response and
    /// the instant read before sending; any other status becomes [`error::from_reply`] led by
    /// `prefix`, with the source's current token scrubbed from it.
    ///
    /// Cancellation: dropping the future drops the request; nothing is held across the await.
    pub(crate) async fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
        prefix: &str,
    ) -> Result<(http::Response<Bytes>, OffsetDateTime)> {
        let request = http::Request::post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Bytes::from(body.to_string()))?;
        let sent_at = self.clock.now();
        let response = self.authorized.send(request).await?;
        if response.status() != http::StatusCode::OK {
            let token = self.source.token();
            let secrets: Vec<&SecretString> = token.iter().map(|t| t.secret()).collect();
            return Err(error::from_reply(prefix, &response, sent_at, &secrets));
        }
        Ok((response, sent_at))
    }
}

impl fmt::Debug for Iam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iam")
            .field("principal", &self.principal)
            .field("delegates", &self.delegates)
            .field("universe_domain", &self.universe_domain)
            .field("base_url", &self.base_url)
            .field("source", &self.source.source_name())
            .finish_non_exhaustive()
    }
}
