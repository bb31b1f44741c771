//! The AWS source of workload identity federation.
//!
//! - Parity with google-auth: the serialized, signed `GetCallerIdentity` subject token is the
//!   reference's byte for byte (same credentials, same fixed time), from the environment, from
//!   `IMDSv2` and `IMDSv1`, with and without a session token, with another verification URL,
//!   and from a programmatic supplier; and both sent the same requests to the fake metadata
//!   service. The reference runs in the Python named by `CREDKIT_GOOGLE_AUTH_PYTHON` with
//!   `google.auth._helpers.utcnow` patched; without it the comparisons print `SKIPPED:` and
//!   only credkit's side is checked, unless `CREDKIT_REQUIRE_GOOGLE_AUTH=1`.
//! - Every hostile metadata reply (an error status echoing secrets, garbage, a huge body, a
//!   redirect, a missing member) is a typed error naming the request, never a secret.
//! - The environment's precedence over the metadata service, and the `IMDSv2` token fetched
//!   only when the environment lacks what is asked.
//! - The `credential_source` errors with the reference's texts.
//! - `Debug` never shows a secret.
//! - The `TokenSource` contract, over a programmatic supplier.
// Helpers outside the #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod aws_support;

use std::sync::Arc;

use async_trait::async_trait;
use aws_support::{
    AUDIENCE, ENV_ACCESS_KEY_ID, ENV_SECRET, ENV_SESSION_TOKEN, NOW, context, env, file, reference,
    transport, wire,
};
use credkit_core::{Error, ErrorKind, TokenSource};
use credkit_external_account::{
    AWS_SUBJECT_TOKEN_TYPE, AwsSecurityCredentials, AwsSecurityCredentialsSupplier, AwsSource,
    DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL, DefaultAwsSecurityCredentialsSupplier,
    ExternalAccountCredentials, ExternalAccountInfo, MAX_AWS_METADATA_REPLY_BYTES,
    SubjectTokenSupplier, SupplierContext,
};
use credkit_testing::contract::token_source::Contract;
use credkit_testing::{
    AwsMetadataEndpoint, AwsMetadataFault, FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET_ACCESS_KEY,
    FAKE_AWS_SESSION_TOKEN, FAKE_IMDSV2_TOKEN, FakeAwsMetadataServer, FakeClock, FakeTokenServer,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Value, json};

/// Every secret a test plants: none may show in an error or a `Debug`.
const SECRETS: [&str; 5] = [
    FAKE_AWS_SECRET_ACCESS_KEY,
    FAKE_AWS_SESSION_TOKEN,
    FAKE_IMDSV2_TOKEN,
    ENV_SECRET,
    ENV_SESSION_TOKEN,
];

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows a secret: {text}");
    }
}

fn assert_clean(err: &Error) {
    assert_no_secret("an error", &err.to_string());
    assert_no_secret("an error's Debug", &format!("{err:?}"));
}

fn python() -> Option<std::path::PathBuf> {
    credkit_testing::google_auth_python("google.auth.aws, google.auth.transport.requests")
}

/// The signed request inside a subject token.
fn decoded(token: &str) -> Value {
    let json = percent_encoding::percent_decode_str(token)
        .decode_utf8()
        .unwrap();
    serde_json::from_str(&json).unwrap()
}

/// credkit's subject token from an `external_account` file, through the whole exchange: the
/// file is read, the credentials built and refreshed against a fake STS, and the
/// `subject_token` it was sent is returned.
async fn credkit_through_a_file(file: &Value, vars: &[(&str, &str)]) -> String {
    let info = ExternalAccountInfo::from_json(file).unwrap();
    assert_eq!(info.source_kind(), "aws");
    let sts = FakeTokenServer::start().await.unwrap();
    let credentials = info
        .builder()
        .with_token_url(sts.token_url())
        .with_transport(transport())
        .with_clock(FakeClock::at(NOW))
        .with_env_lookup(env(vars))
        .build()
        .unwrap();
    credentials.fetch_token().await.unwrap();
    let request = sts.last_request().unwrap();
    assert_eq!(
        request.form_value("subject_token_type"),
        Some(AWS_SUBJECT_TOKEN_TYPE)
    );
    request.form_value("subject_token").unwrap().to_owned()
}

/// One comparison: the reference, then credkit, against the same fake; the subject tokens and
/// the requests must be the same. Returns credkit's token and requests, for the case's own
/// checks (which run with or without the reference).
async fn compare(
    case: &str,
    fake: &FakeAwsMetadataServer,
    audience: &str,
    source: &Value,
    vars: &[(&str, &str)],
) -> (String, Vec<aws_support::Wire>) {
    let mut file = file(source);
    file["audience"] = Value::String(audience.to_owned());
    let theirs = match python() {
        Some(python) => {
            let answer = reference(
                &python,
                json!({"audience": audience, "credential_source": source}),
                vars,
            )
            .await;
            assert!(
                answer["subject_token"].is_string(),
                "{case}: the reference failed: {answer}"
            );
            let token = answer["subject_token"].as_str().unwrap().to_owned();
            Some((token, wire(&fake.requests())))
        }
        None => None,
    };
    fake.clear_requests();
    let ours = credkit_through_a_file(&file, vars).await;
    let our_requests = wire(&fake.requests());
    fake.clear_requests();
    if let Some((token, requests)) = theirs {
        assert_eq!(
            our_requests, requests,
            "{case}: the requests to the metadata service differ"
        );
        assert!(
            ours == token,
            "{case}: the subject tokens differ\n credkit:   {}\n reference: {}",
            decoded(&ours),
            decoded(&token)
        );
    }
    (ours, our_requests)
}

fn header<'a>(token: &'a Value, name: &str) -> Option<&'a str> {
    token["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["key"] == name)
        .and_then(|h| h["value"].as_str())
}

fn header_names(token: &Value) -> Vec<&str> {
    token["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["key"].as_str().unwrap())
        .collect()
}

/// The requests' methods and paths, and whether each carried the session token.
fn shape(requests: &[aws_support::Wire]) -> Vec<(String, String, bool)> {
    requests
        .iter()
        .map(|r| {
            let token = r.headers.iter().any(|(name, value)| {
                name == "x-aws-ec2-metadata-token" && value == FAKE_IMDSV2_TOKEN
            });
            (r.method.clone(), r.path.clone(), token)
        })
        .collect()
}

const TOKEN_PATH: &str = "/latest/api/token";
const ZONE_PATH: &str = "/latest/meta-data/placement/availability-zone";
const ROLE_PATH: &str = "/latest/meta-data/iam/security-credentials";

fn role_path() -> String {
    format!("{ROLE_PATH}/{}", credkit_testing::FAKE_AWS_ROLE)
}

#[tokio::test]
async fn environment_credentials_sign_as_the_reference() {
    let fake = FakeAwsMetadataServer::start().await.unwrap();
    let source = fake.credential_source();
    let long_lived = [
        ("AWS_REGION", "us-west-1"),
        ("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", ENV_SECRET),
    ];
    let (token, requests) = compare("env, long-lived", &fake, AUDIENCE, &source, &long_lived).await;
    // Everything came from the environment: not even an IMDSv2 token was asked for.
    assert!(requests.is_empty(), "{requests:?}");
    let token = decoded(&token);
    assert_eq!(
        token["url"],
        "https://sts.us-west-1.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
    );
    assert_eq!(token["method"], "POST");
    assert_eq!(
        header_names(&token),
        [
            "Authorization",
            "host",
            "x-amz-date",
            "x-goog-cloud-target-resource"
        ]
    );
    assert_eq!(header(&token, "x-amz-date"), Some("20200811T065522Z"));
    assert_eq!(
        header(&token, "x-goog-cloud-target-resource"),
        Some(AUDIENCE)
    );
    assert!(
        header(&token, "Authorization").unwrap().starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential={ENV_ACCESS_KEY_ID}/20200811/us-west-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature="
        ))
    );

    let mut temporary = long_lived.to_vec();
    temporary.push(("AWS_SESSION_TOKEN", ENV_SESSION_TOKEN));
    let (token, requests) = compare("env, temporary", &fake, AUDIENCE, &source, &temporary).await;
    assert!(requests.is_empty(), "{requests:?}");
    let token = decoded(&token);
    assert_eq!(
        header_names(&token),
        [
            "Authorization",
            "host",
            "x-amz-date",
            "x-amz-security-token",
            "x-goog-cloud-target-resource"
        ]
    );
    assert_eq!(
        header(&token, "x-amz-security-token"),
        Some(ENV_SESSION_TOKEN)
    );
}

#[tokio::test]
async fn imdsv2_credentials_sign_as_the_reference() {
    let fake = FakeAwsMetadataServer::builder()
        .requiring_imdsv2(true)
        .start()
        .await
        .unwrap();
    let source = fake.credential_source();
    let (token, requests) = compare("IMDSv2", &fake, AUDIENCE, &source, &[]).await;
    // As the reference: a session token for the region, another for the credentials.
    assert_eq!(
        shape(&requests),
        [
            ("PUT".into(), TOKEN_PATH.into(), false),
            ("GET".into(), ZONE_PATH.into(), true),
            ("PUT".into(), TOKEN_PATH.into(), false),
            ("GET".into(), ROLE_PATH.into(), true),
            ("GET".into(), role_path(), true),
        ]
    );
    assert!(
        requests[0]
            .headers
            .contains(&("x-aws-ec2-metadata-token-ttl-seconds".into(), "300".into()))
    );
    let token = decoded(&token);
    assert_eq!(
        token["url"],
        "https://sts.us-east-2.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
    );
    assert_eq!(
        header(&token, "x-amz-security-token"),
        Some(FAKE_AWS_SESSION_TOKEN)
    );
    assert!(header(&token, "Authorization").unwrap().contains(&format!(
        "Credential={FAKE_AWS_ACCESS_KEY_ID}/20200811/us-east-2/sts/"
    )));

    // The region from the environment: one session token, for the credentials only.
    let (token, requests) = compare(
        "AWS_DEFAULT_REGION, IMDSv2 credentials",
        &fake,
        AUDIENCE,
        &source,
        &[("AWS_DEFAULT_REGION", "eu-west-3")],
    )
    .await;
    assert_eq!(
        shape(&requests),
        [
            ("PUT".into(), TOKEN_PATH.into(), false),
            ("GET".into(), ROLE_PATH.into(), true),
            ("GET".into(), role_path(), true),
        ]
    );
    assert!(
        decoded(&token)["url"]
            .as_str()
            .unwrap()
            .contains("sts.eu-west-3.")
    );

    // The credentials from the environment: one session token, for the region only.
    let (_, requests) = compare(
        "environment credentials, IMDSv2 region",
        &fake,
        AUDIENCE,
        &source,
        &[
            ("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", ENV_SECRET),
        ],
    )
    .await;
    assert_eq!(
        shape(&requests),
        [
            ("PUT".into(), TOKEN_PATH.into(), false),
            ("GET".into(), ZONE_PATH.into(), true),
        ]
    );
}

#[tokio::test]
async fn imdsv1_credentials_without_a_session_token_sign_as_the_reference() {
    let fake = FakeAwsMetadataServer::builder()
        .with_zone("ap-southeast-1a")
        .with_credentials("AKIDIMDSV1EXAMPLE", FAKE_AWS_SECRET_ACCESS_KEY, None)
        .start()
        .await
        .unwrap();
    let mut source = fake.credential_source();
    source
        .as_object_mut()
        .unwrap()
        .remove("imdsv2_session_token_url");
    let (token, requests) = compare("IMDSv1, no Token", &fake, AUDIENCE, &source, &[]).await;
    assert_eq!(
        shape(&requests),
        [
            ("GET".into(), ZONE_PATH.into(), false),
            ("GET".into(), ROLE_PATH.into(), false),
            ("GET".into(), role_path(), false),
        ]
    );
    let token = decoded(&token);
    assert!(header(&token, "x-amz-security-token").is_none());
    assert!(
        header(&token, "Authorization")
            .unwrap()
            .contains("/ap-southeast-1/sts/aws4_request, SignedHeaders=host;x-amz-date, ")
    );
}

/// A verification URL with a path to normalize and a query to sort, and an audience that JSON
/// must escape: the corners of the reference's canonicalization and serialization.
#[tokio::test]
async fn another_verification_url_and_an_odd_audience_sign_as_the_reference() {
    let fake = FakeAwsMetadataServer::start().await.unwrap();
    let mut source = fake.credential_source();
    source["regional_cred_verification_url"] = json!(
        "https://STS-fips.{region}.amazonaws.com:443/a/./b/../c//?Version=2011-06-15&Action=GetCallerIdentity&x=%20y+z&x=a&x=B&empty=&{region}=1"
    );
    let audience =
        "//iam.googleapis.com/locations/global/workforcePools/p\u{e9}ol/providers/\"q\"\\\u{1f600}";
    let vars = [
        ("AWS_REGION", "us-gov-west-1"),
        ("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", ENV_SECRET),
        ("AWS_SESSION_TOKEN", ENV_SESSION_TOKEN),
    ];
    let (token, _) = compare("another URL, odd audience", &fake, audience, &source, &vars).await;
    let token = decoded(&token);
    assert_eq!(
        header(&token, "host"),
        Some("sts-fips.us-gov-west-1.amazonaws.com")
    );
    assert_eq!(
        header(&token, "x-goog-cloud-target-resource"),
        Some(audience)
    );
    // The host in lower case, and `-fips` not part of the service name.
    assert!(
        header(&token, "Authorization")
            .unwrap()
            .contains("/us-gov-west-1/sts/aws4_request"),
        "{token}"
    );
}

#[derive(Debug)]
struct Static {
    region: &'static str,
    session_token: Option<&'static str>,
}

#[async_trait]
impl AwsSecurityCredentialsSupplier for Static {
    async fn aws_region(&self, _: &SupplierContext) -> Result<String, Error> {
        Ok(self.region.to_owned())
    }

    async fn aws_security_credentials(
        &self,
        _: &SupplierContext,
    ) -> Result<AwsSecurityCredentials, Error> {
        let credentials =
            AwsSecurityCredentials::new(ENV_ACCESS_KEY_ID, SecretString::from(ENV_SECRET));
        Ok(match self.session_token {
            Some(token) => credentials.with_session_token(token.into()),
            None => credentials,
        })
    }
}

#[tokio::test]
async fn a_programmatic_supplier_signs_as_the_reference() {
    for session_token in [None, Some(ENV_SESSION_TOKEN)] {
        let sts = FakeTokenServer::start().await.unwrap();
        let credentials = ExternalAccountCredentials::aws_builder(
            AUDIENCE,
            Static {
                region: "ca-central-1",
                session_token,
            },
        )
        .with_token_url(sts.token_url())
        .with_transport(transport())
        .with_clock(FakeClock::at(NOW))
        .build()
        .unwrap();
        assert_eq!(credentials.source_kind(), "programmatic");
        assert_eq!(credentials.subject_token_type(), AWS_SUBJECT_TOKEN_TYPE);
        credentials.fetch_token().await.unwrap();
        let ours = sts
            .last_request()
            .unwrap()
            .form_value("subject_token")
            .unwrap()
            .to_owned();
        assert!(
            decoded(&ours)["url"]
                .as_str()
                .unwrap()
                .contains("sts.ca-central-1.")
        );
        let Some(python) = python() else { continue };
        let mut supplier = json!({
            "region": "ca-central-1",
            "access_key_id": ENV_ACCESS_KEY_ID,
            "secret_access_key": ENV_SECRET,
        });
        if let Some(token) = session_token {
            supplier["session_token"] = json!(token);
        }
        let answer = reference(
            &python,
            json!({"audience": AUDIENCE, "supplier": supplier}),
            &[],
        )
        .await;
        assert_eq!(
            answer["subject_token"].as_str(),
            Some(ours.as_str()),
            "{answer}"
        );
    }
}

/// The built-in supplier pointed at `fake`, every URL configured.
fn supplier_of(fake: &FakeAwsMetadataServer) -> DefaultAwsSecurityCredentialsSupplier {
    DefaultAwsSecurityCredentialsSupplier::new()
        .with_region_url(fake.region_url())
        .unwrap()
        .with_security_credentials_url(fake.security_credentials_url())
        .unwrap()
        .with_imdsv2_session_token_url(fake.imdsv2_session_token_url())
        .unwrap()
}

/// The error of the call that reaches `endpoint` first.
async fn failure(
    supplier: &DefaultAwsSecurityCredentialsSupplier,
    endpoint: AwsMetadataEndpoint,
) -> Error {
    let context = context(&[]);
    let result = match endpoint {
        AwsMetadataEndpoint::SessionToken | AwsMetadataEndpoint::Region => {
            supplier.aws_region(&context).await.map(|_| ())
        }
        _ => supplier
            .aws_security_credentials(&context)
            .await
            .map(|_| ()),
    };
    assert!(result.is_err(), "a hostile reply was accepted");
    result.unwrap_err()
}

fn prefix(endpoint: AwsMetadataEndpoint) -> &'static str {
    match endpoint {
        AwsMetadataEndpoint::SessionToken => "Unable to retrieve AWS Session Token: ",
        AwsMetadataEndpoint::Region => "Unable to retrieve AWS region: ",
        AwsMetadataEndpoint::RoleName => "Unable to retrieve AWS role name: ",
        _ => "Unable to retrieve AWS security credentials: ",
    }
}

#[tokio::test]
async fn every_hostile_metadata_reply_is_a_clean_typed_error() {
    let fake = FakeAwsMetadataServer::start().await.unwrap();
    let supplier = supplier_of(&fake);
    for endpoint in [
        AwsMetadataEndpoint::SessionToken,
        AwsMetadataEndpoint::Region,
        AwsMetadataEndpoint::RoleName,
        AwsMetadataEndpoint::Credentials,
    ] {
        let cases: Vec<(AwsMetadataFault, ErrorKind, Option<u16>, bool, &str)> = vec![
            (
                AwsMetadataFault::Status(500),
                ErrorKind::Provider,
                Some(500),
                true,
                "the metadata service answered HTTP 500",
            ),
            (
                AwsMetadataFault::Status(503),
                ErrorKind::Provider,
                Some(503),
                true,
                "the metadata service answered HTTP 503",
            ),
            (
                AwsMetadataFault::Status(404),
                ErrorKind::Provider,
                Some(404),
                false,
                "the metadata service answered HTTP 404",
            ),
            (
                AwsMetadataFault::Status(401),
                ErrorKind::Provider,
                Some(401),
                false,
                "the metadata service answered HTTP 401",
            ),
            (
                AwsMetadataFault::Redirect("http://169.254.169.254/latest/elsewhere".into()),
                ErrorKind::Provider,
                Some(307),
                false,
                "the metadata service answered with a redirect (HTTP 307), which credkit does not follow",
            ),
            (
                AwsMetadataFault::Huge(MAX_AWS_METADATA_REPLY_BYTES + 1),
                ErrorKind::InvalidResponse,
                None,
                false,
                "the reply is larger than 65536 bytes",
            ),
            (
                AwsMetadataFault::Body(bytes::Bytes::from_static(b"\xff\xfe{garbage")),
                ErrorKind::InvalidResponse,
                None,
                false,
                "the reply is not UTF-8 text",
            ),
        ];
        for (fault, kind, status, transient, message) in cases {
            fake.push_fault(endpoint, fault.clone());
            let err = failure(&supplier, endpoint).await;
            assert_eq!(
                err.to_string(),
                format!("{}{message}", prefix(endpoint)),
                "{endpoint:?} {fault:?}"
            );
            assert_eq!(err.kind(), kind, "{endpoint:?} {fault:?}");
            assert_eq!(err.http_status(), status, "{endpoint:?} {fault:?}");
            assert_eq!(err.is_transient(), transient, "{endpoint:?} {fault:?}");
            assert_clean(&err);
        }
    }
}

#[tokio::test]
async fn every_wrong_answer_is_a_clean_typed_error() {
    let fake = FakeAwsMetadataServer::start().await.unwrap();
    let supplier = supplier_of(&fake);
    // Bodies that are text but not what each endpoint answers.
    let mut content_cases: Vec<(AwsMetadataEndpoint, Vec<u8>, &str)> = vec![
        (AwsMetadataEndpoint::SessionToken, b"".to_vec(), "the token is empty or has characters other than visible ASCII"),
        (AwsMetadataEndpoint::SessionToken, b"token\r\nx-injected: 1".to_vec(), "the token is empty or has characters other than visible ASCII"),
        (AwsMetadataEndpoint::SessionToken, vec![b'a'; 4097], "the token is longer than 4096 bytes"),
        (AwsMetadataEndpoint::Region, b"".to_vec(), "the availability zone is not a region name followed by a zone letter"),
        (AwsMetadataEndpoint::Region, b"evil.example/b".to_vec(), "the availability zone is not a region name followed by a zone letter"),
        (AwsMetadataEndpoint::RoleName, b"".to_vec(), "the reply is not one IAM role name (letters, digits and +=,.@_-)"),
        (AwsMetadataEndpoint::RoleName, b"../../latest/user-data".to_vec(), "the reply is not one IAM role name (letters, digits and +=,.@_-)"),
        (AwsMetadataEndpoint::RoleName, b"role-a\nrole-b".to_vec(), "the reply is not one IAM role name (letters, digits and +=,.@_-)"),
        (AwsMetadataEndpoint::Credentials, format!("<html>{FAKE_AWS_SECRET_ACCESS_KEY}</html>").into_bytes(), "the reply is not JSON"),
        (AwsMetadataEndpoint::Credentials, b"[]".to_vec(), "the reply is not a JSON object"),
        (AwsMetadataEndpoint::Credentials, format!(r#"{{"SecretAccessKey":"{FAKE_AWS_SECRET_ACCESS_KEY}"}}"#).into_bytes(), "AccessKeyId is missing"),
        (AwsMetadataEndpoint::Credentials, br#"{"AccessKeyId":"AKID"}"#.to_vec(), "SecretAccessKey is missing"),
        (AwsMetadataEndpoint::Credentials, br#"{"AccessKeyId":"AKID","SecretAccessKey":["x"]}"#.to_vec(), "SecretAccessKey is not a non-empty string"),
        (AwsMetadataEndpoint::Credentials, format!(r#"{{"AccessKeyId":"AKID","SecretAccessKey":"s","Token":"{FAKE_AWS_SESSION_TOKEN} \n"}}"#).into_bytes(), "Token has characters other than visible ASCII"),
    ];
    content_cases.push((
        AwsMetadataEndpoint::Credentials,
        br#"{"AccessKeyId":"AKID","SecretAccessKey":"s","Token":42}"#.to_vec(),
        "Token is not a non-empty string",
    ));
    for (endpoint, body, message) in content_cases {
        fake.push_fault(endpoint, AwsMetadataFault::Body(body.into()));
        let err = failure(&supplier, endpoint).await;
        assert_eq!(err.to_string(), format!("{}{message}", prefix(endpoint)));
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        assert!(!err.is_transient());
        assert_clean(&err);
    }

    // More than the transport takes at all: its own error, no secret either.
    fake.push_fault(
        AwsMetadataEndpoint::Credentials,
        AwsMetadataFault::Huge(2 * 1024 * 1024),
    );
    let err = failure(&supplier, AwsMetadataEndpoint::Credentials).await;
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert_clean(&err);

    // After all of it, the fake answers and the supplier reads it.
    let credentials = supplier
        .aws_security_credentials(&context(&[]))
        .await
        .unwrap();
    assert_eq!(credentials.access_key_id(), FAKE_AWS_ACCESS_KEY_ID);
    assert_eq!(
        credentials.secret_access_key().expose_secret(),
        FAKE_AWS_SECRET_ACCESS_KEY
    );
    assert_no_secret("credentials' Debug", &format!("{credentials:?}"));
}

/// A metadata service that never answers is left to the transport's timeout: transient.
#[tokio::test]
async fn a_hanging_metadata_service_times_out_in_the_transport() {
    let fake = FakeAwsMetadataServer::start().await.unwrap();
    fake.push_fault(AwsMetadataEndpoint::RoleName, AwsMetadataFault::Hang);
    let transport = credkit_reqwest::ReqwestTransport::builder()
        .with_timeout(std::time::Duration::from_millis(300))
        .build()
        .unwrap();
    let context = SupplierContext::new(AWS_SUBJECT_TOKEN_TYPE, AUDIENCE)
        .with_env_lookup(env(&[]))
        .with_transport(Arc::new(transport));
    let err = supplier_of(&fake)
        .aws_security_credentials(&context)
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_clean(&err);
    assert_eq!(
        fake.requests().last().map(|r| r.path().to_owned()),
        Some(ROLE_PATH.to_owned())
    );
}

#[tokio::test]
async fn a_server_requiring_imdsv2_refuses_a_supplier_without_a_token_url() {
    let fake = FakeAwsMetadataServer::builder()
        .requiring_imdsv2(true)
        .start()
        .await
        .unwrap();
    let supplier = DefaultAwsSecurityCredentialsSupplier::new()
        .with_region_url(fake.region_url())
        .unwrap();
    let err = supplier.aws_region(&context(&[])).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to retrieve AWS region: the metadata service answered HTTP 401"
    );
    assert_eq!(err.http_status(), Some(401));
    fake.set_require_imdsv2(false);
    assert_eq!(
        supplier.aws_region(&context(&[])).await.unwrap(),
        "us-east-2"
    );
}

#[tokio::test]
async fn the_environment_comes_before_the_metadata_service() {
    let fake = FakeAwsMetadataServer::start().await.unwrap();
    let supplier = supplier_of(&fake);

    let region = |vars: &'static [(&'static str, &'static str)]| {
        let supplier = supplier.clone();
        async move { supplier.aws_region(&context(vars)).await.unwrap() }
    };
    assert_eq!(
        region(&[
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "eu-west-1")
        ])
        .await,
        "us-west-2"
    );
    assert_eq!(
        region(&[("AWS_DEFAULT_REGION", "eu-west-1")]).await,
        "eu-west-1"
    );
    assert_eq!(
        fake.request_count(),
        0,
        "the environment answered: no request"
    );
    assert_eq!(region(&[]).await, "us-east-2");
    assert_eq!(
        fake.requests()
            .iter()
            .map(|r| r.path().to_owned())
            .collect::<Vec<_>>(),
        [TOKEN_PATH, ZONE_PATH]
    );
    fake.clear_requests();

    // Both the key and the secret, and the session token with them.
    let credentials = supplier
        .aws_security_credentials(&context(&[
            ("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", ENV_SECRET),
            ("AWS_SESSION_TOKEN", ENV_SESSION_TOKEN),
        ]))
        .await
        .unwrap();
    assert_eq!(credentials.access_key_id(), ENV_ACCESS_KEY_ID);
    assert_eq!(
        credentials.session_token().unwrap().expose_secret(),
        ENV_SESSION_TOKEN
    );
    assert_eq!(
        fake.request_count(),
        0,
        "the environment answered: no request"
    );

    // Half of the pair, or an empty secret, is not credentials: the metadata service is asked.
    for vars in [
        &[("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID)][..],
        &[("AWS_SECRET_ACCESS_KEY", ENV_SECRET)],
        &[
            ("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", ""),
        ],
        &[("AWS_SESSION_TOKEN", ENV_SESSION_TOKEN)],
    ] {
        let credentials = supplier
            .aws_security_credentials(&context(vars))
            .await
            .unwrap();
        assert_eq!(
            credentials.access_key_id(),
            FAKE_AWS_ACCESS_KEY_ID,
            "{vars:?}"
        );
        assert_eq!(
            credentials.session_token().unwrap().expose_secret(),
            FAKE_AWS_SESSION_TOKEN
        );
        assert_eq!(fake.request_count(), 3, "{vars:?}");
        fake.clear_requests();
    }

    // An empty AWS_REGION is taken, as the reference takes it, and refused when signing.
    let source = AwsSource::new(supplier.clone());
    let err = source
        .subject_token(&context(&[
            ("AWS_REGION", ""),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID),
            ("AWS_SECRET_ACCESS_KEY", ENV_SECRET),
        ]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Configuration);
    assert!(err.to_string().contains("not a region name"), "{err}");
}

#[tokio::test]
async fn without_urls_the_environment_must_answer() {
    let supplier = DefaultAwsSecurityCredentialsSupplier::new();
    let err = supplier.aws_region(&context(&[])).await.unwrap_err();
    assert_eq!(err.to_string(), "Unable to determine AWS region");
    let err = supplier
        .aws_security_credentials(&context(&[]))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to determine the AWS metadata server security credentials endpoint"
    );
    // No transport is needed when the environment has it all.
    let context = SupplierContext::new(AWS_SUBJECT_TOKEN_TYPE, AUDIENCE).with_env_lookup(env(&[
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", ENV_SECRET),
    ]));
    let token = AwsSource::new(supplier)
        .subject_token(&context)
        .await
        .unwrap();
    assert!(
        token
            .expose_secret()
            .contains("sts.us-east-1.amazonaws.com")
    );
}

#[tokio::test]
async fn the_region_is_asked_for_once() {
    let fake = FakeAwsMetadataServer::start().await.unwrap();
    let source = AwsSource::new(supplier_of(&fake));
    let first = source.subject_token(&context(&[])).await.unwrap();
    assert_eq!(fake.request_count(), 5);
    fake.clear_requests();
    let second = source.subject_token(&context(&[])).await.unwrap();
    // The credentials again (with their session token), not the region.
    assert_eq!(
        fake.requests()
            .iter()
            .map(|r| r.path().to_owned())
            .collect::<Vec<_>>(),
        [TOKEN_PATH.to_owned(), ROLE_PATH.to_owned(), role_path()]
    );
    assert_eq!(first.expose_secret(), second.expose_secret());
}

/// The reference's texts for a malformed AWS `credential_source`, from credkit and, when it
/// runs, from google-auth itself.
#[tokio::test]
async fn malformed_sources_fail_with_the_references_texts() {
    let cases = [
        (
            json!({"environment_id": "aws2", "regional_cred_verification_url": DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL}),
            "aws version '2' is not supported in the current build.",
        ),
        (
            json!({"environment_id": "aws1"}),
            "No valid AWS 'credential_source' provided",
        ),
        (
            json!({"environment_id": "azure1", "regional_cred_verification_url": DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL}),
            "No valid AWS 'credential_source' provided",
        ),
        (
            json!({"regional_cred_verification_url": DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL}),
            "No valid AWS 'credential_source' provided",
        ),
    ];
    let python = python();
    for (source, text) in cases {
        let err = ExternalAccountInfo::from_json(&file(&source)).unwrap_err();
        assert_eq!(err.to_string(), text, "{source}");
        if let Some(python) = &python {
            let answer = reference(
                python,
                json!({"audience": AUDIENCE, "credential_source": source}),
                &[],
            )
            .await;
            assert_eq!(answer["error"].as_str(), Some(text), "{source}");
        }
    }

    // Checked when the file is read (the reference would fail only at the first exchange).
    for (member, url, text) in [
        (
            "regional_cred_verification_url",
            "http://sts.{region}.amazonaws.com",
            "Invalid AWS service URL: regional_cred_verification_url must be an absolute https URL with a host",
        ),
        (
            "region_url",
            "http://metadata.example/latest/meta-data/placement/availability-zone",
            "credential_source.region_url: plain http is allowed only to loopback and to AWS's metadata service (169.254.169.254, [fd00:ec2::254]); use https",
        ),
        (
            "url",
            "http://169.254.169.254@evil.example/latest",
            "credential_source.url must be an absolute http or https URL with a host and no user name",
        ),
        (
            "imdsv2_session_token_url",
            "file:///etc/passwd",
            "credential_source.imdsv2_session_token_url must be an absolute http or https URL with a host and no user name",
        ),
    ] {
        let mut source = json!({
            "environment_id": "aws1",
            "regional_cred_verification_url": DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL,
        });
        source[member] = json!(url);
        let err = ExternalAccountInfo::from_json(&file(&source)).unwrap_err();
        assert_eq!(err.to_string(), text, "{member}");
    }

    // The metadata service's own addresses pass.
    let info = ExternalAccountInfo::from_json(&file(&json!({
        "environment_id": "aws1",
        "region_url": "http://169.254.169.254/latest/meta-data/placement/availability-zone",
        "url": "http://[fd00:ec2::254]/latest/meta-data/iam/security-credentials",
        "regional_cred_verification_url": DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL,
        "imdsv2_session_token_url": "http://169.254.169.254/latest/api/token",
    })))
    .unwrap();
    assert_eq!(info.source_kind(), "aws");
}

#[tokio::test]
async fn debug_shows_no_secret() {
    let fake = FakeAwsMetadataServer::start().await.unwrap();
    let vars = [
        ("AWS_ACCESS_KEY_ID", ENV_ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", ENV_SECRET),
        ("AWS_SESSION_TOKEN", ENV_SESSION_TOKEN),
    ];
    let info = ExternalAccountInfo::from_json(&file(&fake.credential_source())).unwrap();
    let sts = FakeTokenServer::start().await.unwrap();
    let credentials = info
        .builder()
        .with_token_url(sts.token_url())
        .with_transport(transport())
        .with_clock(FakeClock::at(NOW))
        .with_env_lookup(env(&vars))
        .build()
        .unwrap();
    credentials.fetch_token().await.unwrap();
    assert_no_secret("ExternalAccountInfo", &format!("{info:?}"));
    assert_no_secret("ExternalAccountCredentials", &format!("{credentials:?}"));
    let source = AwsSource::new(supplier_of(&fake));
    let token = source.subject_token(&context(&[])).await.unwrap();
    assert!(token.expose_secret().contains("session-token-planted"));
    assert_no_secret("AwsSource", &format!("{source:?}"));
    assert_no_secret("the subject token's Debug", &format!("{token:?}"));
    let credentials = supplier_of(&fake)
        .aws_security_credentials(&context(&[]))
        .await
        .unwrap();
    assert_no_secret("AwsSecurityCredentials", &format!("{credentials:?}"));
    for request in fake.requests() {
        assert_no_secret("AwsMetadataRequest", &format!("{request:?}"));
    }
}

/// The contract, over a programmatic supplier (the far side is STS, in memory). The secret
/// access key is not among the contract's secrets: the far side would echo it in its errors,
/// but STS never receives it (it only keys the HMAC), so no STS can echo it; that it shows in
/// no `Debug` and no error is checked by `debug_shows_no_secret` and the hostile replies.
#[test]
fn aws_credentials_keep_the_token_source_contract() {
    Contract::new(|far| {
        let credentials = ExternalAccountCredentials::aws_builder(
            AUDIENCE,
            Static {
                region: "us-east-1",
                session_token: Some(ENV_SESSION_TOKEN),
            },
        )
        .with_token_url(far.token_url())
        .with_transport(far.endpoint().clone())
        .with_clock(far.clock().clone())
        .build()
        .unwrap();
        assert_no_secret("the credentials' Debug", &format!("{credentials:?}"));
        credentials
    })
    .check();
}

#[test]
fn the_supplier_keeps_its_urls() {
    let supplier = DefaultAwsSecurityCredentialsSupplier::new();
    assert_eq!(supplier.region_url(), None);
    assert_eq!(supplier.security_credentials_url(), None);
    assert_eq!(supplier.imdsv2_session_token_url(), None);
    let supplier = supplier
        .with_region_url("http://169.254.169.254/latest/meta-data/placement/availability-zone")
        .unwrap()
        .with_security_credentials_url(
            "http://[fd00:ec2::254]/latest/meta-data/iam/security-credentials",
        )
        .unwrap()
        .with_imdsv2_session_token_url("http://169.254.169.254/latest/api/token")
        .unwrap();
    assert_eq!(
        supplier.region_url(),
        Some("http://169.254.169.254/latest/meta-data/placement/availability-zone")
    );
    assert_eq!(
        supplier.security_credentials_url(),
        Some("http://[fd00:ec2::254]/latest/meta-data/iam/security-credentials")
    );
    assert_eq!(
        supplier.imdsv2_session_token_url(),
        Some("http://169.254.169.254/latest/api/token")
    );
    let shown = format!("{:?}", AwsSource::new(supplier));
    assert!(shown.starts_with("AwsSource"), "{shown}");
    assert!(
        shown.contains(DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL),
        "{shown}"
    );
    assert!(shown.contains("\"programmatic\""), "{shown}");
    assert!(shown.contains("/latest/api/token"), "{shown}");
}

/// A reply of exactly the limit passes the cap (and is refused for what it says).
#[tokio::test]
async fn a_reply_at_the_limit_is_read() {
    let fake = FakeAwsMetadataServer::start().await.unwrap();
    fake.push_fault(
        AwsMetadataEndpoint::Region,
        AwsMetadataFault::Body(vec![b'a'; MAX_AWS_METADATA_REPLY_BYTES].into()),
    );
    let err = supplier_of(&fake)
        .aws_region(&context(&[]))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unable to retrieve AWS region: the availability zone is not a region name followed by a zone letter"
    );
}

#[test]
fn a_custom_verification_url_is_checked() {
    let source = AwsSource::new(DefaultAwsSecurityCredentialsSupplier::new());
    assert_eq!(
        source.regional_cred_verification_url(),
        DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL
    );
    let source = source
        .with_regional_cred_verification_url(
            "https://sts.{region}.amazonaws.com.cn?Action=GetCallerIdentity&Version=2011-06-15",
        )
        .unwrap();
    assert!(
        source
            .regional_cred_verification_url()
            .ends_with(".cn?Action=GetCallerIdentity&Version=2011-06-15")
    );
    assert!(
        AwsSource::new(DefaultAwsSecurityCredentialsSupplier::new())
            .with_regional_cred_verification_url("http://sts.{region}.amazonaws.com")
            .is_err()
    );
    let _unused: Arc<dyn SubjectTokenSupplier> = Arc::new(source);
}

/// A supplier of the given region and credentials.
#[derive(Debug)]
struct Given {
    region: String,
    credentials: AwsSecurityCredentials,
}

#[async_trait]
impl AwsSecurityCredentialsSupplier for Given {
    async fn aws_region(&self, _: &SupplierContext) -> Result<String, Error> {
        Ok(self.region.clone())
    }

    async fn aws_security_credentials(
        &self,
        _: &SupplierContext,
    ) -> Result<AwsSecurityCredentials, Error> {
        Ok(self.credentials.clone())
    }
}

proptest::proptest! {
    /// For any secret key, region and time: the key shows nowhere (it only keys the HMAC), the
    /// session token is carried as given, and `x-amz-date` is the clock's time.
    #[test]
    fn any_signature_keeps_the_secret_key_and_dates_by_the_clock(
        secret in credkit_testing::strategies::secret(),
        session in proptest::option::of(credkit_testing::strategies::secret()),
        region in "[a-z]{2}(-gov)?-[a-z]{4,9}-[1-9]",
        seconds in 0i64..4_102_444_800,
    ) {
        let mut credentials = AwsSecurityCredentials::new(ENV_ACCESS_KEY_ID, secret.clone().into());
        if let Some(session) = &session {
            credentials = credentials.with_session_token(session.clone().into());
        }
        let now = time::OffsetDateTime::from_unix_timestamp(seconds).unwrap();
        let source = AwsSource::new(Given { region: region.clone(), credentials });
        let context = SupplierContext::new(AWS_SUBJECT_TOKEN_TYPE, AUDIENCE)
            .with_clock(Arc::new(FakeClock::at(now)));
        let token = credkit_testing::block_on(source.subject_token(&context)).unwrap();
        let text = token.expose_secret();
        proptest::prop_assert!(!text.contains(&secret));
        let shown = format!("{source:?}");
        proptest::prop_assert!(!shown.contains(&secret));
        let token = decoded(text);
        let date = now
            .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
            .unwrap();
        proptest::prop_assert_eq!(header(&token, "x-amz-date"), Some(date.as_str()));
        proptest::prop_assert_eq!(header(&token, "x-amz-security-token"), session.as_deref());
        let url = format!("https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15");
        proptest::prop_assert_eq!(token["url"].as_str(), Some(url.as_str()));
        let scope = format!("/{}/{region}/sts/aws4_request, ", &date[..8]);
        proptest::prop_assert!(header(&token, "Authorization").unwrap().contains(&scope));
    }
}
