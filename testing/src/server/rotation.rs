//! Strict rotation: every token reply carries a new refresh token, and only the newest one is
//! accepted, so a client that loses a rotation fails loudly with `invalid_grant`.

use bytes::Bytes;

use super::record::RecordedRequest;
use super::reply::Reply;
use super::script::{Planned, PlannedBody};

/// The refresh token the server accepts now, when strict rotation is on.
#[derive(Debug, Default)]
pub(crate) struct Rotation {
    valid: Option<String>,
    issued: u64,
}

impl Rotation {
    pub(crate) fn start(&mut self, initial: String) {
        self.valid = Some(initial);
    }

    pub(crate) fn valid(&self) -> Option<&str> {
        self.valid.as_deref()
    }

    /// The `invalid_grant` reply for a refresh grant whose refresh token is not the valid
    /// one; `None` when strict rotation is off, the grant is another, or the token is good.
    pub(crate) fn refuse(&self, request: &RecordedRequest) -> Option<Reply> {
        let valid = self.valid.as_deref()?;
        if request.form_value("grant_type") != Some("refresh_token") {
            return None;
        }
        (request.form_value("refresh_token") != Some(valid)).then(|| {
            Reply::oauth_error(
                400,
                "invalid_grant",
                Some("Token has been expired or revoked."),
            )
        })
    }

    /// Puts a new refresh token into a successful token reply and makes it the valid one.
    pub(crate) fn rotate(&mut self, planned: &mut Planned) {
        if self.valid.is_none() || !planned.status.is_success() {
            return;
        }
        let PlannedBody::Full(bytes) = &planned.body else {
            return;
        };
        let Ok(serde_json::Value::Object(mut token)) = serde_json::from_slice(bytes) else {
            return;
        };
        if !token.contains_key("access_token") {
            return;
        }
        self.issued += 1;
        let next = format!("fake-rotated-refresh-token-{}", self.issued);
        token.insert("refresh_token".to_owned(), next.clone().into());
        planned.body = PlannedBody::Full(Bytes::from(serde_json::Value::Object(token).to_string()));
        self.valid = Some(next);
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::{HeaderMap, Method, Uri};

    use super::super::script::Shared;
    use super::*;

    fn refresh(rt: &str) -> RecordedRequest {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        RecordedRequest::new(
            Method::POST,
            Uri::from_static("/token"),
            headers,
            Bytes::from(format!("grant_type=refresh_token&refresh_token={rt}")),
        )
    }

    #[test]
    fn a_reply_that_never_arrives_rotates_nothing_and_the_script_waits() {
        let shared = Shared::default();
        shared.start_strict_rotation("rt-0".to_owned());
        shared.push(Reply::stall());
        shared.push(Reply::token("after the stall"));
        let stalled = shared.record_and_plan(refresh("rt-0"), "http://h");
        assert!(matches!(stalled.body, PlannedBody::Stall));
        assert_eq!(shared.valid_refresh_token().as_deref(), Some("rt-0"));
        // A wrong token is refused without using the script.
        let refused = shared.record_and_plan(refresh("rt-stale"), "http://h");
        assert_eq!(refused.status, 400);
        let ok = shared.record_and_plan(refresh("rt-0"), "http://h");
        let PlannedBody::Full(body) = ok.body else {
            panic!("a full body")
        };
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["access_token"], "after the stall");
        assert_eq!(body["refresh_token"], "fake-rotated-refresh-token-1");
    }
}
