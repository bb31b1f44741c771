use std::sync::Mutex;
use std::time::Duration;

use credkit_core::ErrorKind;
use credkit_core::time::OffsetDateTime;
use futures::future::{self, BoxFuture, FutureExt};

use super::*;

const EMAIL: &str = "robot@proj.iam.gserviceaccount.com";
/// 2026-01-01 12:00 UTC.
fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_268_800).unwrap()
}

/// A clock frozen at [`now()`].
#[derive(Debug)]
struct Frozen;

impl Clock for Frozen {
    fn now(&self) -> OffsetDateTime {
        now()
    }
    fn sleep(&self, _duration: Duration) -> BoxFuture<'static, ()> {
        future::ready(()).boxed()
    }
}

/// Which backend call fails, and how.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Call {
    Token,
    IdToken,
    Email,
    Scopes,
    Project,
    Numeric,
    Universe,
}

#[derive(Debug, Default)]
struct Fake {
    /// The failing call and whether its error is transient.
    failing: Option<(Call, bool)>,
    expiry: Option<OffsetDateTime>,
    no_expiry: bool,
    project: Option<String>,
    numeric: Option<String>,
    universe: Option<String>,
    /// What the backend was asked: scopes of token calls, audience and format of ID tokens.
    token_scopes: Mutex<Vec<Option<Vec<String>>>>,
    id_requests: Mutex<Vec<(String, IdTokenFormat)>>,
}

impl Fake {
    fn new() -> Self {
        Self {
            expiry: Some(now() + Duration::from_secs(1800)),
            project: Some("proj".to_owned()),
            ..Self::default()
        }
    }

    fn check(&self, call: Call) -> Result<()> {
        match self.failing {
            Some((failing, transient)) if failing == call => Err(Error::new(
                ErrorKind::TokenEndpoint,
                "the token endpoint said no\r\nsecond line",
            )
            .with_transient(transient)),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl MetadataBackend for Fake {
    async fn access_token(&self, scopes: Option<&[String]>) -> Result<Arc<AccessToken>> {
        self.check(Call::Token)?;
        self.token_scopes
            .lock()
            .unwrap()
            .push(scopes.map(<[String]>::to_vec));
        let name = scopes.map_or("default".to_owned(), |s| s.join("+"));
        let token = AccessToken::new(format!("ya29.token-{name}"));
        let token = if self.no_expiry {
            token
        } else {
            token.with_optional_expiry(self.expiry)
        };
        Ok(Arc::new(token))
    }

    async fn id_token(&self, audience: &str, format: IdTokenFormat) -> Result<Arc<AccessToken>> {
        self.check(Call::IdToken)?;
        self.id_requests
            .lock()
            .unwrap()
            .push((audience.to_owned(), format));
        Ok(Arc::new(AccessToken::new(format!("eyJ.id-{audience}"))))
    }

    async fn email(&self) -> Result<String> {
        self.check(Call::Email)?;
        Ok(EMAIL.to_owned())
    }

    async fn scopes(&self) -> Result<Vec<String>> {
        self.check(Call::Scopes)?;
        Ok(vec!["scope-a".to_owned(), "scope-b".to_owned()])
    }

    async fn project_id(&self) -> Result<Option<String>> {
        self.check(Call::Project)?;
        Ok(self.project.clone())
    }

    async fn numeric_project_id(&self) -> Result<Option<String>> {
        self.check(Call::Numeric)?;
        Ok(self.numeric.clone())
    }

    async fn universe_domain(&self) -> Result<String> {
        self.check(Call::Universe)?;
        Ok(self
            .universe
            .clone()
            .unwrap_or_else(|| "example-universe.com".to_owned()))
    }
}

#[test]
fn an_account_without_an_email_goes_by_its_alias() {
    let handler = MetadataHandler::new(Minimal);
    assert_text(&get(&handler, &format!("{SA}/")), "default/\n");
    let response = get(&handler, &format!("{SA}/?recursive=true"));
    assert_eq!(
        json_of(&response),
        json!({"default": {"aliases": ["default"], "email": "default", "scopes": []}})
    );
    assert_text(&get(&handler, &format!("{SA}/default/email")), "default");
}

/// A backend that keeps the trait's defaults.
#[derive(Debug)]
struct Minimal;

#[async_trait]
impl MetadataBackend for Minimal {
    async fn access_token(&self, _scopes: Option<&[String]>) -> Result<Arc<AccessToken>> {
        Ok(Arc::new(AccessToken::new("t")))
    }
    async fn id_token(&self, _audience: &str, _format: IdTokenFormat) -> Result<Arc<AccessToken>> {
        Ok(Arc::new(AccessToken::new("i")))
    }
    async fn email(&self) -> Result<String> {
        Ok(DEFAULT_ALIAS.to_owned())
    }
    async fn scopes(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    async fn project_id(&self) -> Result<Option<String>> {
        Ok(None)
    }
}

fn serve(fake: Fake) -> (MetadataHandler, Arc<Fake>) {
    let fake = Arc::new(fake);
    let handler = MetadataHandler::from_arc(fake.clone()).with_clock(Frozen);
    (handler, fake)
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request<()> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

/// `GET uri` with `Metadata-Flavor: Google`.
fn get(handler: &MetadataHandler, uri: &str) -> Response<Bytes> {
    send(
        handler,
        &request("GET", uri, &[("Metadata-Flavor", "Google")]),
    )
}

/// The answer, after checking the headers every answer carries.
fn send(handler: &MetadataHandler, request: &Request<()>) -> Response<Bytes> {
    let response = futures::executor::block_on(handler.respond(request));
    let headers = response.headers();
    assert_eq!(headers["metadata-flavor"], "Google");
    assert_eq!(headers["server"], "Metadata Server for VM");
    assert_eq!(headers["x-xss-protection"], "0");
    assert_eq!(headers["x-frame-options"], "SAMEORIGIN");
    response
}

fn body(response: &Response<Bytes>) -> &str {
    std::str::from_utf8(response.body()).unwrap()
}

fn content_type(response: &Response<Bytes>) -> &str {
    response.headers()[CONTENT_TYPE].to_str().unwrap()
}

fn json_of(response: &Response<Bytes>) -> Value {
    assert_eq!(content_type(response), "application/json");
    serde_json::from_slice(response.body()).unwrap()
}

/// Asserts a `200` text answer with `expected`.
fn assert_text(response: &Response<Bytes>, expected: &str) {
    assert_eq!(response.status(), StatusCode::OK, "{}", body(response));
    assert_eq!(content_type(response), "application/text");
    assert_eq!(body(response), expected);
}

fn assert_error(response: &Response<Bytes>, status: StatusCode, message: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(content_type(response), "text/html; charset=UTF-8");
    assert_eq!(body(response), format!("{message}\n"));
}

const SA: &str = "/computeMetadata/v1/instance/service-accounts";

#[test]
fn the_probe_needs_no_flavor() {
    let (handler, _) = serve(Fake::new());
    assert_text(
        &send(&handler, &request("GET", "/", &[])),
        "computeMetadata/\n",
    );
    assert_text(&get(&handler, "/"), "computeMetadata/\n");
}

#[test]
fn metadata_paths_need_the_flavor_header() {
    let (handler, fake) = serve(Fake::new());
    for headers in [
        &[][..],
        &[("Metadata-Flavor", "google")][..],
        &[("Metadata-Flavor", "Google ")][..],
        &[("Metadata-Flavor", "")][..],
        &[("X-Google-Metadata-Request", "True")][..],
    ] {
        for path in [
            "/computeMetadata/",
            "/computeMetadata/v1/project/project-id",
            &format!("{SA}/default/token"),
            "/computeMetadata/v1/nowhere",
        ] {
            let response = send(&handler, &request("GET", path, headers));
            assert_error(&response, StatusCode::FORBIDDEN, MISSING_FLAVOR);
        }
    }
    assert!(fake.token_scopes.lock().unwrap().is_empty());
}

#[test]
fn forwarded_requests_are_refused() {
    let (handler, fake) = serve(Fake::new());
    for path in ["/", &format!("{SA}/default/token"), "/nowhere"] {
        let response = send(
            &handler,
            &request(
                "GET",
                path,
                &[
                    ("Metadata-Flavor", "Google"),
                    ("X-Forwarded-For", "10.0.0.1"),
                ],
            ),
        );
        assert_error(&response, StatusCode::FORBIDDEN, "Forbidden");
    }
    let empty = request(
        "GET",
        &format!("{SA}/default/token"),
        &[("Metadata-Flavor", "Google"), ("X-Forwarded-For", "")],
    );
    assert_eq!(send(&handler, &empty).status(), StatusCode::FORBIDDEN);
    assert!(fake.token_scopes.lock().unwrap().is_empty());
}

#[test]
fn only_get_is_allowed() {
    let (handler, fake) = serve(Fake::new());
    for method in ["POST", "PUT", "DELETE", "HEAD", "PATCH"] {
        for path in ["/", &format!("{SA}/default/token")] {
            let response = send(
                &handler,
                &request(method, path, &[("Metadata-Flavor", "Google")]),
            );
            assert_error(
                &response,
                StatusCode::METHOD_NOT_ALLOWED,
                "Method Not Allowed",
            );
            assert_eq!(response.headers()["allow"], "GET");
        }
    }
    assert!(fake.token_scopes.lock().unwrap().is_empty());
}

#[test]
fn unknown_paths_are_not_found() {
    let (handler, _) = serve(Fake::new());
    for path in [
        "/other",
        "/computeMetadataX/v1/",
        "/computeMetadata/v2/",
        "/computeMetadata/v1/instance/id",
        "/computeMetadata/v1/project/attributes/",
        "/computeMetadata/v1/universe/other",
        "/computeMetadata/v1/instance/service-accounts//email",
        "/computeMetadata/v1/instance/service-accounts/other@x.com/",
        "/computeMetadata/v1/instance/service-accounts/other@x.com/token",
        "/computeMetadata/v1/instance/service-accounts/default/other",
        "/computeMetadata/v1/instance/service-accounts/default/token/",
        "/computeMetadata/v1/instance/service-accounts/default/email/x",
    ] {
        assert_error(&get(&handler, path), StatusCode::NOT_FOUND, "Not Found");
    }
}

#[test]
fn directories_without_their_slash_redirect() {
    let (handler, _) = serve(Fake::new());
    for path in [
        "/computeMetadata",
        "/computeMetadata/v1",
        "/computeMetadata/v1/instance",
        "/computeMetadata/v1/project",
        "/computeMetadata/v1/universe",
        "/computeMetadata/v1/instance/service-accounts",
        "/computeMetadata/v1/instance/service-accounts/default",
        &format!("{SA}/{EMAIL}"),
    ] {
        let response = get(&handler, path);
        assert_error(
            &response,
            StatusCode::MOVED_PERMANENTLY,
            &format!("{path}/"),
        );
        assert_eq!(response.headers()[LOCATION], format!("{path}/").as_str());
        let response = get(&handler, &format!("{path}?recursive=true"));
        assert_eq!(
            response.headers()[LOCATION],
            format!("{path}/?recursive=true").as_str()
        );
    }
}

#[test]
fn directories_list_their_entries() {
    let (handler, _) = serve(Fake::new());
    assert_text(&get(&handler, "/computeMetadata/"), "v1/\n");
    assert_text(
        &get(&handler, "/computeMetadata/v1/"),
        "instance/\nproject/\nuniverse/\n",
    );
    assert_text(
        &get(&handler, "/computeMetadata/v1/instance/"),
        "service-accounts/\n",
    );
    assert_text(
        &get(&handler, "/computeMetadata/v1/project/"),
        "numeric-project-id\nproject-id\n",
    );
    assert_text(
        &get(&handler, "/computeMetadata/v1/universe/"),
        "universe-domain\n",
    );
    assert_text(
        &get(&handler, &format!("{SA}/")),
        &format!("default/\n{EMAIL}/\n"),
    );
    for account in ["default", EMAIL] {
        assert_text(
            &get(&handler, &format!("{SA}/{account}/")),
            "aliases\nemail\nidentity\nscopes\ntoken\n",
        );
        assert_text(
            &get(&handler, &format!("{SA}/{account}/?recursive=false")),
            "aliases\nemail\nidentity\nscopes\ntoken\n",
        );
    }
}

#[test]
fn recursive_service_accounts() {
    let (handler, _) = serve(Fake::new());
    let info = json!({"aliases": ["default"], "email": EMAIL, "scopes": ["scope-a", "scope-b"]});
    for account in ["default", EMAIL] {
        for recursive in ["true", "True", "TRUE"] {
            let response = get(&handler, &format!("{SA}/{account}/?recursive={recursive}"));
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(json_of(&response), info);
        }
    }
    let response = get(&handler, &format!("{SA}/?recursive=true"));
    assert_eq!(json_of(&response), json!({"default": info, EMAIL: info}));
}

#[test]
fn account_values() {
    let (handler, _) = serve(Fake::new());
    for account in ["default", EMAIL] {
        assert_text(&get(&handler, &format!("{SA}/{account}/email")), EMAIL);
        assert_text(
            &get(&handler, &format!("{SA}/{account}/scopes")),
            "scope-a\nscope-b\n",
        );
        assert_text(
            &get(&handler, &format!("{SA}/{account}/aliases")),
            "default\n",
        );
    }
}

#[test]
fn tokens_with_the_time_left() {
    let (handler, fake) = serve(Fake::new());
    let response = get(&handler, &format!("{SA}/default/token"));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        json_of(&response),
        json!({"access_token": "ya29.token-default", "expires_in": 1800, "token_type": "Bearer"})
    );
    let response = get(&handler, &format!("{SA}/{EMAIL}/token?scopes=a,%20b,,c"));
    assert_eq!(json_of(&response)["access_token"], "ya29.token-a+b+c");
    // No scope named is the default.
    let response = get(&handler, &format!("{SA}/default/token?scopes=,%20,"));
    assert_eq!(json_of(&response)["access_token"], "ya29.token-default");
    // The first of a repeated parameter wins.
    get(&handler, &format!("{SA}/default/token?scopes=x&scopes=y"));
    assert_eq!(
        *fake.token_scopes.lock().unwrap(),
        [
            None,
            Some(vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]),
            None,
            Some(vec!["x".to_owned()]),
        ]
    );
}

#[test]
fn expires_in_counts_whole_seconds_and_never_goes_negative() {
    let cases = [
        (Some(now() + Duration::from_millis(59_900)), false, 59),
        (Some(now() - Duration::from_secs(10)), false, 0),
        (Some(now()), false, 0),
        (None, true, NO_EXPIRY_LIFETIME_SECS),
    ];
    for (expiry, no_expiry, expected) in cases {
        let (handler, _) = serve(Fake {
            expiry,
            no_expiry,
            ..Fake::new()
        });
        let response = get(&handler, &format!("{SA}/default/token"));
        assert_eq!(json_of(&response)["expires_in"], expected, "{expiry:?}");
    }
}

#[test]
fn the_system_clock_by_default() {
    let handler = MetadataHandler::new(Fake {
        expiry: Some(OffsetDateTime::now_utc() + Duration::from_secs(1000)),
        ..Fake::new()
    });
    let response = get(&handler, &format!("{SA}/default/token"));
    let left = json_of(&response)["expires_in"].as_i64().unwrap();
    assert!((900..=1000).contains(&left), "{left}");
    assert!(format!("{:?}", handler.backend()).starts_with("Fake {"));
}

#[test]
fn id_tokens() {
    let (handler, fake) = serve(Fake::new());
    let cases = [
        ("audience=https://svc", IdTokenFormat::Standard),
        (
            "audience=https://svc&format=standard",
            IdTokenFormat::Standard,
        ),
        (
            "audience=https://svc&format=standard&licenses=TRUE",
            IdTokenFormat::Standard,
        ),
        ("audience=https://svc&format=full", IdTokenFormat::Full),
        (
            "audience=https://svc&format=full&licenses=FALSE",
            IdTokenFormat::Full,
        ),
        (
            "audience=https://svc&format=full&licenses=false",
            IdTokenFormat::Full,
        ),
        (
            "audience=https://svc&format=full&licenses=TRUE",
            IdTokenFormat::FullWithLicenses,
        ),
        (
            "audience=https://svc&licenses=true&format=full",
            IdTokenFormat::FullWithLicenses,
        ),
    ];
    for (query, _) in cases {
        let response = get(&handler, &format!("{SA}/default/identity?{query}"));
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(content_type(&response), "text/html; charset=UTF-8");
        assert_eq!(body(&response), "eyJ.id-https://svc");
    }
    let asked: Vec<IdTokenFormat> = fake
        .id_requests
        .lock()
        .unwrap()
        .iter()
        .map(|(audience, format)| {
            assert_eq!(audience, "https://svc");
            *format
        })
        .collect();
    let expected: Vec<IdTokenFormat> = cases.iter().map(|(_, format)| *format).collect();
    assert_eq!(asked, expected);
}

#[test]
fn id_tokens_need_an_audience_and_known_options() {
    let (handler, fake) = serve(Fake::new());
    let cases = [
        ("", "non-empty audience parameter required"),
        ("audience=", "non-empty audience parameter required"),
        ("format=full", "non-empty audience parameter required"),
        ("audience=a&format=FULL", "format must be standard or full"),
        ("audience=a&format=", "format must be standard or full"),
        (
            "audience=a&format=full&licenses=yes",
            "licenses must be TRUE or FALSE",
        ),
    ];
    for (query, message) in cases {
        let response = get(&handler, &format!("{SA}/default/identity?{query}"));
        assert_error(&response, StatusCode::BAD_REQUEST, message);
    }
    assert!(fake.id_requests.lock().unwrap().is_empty());
}

#[test]
fn id_token_formats_name_themselves() {
    assert_eq!(IdTokenFormat::Standard.as_str(), "standard");
    assert_eq!(IdTokenFormat::Full.as_str(), "full");
    assert_eq!(IdTokenFormat::FullWithLicenses.as_str(), "full");
    assert!(!IdTokenFormat::Standard.licenses());
    assert!(!IdTokenFormat::Full.licenses());
    assert!(IdTokenFormat::FullWithLicenses.licenses());
}

#[test]
fn project_and_universe() {
    let (handler, _) = serve(Fake {
        numeric: Some("1234".to_owned()),
        universe: Some("my-universe.example".to_owned()),
        ..Fake::new()
    });
    assert_text(
        &get(&handler, "/computeMetadata/v1/project/project-id"),
        "proj",
    );
    assert_text(
        &get(&handler, "/computeMetadata/v1/project/numeric-project-id"),
        "1234",
    );
    assert_text(
        &get(&handler, "/computeMetadata/v1/universe/universe-domain"),
        "my-universe.example",
    );
    let (handler, _) = serve(Fake {
        project: None,
        ..Fake::new()
    });
    for path in ["project/project-id", "project/numeric-project-id"] {
        let response = get(&handler, &format!("/computeMetadata/v1/{path}"));
        assert_error(&response, StatusCode::NOT_FOUND, "Not Found");
    }
}

#[test]
fn the_backend_defaults() {
    let handler = MetadataHandler::new(Minimal);
    assert_error(
        &get(&handler, "/computeMetadata/v1/project/numeric-project-id"),
        StatusCode::NOT_FOUND,
        "Not Found",
    );
    assert_text(
        &get(&handler, "/computeMetadata/v1/universe/universe-domain"),
        DEFAULT_UNIVERSE_DOMAIN,
    );
    assert_eq!(DEFAULT_UNIVERSE_DOMAIN, "googleapis.com");
}

#[test]
fn backend_failures_are_5xx_with_a_one_line_message() {
    let cases = [
        (Call::Token, format!("{SA}/default/token")),
        (Call::IdToken, format!("{SA}/default/identity?audience=a")),
        (Call::Email, format!("{SA}/")),
        (Call::Email, format!("{SA}/default/email")),
        (Call::Scopes, format!("{SA}/default/scopes")),
        (Call::Scopes, format!("{SA}/default/?recursive=true")),
        (Call::Scopes, format!("{SA}/?recursive=true")),
        (
            Call::Project,
            "/computeMetadata/v1/project/project-id".to_owned(),
        ),
        (
            Call::Numeric,
            "/computeMetadata/v1/project/numeric-project-id".to_owned(),
        ),
        (
            Call::Universe,
            "/computeMetadata/v1/universe/universe-domain".to_owned(),
        ),
    ];
    for (call, path) in cases {
        for (transient, status) in [
            (true, StatusCode::SERVICE_UNAVAILABLE),
            (false, StatusCode::INTERNAL_SERVER_ERROR),
        ] {
            let (handler, _) = serve(Fake {
                failing: Some((call, transient)),
                ..Fake::new()
            });
            let response = get(&handler, &path);
            assert_error(&response, status, "the token endpoint said no  second line");
        }
    }
}

#[test]
fn alt_json_and_text() {
    let (handler, _) = serve(Fake::new());
    let response = get(&handler, "/computeMetadata/v1/project/project-id?alt=json");
    assert_eq!(json_of(&response), json!("proj"));
    assert_text(
        &get(&handler, "/computeMetadata/v1/project/project-id?alt=text"),
        "proj",
    );
    let response = get(&handler, &format!("{SA}/default/scopes?alt=json"));
    assert_eq!(json_of(&response), json!(["scope-a", "scope-b"]));
    assert_text(
        &get(&handler, &format!("{SA}/default/scopes?alt=text")),
        "scope-a\nscope-b\n",
    );
    let response = get(
        &handler,
        &format!("{SA}/default/identity?audience=a&alt=json"),
    );
    assert_eq!(json_of(&response), json!("eyJ.id-a"));
    let response = get(
        &handler,
        &format!("{SA}/default/identity?audience=a&alt=text"),
    );
    assert_eq!(content_type(&response), "text/html; charset=UTF-8");
    assert_text(
        &get(&handler, &format!("{SA}/default/token?alt=text")),
        "access_token ya29.token-default\nexpires_in 1800\ntoken_type Bearer\n",
    );
    let response = get(&handler, &format!("{SA}/default/token?alt=json"));
    assert_eq!(json_of(&response)["expires_in"], 1800);
    assert_text(
        &get(&handler, &format!("{SA}/?recursive=true&alt=text")),
        &format!(
            "default/aliases default\ndefault/email {EMAIL}\ndefault/scopes scope-a\ndefault/scopes scope-b\n\
             {EMAIL}/aliases default\n{EMAIL}/email {EMAIL}\n{EMAIL}/scopes scope-a\n{EMAIL}/scopes scope-b\n"
        ),
    );
    assert_error(
        &get(&handler, &format!("{SA}/default/email?alt=xml")),
        StatusCode::BAD_REQUEST,
        "alt must be json or text",
    );
    assert_error(
        &get(&handler, "/?alt="),
        StatusCode::BAD_REQUEST,
        "alt must be json or text",
    );
}

#[test]
fn alt_text_of_scalars_and_bare_values() {
    assert_eq!(
        text_of(&json!({"a": 1, "b": true, "c": null})),
        "a 1\nb true\nc null\n"
    );
    assert_eq!(text_of(&json!(["x", "y"])), "x\ny\n");
    assert_eq!(text_of(&json!("x")), "x\n");
    assert_eq!(text_of(&json!(7)), "7\n");
    assert_eq!(text_of(&json!({"a": {"b": {"c": "d"}}})), "a/b/c d\n");
}

#[test]
fn redirects_without_a_valid_location_still_answer() {
    let response = redirect("/computeMetadata/v1", Some("a=\u{7f}"));
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert!(response.headers().get(LOCATION).is_none());
}

#[test]
fn messages_lose_their_control_characters() {
    assert_eq!(one_line("a\nb\tc\u{1b}d"), "a b c d");
}
