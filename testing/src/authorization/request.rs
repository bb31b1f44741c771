//! `AuthorizationRequest`: what the fake authorization server received.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

use crate::RecordedRequest;

/// Query and form members whose values `Debug` hides.
const SECRET_MEMBERS: [&str; 8] = [
    "access_token",
    "client_secret",
    "code",
    "code_verifier",
    "device_code",
    "id_token",
    "refresh_token",
    "token",
];

/// One request as the fake authorization server received it: method, path, headers, the
/// query's members and the form's (decoded), the raw body.
///
/// [`param`](Self::param) and [`params`](Self::params) read the query's members then the
/// form's, so a test reads the authorization request's `prompt`, `login_hint`,
/// `include_granted_scopes` or `access_type` as it reads the token request's `grant_type`.
///
/// Its `Debug` hides the values of `code`, `code_verifier`, `client_secret`, `refresh_token`,
/// `token`, `device_code`, `access_token` and `id_token` (in the query and in the form) and
/// the `Authorization` header; the accessors return everything.
///
/// # Examples
///
/// ```
/// use credkit_testing::FakeAuthorizationServer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = FakeAuthorizationServer::start().await?;
/// // ... the code under test opens server.authorize_url() with its query, then:
/// for request in server.requests().iter().filter(|r| r.path() == "/o/oauth2/auth") {
///     assert_eq!(request.method(), "GET");
///     assert_eq!(request.param("access_type"), Some("offline"));
///     assert_eq!(request.params("code_challenge_method"), ["S256"]);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AuthorizationRequest {
    request: RecordedRequest,
    query: Vec<(String, String)>,
}

/// The path, headers, body and form are the recorded request's: [`RecordedRequest`]'s
/// accessors answer for them.
impl std::ops::Deref for AuthorizationRequest {
    type Target = RecordedRequest;

    fn deref(&self) -> &RecordedRequest {
        &self.request
    }
}

impl AuthorizationRequest {
    pub(crate) fn new(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Self {
        let query = uri
            .query()
            .map(|query| {
                form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Self {
            request: RecordedRequest::new(method, uri, headers, body),
            query,
        }
    }

    /// The method, such as `GET`.
    pub fn method(&self) -> &str {
        self.request.method().as_str()
    }

    /// The first value of member `name`: of the query, else of the form.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.members()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    /// Every value of member `name`: the query's, then the form's, in the order sent.
    pub fn params(&self, name: &str) -> Vec<&str> {
        self.members()
            .filter(|(key, _)| *key == name)
            .map(|(_, value)| value)
            .collect()
    }

    /// The query's members in the order sent, decoded.
    pub fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    fn members(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query
            .iter()
            .chain(self.request.form())
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

impl fmt::Debug for AuthorizationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let query = crate::server::redacted_form(&self.query, &SECRET_MEMBERS);
        let form = crate::server::redacted_form(self.form(), &SECRET_MEMBERS);
        let headers = crate::server::redacted_headers(self.headers());
        f.debug_struct("AuthorizationRequest")
            .field("method", &self.method())
            .field("path", &self.path())
            .field("query", &query)
            .field("headers", &headers)
            .field("body_len", &self.body().len())
            .field("form", &form)
            .finish_non_exhaustive()
    }
}
