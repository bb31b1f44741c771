//! The AWS source's readers of untrusted input: the metadata service's replies (the `IMDSv2`
//! session token, the availability zone, the role name, the role's credentials document), the
//! URLs of a `credential_source`, and the signer over any URL, region and credentials.
//!
//! The first byte picks the reader (`t`, `z`, `n`, `c`, `s`, `m`, `v`; anything else is
//! skipped), the rest is its input; the seeds are readable this way. Invariants: no panic; an
//! error is one clean line that never repeats the reply, nor a secret planted in it; what is
//! read fits where it goes (a header, a URL path, a region name); a metadata URL with plain
//! `http` is accepted only to loopback or AWS's metadata addresses, as the URL parser of
//! requests reads the host; a verification URL accepted when parsed always signs; a signed
//! token is ASCII, decodes to the reference's JSON shape, and never holds the secret key.
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};

use credkit_core::endpoint::is_loopback_host;
use credkit_external_account::AwsSecurityCredentials;
use credkit_external_account::fuzzing;
use credkit_reqwest::reqwest;
use libfuzzer_sys::fuzz_target;
use secrecy::{ExposeSecret, SecretString};
use time::macros::datetime;

/// A secret planted in replies and given as the secret key: no error or token may hold it.
const PLANTED: &str = "planted-aws-secret-0123456789";

fn clean(what: &str, err: &credkit_core::Error, body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    credkit_fuzz::assert_error_clean(err, &[PLANTED]);
    // The message never repeats the reply, when the reply is long enough to tell and holds a
    // character none of the messages' fixed words use (a reply made of such words alone can
    // be a piece of a message: the fuzzer found "Unable to retrieve AWS security credentials").
    let distinctive = text
        .chars()
        .any(|c| !(c.is_ascii_alphanumeric() || " .,:;'()-_".contains(c)));
    if text.len() >= 16 && distinctive && !text.contains('\u{FFFD}') {
        assert!(
            !err.to_string().contains(text.as_ref()),
            "{what}: the error repeats the reply"
        );
    }
}

/// `body` with [`PLANTED`] put in at a place it chooses.
fn planted(body: &[u8]) -> Vec<u8> {
    let at = body
        .first()
        .map_or(0, |b| usize::from(*b) % (body.len() + 1));
    let mut out = body[..at].to_vec();
    out.extend_from_slice(PLANTED.as_bytes());
    out.extend_from_slice(&body[at..]);
    out
}

fn credentials(akid: &str, token: Option<&str>) -> AwsSecurityCredentials {
    let credentials = AwsSecurityCredentials::new(akid, SecretString::from(PLANTED));
    match token {
        Some(token) => credentials.with_session_token(token.into()),
        None => credentials,
    }
}

fn session_token(body: &[u8]) {
    match fuzzing::aws_session_token(body) {
        Ok(token) => {
            let text = token.expose_secret();
            assert!(!text.is_empty() && text.len() <= 4096);
            assert!(text.bytes().all(|b| b.is_ascii_graphic()));
            assert!(http::HeaderValue::from_str(text).is_ok());
        }
        Err(err) => clean("a session token", &err, body),
    }
}

fn region(body: &[u8]) {
    match fuzzing::aws_region(body) {
        Ok(region) => {
            assert!(!region.is_empty() && region.len() <= 64);
            assert!(
                region
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            );
            let zone = std::str::from_utf8(body).expect("a region read from UTF-8");
            let mut chars = zone.chars();
            chars.next_back();
            assert_eq!(
                chars.as_str(),
                region,
                "the zone without its last character"
            );
        }
        Err(err) => clean("a zone", &err, body),
    }
}

fn role_name(body: &[u8]) {
    match fuzzing::aws_role_name(body) {
        Ok(role) => {
            assert_eq!(role.as_bytes(), body, "the whole reply");
            assert!(!role.contains(['/', '?', '#', '%']) && role != "." && role != "..");
        }
        Err(err) => clean("a role name", &err, body),
    }
}

fn security_credentials(body: &[u8]) {
    for body in [body.to_vec(), planted(body)] {
        match fuzzing::aws_security_credentials(&body) {
            Ok(credentials) => {
                assert!(
                    credentials
                        .access_key_id()
                        .bytes()
                        .all(|b| b.is_ascii_graphic())
                );
                assert!(!credentials.secret_access_key().expose_secret().is_empty());
                if !credentials.access_key_id().contains(PLANTED) {
                    assert!(
                        !format!("{credentials:?}").contains(PLANTED),
                        "Debug shows the secret"
                    );
                }
                if let Some(token) = credentials.session_token() {
                    assert!(token.expose_secret().bytes().all(|b| b.is_ascii_graphic()));
                }
            }
            Err(err) => clean("a credentials document", &err, &body),
        }
    }
}

/// `url`, `region`, `akid`, `token` and `audience` on lines.
fn sign(text: &str) {
    let mut lines = text.split('\n');
    let url = lines.next().unwrap_or("");
    let region = lines.next().unwrap_or("");
    let akid = lines.next().unwrap_or("");
    let token_line = lines.next();
    let audience = lines.next().unwrap_or("");
    let now = datetime!(2020-08-11 06:55:22 UTC);
    match fuzzing::aws_subject_token(&credentials(akid, token_line), url, region, now, audience) {
        Ok(token) => {
            let text = token.expose_secret();
            assert!(text.is_ascii());
            if !text_has_planted(&[url, region, akid, token_line.unwrap_or(""), audience]) {
                assert!(!text.contains(PLANTED), "the secret key is in the token");
            }
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"%_.-~/".contains(&b)),
                "quoted as Python quotes"
            );
            let json = percent_encoding_decode(text);
            let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
            assert_eq!(value["method"], "POST");
            assert_eq!(value["url"], url);
            let headers = value["headers"].as_array().expect("a list");
            assert_eq!(headers[0]["key"], "Authorization");
            assert_eq!(headers[headers.len() - 1]["value"], audience);
        }
        Err(err) => credkit_fuzz::assert_error_clean(&err, &[PLANTED]),
    }
}

/// Whether the secret was given in the clear somewhere the token carries (then finding it
/// there says nothing). The quoting leaves its letters, digits and `-` as they are; the host
/// header is the URL's host in lower case.
fn text_has_planted(parts: &[&str]) -> bool {
    parts
        .iter()
        .any(|part| part.to_ascii_lowercase().contains(PLANTED))
}

fn percent_encoding_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("ASCII");
            out.push(u8::from_str_radix(hex, 16).expect("hex after %"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("UTF-8 JSON")
}

/// A metadata URL accepted with plain `http` goes to loopback or AWS's metadata addresses as
/// the URL parser of requests reads it.
fn metadata_url(url: &str) {
    if !fuzzing::aws_metadata_url_accepted(url) {
        return;
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return;
    };
    assert!(parsed.username().is_empty() && parsed.password().is_none());
    match parsed.scheme() {
        "https" => {}
        "http" => {
            let host = match parsed.host() {
                Some(url::Host::Ipv4(ip)) => {
                    ip.is_loopback() || ip == Ipv4Addr::new(169, 254, 169, 254)
                }
                Some(url::Host::Ipv6(ip)) => {
                    is_loopback_host(&format!("[{ip}]"))
                        || ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
                }
                Some(url::Host::Domain(name)) => is_loopback_host(name),
                None => false,
            };
            assert!(host, "plain http accepted to {:?}", parsed.host_str());
        }
        other => panic!("scheme {other} accepted"),
    }
}

/// A verification URL accepted when parsed always signs.
fn verification_url(url: &str) {
    if !fuzzing::aws_verification_url_accepted(url) {
        return;
    }
    let substituted = url.replace("{region}", "us-east-1");
    let now = datetime!(2020-08-11 06:55:22 UTC);
    let signed = fuzzing::aws_subject_token(
        &credentials("AKIDEXAMPLE", Some("session")),
        &substituted,
        "us-east-1",
        now,
        "aud",
    );
    assert!(signed.is_ok(), "accepted when parsed, refused when signing");
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let text = std::str::from_utf8(body).ok();
    match which {
        b't' => session_token(body),
        b'z' => region(body),
        b'n' => role_name(body),
        b'c' => security_credentials(body),
        b's' => {
            if let Some(text) = text {
                sign(text);
            }
        }
        b'm' => {
            if let Some(text) = text {
                metadata_url(text);
            }
        }
        b'v' => {
            if let Some(text) = text {
                verification_url(text);
            }
        }
        _ => {}
    }
});
