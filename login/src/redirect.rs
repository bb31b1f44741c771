//! Reading the authorization response (RFC 6749 section 4.1.2): the request the browser makes
//! to the loopback listener, judged without I/O, and the page it is answered with.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use credkit_core::Error;
use credkit_core::oauth::{OAuthError, scrub};
use secrecy::SecretString;
use url::form_urlencoded;
use zeroize::Zeroizing;

use crate::error;

/// The longest request target the listener reads: a real redirect is well under 2 KiB.
pub(crate) const MAX_TARGET_BYTES: usize = 8 * 1024;

/// The longest authorization code accepted (Google's are about 70 characters).
const MAX_CODE_CHARS: usize = 2048;

/// What one request to the listener means.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Not the redirect (another path, such as `/favicon.ico`): answered 404; the login goes
    /// on waiting.
    Elsewhere,
    /// The authorization code: the login goes on to exchange it.
    Code(SecretString),
    /// The authorization failed, or the redirect cannot be trusted: the login ends with this.
    Failed(Error, Page),
}

/// The pages the listener answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Page {
    /// The sign-in worked.
    SignedIn,
    /// The authorization server refused (the user denied consent, or an error).
    Refused,
    /// The code came, but its exchange failed.
    ExchangeFailed,
    /// The redirect's `state` is not this login's.
    WrongState,
    /// The redirect carries no usable code, or more than one.
    Malformed,
    /// Another path.
    NotFound,
    /// A method other than GET, or a request that could not be read.
    BadRequest,
    /// The login already ended (its answer came, or it timed out).
    Finished,
}

impl Page {
    /// The status line's code and the page's title and message (fixed texts: nothing from the
    /// request is echoed into the HTML).
    pub(crate) fn parts(self) -> (u16, &'static str, &'static str) {
        match self {
            Self::SignedIn => (
                200,
                "Signed in",
                "You are signed in to credkit. You can close this tab and return to the terminal.",
            ),
            Self::Refused => (
                200,
                "Sign-in refused",
                "The sign-in was refused, so no credentials were saved. The terminal says why; you can close this tab.",
            ),
            Self::ExchangeFailed => (
                200,
                "Sign-in failed",
                "The sign-in could not be completed: the token endpoint did not accept the authorization code. Nothing was saved. The terminal says why; you can close this tab.",
            ),
            Self::WrongState => (
                400,
                "Sign-in not accepted",
                "This answer does not belong to the sign-in that is waiting (an old tab, or a link this login did not make). Nothing was saved. Start the login again from the terminal.",
            ),
            Self::Malformed => (
                400,
                "Sign-in not accepted",
                "The authorization server's answer carried no single authorization code. Nothing was saved. The terminal says more; start the login again.",
            ),
            Self::NotFound => (404, "Not found", "This address is not part of the sign-in."),
            Self::BadRequest => (
                400,
                "Bad request",
                "This request is not part of the sign-in.",
            ),
            Self::Finished => (
                410,
                "Sign-in finished",
                "This sign-in has already finished. Return to the terminal.",
            ),
        }
    }

    /// The HTML document.
    pub(crate) fn html(self) -> String {
        let (_, title, message) = self.parts();
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} - credkit</title>\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#202124}}\
             h1{{font-size:1.5rem}}</style></head>\
             <body><h1 id=\"title\">{title}</h1><p id=\"message\">{message}</p></body></html>\n"
        )
    }
}

/// Judges the request target (`/path?query`) the browser sent: is it the redirect to `path`,
/// and does it carry this login's `state` and one code?
///
/// The rules, in order:
/// 1. Another path (or a target that does not start with `path`) is [`Outcome::Elsewhere`].
/// 2. Exactly one `state`, equal to this login's (compared in constant time); else the
///    redirect is not this login's answer, and nothing in it is believed.
/// 3. An `error` (one) is the server's refusal, with its `error_description` kept (scrubbed
///    and capped: anyone on this machine can send this request).
/// 4. Exactly one non-empty `code` of printable ASCII, at most 2048 characters.
pub(crate) fn judge(target: &str, path: &str, state: &str) -> Outcome {
    let (target_path, query) = target.split_once('?').unwrap_or((target, ""));
    if target_path != path {
        return Outcome::Elsewhere;
    }
    let mut states = Vec::new();
    let mut errors = Vec::new();
    let mut descriptions = Vec::new();
    let mut codes: Vec<Zeroizing<String>> = Vec::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "state" => states.push(value.into_owned()),
            "error" => errors.push(value.into_owned()),
            "error_description" => descriptions.push(value.into_owned()),
            "code" => codes.push(Zeroizing::new(value.into_owned())),
            _ => {}
        }
    }
    let state_matches = match states.as_slice() {
        [only] => verify_slices_are_equal(only.as_bytes(), state.as_bytes()).is_ok(),
        _ => false,
    };
    if !state_matches {
        return Outcome::Failed(error::wrong_state(states.len()), Page::WrongState);
    }
    match errors.as_slice() {
        [] => {}
        [code] => {
            let mut oauth = OAuthError::new(scrub(code, &[]));
            if let Some(description) = descriptions.first() {
                oauth = oauth.with_description(scrub(description, &[]));
            }
            return Outcome::Failed(error::refused(oauth), Page::Refused);
        }
        _ => {
            return Outcome::Failed(
                error::malformed_redirect("more than one error"),
                Page::Malformed,
            );
        }
    }
    match codes.as_slice() {
        [] => Outcome::Failed(error::malformed_redirect("no code"), Page::Malformed),
        [code] if code.is_empty() => {
            Outcome::Failed(error::malformed_redirect("an empty code"), Page::Malformed)
        }
        [code] if code.len() > MAX_CODE_CHARS || !code.bytes().all(|b| b.is_ascii_graphic()) => {
            Outcome::Failed(
                error::malformed_redirect("a code that is not an authorization code"),
                Page::Malformed,
            )
        }
        [code] => Outcome::Code(SecretString::from(code.as_str())),
        _ => Outcome::Failed(
            error::malformed_redirect("more than one code"),
            Page::Malformed,
        ),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn failed(outcome: Outcome) -> (Error, Page) {
        match outcome {
            Outcome::Failed(err, page) => (err, page),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn the_code_with_this_logins_state_is_taken() {
        match judge("/?state=s1&code=4%2F0Ab&scope=openid", "/", "s1") {
            Outcome::Code(code) => assert_eq!(code.expose_secret(), "4/0Ab"),
            other => panic!("{other:?}"),
        }
        match judge("/cb?code=c&state=s1", "/cb", "s1") {
            Outcome::Code(code) => assert_eq!(code.expose_secret(), "c"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_paths_are_not_the_redirect() {
        for target in [
            "/favicon.ico",
            "/cb/x?code=c&state=s1",
            "/c?code=c&state=s1",
            "",
        ] {
            assert!(
                matches!(judge(target, "/cb", "s1"), Outcome::Elsewhere),
                "{target}"
            );
        }
    }

    #[test]
    fn a_wrong_missing_or_repeated_state_is_refused_before_anything_else_is_read() {
        for target in [
            "/?code=c&state=s2",
            "/?code=c",
            "/?code=c&state=s1&state=s1",
            "/?error=access_denied&state=other",
            "/?code=c&state=s",
            "/?code=c&state=s1x",
        ] {
            let (err, page) = failed(judge(target, "/", "s1"));
            assert_eq!(page, Page::WrongState, "{target}");
            assert!(err.to_string().contains("state"), "{target}: {err}");
            assert!(err.oauth_error().is_none());
        }
        for (target, said) in [
            ("/?code=c", "carried no state"),
            (
                "/?code=c&state=s2",
                "carried a state that is not this login's",
            ),
            ("/?code=c&state=s1&state=s1", "carried more than one state"),
        ] {
            let (err, _) = failed(judge(target, "/", "s1"));
            assert!(
                err.to_string()
                    .starts_with(&format!("the sign-in redirect {said}")),
                "{err}"
            );
        }
    }

    #[test]
    fn the_servers_error_is_kept_scrubbed() {
        let (err, page) = failed(judge(
            "/?error=access_denied&error_description=The+user+said+no%0Ainjected&state=s1",
            "/",
            "s1",
        ));
        assert_eq!(page, Page::Refused);
        assert_eq!(err.oauth_error(), Some("access_denied"));
        assert!(err.to_string().contains("access_denied"), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
        let (err, _) = failed(judge("/?error=server_error&state=s1&code=c", "/", "s1"));
        assert_eq!(
            err.oauth_error(),
            Some("server_error"),
            "an error wins over a code"
        );
        let (_, page) = failed(judge("/?error=a&error=b&state=s1", "/", "s1"));
        assert_eq!(page, Page::Malformed);
    }

    #[test]
    fn a_missing_empty_repeated_or_strange_code_is_refused() {
        let long = format!("/?state=s1&code={}", "a".repeat(MAX_CODE_CHARS + 1));
        let max = format!("/?state=s1&code={}", "a".repeat(MAX_CODE_CHARS));
        assert!(matches!(judge(&max, "/", "s1"), Outcome::Code(_)));
        for (target, said) in [
            ("/?state=s1", "no code"),
            ("/?state=s1&code=", "an empty code"),
            ("/?state=s1&code=a&code=b", "more than one code"),
            ("/?state=s1&code=a%20b", "not an authorization code"),
            ("/?state=s1&code=%C3%A9", "not an authorization code"),
            (long.as_str(), "not an authorization code"),
        ] {
            let (err, page) = failed(judge(target, "/", "s1"));
            assert_eq!(page, Page::Malformed, "{target}");
            assert!(err.to_string().contains(said), "{target}: {err}");
            assert!(!err.to_string().contains("a b"), "{err}");
        }
    }

    #[test]
    fn pages_name_their_status_and_never_echo_the_request() {
        for page in [
            Page::SignedIn,
            Page::Refused,
            Page::ExchangeFailed,
            Page::WrongState,
            Page::Malformed,
            Page::NotFound,
            Page::BadRequest,
            Page::Finished,
        ] {
            let (status, title, message) = page.parts();
            let html = page.html();
            assert!(html.contains(title) && html.contains(message));
            assert!(html.starts_with("<!doctype html>"));
            assert_eq!(
                status == 200,
                matches!(page, Page::SignedIn | Page::Refused | Page::ExchangeFailed)
            );
        }
        assert_eq!(Page::NotFound.parts().0, 404);
        assert_eq!(Page::Finished.parts().0, 410);
        assert!(Page::SignedIn.html().contains("close this tab"));
    }
}
