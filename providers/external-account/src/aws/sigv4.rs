//! AWS Signature Version 4 applied to `GetCallerIdentity`, and the signed request serialized
//! into a subject token, byte for byte as the reference's `RequestSigner.get_request_options`
//! and `Credentials.retrieve_subject_token` do: the URL-quoted JSON (keys sorted, no spaces,
//! non-ASCII escaped) of the URL, the method and the headers in the reference's order.

use std::fmt::Write as _;

use aws_lc_rs::{digest, hmac};
use credkit_core::time::{OffsetDateTime, UtcOffset};
use credkit_core::{Error, ErrorKind};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret as _, SecretString};
use zeroize::Zeroizing;

use super::url::{SplitUrl, canonical_querystring, canonical_uri};
use crate::supplier::AwsSecurityCredentials;

/// The signing algorithm.
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The termination of the credential scope.
const REQUEST_TYPE: &str = "aws4_request";

/// The method of the signed request.
const METHOD: &str = "POST";

/// Python's `urllib.parse.quote` with its default `safe="/"`.
const PYTHON_QUOTE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~')
    .remove(b'/');

/// What the signature covers besides the credentials.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    /// The verification URL, `{region}` already substituted.
    pub(crate) url: &'a str,
    /// The AWS region.
    pub(crate) region: &'a str,
    /// The time of the signature.
    pub(crate) now: OffsetDateTime,
    /// The audience, sent as `x-goog-cloud-target-resource`.
    pub(crate) target_resource: &'a str,
}

/// The subject token: the signed `GetCallerIdentity` request, serialized.
///
/// # Errors
///
/// A URL that is not `https` with a host ("Invalid AWS service URL", the reference's text), a
/// region that is not a region name, or credentials that cannot go in a header.
pub(crate) fn subject_token(
    credentials: &AwsSecurityCredentials,
    request: &Request<'_>,
) -> Result<SecretString, Error> {
    let split = SplitUrl::parse(request.url)
        .filter(|split| split.scheme.eq_ignore_ascii_case("https"))
        .ok_or_else(invalid_url)?;
    let host = split.hostname().ok_or_else(invalid_url)?;
    check_region(request.region)?;
    check_credentials(credentials)?;
    let session_token = credentials
        .session_token()
        .map(secrecy::ExposeSecret::expose_secret);

    let now = request.now.to_offset(UtcOffset::UTC);
    let date_stamp = format!(
        "{:04}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    let amz_date = format!(
        "{date_stamp}T{:02}{:02}{:02}Z",
        now.hour(),
        now.minute(),
        now.second()
    );
    let first_label = host.split('.').next().unwrap_or("");
    let service = first_label.strip_suffix("-fips").unwrap_or(first_label);

    // The signed headers, sorted by name: host, x-amz-date, x-amz-security-token.
    let mut canonical_headers = Zeroizing::new(format!("host:{host}\nx-amz-date:{amz_date}\n"));
    let mut signed_headers = String::from("host;x-amz-date");
    if let Some(token) = session_token {
        canonical_headers.push_str("x-amz-security-token:");
        canonical_headers.push_str(token);
        canonical_headers.push('\n');
        signed_headers.push_str(";x-amz-security-token");
    }
    let canonical_request = Zeroizing::new(format!(
        "{METHOD}\n{}\n{}\n{}\n{signed_headers}\n{}",
        canonical_uri(split.path),
        canonical_querystring(split.query),
        canonical_headers.as_str(),
        hex(digest::digest(&digest::SHA256, b"").as_ref()),
    ));
    let credential_scope = format!("{date_stamp}/{}/{service}/{REQUEST_TYPE}", request.region);
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{credential_scope}\n{}",
        hex(digest::digest(&digest::SHA256, canonical_request.as_bytes()).as_ref())
    );
    let signing_key = signing_key(
        credentials.secret_access_key(),
        &date_stamp,
        request.region,
        service,
    );
    let signature = hex(hmac::sign(&signing_key, string_to_sign.as_bytes()).as_ref());
    let authorization = format!(
        "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id()
    );

    // The headers in the reference's order: its dictionary's insertion order.
    let mut headers: Vec<(&str, &str)> = vec![
        ("Authorization", &authorization),
        ("host", &host),
        ("x-amz-date", &amz_date),
    ];
    if let Some(token) = session_token {
        headers.push(("x-amz-security-token", token));
    }
    headers.push(("x-goog-cloud-target-resource", request.target_resource));
    Ok(serialize(request.url, &headers))
}

/// `quote(json.dumps({"url", "method", "headers": [{"key", "value"}...]}, separators=(",",
/// ":"), sort_keys=True))`.
fn serialize(url: &str, headers: &[(&str, &str)]) -> SecretString {
    let mut json = Zeroizing::new(String::from("{\"headers\":["));
    for (i, (key, value)) in headers.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str("{\"key\":");
        python_json_string(&mut json, key);
        json.push_str(",\"value\":");
        python_json_string(&mut json, value);
        json.push('}');
    }
    json.push_str("],\"method\":");
    python_json_string(&mut json, METHOD);
    json.push_str(",\"url\":");
    python_json_string(&mut json, url);
    json.push('}');
    let mut quoted = Zeroizing::new(String::with_capacity(json.len() * 3));
    for piece in utf8_percent_encode(&json, PYTHON_QUOTE) {
        quoted.push_str(piece);
    }
    SecretString::from(quoted.as_str())
}

/// A JSON string as Python's `json.dumps` writes it with `ensure_ascii=True`: `"` and `\`
/// escaped, the short escapes for `\b \f \n \r \t`, `\u00XX` for the other control
/// characters, `\uXXXX` (lowercase, surrogate pairs past the BMP) for everything past ASCII.
fn python_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c < ' ' || !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
fn signing_key(secret: &SecretString, date_stamp: &str, region: &str, service: &str) -> hmac::Key {
    let seed = Zeroizing::new(format!("AWS4{}", secret.expose_secret()));
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, seed.as_bytes());
    for part in [date_stamp, region, service, REQUEST_TYPE] {
        let tag = hmac::sign(&key, part.as_bytes());
        let bytes = Zeroizing::new(tag.as_ref().to_vec());
        key = hmac::Key::new(hmac::HMAC_SHA256, &bytes);
    }
    key
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn invalid_url() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "Invalid AWS service URL: the regional_cred_verification_url must be an absolute https URL with a host",
    )
}

/// A region is a name such as `us-east-1`: ASCII letters, digits and `-`, at most 64 of them.
pub(crate) fn is_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn check_region(region: &str) -> Result<(), Error> {
    if is_region(region) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::Configuration,
            "the AWS region is not a region name (ASCII letters, digits and '-', such as us-east-1)",
        ))
    }
}

/// Whether `text` can be a header value as the signed request carries it: visible ASCII.
pub(crate) fn is_header_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic())
}

/// The access key ID and the session token go in headers; the secret must not be empty.
fn check_credentials(credentials: &AwsSecurityCredentials) -> Result<(), Error> {
    let problem = if !is_header_token(credentials.access_key_id()) {
        Some("the AWS access key ID is empty or has characters other than visible ASCII")
    } else if credentials.secret_access_key().expose_secret().is_empty() {
        Some("the AWS secret access key is empty")
    } else if credentials
        .session_token()
        .is_some_and(|token| !token.expose_secret().bytes().all(|b| b.is_ascii_graphic()))
    {
        Some("the AWS session token has characters other than visible ASCII")
    } else {
        None
    };
    match problem {
        Some(message) => Err(Error::new(ErrorKind::Configuration, message)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// The subject tokens the reference (google-auth 2.63.1) returned for these credentials
    /// and this time, printed once: the live comparison is in `tests/aws.rs`.
    #[test]
    fn the_tokens_are_the_references() {
        let audience = "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/pool/providers/aws";
        let long_lived = AwsSecurityCredentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        );
        let temporary = long_lived
            .clone()
            .with_session_token("IQoJb3JpZ2luX2VjEPlanted/Token+==".into());
        for (credentials, expected) in [
            (
                long_lived,
                "%7B%22headers%22%3A%5B%7B%22key%22%3A%22Authorization%22%2C%22value%22%3A%22AWS4\
             -HMAC-SHA256%20Credential%3DAKIDEXAMPLE/20200811/us-east-2/sts/aws4_request%2C%2\
             0SignedHeaders%3Dhost%3Bx-amz-date%2C%20Signature%3Dc2cd16c60bad2917a87f35755cd1\
             4eb10bfcba1d10ea115e77ac3587711c6e17%22%7D%2C%7B%22key%22%3A%22host%22%2C%22valu\
             e%22%3A%22sts.us-east-2.amazonaws.com%22%7D%2C%7B%22key%22%3A%22x-amz-date%22%2C\
             %22value%22%3A%2220200811T065522Z%22%7D%2C%7B%22key%22%3A%22x-goog-cloud-target-\
             resource%22%2C%22value%22%3A%22//iam.googleapis.com/projects/123456/locations/gl\
             obal/workloadIdentityPools/pool/providers/aws%22%7D%5D%2C%22method%22%3A%22POST%\
             22%2C%22url%22%3A%22https%3A//sts.us-east-2.amazonaws.com%3FAction%3DGetCallerId\
             entity%26Version%3D2011-06-15%22%7D",
            ),
            (
                temporary,
                "%7B%22headers%22%3A%5B%7B%22key%22%3A%22Authorization%22%2C%22value%22%3A%22AWS4\
             -HMAC-SHA256%20Credential%3DAKIDEXAMPLE/20200811/us-east-2/sts/aws4_request%2C%2\
             0SignedHeaders%3Dhost%3Bx-amz-date%3Bx-amz-security-token%2C%20Signature%3D867e7\
             ad035b1f49d4056a77ef7de5133d811c74c23a08dc6c0cc7d6e32dfc61d%22%7D%2C%7B%22key%22\
             %3A%22host%22%2C%22value%22%3A%22sts.us-east-2.amazonaws.com%22%7D%2C%7B%22key%2\
             2%3A%22x-amz-date%22%2C%22value%22%3A%2220200811T065522Z%22%7D%2C%7B%22key%22%3A\
             %22x-amz-security-token%22%2C%22value%22%3A%22IQoJb3JpZ2luX2VjEPlanted/Token%2B%\
             3D%3D%22%7D%2C%7B%22key%22%3A%22x-goog-cloud-target-resource%22%2C%22value%22%3A\
             %22//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/p\
             ool/providers/aws%22%7D%5D%2C%22method%22%3A%22POST%22%2C%22url%22%3A%22https%3A\
             //sts.us-east-2.amazonaws.com%3FAction%3DGetCallerIdentity%26Version%3D2011-06-1\
             5%22%7D",
            ),
        ] {
            let token = subject_token(
                &credentials,
                &Request {
                    url: "https://sts.us-east-2.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
                    region: "us-east-2",
                    now: datetime!(2020-08-11 06:55:22.345 UTC),
                    target_resource: audience,
                },
            )
            .unwrap();
            assert_eq!(token.expose_secret(), expected);
        }
    }

    #[test]
    fn python_json_strings() {
        let mut out = String::new();
        python_json_string(&mut out, "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{7f}é€😀/");
        assert_eq!(
            out,
            "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\u{7f}\\u00e9\\u20ac\\ud83d\\ude00/\""
        );
    }

    #[test]
    fn the_signing_key_is_awss_example() {
        // AWS's documented example: secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
        // 20120215, us-east-1, iam.
        let key = signing_key(
            &"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            "20120215",
            "us-east-1",
            "iam",
        );
        // The signature of the empty message under the documented signing key
        // f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d.
        let documented = hmac::Key::new(
            hmac::HMAC_SHA256,
            &[
                0xf4, 0x78, 0x0e, 0x2d, 0x9f, 0x65, 0xfa, 0x89, 0x5f, 0x9c, 0x67, 0xb3, 0x2c, 0xe1,
                0xba, 0xf0, 0xb0, 0xd8, 0xa4, 0x35, 0x05, 0xa0, 0x00, 0xa1, 0xa9, 0xe0, 0x90, 0xd4,
                0x14, 0xdb, 0x40, 0x4d,
            ],
        );
        assert_eq!(
            hmac::sign(&key, b"").as_ref(),
            hmac::sign(&documented, b"").as_ref()
        );
    }

    #[test]
    fn a_token_signs_the_session_token_and_quotes_the_json() {
        let credentials = AwsSecurityCredentials::new("AKIDEXAMPLE", "secret".into())
            .with_session_token("session+token/=".into());
        let token = subject_token(
            &credentials,
            &Request {
                url: "https://sts.us-east-2.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
                region: "us-east-2",
                now: datetime!(2020-08-11 06:55:22.345 UTC),
                target_resource: "//iam.googleapis.com/projects/1/x",
            },
        )
        .unwrap();
        let text = token.expose_secret();
        assert!(text.starts_with("%7B%22headers%22%3A%5B%7B%22key%22%3A%22Authorization%22"));
        let json = percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .unwrap();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["method"], "POST");
        let headers = value["headers"].as_array().unwrap();
        let keys: Vec<&str> = headers.iter().map(|h| h["key"].as_str().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "Authorization",
                "host",
                "x-amz-date",
                "x-amz-security-token",
                "x-goog-cloud-target-resource"
            ]
        );
        assert_eq!(headers[2]["value"], "20200811T065522Z");
        let authorization = headers[0]["value"].as_str().unwrap();
        assert!(authorization.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20200811/us-east-2/sts/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="
        ));
    }

    #[test]
    fn bad_inputs_are_refused_without_secrets() {
        let credentials = AwsSecurityCredentials::new("AKID", "topsecretvalue".into());
        let request = |url, region| Request {
            url,
            region,
            now: datetime!(2020-08-11 06:55:22 UTC),
            target_resource: "aud",
        };
        for (url, region) in [
            ("http://sts.amazonaws.com", "us-east-1"),
            ("https://", "us-east-1"),
            ("https://sts.amazonaws.com", ""),
            ("https://sts.amazonaws.com", "us east"),
            ("https://sts.amazonaws.com", "evil.example/"),
        ] {
            let err = subject_token(&credentials, &request(url, region)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Configuration);
            assert!(!err.to_string().contains("topsecret"));
        }
        for bad in [
            AwsSecurityCredentials::new("", "s".into()),
            AwsSecurityCredentials::new("AK ID", "s".into()),
            AwsSecurityCredentials::new("AKID", "".into()),
            AwsSecurityCredentials::new("AKID", "s".into()).with_session_token("a\nb".into()),
        ] {
            assert!(
                subject_token(&bad, &request("https://sts.amazonaws.com", "us-east-1")).is_err()
            );
        }
    }
}
