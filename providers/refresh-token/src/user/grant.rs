//! The refresh: the refresh-token grant (RFC 6749 section 6) exactly as the reference sends it,
//! its response, and the refresh-handler path.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::{
    AccessToken, Clock, CredentialRecord, Result, TokenSource, Transport, interactive, oauth,
};
use credkit_refresh_handler::{RefreshHandler, RefreshHandlerSource};
use secrecy::{ExposeSecret, SecretString};

use super::{DEFAULT_UNIVERSE_DOMAIN, UserCredentials, record};
use crate::{error, reauth};

#[async_trait]
impl TokenSource for UserCredentials {
    /// Runs the refresh-token grant, or, without a refresh token but with a refresh handler,
    /// calls the handler.
    ///
    /// # Errors
    ///
    /// The universe-domain guard, the "necessary fields" guard (both before any request), a
    /// transport failure, the token endpoint's error (`"<error>: <error_description>"`, with the
    /// status and OAuth fields), "Reauthentication is needed..." for `invalid_rapt`, or an invalid
    /// response.
    async fn fetch_token(&self) -> Result<AccessToken> {
        if self.config.universe_domain != DEFAULT_UNIVERSE_DOMAIN {
            return Err(error::universe_not_supported(&self.config.universe_domain));
        }
        let has_refresh_token = self.state().refresh_token.is_some();
        let token = match &self.config.refresh_handler {
            Some(handler) if !has_refresh_token => {
                self.refresh_with_handler(Arc::clone(handler)).await?
            }
            _ => {
                let token = self.refresh_grant().await?;
                // The proof of the last reauthentication goes to storage with the token, so the
                // other processes sharing the record send it too, instead of asking again.
                let rapt = self.state().rapt_token.clone();
                match rapt {
                    Some(rapt) => token.with_provider_secret(record::RAPT_TOKEN, rapt),
                    None => token,
                }
            }
        };
        self.record(&token);
        // The project travels with the token, so a chain bills to the member that supplied it.
        Ok(match &self.config.quota_project {
            Some(project) => token.with_quota_project(project.clone()),
            None => token,
        })
    }

    fn name(&self) -> &'static str {
        "authorized user (refresh token)"
    }

    /// The access token saved with these credentials (and its expiry), if any, carrying the
    /// quota project.
    fn initial_token(&self) -> Option<AccessToken> {
        let (token, expiry) = {
            let state = self.state();
            (state.token.clone()?, state.expiry)
        };
        let token = AccessToken::from_secret(token).with_optional_expiry(expiry);
        Some(match &self.config.quota_project {
            Some(project) => token.with_quota_project(project.clone()),
            None => token,
        })
    }

    /// Adopts the stored refresh token (see [`TokenSource::adopt_record`]).
    fn adopt_record(&self, record: &CredentialRecord) {
        self.adopt(record);
    }

    fn clock(&self) -> Option<Arc<dyn Clock>> {
        Some(Arc::clone(&self.config.clock))
    }

    /// The quota project, as the reference tests it for truthiness: an empty one sends no
    /// `x-goog-user-project` header at all.
    fn quota_project(&self) -> Option<&str> {
        self.config
            .quota_project
            .as_deref()
            .filter(|p| !p.is_empty())
    }
}

impl UserCredentials {
    async fn refresh_grant(&self) -> Result<AccessToken> {
        let scopes = self.requested_scopes();
        let (refresh_token, rapt_token, held) = {
            let state = self.state();
            // Every other secret these credentials hold, to be scrubbed from endpoint text.
            let held: Vec<SecretString> = [state.token.clone(), state.id_token.clone()]
                .into_iter()
                .flatten()
                .collect();
            (state.refresh_token.clone(), state.rapt_token.clone(), held)
        };
        let config = &self.config;
        let (Some(refresh_token), Some(token_uri), Some(client_id), Some(client_secret)) = (
            refresh_token,
            config.token_uri.as_deref(),
            config.client_id.as_deref(),
            config.client_secret.as_ref(),
        ) else {
            return Err(error::missing_refresh_fields());
        };
        let transport = config.transport.as_ref().ok_or_else(error::no_transport)?;
        let grant = RefreshGrant {
            token_uri,
            client_id,
            client_secret,
            refresh_token: &refresh_token,
            scopes,
            rapt_token: rapt_token.as_ref(),
        };
        tracing::debug!(
            client_id,
            scopes = scopes.len(),
            "sending the refresh-token grant"
        );
        // Endpoints have echoed the refresh token or the client secret in error_description.
        let mut secrets: Vec<&SecretString> = vec![&refresh_token, client_secret];
        secrets.extend(rapt_token.as_ref());
        secrets.extend(held.iter());
        let token = match self.post_grant(transport.as_ref(), &grant, &secrets).await {
            Err(err) if reauth::is_reauth_challenge(&err) => {
                // Decided here, at the trigger, in the poll that found it: a refresh nobody
                // waits for (refresh ahead on a spawner, one `apply` started) never calls the
                // reauth API. The flow asks again before each challenge, in the poll that
                // would prompt: the waiting caller may have left by then.
                if !config.enable_reauth_refresh || !interactive::is_interactive() {
                    if config.enable_reauth_refresh {
                        tracing::info!(
                            "reauthentication is needed, but no caller waits for this refresh (it is not driven inside credkit_core::interactive): reporting it instead"
                        );
                    }
                    return Err(reauth::map_reauth_needed(err));
                }
                let rapt = self
                    .reauthenticate(transport.as_ref(), &grant, &secrets)
                    .await?;
                // Kept at once: should the retried grant fail transiently, the retry layer's next
                // attempt sends this rapt token instead of asking the user again.
                self.state().rapt_token = Some(rapt.clone());
                let retried = RefreshGrant {
                    rapt_token: Some(&rapt),
                    ..grant
                };
                secrets.push(&rapt);
                self.post_grant(transport.as_ref(), &retried, &secrets)
                    .await?
            }
            other => other.map_err(reauth::map_reauth_needed)?,
        };
        self.warn_on_scope_shortfall(token.granted_scopes());
        Ok(token)
    }

    /// Sends one refresh-token grant and reads its response.
    async fn post_grant(
        &self,
        transport: &dyn Transport,
        grant: &RefreshGrant<'_>,
        secrets: &[&SecretString],
    ) -> Result<AccessToken> {
        let request = refresh_request(grant)?;
        // The token's lifetime counts from before the request went out: however long the reply
        // takes (or however long a dropped flight waits before someone resumes it), the expiry
        // is never later than the server's.
        let sent_at = self.config.clock.now();
        let response = transport.send(request).await?;
        if response.status() == http::StatusCode::OK {
            oauth::read_token_response(&response, sent_at, secrets)
        } else {
            // Now, not the send time: a Retry-After date is counted from when it is read.
            Err(oauth::error_from_response(
                &response,
                self.config.clock.now(),
                secrets,
            ))
        }
    }

    /// The reference's `get_rapt_token`: an access token for [`reauth::REAUTH_SCOPE`], then the
    /// challenge protocol; returns the rapt token. The protocol retries its own requests where
    /// that asks nobody again; every error it ends with is made permanent, so the retry layer
    /// never runs it, and so never asks the user, twice.
    async fn reauthenticate(
        &self,
        transport: &dyn Transport,
        grant: &RefreshGrant<'_>,
        secrets: &[&SecretString],
    ) -> Result<SecretString> {
        tracing::info!("Reauthentication required.");
        let reauth_scopes = [reauth::REAUTH_SCOPE.to_owned()];
        let reauth_grant = RefreshGrant {
            scopes: &reauth_scopes,
            rapt_token: None,
            ..*grant
        };
        let reauth_token = self.post_grant(transport, &reauth_grant, secrets).await?;
        let access_token = reauth_token.secret();
        let mut all: Vec<&SecretString> = secrets.to_vec();
        all.push(access_token);
        let session = reauth::Session {
            transport,
            clock: self.config.clock.as_ref(),
            settings: &self.config.reauth,
            access_token,
            secrets: &all,
        };
        let rapt = reauth::obtain_rapt(&session, grant.scopes, reauth::RUN_CHALLENGE_RETRY_LIMIT)
            .await
            .map_err(|err| err.with_transient(false))?;
        tracing::info!("Reauthentication successful.");
        Ok(rapt)
    }

    /// The refresh-handler path: the handler's token, validated by [`RefreshHandlerSource`]
    /// (the reference's "already expired" text, with the lifetime-scaled threshold).
    async fn refresh_with_handler(&self, handler: Arc<dyn RefreshHandler>) -> Result<AccessToken> {
        let transport = self
            .config
            .transport
            .clone()
            .unwrap_or_else(|| Arc::new(NoTransport));
        let source = RefreshHandlerSource::builder(handler, transport)
            .with_scopes(self.requested_scopes().iter().cloned())
            .with_clock(Arc::clone(&self.config.clock))
            .build()?;
        source.fetch_token().await
    }

    /// Updates the shared state from a fetched token, as the reference's `refresh` does.
    fn record(&self, token: &AccessToken) {
        let mut state = self.state();
        state.token = Some(token.secret().clone());
        state.expiry = token.expiry();
        if let Some(rotated) = token.rotated_refresh_token() {
            state.refresh_token = Some(rotated.clone());
        }
        state.id_token = token.id_token().cloned();
        // As the reference: the granted scopes change only when scopes were requested; with
        // none (or an empty list) a `scope` in the response leaves them as they were.
        if let Some(granted) = token
            .granted_scopes()
            .filter(|_| !self.requested_scopes().is_empty())
        {
            state.granted_scopes = Some(granted.to_vec());
        }
    }
}

/// The transport a refresh handler gets when the credentials have none: every request fails
/// with a configuration error.
#[derive(Debug)]
struct NoTransport;

#[async_trait]
impl Transport for NoTransport {
    async fn send(&self, _request: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
        Err(error::handler_without_transport())
    }
}

/// The fields of one refresh request.
#[derive(Clone, Copy)]
struct RefreshGrant<'a> {
    token_uri: &'a str,
    client_id: &'a str,
    client_secret: &'a SecretString,
    refresh_token: &'a SecretString,
    scopes: &'a [String],
    rapt_token: Option<&'a SecretString>,
}

/// The POST request: `content-type: application/x-www-form-urlencoded` and the fields
/// `grant_type`, `client_id`, `client_secret`, `refresh_token`, then `scope` (space-joined) and
/// `rapt` when present, in that order, encoded byte for byte as the reference encodes them
/// ([`oauth::form_body`]). The body is written once at its final size, into a buffer zeroized
/// when the last reference to it drops.
fn refresh_request(grant: &RefreshGrant<'_>) -> Result<http::Request<Bytes>> {
    let scope = grant.scopes.join(" ");
    let mut pairs = vec![
        ("grant_type", "refresh_token"),
        ("client_id", grant.client_id),
        ("client_secret", grant.client_secret.expose_secret()),
        ("refresh_token", grant.refresh_token.expose_secret()),
    ];
    if !grant.scopes.is_empty() {
        pairs.push(("scope", &scope));
    }
    if let Some(rapt) = grant.rapt_token.filter(|r| !r.expose_secret().is_empty()) {
        pairs.push(("rapt", rapt.expose_secret()));
    }
    http::Request::post(grant.token_uri)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(oauth::form_body(&pairs))
        .map_err(error::invalid_token_uri)
}

#[cfg(test)]
mod tests {
    use credkit_core::ErrorKind;

    use super::*;

    fn grant<'a>(
        secret: &'a SecretString,
        refresh: &'a SecretString,
        scopes: &'a [String],
        rapt: Option<&'a SecretString>,
    ) -> RefreshGrant<'a> {
        RefreshGrant {
            token_uri: "https://oauth2.googleapis.com/token",
            client_id: "CID",
            client_secret: secret,
            refresh_token: refresh,
            scopes,
            rapt_token: rapt,
        }
    }

    #[test]
    fn body_matches_the_reference_capture() {
        let secret = SecretString::from("CS");
        let refresh = SecretString::from("RT");
        let rapt = SecretString::from("RAPT");
        let scopes = ["email".to_owned(), "profile".to_owned()];
        let request = refresh_request(&grant(&secret, &refresh, &scopes, Some(&rapt))).unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(
            request.headers()["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(request.headers().len(), 1);
        assert_eq!(
            request.body().as_ref(),
            b"grant_type=refresh_token&client_id=CID&client_secret=CS&refresh_token=RT&scope=email+profile&rapt=RAPT"
        );
    }

    #[test]
    fn optional_fields_are_left_out_and_values_encoded() {
        let secret = SecretString::from("a+b=c/d:e");
        let refresh = SecretString::from("1//rt");
        let empty_rapt = SecretString::from("");
        let request = refresh_request(&grant(&secret, &refresh, &[], Some(&empty_rapt))).unwrap();
        assert_eq!(
            request.body().as_ref(),
            b"grant_type=refresh_token&client_id=CID&client_secret=a%2Bb%3Dc%2Fd%3Ae&refresh_token=1%2F%2Frt"
        );
    }

    // Issue 12, bug 2: `~` stays, `*` is `%2A`, as Python's `urlencode` writes them.
    #[test]
    fn body_encodes_tilde_and_star_as_the_reference() {
        let secret = SecretString::from("a~b*c d");
        let refresh = SecretString::from("1//x~*");
        let scopes = ["https://www.googleapis.com/auth/cloud-platform".to_owned()];
        let request = refresh_request(&grant(&secret, &refresh, &scopes, None)).unwrap();
        assert_eq!(
            request.body().as_ref(),
            b"grant_type=refresh_token&client_id=CID&client_secret=a~b%2Ac+d&refresh_token=1%2F%2Fx~%2A&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform"
        );
    }

    #[test]
    fn invalid_uri_is_a_configuration_error() {
        let secret = SecretString::from("s");
        let mut bad = grant(&secret, &secret, &[], None);
        bad.token_uri = "not a uri\n";
        assert_eq!(
            refresh_request(&bad).unwrap_err().kind(),
            ErrorKind::Configuration
        );
    }
}
