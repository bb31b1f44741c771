//! The built-in supplier of AWS credentials and region: the reference's
//! `_DefaultAwsSecurityCredentialsSupplier`. The environment first, then AWS's instance metadata
//! service (IMDS), with an `IMDSv2` session token when a token URL is configured. Every reply is
//! size-capped and checked; no error repeats a reply's body.

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::{BuildError, Error, ErrorKind};
use http::{HeaderValue, Method, StatusCode};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use super::{env, sigv4, url};
use crate::supplier::{AwsSecurityCredentials, AwsSecurityCredentialsSupplier, SupplierContext};

/// More than this from the metadata service is not an answer (a region, a role name, a token
/// or a credentials document are at most a few kilobytes).
pub const MAX_AWS_METADATA_REPLY_BYTES: usize = 64 * 1024;

/// The header asking for an `IMDSv2` session token of this many seconds.
const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";

/// The session token's lifetime: short, since it is used at once (the reference's).
const TTL_SECONDS: &str = "300";

/// The header carrying the session token on the metadata requests.
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";

/// A session token longer than this is not one (AWS's are about 60 bytes).
const MAX_SESSION_TOKEN_BYTES: usize = 4096;

/// An IAM role name: at most 64 of letters, digits and `+=,.@_-` (128 allowed here).
const MAX_ROLE_NAME_BYTES: usize = 128;

/// The reference's error prefixes, one per request.
const SESSION_TOKEN: &str = "Unable to retrieve AWS Session Token";
const REGION: &str = "Unable to retrieve AWS region";
const ROLE_NAME: &str = "Unable to retrieve AWS role name";
const SECURITY_CREDENTIALS: &str = "Unable to retrieve AWS security credentials";

/// The built-in [`AwsSecurityCredentialsSupplier`], as the reference's default one:
///
/// - the region from `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the metadata service's
///   availability zone at the region URL without its last character (`us-east-2b` is in
///   `us-east-2`);
/// - the credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`,
///   else from the metadata service: the role name at the security credentials URL, then the
///   role's `AccessKeyId`, `SecretAccessKey` and `Token` at that URL followed by `/ROLE`;
/// - before the metadata requests of each (and only when the environment did not answer), an
///   `IMDSv2` session token from `PUT` at the session token URL, when one is configured, sent as
///   `X-aws-ec2-metadata-token`.
///
/// Environment variables are read through the credentials' lookup
/// ([`SupplierContext::env`]), requests go through their transport. Plain `http` is accepted
/// only to loopback and to the metadata service's addresses, `169.254.169.254` and
/// `[fd00:ec2::254]` (the transport must allow the latter: `credkit-reqwest` does with
/// `allow_plain_http_host("[fd00:ec2::254]")`).
///
/// ```
/// use credkit_external_account::DefaultAwsSecurityCredentialsSupplier;
///
/// let supplier = DefaultAwsSecurityCredentialsSupplier::new()
///     .with_region_url("http://169.254.169.254/latest/meta-data/placement/availability-zone")?
///     .with_security_credentials_url("http://169.254.169.254/latest/meta-data/iam/security-credentials")?
///     .with_imdsv2_session_token_url("http://169.254.169.254/latest/api/token")?;
/// assert!(supplier.region_url().is_some());
/// assert!(DefaultAwsSecurityCredentialsSupplier::new()
///     .with_region_url("http://metadata.example/zone")
///     .is_err());
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
#[allow(
    clippy::struct_field_names,
    reason = "the reference's names: three URLs"
)]
pub struct DefaultAwsSecurityCredentialsSupplier {
    region_url: Option<String>,
    security_credentials_url: Option<String>,
    imdsv2_session_token_url: Option<String>,
}

impl DefaultAwsSecurityCredentialsSupplier {
    /// A supplier reading the environment only: without URLs, the metadata service is not
    /// asked, and what the environment lacks is an error.
    pub fn new() -> Self {
        Self::default()
    }

    /// The availability zone's URL (`region_url`).
    ///
    /// # Errors
    ///
    /// A URL that is not `https`, or plain `http` to loopback or the metadata service.
    pub fn with_region_url(mut self, url: impl Into<String>) -> Result<Self, BuildError> {
        let url = url.into();
        url::check_metadata_url(&url, "region_url")?;
        self.region_url = Some(url);
        Ok(self)
    }

    /// The security credentials URL (`url`): the role name there, the role's credentials at
    /// `URL/ROLE`.
    ///
    /// # Errors
    ///
    /// As [`with_region_url`](Self::with_region_url).
    pub fn with_security_credentials_url(
        mut self,
        url: impl Into<String>,
    ) -> Result<Self, BuildError> {
        let url = url.into();
        url::check_metadata_url(&url, "url")?;
        self.security_credentials_url = Some(url);
        Ok(self)
    }

    /// The `IMDSv2` session token URL (`imdsv2_session_token_url`).
    ///
    /// # Errors
    ///
    /// As [`with_region_url`](Self::with_region_url).
    pub fn with_imdsv2_session_token_url(
        mut self,
        url: impl Into<String>,
    ) -> Result<Self, BuildError> {
        let url = url.into();
        url::check_metadata_url(&url, "imdsv2_session_token_url")?;
        self.imdsv2_session_token_url = Some(url);
        Ok(self)
    }

    /// The availability zone's URL, if configured.
    pub fn region_url(&self) -> Option<&str> {
        self.region_url.as_deref()
    }

    /// The security credentials URL, if configured.
    pub fn security_credentials_url(&self) -> Option<&str> {
        self.security_credentials_url.as_deref()
    }

    /// The `IMDSv2` session token URL, if configured.
    pub fn imdsv2_session_token_url(&self) -> Option<&str> {
        self.imdsv2_session_token_url.as_deref()
    }

    /// The session token, when a token URL is configured.
    async fn session_token(
        &self,
        context: &SupplierContext,
    ) -> Result<Option<SessionToken>, Error> {
        let Some(url) = &self.imdsv2_session_token_url else {
            return Ok(None);
        };
        let body = fetch(
            context,
            Method::PUT,
            url,
            Some((TTL_HEADER, HeaderValue::from_static(TTL_SECONDS))),
            SESSION_TOKEN,
        )
        .await?;
        let token = read_session_token(&body)?;
        let mut value = HeaderValue::from_str(token.expose_secret())
            .map_err(|_| invalid(SESSION_TOKEN, "the token is not a header value"))?;
        value.set_sensitive(true);
        Ok(Some(SessionToken(value)))
    }
}

/// The session token as a header value (marked sensitive; no `Debug`, so it cannot be shown).
struct SessionToken(HeaderValue);

impl SessionToken {
    fn header(token: Option<&Self>) -> Option<(&'static str, HeaderValue)> {
        token.map(|token| (TOKEN_HEADER, token.0.clone()))
    }
}

#[async_trait]
impl AwsSecurityCredentialsSupplier for DefaultAwsSecurityCredentialsSupplier {
    async fn aws_region(&self, context: &SupplierContext) -> Result<String, Error> {
        if let Some(region) = env::region(context) {
            return Ok(region);
        }
        let Some(url) = &self.region_url else {
            return Err(Error::new(
                ErrorKind::Configuration,
                "Unable to determine AWS region",
            ));
        };
        let token = self.session_token(context).await?;
        let body = fetch(
            context,
            Method::GET,
            url,
            SessionToken::header(token.as_ref()),
            REGION,
        )
        .await?;
        read_region(&body)
    }

    async fn aws_security_credentials(
        &self,
        context: &SupplierContext,
    ) -> Result<AwsSecurityCredentials, Error> {
        if let Some(credentials) = env::credentials(context) {
            return Ok(credentials);
        }
        // The reference asks for the session token before it looks at the URL.
        let token = self.session_token(context).await?;
        let Some(url) = &self.security_credentials_url else {
            return Err(Error::new(
                ErrorKind::Configuration,
                "Unable to determine the AWS metadata server security credentials endpoint",
            ));
        };
        let body = fetch(
            context,
            Method::GET,
            url,
            SessionToken::header(token.as_ref()),
            ROLE_NAME,
        )
        .await?;
        let role = read_role_name(&body)?;
        let body = fetch(
            context,
            Method::GET,
            &format!("{url}/{role}"),
            SessionToken::header(token.as_ref()),
            SECURITY_CREDENTIALS,
        )
        .await?;
        read_security_credentials(&body)
    }
}

/// One request to the metadata service: its body when it answered `200` with at most
/// [`MAX_AWS_METADATA_REPLY_BYTES`]; else an error naming the status, never the body.
async fn fetch(
    context: &SupplierContext,
    method: Method,
    url: &str,
    header: Option<(&'static str, HeaderValue)>,
    what: &'static str,
) -> Result<Bytes, Error> {
    let mut request = http::Request::builder().method(method).uri(url);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    let request = request.body(Bytes::new()).map_err(|_| {
        Error::new(
            ErrorKind::Configuration,
            format!("{what}: the metadata URL is not a valid request URI"),
        )
    })?;
    let response = context.transport()?.send(request).await?;
    let status = response.status();
    if status.is_redirection() {
        return Err(Error::new(
            ErrorKind::Provider,
            format!(
                "{what}: the metadata service answered with a redirect (HTTP {}), which credkit does not follow",
                status.as_u16()
            ),
        )
        .with_http_status(status.as_u16()));
    }
    if status != StatusCode::OK {
        let transient = credkit_core::classify::is_transient_status(status.as_u16());
        return Err(Error::new(
            ErrorKind::Provider,
            format!(
                "{what}: the metadata service answered HTTP {}",
                status.as_u16()
            ),
        )
        .with_http_status(status.as_u16())
        .with_transient(transient));
    }
    let body = response.into_body();
    if body.len() > MAX_AWS_METADATA_REPLY_BYTES {
        return Err(invalid(
            what,
            &format!("the reply is larger than {MAX_AWS_METADATA_REPLY_BYTES} bytes"),
        ));
    }
    Ok(body)
}

fn invalid(what: &str, why: &str) -> Error {
    Error::new(ErrorKind::InvalidResponse, format!("{what}: {why}"))
}

fn utf8<'a>(body: &'a [u8], what: &str) -> Result<&'a str, Error> {
    if body.len() > MAX_AWS_METADATA_REPLY_BYTES {
        return Err(invalid(
            what,
            &format!("the reply is larger than {MAX_AWS_METADATA_REPLY_BYTES} bytes"),
        ));
    }
    std::str::from_utf8(body).map_err(|_| invalid(what, "the reply is not UTF-8 text"))
}

/// An `IMDSv2` session token: visible ASCII (it goes in a header), at most 4 KiB.
pub(crate) fn read_session_token(body: &[u8]) -> Result<SecretString, Error> {
    let text = utf8(body, SESSION_TOKEN)?;
    if text.len() > MAX_SESSION_TOKEN_BYTES {
        return Err(invalid(
            SESSION_TOKEN,
            &format!("the token is longer than {MAX_SESSION_TOKEN_BYTES} bytes"),
        ));
    }
    if !sigv4::is_header_token(text) {
        return Err(invalid(
            SESSION_TOKEN,
            "the token is empty or has characters other than visible ASCII",
        ));
    }
    Ok(SecretString::from(text))
}

/// The region of an availability zone: the reply without its last character, as the reference
/// reads it (`us-east-2b` is in `us-east-2`), then checked to be a region name.
pub(crate) fn read_region(body: &[u8]) -> Result<String, Error> {
    let zone = utf8(body, REGION)?;
    let region = zone
        .char_indices()
        .last()
        .map_or("", |(last, _)| &zone[..last]);
    if !sigv4::is_region(region) {
        return Err(invalid(
            REGION,
            "the availability zone is not a region name followed by a zone letter",
        ));
    }
    Ok(region.to_owned())
}

/// The role name: the whole reply, as the reference takes it, checked to be an IAM name (it
/// goes in the next URL's path, so neither `.` nor `..`).
pub(crate) fn read_role_name(body: &[u8]) -> Result<String, Error> {
    let role = utf8(body, ROLE_NAME)?;
    // `.` and `..` are dot segments: the next URL would name another path.
    let valid = !role.is_empty()
        && role != "."
        && role != ".."
        && role.len() <= MAX_ROLE_NAME_BYTES
        && role
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if !valid {
        return Err(invalid(
            ROLE_NAME,
            "the reply is not one IAM role name (letters, digits and +=,.@_-)",
        ));
    }
    Ok(role.to_owned())
}

/// The role's credentials: a JSON object with string members `AccessKeyId` and
/// `SecretAccessKey`, and `Token` (absent or `null` for none). The parsed document is wiped.
pub(crate) fn read_security_credentials(body: &[u8]) -> Result<AwsSecurityCredentials, Error> {
    let text = utf8(body, SECURITY_CREDENTIALS)?;
    let mut json: Value = serde_json::from_str(text)
        .map_err(|_| invalid(SECURITY_CREDENTIALS, "the reply is not JSON"))?;
    let credentials = credentials_of(&json);
    credkit_core::oauth::zeroize_json(&mut json);
    credentials
}

fn credentials_of(json: &Value) -> Result<AwsSecurityCredentials, Error> {
    let Value::Object(members) = json else {
        return Err(invalid(
            SECURITY_CREDENTIALS,
            "the reply is not a JSON object",
        ));
    };
    let string = |name: &str| match members.get(name) {
        Some(Value::String(value)) if !value.is_empty() => Ok(Some(value.as_str())),
        None | Some(Value::Null) => Ok(None),
        Some(_) => Err(invalid(
            SECURITY_CREDENTIALS,
            &format!("{name} is not a non-empty string"),
        )),
    };
    let required = |name: &str| {
        string(name)?.ok_or_else(|| invalid(SECURITY_CREDENTIALS, &format!("{name} is missing")))
    };
    let access_key_id = required("AccessKeyId")?;
    let secret = required("SecretAccessKey")?;
    let token = string("Token")?;
    if !sigv4::is_header_token(access_key_id) {
        return Err(invalid(
            SECURITY_CREDENTIALS,
            "AccessKeyId has characters other than visible ASCII",
        ));
    }
    if token.is_some_and(|token| !sigv4::is_header_token(token)) {
        return Err(invalid(
            SECURITY_CREDENTIALS,
            "Token has characters other than visible ASCII",
        ));
    }
    let credentials = AwsSecurityCredentials::new(access_key_id, SecretString::from(secret));
    Ok(match token {
        Some(token) => credentials.with_session_token(SecretString::from(token)),
        None => credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_lose_their_last_character() {
        assert_eq!(read_region(b"us-east-2b").unwrap(), "us-east-2");
        assert_eq!(read_region(b"us-west-2-lax-1a").unwrap(), "us-west-2-lax-1");
        for bad in [
            &b""[..],
            b"a",
            b"us east-1b",
            b"us-east-1/\xff",
            b"evil.example/a",
        ] {
            let err = read_region(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidResponse);
            assert!(err.to_string().starts_with(REGION), "{err}");
        }
        // The last character, not the last byte.
        assert!(read_region("us-east-1é".as_bytes()).is_ok());
    }

    #[test]
    fn replies_are_capped_at_the_limit_not_before() {
        let at_limit = vec![b'a'; MAX_AWS_METADATA_REPLY_BYTES];
        let over = vec![b'a'; MAX_AWS_METADATA_REPLY_BYTES + 1];
        // At the limit, the reply is read (and refused for what it says).
        assert_eq!(
            read_region(&at_limit).unwrap_err().to_string(),
            format!(
                "{REGION}: the availability zone is not a region name followed by a zone letter"
            )
        );
        assert_eq!(
            read_region(&over).unwrap_err().to_string(),
            format!("{REGION}: the reply is larger than {MAX_AWS_METADATA_REPLY_BYTES} bytes")
        );
        assert!(read_session_token(&[b'a'; MAX_SESSION_TOKEN_BYTES]).is_ok());
    }

    #[test]
    fn role_names_are_iam_names() {
        assert_eq!(read_role_name(b"my-role+=,.@_").unwrap(), "my-role+=,.@_");
        for bad in [
            &b""[..],
            b"a/b",
            b"role\n",
            b"role name",
            b"r\xc3\xa9",
            b".",
            b"..",
        ] {
            assert!(read_role_name(bad).is_err(), "{bad:?}");
        }
        assert!(read_role_name(&[b'a'; MAX_ROLE_NAME_BYTES + 1]).is_err());
    }

    /// Found by the `aws_metadata` fuzz target: `..` is made of allowed characters, and would
    /// have sent the credentials request to the parent path.
    #[test]
    fn fuzz_regression_dot_segment_role_names() {
        assert!(read_role_name(b"..").is_err());
        assert!(read_role_name(b".").is_err());
        assert!(read_role_name(b"...").is_ok());
    }

    #[test]
    fn session_tokens_fit_a_header() {
        assert!(read_session_token(b"AQAEAE==").is_ok());
        for bad in [&b""[..], b"a b", b"a\r\nx-evil: 1", b"\xff"] {
            assert!(read_session_token(bad).is_err(), "{bad:?}");
        }
        assert!(read_session_token(&[b'a'; MAX_SESSION_TOKEN_BYTES + 1]).is_err());
    }

    #[test]
    fn credentials_documents_are_checked_member_by_member() {
        let ok = read_security_credentials(
            br#"{"Code":"Success","AccessKeyId":"ASIA1","SecretAccessKey":"planted-secret-key","Token":"planted-session-token"}"#,
        )
        .unwrap();
        assert_eq!(ok.access_key_id(), "ASIA1");
        assert!(ok.session_token().is_some());
        let no_token =
            read_security_credentials(br#"{"AccessKeyId":"A","SecretAccessKey":"s","Token":null}"#)
                .unwrap();
        assert!(no_token.session_token().is_none());
        for (body, message) in [
            (&b"not json planted-secret-key"[..], "the reply is not JSON"),
            (b"[1]", "the reply is not a JSON object"),
            (
                br#"{"SecretAccessKey":"planted-secret-key"}"#,
                "AccessKeyId is missing",
            ),
            (br#"{"AccessKeyId":"A"}"#, "SecretAccessKey is missing"),
            (
                br#"{"AccessKeyId":"A","SecretAccessKey":7}"#,
                "SecretAccessKey is not a non-empty string",
            ),
            (
                br#"{"AccessKeyId":"A","SecretAccessKey":""}"#,
                "SecretAccessKey is not a non-empty string",
            ),
            (
                br#"{"AccessKeyId":"A B","SecretAccessKey":"s"}"#,
                "AccessKeyId has characters other than visible ASCII",
            ),
            (
                br#"{"AccessKeyId":"A","SecretAccessKey":"s","Token":"planted\ntoken"}"#,
                "Token has characters other than visible ASCII",
            ),
        ] {
            let err = read_security_credentials(body).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("{SECURITY_CREDENTIALS}: {message}")
            );
            assert!(!err.to_string().contains("planted"));
        }
    }
}
