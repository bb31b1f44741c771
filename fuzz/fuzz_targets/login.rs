//! What a login reads from others: the request heads anyone on the machine can send to the
//! loopback listener, the redirect's query (raw, or around this login's state and a planted
//! code), a `client_secret.json` (raw, or around a planted client secret), and the device
//! authorization answer. Nothing panics; a target served starts with `/` and is bounded; a
//! code is taken only with this login's state, and is one bounded printable token; errors are
//! one clean line that never quote the planted code or secret; a client's `Debug` hides its
//! secret; a device answer accepted can be shown on a terminal and polled sanely.
#![no_main]

use arbitrary::Arbitrary;
use credkit_login::OAuthClient;
use credkit_login::fuzzing;
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

const STATE: &str = "Xk3fuzz-state-of-this-login_0123456789abcdef";
const PLANTED_CODE: &str = "4/0Aplanted-authorization-code";
const PLANTED_SECRET: &str = "GOCSPX-planted-client-secret";

#[derive(Arbitrary, Debug)]
enum Input {
    Head(Vec<u8>),
    RawRedirect(String),
    Redirect {
        before: String,
        state: StateChoice,
        after: String,
    },
    ClientSecrets(Vec<u8>),
    ClientSecretsAround {
        kind: bool,
        before: String,
        after: String,
    },
    DeviceAnswer(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum StateChoice {
    Right,
    Wrong(String),
    Missing,
    Twice,
}

fuzz_target!(|input: Input| {
    match input {
        Input::Head(bytes) => {
            if let Some(Ok(target)) = fuzzing::request_head(&bytes) {
                assert!(target.starts_with('/'));
                assert!(target.len() <= 8 * 1024);
                assert!(bytes.starts_with(b"GET "));
            }
        }
        Input::RawRedirect(target) => match fuzzing::redirect(&target, "/", STATE) {
            Ok(Some(code)) => {
                assert!(!code.is_empty() && code.len() <= 2048);
                assert!(code.bytes().all(|b| b.is_ascii_graphic()));
            }
            Ok(None) => assert!(!target.starts_with("/?") && target != "/"),
            Err((message, _, status)) => {
                credkit_fuzz::assert_clean("a redirect error", &message, &[]);
                assert!(matches!(status, 200 | 400));
            }
        },
        Input::Redirect { before, state, after } => {
            let state = match state {
                StateChoice::Right => format!("state={STATE}"),
                StateChoice::Wrong(other) if other != STATE => format!("state={other}"),
                StateChoice::Wrong(_) | StateChoice::Missing => String::new(),
                StateChoice::Twice => format!("state={STATE}&state={STATE}"),
            };
            let right = state == format!("state={STATE}");
            let target = format!("/?{before}&{state}&code={PLANTED_CODE}&{after}");
            match fuzzing::redirect(&target, "/", STATE) {
                Ok(Some(_)) => assert!(right || target.matches(STATE).count() == 1),
                Ok(None) => panic!("the redirect path was taken for another"),
                Err((message, oauth, _)) => {
                    credkit_fuzz::assert_clean("a redirect error", &message, &[]);
                    // Only the server's own error text (anyone may send it) is quoted.
                    if oauth.is_none() {
                        assert!(!message.contains(PLANTED_CODE));
                    }
                }
            }
        }
        Input::ClientSecrets(bytes) => check_client(&bytes),
        Input::ClientSecretsAround { kind, before, after } => {
            let kind = if kind { "installed" } else { "web" };
            let json = format!(
                r#"{{"{kind}": {{"client_id": "c{before}", "client_secret": "{PLANTED_SECRET}"{after}}}}}"#
            );
            check_client(json.as_bytes());
        }
        Input::DeviceAnswer(body) => {
            let sent_at = datetime!(2026-01-01 0:00 UTC);
            match fuzzing::device_answer(&body, sent_at) {
                Ok((user_code, uri, interval, expires_at)) => {
                    assert!(!user_code.is_empty() && user_code.len() <= 64);
                    assert!(user_code.bytes().all(|b| b.is_ascii_graphic()));
                    assert!(uri.bytes().all(|b| b.is_ascii_graphic()));
                    assert!(uri.starts_with("https://") || uri.starts_with("http://"));
                    assert!((1..=60).contains(&interval));
                    assert!(expires_at > sent_at);
                }
                Err(message) => credkit_fuzz::assert_clean("a device answer error", &message, &[]),
            }
        }
    }
});

fn check_client(bytes: &[u8]) {
    match OAuthClient::from_client_secrets_json(bytes) {
        Ok(client) => {
            assert!(!client.client_id().trim().is_empty());
            credkit_fuzz::assert_debug_clean(&client, &[PLANTED_SECRET]);
        }
        Err(err) => credkit_fuzz::assert_clean("a client secrets error", &err.to_string(), &[PLANTED_SECRET]),
    }
}
