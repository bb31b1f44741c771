//! The reauth protocol: `sessions:start`, then `sessions/{id}:continue` once per challenge, until
//! the API answers `AUTHENTICATED` with the rapt token. Each request is retried after a
//! transient failure (`RetryPolicy::run`); a challenge's handler runs once, and only in a poll a
//! person waits on.

use std::fmt::Write as _;

use bytes::Bytes;
use credkit_core::oauth::{self, scrub, zeroize_json};
use credkit_core::{Clock, Error, ErrorKind, Result, Transport, interactive};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;

use super::challenge::Challenge;
use super::settings::ReauthSettings;
use crate::error;
use crate::python_json::python_json;

/// One reauthentication session's collaborators.
pub(crate) struct Session<'a> {
    pub(crate) transport: &'a dyn Transport,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) settings: &'a ReauthSettings,
    /// The reauth-scoped access token, sent as the bearer token.
    pub(crate) access_token: &'a SecretString,
    /// Every secret to scrub from the API's text (the access token included).
    pub(crate) secrets: &'a [&'a SecretString],
}

/// A session message: the parts the flow reads. The rapt token is taken out as a secret and
/// the parsed JSON wiped.
pub(crate) struct Message {
    pub(crate) status: String,
    pub(crate) session_id: String,
    pub(crate) challenges: Vec<Value>,
    rapt: Option<SecretString>,
}

impl Message {
    fn is(&self, status: &str) -> bool {
        self.status == status
    }

    /// The rapt token of an `AUTHENTICATED` message.
    fn rapt(self) -> Result<SecretString> {
        self.rapt
            .filter(|rapt| !rapt.expose_secret().is_empty())
            .ok_or_else(error::reauth_no_rapt)
    }
}

/// Runs the protocol and returns the rapt token, answering at most `limit` rounds of
/// challenges (the reference's `RUN_CHALLENGE_RETRY_LIMIT`).
pub(crate) async fn obtain_rapt(
    session: &Session<'_>,
    scopes: &[String],
    limit: usize,
) -> Result<SecretString> {
    let mut msg = start(session, scopes).await?;
    if msg.is(super::AUTHENTICATED) {
        return msg.rapt();
    }
    for _ in 0..limit {
        if !(msg.is(super::CHALLENGE_REQUIRED) || msg.is(super::CHALLENGE_PENDING)) {
            return Err(error::reauth_api_status(&scrub(
                &msg.status,
                session.secrets,
            )));
        }
        if !session.settings.is_interactive() {
            return Err(error::reauth_not_interactive());
        }
        match run_next_challenge(session, &msg).await? {
            None => return Err(error::reauth_no_rapt()),
            Some(next) => msg = next,
        }
        if msg.is(super::AUTHENTICATED) {
            return msg.rapt();
        }
    }
    Err(error::reauth_no_rapt())
}

/// The body of `sessions:start`, in the reference's member order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StartBody<'a> {
    supported_challenge_types: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    oauth_scopes_for_domain_policy_lookup: Option<&'a [String]>,
}

/// The body of `sessions/{id}:continue`, in the reference's member order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContinueBody<'a> {
    session_id: &'a str,
    challenge_id: &'a Value,
    action: &'static str,
    proposal_response: &'a Value,
}

/// `POST {uri}/v2/sessions:start` with the supported types and, when there are any, the scopes.
pub(crate) async fn start(session: &Session<'_>, scopes: &[String]) -> Result<Message> {
    let body = python_json(&StartBody {
        supported_challenge_types: session.settings.supported_types(),
        oauth_scopes_for_domain_policy_lookup: (!scopes.is_empty()).then_some(scopes),
    })?;
    let url = format!("{}/v2/sessions:start", base(session));
    // Nothing has been asked of the user yet: a transient failure costs only a wait.
    session
        .settings
        .retry
        .run(session.clock, "sessions:start", || {
            send(session, &url, body.clone())
        })
        .await
}

/// Answers the first `READY` challenge of `msg` and sends the answer; `None` when there is no
/// ready challenge or its handler gave no answer.
pub(crate) async fn run_next_challenge(
    session: &Session<'_>,
    msg: &Message,
) -> Result<Option<Message>> {
    let Some(ready) = msg
        .challenges
        .iter()
        .find(|c| c.get("status").and_then(Value::as_str) == Some(super::READY))
    else {
        return Ok(None);
    };
    let challenge = Challenge::from_json(ready.clone());
    let challenge_type = challenge.challenge_type();
    let Some(handler) = session.settings.handler(challenge_type) else {
        return Err(error::reauth_unsupported(
            &scrub(challenge_type, session.secrets),
            &session.settings.supported_types(),
        ));
    };
    if !handler.is_locally_eligible() {
        return Err(error::reauth_not_eligible(&scrub(
            challenge_type,
            session.secrets,
        )));
    }
    // Whether a person waits is decided here, in the poll that starts the handler (nothing
    // awaits between this check and its first poll), not once when `invalid_rapt` came: the
    // caller that started the refresh may have given up since, leaving it to a spawner's task
    // or an `apply`, with nobody there to answer.
    if !interactive::is_interactive() {
        tracing::info!(
            "a reauthentication challenge came, but no caller waits for this refresh any more (it is not polled inside credkit_core::interactive): not asking"
        );
        return Err(error::reauth_not_interactive());
    }
    let Some(answer) = handler.respond(&challenge).await? else {
        return Ok(None);
    };
    let mut proposal = answer.into_json();
    let body = python_json(&ContinueBody {
        session_id: &msg.session_id,
        challenge_id: challenge.challenge_id(),
        action: "RESPOND",
        proposal_response: &proposal,
    });
    zeroize_json(&mut proposal);
    let url = format!(
        "{}/v2/sessions/{}:continue",
        base(session),
        path_segment(&msg.session_id)
    );
    // The answer is in hand: a transient failure sends it again, and never asks again.
    let body = body?;
    session
        .settings
        .retry
        .run(session.clock, "sessions:continue", || {
            send(session, &url, body.clone())
        })
        .await
        .map(Some)
}

fn base<'a>(session: &'a Session<'_>) -> &'a str {
    session.settings.uri.trim_end_matches('/')
}

/// `text` as one path segment: unreserved characters as they are, every other byte `%XX`, so a
/// session id from the API cannot add a path, query or fragment of its own.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// POSTs `body` as JSON with the bearer token and reads the session message.
async fn send(session: &Session<'_>, url: &str, body: Bytes) -> Result<Message> {
    let mut authorization =
        http::HeaderValue::try_from(format!("Bearer {}", session.access_token.expose_secret()))
            .map_err(|_| error::reauth_bad_access_token())?;
    authorization.set_sensitive(true);
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::AUTHORIZATION, authorization)
        .body(body)
        .map_err(|err| {
            Error::new(
                ErrorKind::Configuration,
                "the reauth URL is not a valid URL",
            )
            .with_source(err)
        })?;
    tracing::debug!(endpoint = %scrub(url, session.secrets), "sending a reauth request");
    let response = session.transport.send(request).await?;
    if response.status() != http::StatusCode::OK {
        return Err(oauth::error_from_response(
            &response,
            session.clock.now(),
            session.secrets,
        ));
    }
    read_message(response.body(), session.secrets)
}

/// Reads a session message, taking the rapt token out as a secret and wiping the rest.
pub(crate) fn read_message(body: &[u8], secrets: &[&SecretString]) -> Result<Message> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|_| error::reauth_not_a_message())?;
    let rapt = value
        .get("encodedProofOfReauthToken")
        .and_then(Value::as_str)
        .map(|rapt| SecretString::from(rapt.to_owned()));
    let text = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .map(|v| scrub(v, secrets))
    };
    let status = text("status");
    let session_id = value
        .get("sessionId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let challenges = match value.get("challenges") {
        Some(Value::Array(challenges)) => challenges.clone(),
        _ => Vec::new(),
    };
    let is_object = value.is_object();
    zeroize_json(&mut value);
    if !is_object {
        return Err(error::reauth_not_a_message());
    }
    Ok(Message {
        status: status.unwrap_or_else(|| "None".to_owned()),
        session_id,
        challenges,
        rapt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_stay_one_segment() {
        assert_eq!(path_segment("123"), "123");
        assert_eq!(path_segment("a/../b?x#y"), "a%2F..%2Fb%3Fx%23y");
    }

    #[test]
    fn messages_keep_the_rapt_out_of_sight() {
        let msg = read_message(
            br#"{"status":"AUTHENTICATED","encodedProofOfReauthToken":"rapt-secret"}"#,
            &[],
        )
        .unwrap();
        assert!(msg.is("AUTHENTICATED"));
        assert_eq!(msg.rapt().unwrap().expose_secret(), "rapt-secret");
        let none = read_message(br#"{"status":"AUTHENTICATED"}"#, &[]).unwrap();
        assert!(none.rapt().is_err());
        assert!(read_message(b"[1]", &[]).is_err());
        assert!(read_message(b"<html>", &[]).is_err());
        assert_eq!(read_message(b"{}", &[]).unwrap().status, "None");
    }
}
