//! The metadata server's request handling (`credkit_helpers::metadata_server`): any method,
//! path, query and headers, answered from a backend whose tokens are planted secrets. Nothing
//! panics; every answer carries `Metadata-Flavor: Google`; a planted token is only ever in the
//! body of a `200` to a `GET` that carried `Metadata-Flavor: Google` and no `X-Forwarded-For`.
#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use async_trait::async_trait;
use credkit_core::{AccessToken, Error, ErrorKind, Result};
use credkit_helpers::metadata_server::{IdTokenFormat, MetadataBackend, MetadataHandler};
use libfuzzer_sys::fuzz_target;

/// The access token the backend hands out: no answer but a token's may hold it.
const PLANTED: &str = "ya29.planted-metadata-server-token";
/// The ID token the backend hands out.
const PLANTED_ID: &str = "eyJ.planted-metadata-server-id-token";

#[derive(Arbitrary, Debug)]
struct Input {
    method: Method,
    /// Known path pieces, joined with `/` after `/computeMetadata/v1/` (or raw when `raw`).
    pieces: Vec<Piece>,
    raw_path: Option<String>,
    query: Vec<(QueryName, String)>,
    flavor: Option<String>,
    forwarded_for: Option<String>,
    /// Other headers, by name and value.
    headers: Vec<(String, String)>,
    /// Which backend call fails (none when out of range).
    failing: u8,
}

#[derive(Arbitrary, Debug)]
enum Method {
    Get,
    Post,
    Head,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum Piece {
    Instance,
    ServiceAccounts,
    Default,
    Email,
    Token,
    Identity,
    Scopes,
    Aliases,
    Project,
    ProjectId,
    Universe,
    Empty,
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum QueryName {
    Scopes,
    Audience,
    Format,
    Licenses,
    Recursive,
    Alt,
    Other(String),
}

#[derive(Debug)]
struct Fake {
    failing: u8,
}

impl Fake {
    fn check(&self, call: u8) -> Result<()> {
        if self.failing == call {
            Err(Error::new(ErrorKind::TokenEndpoint, "refused"))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl MetadataBackend for Fake {
    async fn access_token(&self, _scopes: Option<&[String]>) -> Result<Arc<AccessToken>> {
        self.check(0)?;
        Ok(Arc::new(AccessToken::new(PLANTED)))
    }
    async fn id_token(&self, _audience: &str, _format: IdTokenFormat) -> Result<Arc<AccessToken>> {
        self.check(1)?;
        Ok(Arc::new(AccessToken::new(PLANTED_ID)))
    }
    async fn email(&self) -> Result<String> {
        self.check(2)?;
        Ok("robot@proj.iam.gserviceaccount.com".to_owned())
    }
    async fn scopes(&self) -> Result<Vec<String>> {
        self.check(3)?;
        Ok(vec!["scope-a".to_owned()])
    }
    async fn project_id(&self) -> Result<Option<String>> {
        self.check(4)?;
        Ok(Some("proj".to_owned()))
    }
}

fn path_of(input: &Input) -> String {
    if let Some(raw) = &input.raw_path {
        return raw.clone();
    }
    let pieces: Vec<String> = input
        .pieces
        .iter()
        .map(|piece| match piece {
            Piece::Instance => "instance".to_owned(),
            Piece::ServiceAccounts => "service-accounts".to_owned(),
            Piece::Default => "default".to_owned(),
            Piece::Email => "robot@proj.iam.gserviceaccount.com".to_owned(),
            Piece::Token => "token".to_owned(),
            Piece::Identity => "identity".to_owned(),
            Piece::Scopes => "scopes".to_owned(),
            Piece::Aliases => "aliases".to_owned(),
            Piece::Project => "project".to_owned(),
            Piece::ProjectId => "project-id".to_owned(),
            Piece::Universe => "universe".to_owned(),
            Piece::Empty => String::new(),
            Piece::Other(text) => text.clone(),
        })
        .collect();
    format!("/computeMetadata/v1/{}", pieces.join("/"))
}

fn query_of(input: &Input) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in &input.query {
        let name = match name {
            QueryName::Scopes => "scopes",
            QueryName::Audience => "audience",
            QueryName::Format => "format",
            QueryName::Licenses => "licenses",
            QueryName::Recursive => "recursive",
            QueryName::Alt => "alt",
            QueryName::Other(name) => name,
        };
        query.append_pair(name, value);
    }
    query.finish()
}

fuzz_target!(|input: Input| {
    let method = match &input.method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Head => "HEAD",
        Method::Other(name) => name,
    };
    let query = query_of(&input);
    let uri = if query.is_empty() {
        path_of(&input)
    } else {
        format!("{}?{query}", path_of(&input))
    };
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in &input.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(flavor) = &input.flavor {
        builder = builder.header("metadata-flavor", flavor.as_str());
    }
    if let Some(forwarded) = &input.forwarded_for {
        builder = builder.header("x-forwarded-for", forwarded.as_str());
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let handler = MetadataHandler::new(Fake {
        failing: input.failing,
    });
    let response = futures::executor::block_on(handler.respond(&request));

    assert_eq!(
        response
            .headers()
            .get("metadata-flavor")
            .map(|v| v.as_bytes()),
        Some(&b"Google"[..])
    );
    let body = String::from_utf8_lossy(response.body());
    if body.contains(PLANTED) || body.contains(PLANTED_ID) {
        assert_eq!(response.status(), http::StatusCode::OK);
        assert_eq!(request.method(), http::Method::GET);
        let flavors: Vec<_> = request
            .headers()
            .get_all("metadata-flavor")
            .iter()
            .collect();
        assert_eq!(flavors.first().map(|v| v.as_bytes()), Some(&b"Google"[..]));
        assert!(!request.headers().contains_key("x-forwarded-for"));
        assert!(
            request
                .uri()
                .path()
                .starts_with("/computeMetadata/v1/instance/service-accounts/")
        );
    }
    if !response.status().is_success() {
        assert!(!body.contains(PLANTED) && !body.contains(PLANTED_ID));
    }
});
