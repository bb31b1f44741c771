//! The Compute Engine metadata server's HTTP interface, over any credkit credentials.
//!
//! Google's client libraries in every language look for credentials at the metadata server
//! when `GCE_METADATA_HOST` (Go, Java, Node, Rust) and `GCE_METADATA_IP` (Python's probe) name
//! one. [`MetadataHandler`] answers their requests as the real server does, from a
//! [`MetadataBackend`]: your credentials' access tokens (per scope set), ID tokens, the
//! account's email and scopes, the project and the universe domain.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//!
//! use async_trait::async_trait;
//! use credkit_core::http::{Request, StatusCode};
//! use credkit_core::{AccessToken, Result};
//! use credkit_helpers::metadata_server::{IdTokenFormat, MetadataBackend, MetadataHandler};
//!
//! #[derive(Debug)]
//! struct Fixed;
//!
//! #[async_trait]
//! impl MetadataBackend for Fixed {
//!     async fn access_token(&self, _scopes: Option<&[String]>) -> Result<Arc<AccessToken>> {
//!         Ok(Arc::new(AccessToken::new("ya29.example")))
//!     }
//!     async fn id_token(&self, audience: &str, _format: IdTokenFormat) -> Result<Arc<AccessToken>> {
//!         Ok(Arc::new(AccessToken::new(format!("id-token-for-{audience}"))))
//!     }
//!     async fn email(&self) -> Result<String> {
//!         Ok("robot@my-project.iam.gserviceaccount.com".to_owned())
//!     }
//!     async fn scopes(&self) -> Result<Vec<String>> {
//!         Ok(vec!["https://www.googleapis.com/auth/cloud-platform".to_owned()])
//!     }
//!     async fn project_id(&self) -> Result<Option<String>> {
//!         Ok(Some("my-project".to_owned()))
//!     }
//! }
//!
//! # fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
//! let handler = MetadataHandler::new(Fixed);
//! let request = Request::get("/computeMetadata/v1/project/project-id")
//!     .header("metadata-flavor", "Google")
//!     .body(())?;
//! let response = futures::executor::block_on(handler.respond(&request));
//! assert_eq!(response.status(), StatusCode::OK);
//! assert_eq!(response.body().as_ref(), b"my-project");
//! assert_eq!(response.headers()["metadata-flavor"], "Google");
//! # Ok(())
//! # }
//! ```
//!
//! # What it serves
//!
//! Every answer carries `Metadata-Flavor: Google` (and the real server's `Server`,
//! `X-XSS-Protection` and `X-Frame-Options`). A request with `X-Forwarded-For` is refused
//! (`403`), as the real server refuses anything a proxy forwarded; a method other than `GET`
//! gets `405`. Under `/computeMetadata/`, a request must carry `Metadata-Flavor: Google`, else
//! `403`.
//!
//! | path | answer |
//! |---|---|
//! | `/` (the probe) | `computeMetadata/` |
//! | `/computeMetadata/v1/` | `instance/`, `project/`, `universe/` |
//! | `instance/service-accounts/` | `default/` and `EMAIL/`; with `?recursive=true`, both as JSON objects |
//! | `instance/service-accounts/ACCOUNT/` | `aliases`, `email`, `identity`, `scopes`, `token`; with `?recursive=true`, `{"aliases":["default"],"email","scopes"}` |
//! | `.../ACCOUNT/token[?scopes=A,B]` | `{"access_token","expires_in","token_type"}` |
//! | `.../ACCOUNT/identity?audience=A[&format=standard\|full][&licenses=TRUE]` | the ID token (`400` without an audience) |
//! | `.../ACCOUNT/email`, `scopes`, `aliases` | the email; the scopes, one a line; `default` |
//! | `project/project-id`, `project/numeric-project-id` | the project, or `404` when unknown |
//! | `universe/universe-domain` | the universe domain (`googleapis.com` by default) |
//!
//! `ACCOUNT` is `default` or the account's email; a directory named without its trailing `/`
//! is redirected (`301`) to it, as the real server does. `?alt=json` gives a text value as a
//! JSON string (a list as an array); `?alt=text` gives a JSON value as `key value` lines.
//! A backend failure is a `500` (`503` when the error is transient) whose body is the error's
//! message, which in credkit never holds a secret.
//!
//! The handler never reads the network or the environment: it routes, checks headers, parses
//! the query and writes the answer; the caller owns the socket (the `credkit metadata-server`
//! command serves it with hyper).

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::bytes::Bytes;
use credkit_core::http::header::{CONTENT_TYPE, HeaderValue, LOCATION};
use credkit_core::http::{HeaderName, Method, Request, Response, StatusCode};
use credkit_core::secrecy::ExposeSecret;
use credkit_core::{AccessToken, Clock, Error, Result, SystemClock};
use serde_json::{Map, Value, json};

/// The universe domain of Google's public cloud, served when the backend names no other.
pub const DEFAULT_UNIVERSE_DOMAIN: &str = "googleapis.com";

/// The alias every service account directory answers to, besides its email.
pub const DEFAULT_ALIAS: &str = "default";

/// The lifetime reported for a token that has no expiry, in seconds: an hour, what Google's
/// access tokens live, so a client asks again by then.
pub const NO_EXPIRY_LIFETIME_SECS: i64 = 3600;

/// The body of the `403` for a request under `/computeMetadata/` without
/// `Metadata-Flavor: Google`: the real server's words.
pub const MISSING_FLAVOR: &str = "Missing Metadata-Flavor:Google header.";

/// The header every request under `/computeMetadata/` must carry, and every answer carries.
const FLAVOR: HeaderName = HeaderName::from_static("metadata-flavor");

/// The header a proxy adds: the real server refuses a request that carries it.
const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The root of the metadata paths.
const ROOT: &str = "/computeMetadata/";

/// The content type of a text value, as the real server labels it.
const TEXT: &str = "application/text";

/// The content type of a JSON value.
const JSON: &str = "application/json";

/// The content type of an error page and of an ID token, as the real server labels them.
const HTML: &str = "text/html; charset=UTF-8";

/// What the metadata server knows, supplied by your credentials.
///
/// The [`MetadataHandler`] asks it for each request it answers; nothing is cached here, so an
/// implementation backed by [`Credentials`](credkit_core::Credentials) serves the cached
/// token while it is fresh and refreshes (once, for all callers) when it is not.
///
/// # Contract
///
/// - Errors are credkit [`Error`]s, whose message the handler puts in the answer's body: it
///   must never contain a secret (credkit's never do). A transient error becomes a `503`, any
///   other a `500`.
/// - Calls may run concurrently; a dropped call must leave no state behind.
///
/// # Examples
///
/// See the [module documentation](self).
#[async_trait]
pub trait MetadataBackend: Send + Sync + Debug {
    /// An access token for `scopes`, or for the account's own scopes when `None` (a request
    /// without `?scopes=`).
    ///
    /// # Errors
    ///
    /// The token could not be obtained.
    async fn access_token(&self, scopes: Option<&[String]>) -> Result<Arc<AccessToken>>;

    /// An ID token for `audience`, in `format`. The token's secret is served as it is.
    ///
    /// # Errors
    ///
    /// The token could not be obtained, or the credentials have no ID tokens.
    async fn id_token(&self, audience: &str, format: IdTokenFormat) -> Result<Arc<AccessToken>>;

    /// The account's email; [`DEFAULT_ALIAS`] when it is not known (the account is then
    /// listed by its alias alone).
    ///
    /// # Errors
    ///
    /// The email could not be found.
    async fn email(&self) -> Result<String>;

    /// The account's scopes: those of a token asked for without `?scopes=`.
    ///
    /// # Errors
    ///
    /// The scopes could not be found.
    async fn scopes(&self) -> Result<Vec<String>>;

    /// The project ID; `None` serves a `404`.
    ///
    /// # Errors
    ///
    /// Looking for the project failed.
    async fn project_id(&self) -> Result<Option<String>>;

    /// The numeric project ID; `None` (the default) serves a `404`.
    ///
    /// # Errors
    ///
    /// Looking for the project number failed.
    async fn numeric_project_id(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// The universe domain. Default [`DEFAULT_UNIVERSE_DOMAIN`].
    ///
    /// # Errors
    ///
    /// Looking for the universe domain failed.
    async fn universe_domain(&self) -> Result<String> {
        Ok(DEFAULT_UNIVERSE_DOMAIN.to_owned())
    }
}

/// Which claims an ID token carries: the `format` query parameter of the `identity` path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdTokenFormat {
    /// `format=standard` (the default): the standard claims.
    Standard,
    /// `format=full`: also the instance's details under `google.compute_engine`.
    Full,
    /// `format=full&licenses=TRUE`: the full format with the instance's license codes.
    FullWithLicenses,
}

impl IdTokenFormat {
    /// The `format` query parameter's value: `standard` or `full`.
    ///
    /// ```
    /// use credkit_helpers::metadata_server::IdTokenFormat;
    ///
    /// assert_eq!(IdTokenFormat::FullWithLicenses.as_str(), "full");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Full | Self::FullWithLicenses => "full",
        }
    }

    /// Whether license codes were asked for (`licenses=TRUE`).
    ///
    /// ```
    /// use credkit_helpers::metadata_server::IdTokenFormat;
    ///
    /// assert!(IdTokenFormat::FullWithLicenses.licenses());
    /// assert!(!IdTokenFormat::Full.licenses());
    /// ```
    pub fn licenses(self) -> bool {
        self == Self::FullWithLicenses
    }
}

/// Answers metadata server requests from a [`MetadataBackend`].
///
/// A cheap handle: clones share the backend and the clock.
///
/// # Examples
///
/// See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct MetadataHandler {
    backend: Arc<dyn MetadataBackend>,
    clock: Arc<dyn Clock>,
}

impl MetadataHandler {
    /// A handler over `backend`, timing tokens' `expires_in` on the system clock.
    pub fn new(backend: impl MetadataBackend + 'static) -> Self {
        Self::from_arc(Arc::new(backend))
    }

    /// A handler over a shared `backend`.
    pub fn from_arc(backend: Arc<dyn MetadataBackend>) -> Self {
        Self {
            backend,
            clock: Arc::new(SystemClock),
        }
    }

    /// The clock `expires_in` is counted on. Default [`SystemClock`].
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn MetadataBackend> {
        &self.backend
    }

    /// The answer to `request`, as the metadata server gives it. Only the method, the path,
    /// the query and the headers are read: metadata requests have no body.
    ///
    /// Never fails: a bad request or a backend error is an error answer (see the
    /// [module documentation](self)). The token is in the body of a `200` only.
    pub async fn respond(&self, request: &Request<()>) -> Response<Bytes> {
        let mut response = self.route(request).await.unwrap_or_else(|reply| *reply);
        let headers = response.headers_mut();
        headers.insert(FLAVOR, HeaderValue::from_static("Google"));
        headers.insert("server", HeaderValue::from_static("Metadata Server for VM"));
        headers.insert("x-xss-protection", HeaderValue::from_static("0"));
        headers.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
        response
    }

    /// The answer, or the error answer as `Err` (so `?` ends a route early).
    async fn route(&self, request: &Request<()>) -> Reply {
        if request.headers().contains_key(FORWARDED_FOR) {
            return Err(error(StatusCode::FORBIDDEN, "Forbidden"));
        }
        if request.method() != Method::GET {
            let mut answer = error(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            answer
                .headers_mut()
                .insert("allow", HeaderValue::from_static("GET"));
            return Err(answer);
        }
        let path = request.uri().path();
        let query = Query::parse(request.uri().query());
        if path == "/" {
            return query.render(Body::List(vec!["computeMetadata/".to_owned()]));
        }
        if path == "/computeMetadata" {
            return Err(redirect(path, request.uri().query()));
        }
        let Some(rest) = path.strip_prefix(ROOT) else {
            return Err(not_found());
        };
        let flavored = request
            .headers()
            .get(FLAVOR)
            .is_some_and(|value| value == "Google");
        if !flavored {
            return Err(error(StatusCode::FORBIDDEN, MISSING_FLAVOR));
        }
        let body = match rest {
            "" => Body::List(vec!["v1/".to_owned()]),
            "v1/" => Body::List(
                ["instance/", "project/", "universe/"]
                    .map(str::to_owned)
                    .to_vec(),
            ),
            "v1/instance/" => Body::List(vec!["service-accounts/".to_owned()]),
            "v1/project/" => Body::List(
                ["numeric-project-id", "project-id"]
                    .map(str::to_owned)
                    .to_vec(),
            ),
            "v1/universe/" => Body::List(vec!["universe-domain".to_owned()]),
            "v1"
            | "v1/instance"
            | "v1/project"
            | "v1/universe"
            | "v1/instance/service-accounts" => {
                return Err(redirect(path, request.uri().query()));
            }
            "v1/project/project-id" => {
                Body::Text(found(self.backend.project_id().await.map_err(failed)?)?)
            }
            "v1/project/numeric-project-id" => Body::Text(found(
                self.backend.numeric_project_id().await.map_err(failed)?,
            )?),
            "v1/universe/universe-domain" => {
                Body::Text(self.backend.universe_domain().await.map_err(failed)?)
            }
            "v1/instance/service-accounts/" => self.accounts(&query).await?,
            _ => match rest.strip_prefix("v1/instance/service-accounts/") {
                Some(account_path) => self.account(path, request, account_path, &query).await?,
                None => return Err(not_found()),
            },
        };
        query.render(body)
    }

    /// `instance/service-accounts/`: the two names of the one account.
    async fn accounts(&self, query: &Query) -> Result<Body, Failed> {
        let email = self.backend.email().await.map_err(failed)?;
        // An account whose email is unknown goes by its alias alone.
        let names: Vec<&str> = if email == DEFAULT_ALIAS {
            vec![DEFAULT_ALIAS]
        } else {
            vec![DEFAULT_ALIAS, &email]
        };
        if query.recursive() {
            let info = self.account_info(&email).await?;
            let all: Map<String, Value> = names
                .into_iter()
                .map(|name| (name.to_owned(), info.clone()))
                .collect();
            return Ok(Body::Json(Value::Object(all)));
        }
        Ok(Body::List(
            names.into_iter().map(|name| format!("{name}/")).collect(),
        ))
    }

    /// `{"aliases":["default"],"email":..,"scopes":[..]}`.
    async fn account_info(&self, email: &str) -> Result<Value, Failed> {
        let scopes = self.backend.scopes().await.map_err(failed)?;
        Ok(json!({ "aliases": [DEFAULT_ALIAS], "email": email, "scopes": scopes }))
    }

    /// `instance/service-accounts/ACCOUNT/...`, with `account_path` the part after
    /// `service-accounts/`.
    async fn account(
        &self,
        path: &str,
        request: &Request<()>,
        account_path: &str,
        query: &Query,
    ) -> Result<Body, Failed> {
        let (account, leaf) = match account_path.split_once('/') {
            Some((account, leaf)) => (account, Some(leaf)),
            None => (account_path, None),
        };
        if account.is_empty() {
            return Err(not_found());
        }
        let email = self.backend.email().await.map_err(failed)?;
        if account != DEFAULT_ALIAS && account != email {
            return Err(not_found());
        }
        let Some(leaf) = leaf else {
            return Err(redirect(path, request.uri().query()));
        };
        match leaf {
            "" if query.recursive() => Ok(Body::Json(self.account_info(&email).await?)),
            "" => Ok(Body::List(
                ["aliases", "email", "identity", "scopes", "token"]
                    .map(str::to_owned)
                    .to_vec(),
            )),
            "aliases" => Ok(Body::List(vec![DEFAULT_ALIAS.to_owned()])),
            "email" => Ok(Body::Text(email)),
            "scopes" => Ok(Body::List(self.backend.scopes().await.map_err(failed)?)),
            "token" => self.token(query).await,
            "identity" => self.identity(query).await,
            _ => Err(not_found()),
        }
    }

    /// `.../token[?scopes=A,B]`.
    async fn token(&self, query: &Query) -> Result<Body, Failed> {
        let scopes = query.scopes();
        let token = self
            .backend
            .access_token(scopes.as_deref())
            .await
            .map_err(failed)?;
        let expires_in = match token.expiry() {
            Some(expiry) => (expiry - self.clock.now()).whole_seconds().max(0),
            None => NO_EXPIRY_LIFETIME_SECS,
        };
        Ok(Body::Json(json!({
            "access_token": token.secret().expose_secret(),
            "expires_in": expires_in,
            "token_type": token.token_type(),
        })))
    }

    /// `.../identity?audience=A[&format=..][&licenses=..]`.
    async fn identity(&self, query: &Query) -> Result<Body, Failed> {
        let Some(audience) = query.get("audience").filter(|a| !a.is_empty()) else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "non-empty audience parameter required",
            ));
        };
        let licenses = match query.get("licenses") {
            None => false,
            Some(value) if value.eq_ignore_ascii_case("true") => true,
            Some(value) if value.eq_ignore_ascii_case("false") => false,
            Some(_) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "licenses must be TRUE or FALSE",
                ));
            }
        };
        let format = match query.get("format") {
            None | Some("standard") => IdTokenFormat::Standard,
            Some("full") if licenses => IdTokenFormat::FullWithLicenses,
            Some("full") => IdTokenFormat::Full,
            Some(_) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "format must be standard or full",
                ));
            }
        };
        let token = self
            .backend
            .id_token(audience, format)
            .await
            .map_err(failed)?;
        Ok(Body::IdToken(token.secret().expose_secret().to_owned()))
    }
}

/// An answer, or the error answer that ends the route.
type Reply = Result<Response<Bytes>, Failed>;

/// An error answer, boxed: it travels through `?`.
type Failed = Box<Response<Bytes>>;

/// A value to serve, before `?alt=` picks its form.
#[derive(Debug)]
enum Body {
    /// One text value.
    Text(String),
    /// Lines: a directory's entries, the scopes.
    List(Vec<String>),
    /// A JSON value: a token, a recursive directory.
    Json(Value),
    /// An ID token: text, labelled as the real server labels it.
    IdToken(String),
}

/// `?alt=`: the form of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alt {
    /// The value's own form.
    Default,
    /// `alt=json`.
    Json,
    /// `alt=text`.
    Text,
}

/// The query parameters, decoded; the first of a repeated name wins.
#[derive(Debug)]
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(query: Option<&str>) -> Self {
        let pairs = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        Self { pairs }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// `recursive=true` (any case, as the real server reads it).
    fn recursive(&self) -> bool {
        self.get("recursive")
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }

    /// `scopes=A,B`: the scopes, or `None` when none are named.
    fn scopes(&self) -> Option<Vec<String>> {
        let scopes: Vec<String> = self
            .get("scopes")?
            .split(',')
            .map(str::trim)
            .filter(|scope| !scope.is_empty())
            .map(str::to_owned)
            .collect();
        (!scopes.is_empty()).then_some(scopes)
    }

    fn alt(&self) -> Result<Alt, Failed> {
        match self.get("alt") {
            None => Ok(Alt::Default),
            Some("json") => Ok(Alt::Json),
            Some("text") => Ok(Alt::Text),
            Some(_) => Err(error(StatusCode::BAD_REQUEST, "alt must be json or text")),
        }
    }

    /// `body` in the form `?alt=` asks for.
    fn render(&self, body: Body) -> Reply {
        let alt = self.alt()?;
        Ok(match (body, alt) {
            (Body::Text(text) | Body::IdToken(text), Alt::Json) => {
                json_answer(&Value::String(text))
            }
            (Body::Text(text), _) => answer(TEXT, text),
            (Body::IdToken(token), _) => answer(HTML, token),
            (Body::List(lines), Alt::Json) => json_answer(&json!(lines)),
            (Body::List(lines), _) => answer(TEXT, lines_of(lines)),
            (Body::Json(value), Alt::Text) => answer(TEXT, text_of(&value)),
            (Body::Json(value), _) => json_answer(&value),
        })
    }
}

/// `lines`, each ending in a newline.
fn lines_of(lines: Vec<String>) -> String {
    lines.into_iter().fold(String::new(), |mut text, line| {
        text.push_str(&line);
        text.push('\n');
        text
    })
}

/// A JSON value as the real server writes it for `alt=text`: `key value` lines, a list's
/// items one a line under the same key, a nested object's keys joined with `/`.
fn text_of(value: &Value) -> String {
    let mut lines = Vec::new();
    flatten("", value, &mut lines);
    lines_of(lines)
}

fn flatten(key: &str, value: &Value, lines: &mut Vec<String>) {
    let line = |text: &str| {
        if key.is_empty() {
            text.to_owned()
        } else {
            format!("{key} {text}")
        }
    };
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                let name = if key.is_empty() {
                    name.clone()
                } else {
                    format!("{key}/{name}")
                };
                flatten(&name, member, lines);
            }
        }
        Value::Array(items) => {
            for item in items {
                flatten(key, item, lines);
            }
        }
        Value::String(text) => lines.push(line(text)),
        other => lines.push(line(&other.to_string())),
    }
}

/// A `200` with `content_type`.
fn answer(content_type: &'static str, body: String) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json_answer(value: &Value) -> Response<Bytes> {
    answer(JSON, value.to_string())
}

/// An error answer: `status`, with `message` and a newline as the body.
fn error(status: StatusCode, message: &str) -> Failed {
    let mut response = answer(HTML, format!("{message}\n"));
    *response.status_mut() = status;
    Box::new(response)
}

fn not_found() -> Failed {
    error(StatusCode::NOT_FOUND, "Not Found")
}

/// The value, or a `404` when there is none.
fn found(value: Option<String>) -> Result<String, Failed> {
    value.ok_or_else(not_found)
}

/// A `301` to the directory `path` names, with its trailing `/` (and the query kept).
fn redirect(path: &str, query: Option<&str>) -> Failed {
    let target = match query {
        Some(query) => format!("{path}/?{query}"),
        None => format!("{path}/"),
    };
    let mut response = error(StatusCode::MOVED_PERMANENTLY, &format!("{path}/"));
    // The path and query came in a request line, so they are a valid header value; if they
    // were not, the answer goes without a Location and the client reads the body.
    if let Ok(location) = HeaderValue::from_str(&target) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// A backend error as an answer: `503` when it is transient, else `500`, with its message.
#[allow(clippy::needless_pass_by_value)] // By value, so `map_err(failed)` reads plainly.
fn failed(err: Error) -> Failed {
    let status = if err.is_transient() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    error(status, &one_line(&err.to_string()))
}

/// `message` on one line: control characters become spaces.
fn one_line(message: &str) -> String {
    message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests;
