//! The bearer-token check of a fake API: which `Authorization: Bearer` tokens it accepts.

use http::header::AUTHORIZATION;

use super::record::RecordedRequest;
use super::reply::Reply;

/// The tokens a fake API accepts and refuses; with neither list set it checks nothing.
#[derive(Debug, Default)]
pub(crate) struct BearerCheck {
    /// When not empty, the only tokens accepted.
    accepted: Vec<String>,
    /// Tokens refused whatever `accepted` says (revoked ones).
    rejected: Vec<String>,
}

impl BearerCheck {
    pub(crate) fn accept(&mut self, token: &str) {
        self.accepted.push(token.to_owned());
    }

    pub(crate) fn reject(&mut self, token: &str) {
        self.rejected.push(token.to_owned());
    }

    /// [`Reply::unauthorized`] for a request whose bearer token is refused: one on the reject
    /// list, or, once the accept list is not empty, any other (a missing header included).
    pub(crate) fn refuse(&self, request: &RecordedRequest) -> Option<Reply> {
        if self.accepted.is_empty() && self.rejected.is_empty() {
            return None;
        }
        let token = bearer_token(request.header(AUTHORIZATION.as_str()));
        let refused = match token {
            Some(token) => {
                self.rejected.iter().any(|r| r == token)
                    || (!self.accepted.is_empty() && !self.accepted.iter().any(|a| a == token))
            }
            None => !self.accepted.is_empty(),
        };
        refused.then(Reply::unauthorized)
    }
}

/// The token of an `Authorization: Bearer <token>` value (the scheme in any case, as RFC 9110
/// allows), or `None` for another scheme or no value.
pub(crate) fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue, Method, Uri};

    use super::*;

    fn with_authorization(value: Option<&'static str>) -> RecordedRequest {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
        }
        RecordedRequest::new(
            Method::GET,
            Uri::from_static("/v1/x"),
            headers,
            Bytes::new(),
        )
    }

    fn refused(check: &BearerCheck, value: Option<&'static str>) -> bool {
        check.refuse(&with_authorization(value)).is_some()
    }

    #[test]
    fn without_lists_nothing_is_checked() {
        let check = BearerCheck::default();
        assert!(!refused(&check, None));
        assert!(!refused(&check, Some("Basic dXNlcjpwdw==")));
    }

    #[test]
    fn an_accept_list_refuses_every_other_token_and_a_missing_one() {
        let mut check = BearerCheck::default();
        check.accept("good");
        assert!(!refused(&check, Some("Bearer good")));
        assert!(!refused(&check, Some("bearer good")));
        assert!(refused(&check, Some("Bearer other")));
        assert!(refused(&check, Some("Basic good")));
        assert!(refused(&check, None));
        let reply = check.refuse(&with_authorization(None)).unwrap();
        assert_eq!(reply.status(), 401);
    }

    #[test]
    fn a_rejected_token_is_refused_even_when_accepted() {
        let mut check = BearerCheck::default();
        check.reject("revoked");
        assert!(refused(&check, Some("Bearer revoked")));
        assert!(!refused(&check, Some("Bearer other")));
        assert!(!refused(&check, None));
        check.accept("revoked");
        assert!(refused(&check, Some("Bearer revoked")));
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(bearer_token(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some("BEARER  abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("Bearer ")), None);
        assert_eq!(bearer_token(Some("Bearer")), None);
        assert_eq!(bearer_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(None), None);
    }
}
