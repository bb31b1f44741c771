//! The errors of the metadata server's client. Each leads with what could not be retrieved,
//! never carries a token, and quotes the server's answer only when it is the metadata server's
//! own short text (plain text from a server that said `Metadata-Flavor: Google`), scrubbed and
//! capped.

use std::time::Duration;

use bytes::Bytes;
use credkit_core::{Error, ErrorKind, TransportFailure, classify, oauth};
use time::OffsetDateTime;

use crate::server::{FLAVOR_HEADER, FLAVOR_VALUE};

/// The reference library's words, kept at the start of every error about a reply.
const FAILED: &str = "Failed to retrieve";

/// The metadata service, as the reference's messages name it.
const SERVICE: &str = "from the Google Compute Engine metadata service";

/// The longest text of the server's that an error quotes, in characters.
const QUOTE_CHARS: usize = 120;

/// The server answered `what` with an error status: permanent or transient as the status is
/// (a 503 while it starts, a 429), with its `Retry-After` kept for the retry layer.
pub(crate) fn status(what: &str, response: &http::Response<Bytes>, now: OffsetDateTime) -> Error {
    let code = response.status().as_u16();
    let hint = match code {
        404 => {
            "; it does not exist on this instance (a service account not attached, a path \
                mistyped)"
        }
        403 => {
            "; the metadata server refused the request (it needs `Metadata-Flavor: Google` \
                and no `X-Forwarded-For`)"
        }
        _ => "",
    };
    let message = match quote(response) {
        Some(text) => format!("{FAILED} {what} {SERVICE}. Status: {code}{hint}. Response: {text}"),
        None => format!("{FAILED} {what} {SERVICE}. Status: {code}{hint}"),
    };
    let mut err = Error::new(ErrorKind::Provider, message)
        .with_http_status(code)
        .with_transient(classify::is_transient_status(code));
    if let Some(wait) = oauth::retry_after(response.headers(), now) {
        err = err.with_retry_after(wait);
    }
    err
}

/// The metadata server's own short text, scrubbed: only a `text/plain` (or untyped) body from a
/// server that said `Metadata-Flavor: Google`, cut at [`QUOTE_CHARS`].
fn quote(response: &http::Response<Bytes>) -> Option<String> {
    let headers = response.headers();
    let flavored = headers
        .get(FLAVOR_HEADER)
        .is_some_and(|value| value.as_bytes() == FLAVOR_VALUE.as_bytes());
    let plain = headers
        .get(http::header::CONTENT_TYPE)
        .is_none_or(|value| value.as_bytes().starts_with(b"text/plain"));
    if !flavored || !plain {
        return None;
    }
    let text = std::str::from_utf8(response.body()).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    let head: String = text.chars().take(QUOTE_CHARS).collect();
    let mut shown = oauth::scrub(&head, &[]);
    if text.chars().count() > QUOTE_CHARS {
        shown.push('…');
    }
    Some(shown)
}

/// The request for `what` did not finish within `timeout` on the clock: transient.
pub(crate) fn timed_out(what: &str, timeout: Duration) -> Error {
    Error::transport(
        TransportFailure::Timeout,
        format!("{FAILED} {what} {SERVICE}: no complete answer within {timeout:?}"),
    )
}

/// The server's answer for `what` is not what it should be: permanent.
pub(crate) fn invalid(what: &str, reason: &str) -> Error {
    Error::new(
        ErrorKind::InvalidResponse,
        format!("{FAILED} {what} {SERVICE}: {reason}"),
    )
}

/// A path or query the caller gave cannot go into a request.
pub(crate) fn invalid_request(what: &str) -> Error {
    Error::new(
        ErrorKind::Configuration,
        format!(
            "{FAILED} {what} {SERVICE}: the metadata path is not a valid URL path (use letters, \
             digits, `-._~/` and percent-escapes)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(
        code: u16,
        body: &str,
        flavored: bool,
        content_type: Option<&str>,
    ) -> http::Response<Bytes> {
        let mut builder = http::Response::builder().status(code);
        if flavored {
            builder = builder.header(FLAVOR_HEADER, FLAVOR_VALUE);
        }
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        builder.body(Bytes::from(body.to_owned())).unwrap()
    }

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-01-01 0:00 UTC)
    }

    #[test]
    fn the_servers_short_text_is_quoted() {
        let err = status(
            "project/project-id",
            &response(404, "Not Found\n", true, Some("text/plain; charset=utf-8")),
            now(),
        );
        assert_eq!(err.http_status(), Some(404));
        assert!(!err.is_transient());
        assert_eq!(err.kind(), ErrorKind::Provider);
        assert!(err.to_string().starts_with(
            "Failed to retrieve project/project-id from the Google Compute Engine metadata service. Status: 404; it does not exist"
        ), "{err}");
        assert!(err.to_string().ends_with("Response: Not Found"), "{err}");
    }

    #[test]
    fn other_bodies_are_never_quoted() {
        for reply in [
            response(500, "ya29.secret", false, Some("text/plain")),
            response(
                500,
                "{\"access_token\":\"ya29.secret\"}",
                true,
                Some("application/json"),
            ),
            response(500, "<html>ya29.secret</html>", true, Some("text/html")),
        ] {
            let err = status("x", &reply, now());
            assert!(!err.to_string().contains("secret"), "{err}");
            assert!(err.is_transient());
        }
    }

    #[test]
    fn long_text_is_cut_and_control_characters_replaced() {
        let long = format!("a\r\nb{}", "c".repeat(500));
        let err = status("x", &response(400, &long, true, None), now());
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.ends_with('…'), "{text}");
        assert!(text.len() < 400, "{text}");
        let exact = "d".repeat(QUOTE_CHARS);
        let shown = status("x", &response(400, &exact, true, None), now()).to_string();
        assert!(shown.ends_with(&exact), "{shown}");
        let over = "d".repeat(QUOTE_CHARS + 1);
        let shown = status("x", &response(400, &over, true, None), now()).to_string();
        assert!(shown.ends_with(&format!("{exact}…")), "{shown}");
        assert!(
            status("x", &response(403, "  ", true, None), now())
                .to_string()
                .ends_with("X-Forwarded-For`)")
        );
    }

    #[test]
    fn retry_after_is_kept() {
        let mut reply = response(503, "", true, None);
        reply
            .headers_mut()
            .insert("retry-after", http::HeaderValue::from_static("2"));
        let err = status("x", &reply, now());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
        assert!(err.is_transient());
    }

    #[test]
    fn timeouts_are_transient_and_bad_replies_permanent() {
        let err = timed_out("x", Duration::from_secs(3));
        assert!(err.is_transient());
        assert_eq!(err.kind(), ErrorKind::Timeout);
        let err = invalid("x", "why");
        assert!(!err.is_transient());
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert_eq!(invalid_request("y").kind(), ErrorKind::Configuration);
    }
}
