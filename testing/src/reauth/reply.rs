//! What the fake reauth API answers: session messages and their challenges.

use serde_json::{Value, json};

use crate::Reply;

/// One challenge in a scripted session message: its type, id and readiness, plus any metadata
/// the type carries (a security key's `securityKey` object, say).
///
/// ```
/// use credkit_testing::FakeChallenge;
///
/// let challenge = FakeChallenge::password(1);
/// assert_eq!(challenge.to_json()["challengeType"], "PASSWORD");
/// assert_eq!(challenge.to_json()["status"], "READY");
/// assert_eq!(FakeChallenge::saml(2).not_ready().to_json()["status"], "NOT_READY");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FakeChallenge {
    json: serde_json::Map<String, Value>,
}

impl FakeChallenge {
    /// A `READY` challenge of `challenge_type` with the id `id`.
    pub fn new(challenge_type: &str, id: u64) -> Self {
        let mut json = serde_json::Map::new();
        json.insert("challengeType".into(), challenge_type.into());
        json.insert("challengeId".into(), id.into());
        json.insert("status".into(), "READY".into());
        Self { json }
    }

    /// A `PASSWORD` challenge.
    pub fn password(id: u64) -> Self {
        Self::new("PASSWORD", id)
    }

    /// A `SECURITY_KEY` challenge with the metadata a `WebAuthn` answer needs: one key handle and
    /// challenge, an application id and a relying party id.
    pub fn security_key(id: u64) -> Self {
        Self::new("SECURITY_KEY", id).with_field(
            "securityKey",
            json!({
                "applicationId": "security_key_application_id",
                "relyingPartyId": "security_key_application_id",
                "challenges": [{"keyHandle": "some_key", "challenge": "some_challenge"}],
            }),
        )
    }

    /// A `SAML` challenge.
    pub fn saml(id: u64) -> Self {
        Self::new("SAML", id)
    }

    /// The challenge with another `status` than `READY` (the client skips it).
    #[must_use]
    pub fn not_ready(self) -> Self {
        self.with_field("status", "NOT_READY".into())
    }

    /// The challenge with `name` set to `value`.
    #[must_use]
    pub fn with_field(mut self, name: &str, value: Value) -> Self {
        self.json.insert(name.into(), value);
        self
    }

    /// The challenge as the reauth API writes it.
    pub fn to_json(&self) -> Value {
        Value::Object(self.json.clone())
    }
}

/// A scripted answer of the fake reauth API (`sessions:start` and `sessions/{id}:continue`).
///
/// ```
/// use credkit_testing::{FakeChallenge, ReauthReply};
///
/// let start = ReauthReply::challenge_required("123", [FakeChallenge::password(1)]);
/// assert_eq!(start.to_reply().status(), 200);
/// let done = ReauthReply::authenticated("new_rapt_token");
/// assert_eq!(done.json().unwrap()["encodedProofOfReauthToken"], "new_rapt_token");
/// ```
#[derive(Debug)]
pub struct ReauthReply {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Message(Value),
    Raw(Reply),
}

impl ReauthReply {
    /// `AUTHENTICATED`, with `rapt` as the `encodedProofOfReauthToken`.
    pub fn authenticated(rapt: &str) -> Self {
        Self::message(json!({
            "status": "AUTHENTICATED",
            "sessionId": "123",
            "encodedProofOfReauthToken": rapt,
        }))
    }

    /// `CHALLENGE_REQUIRED` in session `session_id`, with `challenges` in order.
    pub fn challenge_required(
        session_id: &str,
        challenges: impl IntoIterator<Item = FakeChallenge>,
    ) -> Self {
        Self::session("CHALLENGE_REQUIRED", session_id, challenges)
    }

    /// `CHALLENGE_PENDING` in session `session_id`, with `challenges` in order.
    pub fn challenge_pending(
        session_id: &str,
        challenges: impl IntoIterator<Item = FakeChallenge>,
    ) -> Self {
        Self::session("CHALLENGE_PENDING", session_id, challenges)
    }

    /// Any `status` (such as `STATUS_UNSPECIFIED`) in session `session_id`, with `challenges`.
    pub fn session(
        status: &str,
        session_id: &str,
        challenges: impl IntoIterator<Item = FakeChallenge>,
    ) -> Self {
        let challenges: Vec<Value> = challenges.into_iter().map(|c| c.to_json()).collect();
        Self::message(json!({
            "status": status,
            "sessionId": session_id,
            "challenges": challenges,
        }))
    }

    /// A 200 reply with `value` as the message, as it is.
    pub fn message(value: Value) -> Self {
        Self {
            kind: Kind::Message(value),
        }
    }

    /// An error of the API: `status` with Google's JSON error object
    /// (`{"error": {"code", "message", "status"}}`).
    pub fn api_error(status: u16, message: &str) -> Self {
        Self::raw(Reply::json(
            status,
            json!({"error": {"code": status, "message": message, "status": "FAILED_PRECONDITION"}}),
        ))
    }

    /// Any reply of the token server's kit (hostile ones included), as it is.
    pub fn raw(reply: Reply) -> Self {
        Self {
            kind: Kind::Raw(reply),
        }
    }

    /// The message, for a message reply.
    pub fn json(&self) -> Option<&Value> {
        match &self.kind {
            Kind::Message(value) => Some(value),
            Kind::Raw(_) => None,
        }
    }

    /// The reply the server sends.
    pub fn to_reply(self) -> Reply {
        match self.kind {
            Kind::Message(value) => Reply::json(200, value),
            Kind::Raw(reply) => reply,
        }
    }
}

impl From<Reply> for ReauthReply {
    fn from(reply: Reply) -> Self {
        Self::raw(reply)
    }
}
