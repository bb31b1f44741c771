//! The authorization request (RFC 6749 section 4.1.1, with PKCE's challenge from RFC 7636
//! section 4.3 and Google's parameters): the URL the user opens.

use url::Url;

use crate::pkce::CODE_CHALLENGE_METHOD;

/// What the authorization server should ask the user (Google's `prompt` parameter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Prompt {
    /// `consent`: always show the consent screen, so a refresh token is issued even when the
    /// user consented before.
    Consent,
    /// `select_account`: always let the user choose the account.
    SelectAccount,
    /// `consent select_account`: both.
    ConsentAndSelectAccount,
}

impl Prompt {
    /// The parameter's value, as sent.
    ///
    /// ```
    /// assert_eq!(credkit_login::Prompt::ConsentAndSelectAccount.as_str(), "consent select_account");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::SelectAccount => "select_account",
            Self::ConsentAndSelectAccount => "consent select_account",
        }
    }
}

/// The parameters of one authorization request.
#[derive(Debug)]
pub(crate) struct AuthorizationParams<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) redirect_uri: &'a str,
    pub(crate) scopes: &'a [String],
    pub(crate) state: &'a str,
    pub(crate) code_challenge: &'a str,
    pub(crate) prompt: Option<Prompt>,
    pub(crate) login_hint: Option<&'a str>,
    pub(crate) include_granted_scopes: bool,
}

impl AuthorizationParams<'_> {
    /// `endpoint` with the request's query appended (after any query it already has).
    pub(crate) fn url(&self, mut endpoint: Url) -> Url {
        {
            let mut query = endpoint.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", self.client_id)
                .append_pair("redirect_uri", self.redirect_uri)
                .append_pair("scope", &self.scopes.join(" "))
                .append_pair("state", self.state)
                .append_pair("code_challenge", self.code_challenge)
                .append_pair("code_challenge_method", CODE_CHALLENGE_METHOD)
                .append_pair("access_type", "offline");
            if let Some(prompt) = self.prompt {
                query.append_pair("prompt", prompt.as_str());
            }
            if let Some(hint) = self.login_hint {
                query.append_pair("login_hint", hint);
            }
            if self.include_granted_scopes {
                query.append_pair("include_granted_scopes", "true");
            }
        }
        endpoint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> AuthorizationParams<'static> {
        AuthorizationParams {
            client_id: "id.apps",
            redirect_uri: "http://127.0.0.1:4242/",
            scopes: &[],
            state: "st",
            code_challenge: "ch",
            prompt: None,
            login_hint: None,
            include_granted_scopes: false,
        }
    }

    fn pairs(url: &Url) -> Vec<(String, String)> {
        url.query_pairs().into_owned().collect()
    }

    #[test]
    fn the_request_carries_every_required_member_in_order() {
        let scopes = [
            "openid".to_owned(),
            "https://www.googleapis.com/auth/cloud-platform".to_owned(),
        ];
        let p = AuthorizationParams {
            scopes: &scopes,
            ..params()
        };
        let url = p.url(Url::parse("https://accounts.google.com/o/oauth2/auth").unwrap());
        assert_eq!(url.path(), "/o/oauth2/auth");
        let expected: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", "id.apps"),
            ("redirect_uri", "http://127.0.0.1:4242/"),
            (
                "scope",
                "openid https://www.googleapis.com/auth/cloud-platform",
            ),
            ("state", "st"),
            ("code_challenge", "ch"),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(pairs(&url), expected);
        // The scope separator is an encoded space, never a literal one.
        assert!(url.as_str().contains("scope=openid+https%3A%2F%2F"));
    }

    #[test]
    fn optional_members_appear_only_when_set_and_an_existing_query_is_kept() {
        let p = AuthorizationParams {
            prompt: Some(Prompt::Consent),
            login_hint: Some("a+b@example.com"),
            include_granted_scopes: true,
            ..params()
        };
        let url = p.url(Url::parse("http://127.0.0.1:9/auth?hd=example.com").unwrap());
        let got = pairs(&url);
        assert_eq!(got[0], ("hd".to_owned(), "example.com".to_owned()));
        let get = |k: &str| got.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("prompt"), Some("consent"));
        assert_eq!(get("login_hint"), Some("a+b@example.com"));
        assert_eq!(get("include_granted_scopes"), Some("true"));
        let plain = params().url(Url::parse("http://127.0.0.1:9/auth").unwrap());
        let plain = pairs(&plain);
        for absent in ["prompt", "login_hint", "include_granted_scopes"] {
            assert!(plain.iter().all(|(n, _)| n != absent), "{absent}");
        }
    }

    #[test]
    fn prompt_values() {
        assert_eq!(Prompt::Consent.as_str(), "consent");
        assert_eq!(Prompt::SelectAccount.as_str(), "select_account");
    }
}
