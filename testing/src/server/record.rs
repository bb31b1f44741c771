//! `RecordedRequest`: what the fake token endpoint received.

use std::fmt;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, Method, Uri};

/// Form fields whose values `Debug` hides: they carry secrets in OAuth requests.
const SECRET_FIELDS: [&str; 10] = [
    "access_token",
    "assertion",
    "client_secret",
    "code",
    "code_verifier",
    "id_token",
    "password",
    "rapt",
    "refresh_token",
    "subject_token",
];

/// One request as the fake token endpoint received it: method, path, headers, the raw body, and
/// the form fields parsed from it.
///
/// # Examples
///
/// ```
/// use credkit_core::Transport;
/// use credkit_testing::FakeTokenEndpoint;
///
/// # futures::executor::block_on(async {
/// let endpoint = FakeTokenEndpoint::new();
/// let request = http::Request::post(endpoint.token_url())
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(bytes::Bytes::from_static(b"grant_type=refresh_token&scope=email+profile"))?;
/// endpoint.send(request).await?;
///
/// let seen = endpoint.last_request().expect("one request");
/// assert_eq!(seen.method(), "POST");
/// assert_eq!(seen.path(), "/token");
/// assert_eq!(seen.header("content-type"), Some("application/x-www-form-urlencoded"));
/// assert_eq!(seen.form_value("scope"), Some("email profile"));
/// assert_eq!(seen.form_keys(), ["grant_type", "scope"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// Its `Debug` shows the form with the values of secret-bearing fields (`refresh_token`,
/// `client_secret`, `rapt`, `code`, ...) and the `Authorization` header hidden, and the body by
/// length only; the accessors return everything.
#[derive(Clone)]
pub struct RecordedRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    form: Vec<(String, String)>,
}

impl RecordedRequest {
    pub(crate) fn new(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Self {
        let form = if is_form(&headers) {
            form_urlencoded::parse(&body).into_owned().collect()
        } else {
            Vec::new()
        };
        Self {
            method,
            uri,
            headers,
            body,
            form,
        }
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The path, such as `/token`.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The query string without the `?`, if there was one.
    pub fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    /// All the request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The first value of header `name`, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The token of an `Authorization: Bearer <token>` header, if the request had one.
    ///
    /// ```
    /// use credkit_core::Transport;
    /// use credkit_testing::FakeTokenEndpoint;
    ///
    /// # futures::executor::block_on(async {
    /// let endpoint = FakeTokenEndpoint::new();
    /// let request = http::Request::get("http://127.0.0.1:9/v1/files")
    ///     .header("authorization", "Bearer ya29.sent")
    ///     .body(bytes::Bytes::new())?;
    /// endpoint.send(request).await?;
    /// assert_eq!(endpoint.last_request().unwrap().bearer_token(), Some("ya29.sent"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn bearer_token(&self) -> Option<&str> {
        super::bearer::bearer_token(self.header(AUTHORIZATION.as_str()))
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The form fields in the order sent, decoded (`+` and `%20` become spaces), when the
    /// content type was `application/x-www-form-urlencoded`; empty otherwise.
    pub fn form(&self) -> &[(String, String)] {
        &self.form
    }

    /// The value of the first form field named `name`.
    pub fn form_value(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The form field names in the order sent, repeats included.
    pub fn form_keys(&self) -> Vec<&str> {
        self.form.iter().map(|(key, _)| key.as_str()).collect()
    }
}

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let form = redacted_form(&self.form, &SECRET_FIELDS);
        let headers = redacted_headers(&self.headers);
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path())
            .field("headers", &headers)
            .field("body_len", &self.body.len())
            .field("form", &form)
            .finish_non_exhaustive()
    }
}

/// Whether `headers` declare an `application/x-www-form-urlencoded` body.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A recorded form for `Debug`: the members named in `secrets` shown as `[REDACTED]`.
pub(crate) fn redacted_form<'a>(
    form: &'a [(String, String)],
    secrets: &[&str],
) -> Vec<(&'a str, &'a str)> {
    form.iter()
        .map(|(key, value)| {
            let shown = if secrets.contains(&key.as_str()) {
                "[REDACTED]"
            } else {
                value.as_str()
            };
            (key.as_str(), shown)
        })
        .collect()
}

/// Recorded headers for `Debug`: `Authorization` shown as `[REDACTED]`.
pub(crate) fn redacted_headers(headers: &HeaderMap) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(name, value)| {
            let shown = if *name == AUTHORIZATION {
                "[REDACTED]"
            } else {
                value.to_str().unwrap_or("[binary]")
            };
            (name.as_str(), shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(content_type: &str, body: &'static str) -> RecordedRequest {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, content_type.parse().unwrap());
        headers.insert(AUTHORIZATION, "Bearer ya29.secret-header".parse().unwrap());
        RecordedRequest::new(
            Method::POST,
            Uri::from_static("/token?x=1"),
            headers,
            Bytes::from_static(body.as_bytes()),
        )
    }

    #[test]
    fn debug_hides_secret_fields_and_the_authorization_header() {
        let request = recorded(
            "application/x-www-form-urlencoded; charset=utf-8",
            "grant_type=refresh_token&client_secret=cs-secret&refresh_token=rt-secret&rapt=rapt-secret&scope=email",
        );
        let shown = format!("{request:?}");
        for secret in ["cs-secret", "rt-secret", "rapt-secret", "secret-header"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("email"), "{shown}");
        assert_eq!(request.form_value("refresh_token"), Some("rt-secret"));
        assert_eq!(request.query(), Some("x=1"));
    }

    #[test]
    fn only_form_bodies_are_parsed() {
        assert!(recorded("application/json", "a=b").form().is_empty());
        let form = recorded("Application/X-WWW-Form-Urlencoded", "a=b+c&a=%2B");
        assert_eq!(
            form.form(),
            [
                ("a".to_owned(), "b c".to_owned()),
                ("a".to_owned(), "+".to_owned())
            ]
        );
        assert_eq!(form.form_keys(), ["a", "a"]);
    }
}
