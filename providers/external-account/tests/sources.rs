//! The identity pool's file and URL sources on their own: what they read, what they send, and
//! the typed error of every malformed content, none quoting the token.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::{ErrorKind, Result, Transport};
use credkit_external_account::{
    ExternalAccountInfo, FileSource, MAX_SUBJECT_TOKEN_BYTES, SubjectTokenFormat,
    SubjectTokenSupplier, SupplierContext, UrlSource,
};
use credkit_testing::{block_on, response};
use secrecy::ExposeSecret as _;
use serde_json::json;

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZXBvOm8vciJ9.c2ln";

/// A transport answering every request with one canned response, and keeping the requests.
#[derive(Debug)]
struct Canned {
    status: u16,
    body: Vec<u8>,
    headers: Vec<(&'static str, &'static str)>,
    seen: Mutex<Vec<http::Request<Bytes>>>,
}

impl Canned {
    fn new(status: u16, body: impl Into<Vec<u8>>) -> Arc<Self> {
        Arc::new(Self {
            status,
            body: body.into(),
            headers: Vec::new(),
            seen: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl Transport for Canned {
    async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>> {
        self.seen.lock().unwrap().push(request);
        let mut answer = response(self.status, self.body.clone());
        for (name, value) in &self.headers {
            answer
                .headers_mut()
                .insert(*name, http::HeaderValue::from_static(value));
        }
        Ok(answer)
    }
}

fn context(transport: Arc<Canned>) -> SupplierContext {
    SupplierContext::new(
        "urn:ietf:params:oauth:token-type:jwt",
        "//iam.googleapis.com/x",
    )
    .with_transport(transport)
}

fn no_network() -> SupplierContext {
    SupplierContext::new(
        "urn:ietf:params:oauth:token-type:jwt",
        "//iam.googleapis.com/x",
    )
}

fn file_with(content: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, content).unwrap();
    (dir, path)
}

#[test]
fn a_text_file_is_the_token_without_its_trailing_newline() {
    let (_dir, path) = file_with(format!("{TOKEN}\n").as_bytes());
    let source = FileSource::new(&path);
    let token = block_on(source.subject_token(&no_network())).unwrap();
    assert_eq!(token.expose_secret(), TOKEN);
    assert_eq!(source.kind(), "file");
}

#[test]
fn a_json_file_gives_the_named_member() {
    let (_dir, path) = file_with(
        json!({"id_token": TOKEN, "other": 1})
            .to_string()
            .as_bytes(),
    );
    let source = FileSource::new(&path).with_format(SubjectTokenFormat::Json("id_token".into()));
    let token = block_on(source.subject_token(&no_network())).unwrap();
    assert_eq!(token.expose_secret(), TOKEN);
}

#[test]
fn file_errors_name_what_is_wrong_and_never_the_token() {
    let json = |field: &str| SubjectTokenFormat::Json(field.into());
    let cases: Vec<(Vec<u8>, SubjectTokenFormat, &str)> = vec![
        (
            Vec::new(),
            SubjectTokenFormat::Text,
            "Missing subject_token in the credential_source file",
        ),
        (
            b"\n  \n".to_vec(),
            SubjectTokenFormat::Text,
            "Missing subject_token",
        ),
        (
            format!("{TOKEN}\u{1b}[2J").into_bytes(),
            SubjectTokenFormat::Text,
            "has control characters",
        ),
        (
            vec![0xff, 0xfe, 0x41],
            SubjectTokenFormat::Text,
            "is not UTF-8 text",
        ),
        (
            TOKEN.as_bytes().to_vec(),
            json("id_token"),
            "using key 'id_token'",
        ),
        (
            json!({"access_token": TOKEN}).to_string().into_bytes(),
            json("id_token"),
            "Unable to parse subject_token from JSON file",
        ),
        (
            json!({"id_token": 7}).to_string().into_bytes(),
            json("id_token"),
            "using key 'id_token'",
        ),
        (
            json!({"id_token": ""}).to_string().into_bytes(),
            json("id_token"),
            "Missing subject_token",
        ),
        (
            vec![b'a'; MAX_SUBJECT_TOKEN_BYTES + 1],
            SubjectTokenFormat::Text,
            "it is not a token",
        ),
    ];
    for (content, format, expected) in cases {
        let (_dir, path) = file_with(&content);
        let err = block_on(
            FileSource::new(&path)
                .with_format(format)
                .subject_token(&no_network()),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains(expected), "{text:?} lacks {expected:?}");
        assert!(!text.contains(TOKEN), "{text}");
        assert!(!format!("{err:?}").contains(TOKEN));
    }
}

#[test]
fn a_missing_file_is_named_as_the_reference_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent");
    let err = block_on(FileSource::new(&path).subject_token(&no_network())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert_eq!(
        err.to_string(),
        format!("File '{}' was not found.", path.display())
    );
}

#[test]
fn a_url_is_fetched_with_its_headers() {
    let transport = Canned::new(200, json!({"access_token": TOKEN}).to_string());
    let source = UrlSource::new("http://169.254.169.254/metadata/identity/oauth2/token?resource=x")
        .unwrap()
        .with_header("Metadata", "True")
        .unwrap()
        .with_format(SubjectTokenFormat::Json("access_token".into()));
    let token = block_on(source.subject_token(&context(Arc::clone(&transport)))).unwrap();
    assert_eq!(token.expose_secret(), TOKEN);
    let seen = transport.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method(), http::Method::GET);
    assert_eq!(
        seen[0].uri().to_string(),
        "http://169.254.169.254/metadata/identity/oauth2/token?resource=x"
    );
    assert_eq!(seen[0].headers()["metadata"], "True");
    assert_eq!(source.kind(), "url");
}

#[test]
fn a_url_that_redirects_or_fails_is_an_error_naming_the_status() {
    let cases = [
        (302, "redirect (HTTP 302)", false),
        (404, "answered HTTP 404", false),
        (503, "answered HTTP 503", true),
    ];
    for (status, expected, transient) in cases {
        let transport = Canned::new(status, TOKEN);
        let err = block_on(
            UrlSource::new("https://tokens.example/t")
                .unwrap()
                .subject_token(&context(transport)),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains(TOKEN), "{text}");
        assert_eq!(err.http_status(), Some(status));
        assert_eq!(err.is_transient(), transient, "{status}");
    }
}

#[test]
fn a_huge_url_body_is_refused() {
    let transport = Canned::new(200, vec![b'a'; MAX_SUBJECT_TOKEN_BYTES + 1]);
    let err = block_on(
        UrlSource::new("https://tokens.example/t")
            .unwrap()
            .subject_token(&context(transport)),
    )
    .unwrap_err();
    assert!(err.to_string().contains("it is not a token"), "{err}");
}

#[test]
fn a_url_source_needs_a_transport() {
    let err = block_on(
        UrlSource::new("https://tokens.example/t")
            .unwrap()
            .subject_token(&no_network()),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
}

#[test]
fn bad_urls_and_headers_are_refused_when_built() {
    assert!(UrlSource::new("ftp://x/t").is_err());
    assert!(UrlSource::new("https:///t").is_err());
    assert!(UrlSource::new("https://x/a b").is_err());
    let source = UrlSource::new("https://x/t").unwrap();
    assert!(source.clone().with_header("bad name", "v").is_err());
    assert!(source.with_header("x", "a\nb").is_err());
}

#[test]
fn header_values_stay_out_of_debug() {
    let source = UrlSource::new("https://x/t")
        .unwrap()
        .with_header("Authorization", "Bearer hunter2-secret")
        .unwrap();
    let debug = format!("{source:?}");
    assert!(debug.contains("authorization"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

#[test]
fn a_file_names_its_source_and_format() {
    let info = |source: serde_json::Value| {
        ExternalAccountInfo::from_json(&json!({
            "type": "external_account",
            "audience": "//iam.googleapis.com/locations/global/workforcePools/p/providers/q",
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "workforce_pool_user_project": "123",
            "credential_source": source,
        }))
    };
    let file =
        info(json!({"file": "/t", "format": {"type": "json", "subject_token_field_name": "t"}}))
            .unwrap();
    assert_eq!(file.source_kind(), "file");
    assert!(file.is_workforce_pool());
    assert_eq!(file.workforce_pool_user_project(), Some("123"));
    let url = info(json!({"url": "https://x/t", "headers": {"a": "b"}})).unwrap();
    assert_eq!(url.source_kind(), "url");
    assert!(info(json!({"url": "https://x/t", "headers": {"a": 1}})).is_err());
    assert!(info(json!({"url": "https://x/t", "headers": []})).is_err());
    assert!(
        info(json!({"certificate": {"use_default_certificate_config": true}}))
            .unwrap_err()
            .to_string()
            .contains("not supported by credkit")
    );
    assert!(info(json!({"file": "/t", "format": "json"})).is_err());
    assert!(info(json!({"file": "/t", "format": {"type": 3}})).is_err());
}

#[test]
fn text_may_be_named_or_left_empty() {
    for format in [
        json!({"type": "text"}),
        json!({"type": ""}),
        json!({}),
        json!(null),
    ] {
        let info = ExternalAccountInfo::from_json(&json!({
            "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "credential_source": {"file": "/t", "format": format},
        }));
        assert!(info.is_ok(), "{format}: {info:?}");
    }
}

#[test]
fn a_token_of_exactly_the_limit_is_read() {
    let limit = vec![b'a'; MAX_SUBJECT_TOKEN_BYTES];
    let (_dir, path) = file_with(&limit);
    let token = block_on(FileSource::new(&path).subject_token(&no_network())).unwrap();
    assert_eq!(token.expose_secret().len(), MAX_SUBJECT_TOKEN_BYTES);

    let transport = Canned::new(200, limit);
    let source = UrlSource::new("https://tokens.example/t").unwrap();
    assert_eq!(source.url(), "https://tokens.example/t");
    let token = block_on(source.subject_token(&context(transport))).unwrap();
    assert_eq!(token.expose_secret().len(), MAX_SUBJECT_TOKEN_BYTES);
}

#[test]
fn a_file_reads_into_its_accessors() {
    let full = ExternalAccountInfo::from_json(&json!({
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/77/locations/global/workloadIdentityPools/p/providers/q",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "https://sts.example/v1/token",
        "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken",
        "client_id": "client",
        "client_secret": "client-secret-value",
        "quota_project_id": "billing",
        "universe_domain": "example.net",
        "credential_source": {"file": "/t"},
    }))
    .unwrap();
    assert_eq!(
        full.audience(),
        "//iam.googleapis.com/projects/77/locations/global/workloadIdentityPools/p/providers/q"
    );
    assert_eq!(
        full.subject_token_type(),
        "urn:ietf:params:oauth:token-type:jwt"
    );
    assert_eq!(full.token_url(), Some("https://sts.example/v1/token"));
    assert!(
        full.service_account_impersonation_url()
            .unwrap()
            .ends_with("sa@p.iam.gserviceaccount.com:generateAccessToken")
    );
    assert_eq!(
        full.service_account_email(),
        Some("sa@p.iam.gserviceaccount.com")
    );
    assert_eq!(full.client_id(), Some("client"));
    assert_eq!(full.quota_project(), Some("billing"));
    assert_eq!(full.universe_domain(), Some("example.net"));
    assert_eq!(full.workforce_pool_user_project(), None);
    assert_eq!(full.project_number(), Some("77"));
    assert!(!full.is_workforce_pool());
    assert!(!format!("{full:?}").contains("client-secret-value"));

    let bare = ExternalAccountInfo::from_json(&json!({
        "audience": "//iam.googleapis.com/locations/global/workforcePools/p/providers/q",
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
        "credential_source": {"url": "https://x/t"},
    }))
    .unwrap();
    assert_eq!(bare.token_url(), None);
    assert_eq!(bare.service_account_impersonation_url(), None);
    assert_eq!(bare.service_account_email(), None);
    assert_eq!(bare.client_id(), None);
    assert_eq!(bare.quota_project(), None);
    assert_eq!(bare.universe_domain(), None);
    assert_eq!(bare.project_number(), None);
    assert!(bare.is_workforce_pool());
}

#[test]
fn a_supplier_context_shows_what_it_asks_for() {
    let debug = format!("{:?}", no_network());
    assert!(
        debug.contains("urn:ietf:params:oauth:token-type:jwt"),
        "{debug}"
    );
    assert!(debug.contains("//iam.googleapis.com/x"), "{debug}");
}

#[test]
fn aws_credentials_show_their_key_id_only() {
    let credentials = credkit_external_account::AwsSecurityCredentials::new(
        "AKIDEXAMPLE",
        "secret-key-value".into(),
    )
    .with_session_token("session-token-value".into());
    let debug = format!("{credentials:?}");
    assert!(debug.contains("AKIDEXAMPLE"), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");
    assert!(!debug.contains("secret-key-value"), "{debug}");
    assert!(!debug.contains("session-token-value"), "{debug}");
}
