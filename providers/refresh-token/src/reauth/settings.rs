//! The reauth settings of one set of credentials: the API's base URL, the password prompt and
//! the plugged-in challenge handlers.

use std::fmt;
use std::sync::Arc;

use credkit_core::endpoint::is_loopback_host;
use credkit_core::{BuildError, RetryPolicy};

use super::builtin::{Password, PasswordPrompt, Saml, SecurityKey};
use super::challenge::ReauthChallenge;
use super::{DEFAULT_REAUTH_URI, SUPPORTED_CHALLENGES};

/// What the reauth flow of one set of credentials uses.
#[derive(Clone)]
pub(crate) struct ReauthSettings {
    pub(crate) uri: String,
    pub(crate) prompt: Option<Arc<dyn PasswordPrompt>>,
    /// Plugged-in handlers by challenge type, in the order given; one per type.
    pub(crate) handlers: Vec<(String, Arc<dyn ReauthChallenge>)>,
    /// How `sessions:start` and a `:continue` with its answer in hand are retried: the
    /// reference's policy for the requests its reauth flow sends (they go through its
    /// token-endpoint helper), [`RetryPolicy::default`]: 3 attempts in all, about 1 s and then
    /// about 2 s apart, a `Retry-After` honoured up to 30 s.
    pub(crate) retry: RetryPolicy,
}

impl Default for ReauthSettings {
    fn default() -> Self {
        Self {
            uri: DEFAULT_REAUTH_URI.to_owned(),
            prompt: None,
            handlers: Vec::new(),
            retry: RetryPolicy::default(),
        }
    }
}

impl ReauthSettings {
    /// Plugs `handler` in for `challenge_type`, replacing an earlier one for that type.
    pub(crate) fn plug(&mut self, challenge_type: String, handler: Arc<dyn ReauthChallenge>) {
        self.handlers
            .retain(|(plugged, _)| *plugged != challenge_type);
        self.handlers.push((challenge_type, handler));
    }

    /// The types sent as `supportedChallengeTypes`: the reference's three in its order, then
    /// any other plugged-in type in the order given.
    pub(crate) fn supported_types(&self) -> Vec<&str> {
        let mut types: Vec<&str> = SUPPORTED_CHALLENGES.to_vec();
        for (plugged, _) in &self.handlers {
            if !types.contains(&plugged.as_str()) {
                types.push(plugged);
            }
        }
        types
    }

    /// The handler for `challenge_type`: a plugged-in one, else the built-in one, else none.
    pub(crate) fn handler(&self, challenge_type: &str) -> Option<Arc<dyn ReauthChallenge>> {
        if let Some((_, handler)) = self.handlers.iter().find(|(t, _)| t == challenge_type) {
            return Some(Arc::clone(handler));
        }
        let builtin: Arc<dyn ReauthChallenge> = match challenge_type {
            "PASSWORD" => Arc::new(Password {
                prompt: self.prompt.clone(),
            }),
            "SAML" => Arc::new(Saml),
            "SECURITY_KEY" => Arc::new(SecurityKey),
            _ => return None,
        };
        Some(builtin)
    }

    /// Whether anything here can answer a challenge: a password prompt or a plugged-in
    /// handler. The reference asks whether standard input is a terminal; a library asks
    /// whether its caller gave it a way to reach the user.
    pub(crate) fn is_interactive(&self) -> bool {
        self.prompt.is_some() || !self.handlers.is_empty()
    }

    /// Checks the base URL: `https://`, or `http://` to a loopback host, with a host.
    pub(crate) fn check(&self) -> Result<(), BuildError> {
        check_reauth_uri(&self.uri)
    }
}

impl fmt::Debug for ReauthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReauthSettings")
            .field("uri", &self.uri)
            .field("password_prompt", &self.prompt.is_some())
            .field(
                "handlers",
                &self.handlers.iter().map(|(t, _)| t).collect::<Vec<_>>(),
            )
            .field("retry", &self.retry)
            .finish()
    }
}

/// The endpoint policy of the token URL, for the reauth API's base URL: `https://` anywhere,
/// `http://` only to a loopback host. The message names the scheme and host alone, never user
/// info, path or query.
pub(crate) fn check_reauth_uri(uri: &str) -> Result<(), BuildError> {
    let parsed: http::Uri = uri.parse().map_err(|_| {
        BuildError::invalid_value("the reauth URL is not a valid URL; set a full https:// URL")
    })?;
    let (Some(scheme), Some(host)) = (parsed.scheme_str(), parsed.host()) else {
        return Err(BuildError::invalid_value(
            "the reauth URL needs a scheme and a host, such as https://reauth.googleapis.com",
        ));
    };
    if scheme.eq_ignore_ascii_case("https")
        || (scheme.eq_ignore_ascii_case("http") && is_loopback_host(host))
    {
        return Ok(());
    }
    Err(BuildError::invalid_value(format!(
        "the reauth URL must use https (plain http only to a loopback host); {scheme}://{host} is refused"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_policy() {
        for ok in [
            "https://reauth.googleapis.com",
            "http://127.0.0.1:8080",
            "http://[::1]:1",
            "http://localhost/x",
        ] {
            assert!(check_reauth_uri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://reauth.example.com",
            "http://127.0.0.1.evil.example",
            "ftp://127.0.0.1",
            "/v2/sessions",
            "not a url",
        ] {
            assert!(check_reauth_uri(bad).is_err(), "{bad}");
        }
        let err = check_reauth_uri("http://user:hunter2@example.com/p?q=secret").unwrap_err();
        let shown = err.to_string();
        assert!(
            !shown.contains("hunter2") && !shown.contains("secret"),
            "{shown}"
        );
    }

    #[test]
    fn plugged_types_follow_the_reference_three() {
        let mut settings = ReauthSettings::default();
        assert!(!settings.is_interactive());
        settings.plug("SECURITY_KEY".into(), Arc::new(SecurityKey));
        settings.plug("FIDO_NEXT".into(), Arc::new(Saml));
        settings.plug("FIDO_NEXT".into(), Arc::new(SecurityKey));
        assert_eq!(
            settings.supported_types(),
            ["SECURITY_KEY", "PASSWORD", "SAML", "FIDO_NEXT"]
        );
        assert_eq!(settings.handlers.len(), 2);
        assert!(settings.is_interactive());
        assert!(settings.handler("UNKNOWN").is_none());
    }

    #[test]
    fn the_retry_policy_is_the_reference_s() {
        let policy = ReauthSettings::default().retry;
        assert_eq!(policy.max_attempts(), 3);
        assert_eq!(policy.nominal_wait(1), std::time::Duration::from_secs(1));
        assert_eq!(policy.nominal_wait(2), std::time::Duration::from_secs(2));
    }
}
