//! The fake reauth API: Google's `reauth.googleapis.com/v2/sessions` on 127.0.0.1, answering
//! `sessions:start` and `sessions/{id}:continue` from a script and recording every request.

use std::io;
use std::net::SocketAddr;

use serde_json::Value;

use crate::{FakeTokenEndpoint, FakeTokenServer, RecordedRequest};

mod reply;

pub use reply::{FakeChallenge, ReauthReply};

/// A fake of Google's reauthentication API over real HTTP on `127.0.0.1`, for tests of the
/// reauth flow.
///
/// # Examples
///
/// ```
/// use credkit_testing::{FakeChallenge, FakeReauthServer, ReauthReply};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let reauth = FakeReauthServer::start().await?;
/// reauth
///     .push_reply(ReauthReply::challenge_required("123", [FakeChallenge::password(1)]))
///     .push_reply(ReauthReply::authenticated("new_rapt_token"));
/// assert!(reauth.url().starts_with("http://127.0.0.1:"));
///
/// // ... point the code under test at reauth.url() (its reauth API base URL), then:
/// assert_eq!(reauth.request_count(), 0);
/// # Ok(())
/// # }
/// ```
///
/// Each request gets the next scripted [`ReauthReply`] (the last one repeats), so script it
/// before use: with no script it answers as the token server does (a token response, which is
/// no session message). A message
/// reply is HTTP 200 with the JSON message; [`ReauthReply::api_error`] and
/// [`ReauthReply::raw`] give errors and the token server's hostile replies. Every request is
/// recorded, with its path (`/v2/sessions:start`, `/v2/sessions/123:continue`), headers and
/// body; [`json_bodies`](Self::json_bodies) reads the bodies back as JSON.
///
/// It is built on [`FakeTokenServer`] and must be started inside a tokio runtime. Dropping it
/// stops the server.
#[derive(Debug)]
pub struct FakeReauthServer {
    server: FakeTokenServer,
}

impl FakeReauthServer {
    /// Starts a server with an empty script on `127.0.0.1` at an ephemeral port.
    ///
    /// # Errors
    ///
    /// When the listening socket cannot be bound.
    pub async fn start() -> io::Result<Self> {
        let endpoint = FakeTokenEndpoint::new();
        let server = FakeTokenServer::serve(endpoint).await?;
        Ok(Self { server })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The API's base URL, `http://127.0.0.1:<port>`, without a trailing slash: what a client
    /// takes as its reauth URL (Google's is `https://reauth.googleapis.com`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Appends `reply` to the script. Returns `self` so pushes chain.
    pub fn push_reply(&self, reply: ReauthReply) -> &Self {
        self.server.push_reply(reply.to_reply());
        self
    }

    /// Appends every reply of `replies`, in order.
    pub fn push_replies(&self, replies: impl IntoIterator<Item = ReauthReply>) -> &Self {
        for reply in replies {
            self.push_reply(reply);
        }
        self
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// The paths of every request so far, in order.
    pub fn paths(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|request| request.path().to_owned())
            .collect()
    }

    /// The body of every request so far, read as JSON (`null` for a body that is not JSON).
    pub fn json_bodies(&self) -> Vec<Value> {
        self.requests()
            .iter()
            .map(|request| serde_json::from_slice(request.body()).unwrap_or(Value::Null))
            .collect()
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.server.request_count()
    }

    /// The script and record as an in-memory endpoint (a `Transport`); clones share them.
    pub fn endpoint(&self) -> &FakeTokenEndpoint {
        self.server.endpoint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_carry_the_reference_fields() {
        let reply = ReauthReply::challenge_pending(
            "s",
            [
                FakeChallenge::security_key(1),
                FakeChallenge::new("X", 2).not_ready(),
            ],
        );
        let json = reply.json().unwrap();
        assert_eq!(json["status"], "CHALLENGE_PENDING");
        assert_eq!(json["sessionId"], "s");
        assert_eq!(json["challenges"][0]["challengeType"], "SECURITY_KEY");
        assert_eq!(
            json["challenges"][0]["securityKey"]["challenges"][0]["keyHandle"],
            "some_key"
        );
        assert_eq!(json["challenges"][1]["status"], "NOT_READY");
        assert_eq!(ReauthReply::api_error(403, "no").to_reply().status(), 403);
    }
}
