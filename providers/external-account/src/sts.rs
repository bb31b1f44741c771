//! Google's Security Token Service, as the reference's `google.oauth2.sts.Client`: the token
//! exchange of RFC 8693 and the refresh-token grant of `external_account_authorized_user`, with
//! optional HTTP basic client authentication.

use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use credkit_core::{AccessToken, Clock, Error, Transport, oauth};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret as _, SecretString};
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// The grant type of the token exchange.
pub const TOKEN_EXCHANGE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The token type the exchange asks for: always an access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Python's `urllib.parse.quote` with its default `safe="/"`: everything but letters, digits,
/// `_ . - ~` and `/` is percent-encoded.
const PYTHON_QUOTE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

/// OAuth client authentication to STS: HTTP basic with the client ID and secret (an absent
/// secret is the empty password, as the reference sends it).
#[derive(Clone)]
pub(crate) struct ClientAuth {
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<SecretString>,
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl ClientAuth {
    /// `Basic base64(client_id:client_secret)`, zeroized on drop.
    fn header(&self) -> Zeroizing<String> {
        let secret = self
            .client_secret
            .as_ref()
            .map_or("", |secret| secret.expose_secret());
        let pair = Zeroizing::new(format!("{}:{secret}", self.client_id));
        let mut header = Zeroizing::new(String::from("Basic "));
        base64::engine::general_purpose::STANDARD.encode_string(pair.as_bytes(), &mut header);
        header
    }
}

/// One token exchange's members, in the reference's order; empty ones are left out.
#[derive(Debug)]
pub(crate) struct Exchange<'a> {
    pub(crate) audience: &'a str,
    pub(crate) scopes: &'a [String],
    pub(crate) subject_token_type: &'a str,
    /// Google's `options`: `{"userProject": ...}` for a workforce pool without a client.
    pub(crate) user_project: Option<&'a str>,
}

/// A client of one STS endpoint.
#[derive(Clone, Debug)]
pub(crate) struct StsClient {
    pub(crate) token_url: String,
    pub(crate) client_auth: Option<ClientAuth>,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl StsClient {
    /// Exchanges `subject_token` as RFC 8693 says, for an access token whose lifetime counts
    /// from `started` (taken before the subject token was fetched, as the reference does).
    pub(crate) async fn exchange(
        &self,
        exchange: &Exchange<'_>,
        subject_token: &SecretString,
        started: OffsetDateTime,
    ) -> Result<AccessToken, Error> {
        let body = exchange_form(exchange, subject_token);
        self.post(body, &[subject_token], Some(started)).await
    }

    /// The refresh-token grant of RFC 6749, section 6, to the same endpoint.
    pub(crate) async fn refresh(&self, refresh_token: &SecretString) -> Result<AccessToken, Error> {
        let body = oauth::form_body(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
        ]);
        self.post(body, &[refresh_token], None).await
    }

    /// Posts `body`; the token's lifetime counts from `started`, else from now.
    async fn post(
        &self,
        body: Bytes,
        secrets: &[&SecretString],
        started: Option<OffsetDateTime>,
    ) -> Result<AccessToken, Error> {
        let mut request = http::Request::post(self.token_url.as_str())
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)?;
        if let Some(auth) = &self.client_auth {
            let header = auth.header();
            let mut value = http::HeaderValue::from_str(&header).map_err(|_| {
                Error::new(
                    credkit_core::ErrorKind::Configuration,
                    "the client_id has characters an HTTP header cannot carry",
                )
            })?;
            value.set_sensitive(true);
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value);
        }
        let mut scrubbed: Vec<&SecretString> = secrets.to_vec();
        if let Some(secret) = self
            .client_auth
            .as_ref()
            .and_then(|auth| auth.client_secret.as_ref())
        {
            scrubbed.push(secret);
        }
        // Before the request: the token's lifetime counts from here.
        let sent_at = started.unwrap_or_else(|| self.clock.now());
        let response = self.transport.send(request).await?;
        oauth::read_token_response(&response, sent_at, &scrubbed)
    }
}

/// The exchange's form body, member for member as the reference builds it: `grant_type`,
/// `audience`, `scope` (space-separated), `requested_token_type`, `subject_token`,
/// `subject_token_type`, `options` (the JSON text quoted once, then form-encoded like every
/// member, as the reference does).
pub(crate) fn exchange_form(exchange: &Exchange<'_>, subject_token: &SecretString) -> Bytes {
    let scope = exchange.scopes.join(" ");
    let options = exchange.user_project.map(|project| {
        // `json.dumps({"userProject": project})`: a space after the colon, and every character
        // past ASCII escaped as `\uXXXX` (UTF-16), as `ensure_ascii` does.
        let json = format!("{{\"userProject\": {}}}", ascii_json_string(project));
        utf8_percent_encode(&json, PYTHON_QUOTE).to_string()
    });
    let members = [
        ("grant_type", Some(TOKEN_EXCHANGE_GRANT_TYPE)),
        ("audience", Some(exchange.audience)),
        ("scope", Some(scope.as_str())),
        ("requested_token_type", Some(ACCESS_TOKEN_TYPE)),
        ("subject_token", Some(subject_token.expose_secret())),
        ("subject_token_type", Some(exchange.subject_token_type)),
        ("options", options.as_deref()),
    ];
    let pairs: Vec<(&str, &str)> = members
        .iter()
        .filter_map(|(name, value)| value.filter(|v| !v.is_empty()).map(|v| (*name, v)))
        .collect();
    oauth::form_body(&pairs)
}

/// `s` as Python's `json.dumps` writes a string: quoted, JSON escapes, and every non-ASCII
/// character as `\uXXXX` escapes of its UTF-16 units.
fn ascii_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    // serde_json writes the quotes and the ASCII escapes (`\"`, `\\`, `\n`, `\u0001`); what is
    // left past ASCII is re-escaped here.
    let quoted = serde_json::Value::String(s.to_owned()).to_string();
    for c in quoted.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0_u16; 2];
            for unit in c.encode_utf16(&mut units) {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange<'a>(scopes: &'a [String], user_project: Option<&'a str>) -> Exchange<'a> {
        Exchange {
            audience: "//iam.googleapis.com/locations/global/workforcePools/p/providers/q",
            scopes,
            subject_token_type: "urn:ietf:params:oauth:token-type:id_token",
            user_project,
        }
    }

    #[test]
    fn the_form_is_the_references() {
        let scopes = vec!["a".to_owned(), "b c".to_owned()];
        let body = exchange_form(&exchange(&scopes, Some("123")), &"tok~*".into());
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
             &audience=%2F%2Fiam.googleapis.com%2Flocations%2Fglobal%2FworkforcePools%2Fp%2Fproviders%2Fq\
             &scope=a+b+c\
             &requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token\
             &subject_token=tok~%2A\
             &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aid_token\
             &options=%257B%2522userProject%2522%253A%2520%2522123%2522%257D"
        );
    }

    #[test]
    fn json_strings_are_written_as_json_dumps_writes_them() {
        assert_eq!(ascii_json_string("p-1"), "\"p-1\"");
        assert_eq!(ascii_json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(ascii_json_string("proj-\u{f6}"), "\"proj-\\u00f6\"");
        assert_eq!(ascii_json_string("\u{1f600}"), "\"\\ud83d\\ude00\"");
    }

    #[test]
    fn empty_members_are_left_out() {
        let body = exchange_form(&exchange(&[], None), &"t".into());
        let text = std::str::from_utf8(&body).unwrap();
        assert!(!text.contains("scope="), "{text}");
        assert!(!text.contains("options="), "{text}");
        assert!(text.contains("&subject_token=t&"), "{text}");
    }

    #[test]
    fn basic_auth_is_id_colon_secret_and_hides_the_secret() {
        let auth = ClientAuth {
            client_id: "id".into(),
            client_secret: Some("s3cret".into()),
        };
        // base64("id:s3cret")
        assert_eq!(auth.header().as_str(), "Basic aWQ6czNjcmV0");
        let debug = format!("{auth:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("client_id: \"id\""), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
        let no_secret = ClientAuth {
            client_id: "id".into(),
            client_secret: None,
        };
        // base64("id:")
        assert_eq!(no_secret.header().as_str(), "Basic aWQ6");
    }
}
