//! Helpers shared by the integration tests: a loopback stand-in of Cloud Storage's XML API
//! (what `object_store`'s GCS client speaks) that checks the bearer token of every request, the
//! credentials under test on a `FakeTokenServer`, and the check of a signed URL's signature.
// Each test binary uses a different subset; helpers may unwrap, as tests do.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use credkit_core::{Credentials, Transport};
use credkit_object_store::gcs_builder;
use credkit_refresh_token::UserCredentials;
use credkit_reqwest::ReqwestTransport;
use credkit_testing::{FakeClock, FakeTokenServer};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::{ClientOptions, RetryConfig};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

/// The refresh token and client secret the credentials hold: never in an error.
pub const REFRESH_TOKEN: &str = "1//refresh-token-never-shown";
pub const CLIENT_SECRET: &str = "client-secret-never-shown";

/// The bucket of every test.
pub const BUCKET: &str = "credkit-test-bucket";

/// What the stand-in saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    /// The path, percent-decoded (`object_store` encodes every byte that is not alphanumeric).
    pub path: String,
    pub query: Option<String>,
    /// The token of `authorization: Bearer <token>`, if the request had one.
    pub bearer: Option<String>,
    pub status: StatusCode,
}

#[derive(Default)]
struct State {
    /// Object name → (content, generation).
    objects: Mutex<BTreeMap<String, (Bytes, u64)>>,
    next_generation: Mutex<u64>,
    accepted: Mutex<HashSet<String>>,
    seen: Mutex<Vec<Seen>>,
}

/// Cloud Storage's XML API for one bucket, on 127.0.0.1, objects in memory: `PUT`, `GET`,
/// `HEAD` and `DELETE` of `/{bucket}/{object}`, and `GET /{bucket}?list-type=2&prefix=…`.
/// Every request must carry `authorization: Bearer <token>` with a token accepted by
/// [`accept`](Self::accept); anything else gets 401 and touches nothing.
#[derive(Clone)]
pub struct FakeGcs {
    addr: SocketAddr,
    state: Arc<State>,
}

impl FakeGcs {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle(Arc::clone(&state), request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, state }
    }

    /// `http://127.0.0.1:PORT`: the store's base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Accepts `token` as a bearer token from now on.
    pub fn accept(&self, token: &str) {
        self.state.accepted.lock().unwrap().insert(token.to_owned());
    }

    /// Puts an object in the bucket directly, not through a request.
    pub fn insert(&self, name: &str, content: &'static [u8]) {
        let generation = self.generation();
        self.state
            .objects
            .lock()
            .unwrap()
            .insert(name.to_owned(), (Bytes::from_static(content), generation));
    }

    /// The names of the objects in the bucket.
    pub fn names(&self) -> Vec<String> {
        self.state.objects.lock().unwrap().keys().cloned().collect()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// How many requests carried each bearer token, in the order tokens were first seen.
    pub fn bearers(&self) -> Vec<(Option<String>, usize)> {
        let mut counts: Vec<(Option<String>, usize)> = Vec::new();
        for seen in self.seen() {
            match counts.iter_mut().find(|(b, _)| *b == seen.bearer) {
                Some((_, n)) => *n += 1,
                None => counts.push((seen.bearer, 1)),
            }
        }
        counts
    }

    fn generation(&self) -> u64 {
        let mut next = self.state.next_generation.lock().unwrap();
        *next += 1;
        *next
    }
}

/// The stand-in's answer to one request, recorded with what it carried.
async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let bearer = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let response = if bearer
        .as_ref()
        .is_some_and(|b| state.accepted.lock().unwrap().contains(b))
    {
        answer(&state, &parts.method, &parts.uri, body)
    } else {
        xml(
            StatusCode::UNAUTHORIZED,
            error_xml("AuthenticationRequired"),
        )
    };
    state.seen.lock().unwrap().push(Seen {
        method: parts.method.clone(),
        path: decode(parts.uri.path()),
        query: parts.uri.query().map(str::to_owned),
        bearer,
        status: response.status(),
    });
    Ok(response)
}

fn answer(state: &State, method: &Method, uri: &http::Uri, body: Bytes) -> Response<Full<Bytes>> {
    let path = uri.path().strip_prefix('/').unwrap_or_default();
    let (bucket, object) = match path.split_once('/') {
        Some((bucket, object)) => (decode(bucket), Some(decode(object))),
        None => (decode(path), None),
    };
    if bucket != BUCKET {
        return xml(StatusCode::NOT_FOUND, error_xml("NoSuchBucket"));
    }
    let mut objects = state.objects.lock().unwrap();
    match (method.as_str(), object) {
        ("GET", None) => {
            let query: BTreeMap<String, String> =
                url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                    .into_owned()
                    .collect();
            assert_eq!(query.get("list-type").map(String::as_str), Some("2"));
            let prefix = query.get("prefix").cloned().unwrap_or_default();
            let mut listing =
                String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult>");
            for (name, (content, generation)) in objects.range(prefix.clone()..) {
                if !name.starts_with(&prefix) {
                    break;
                }
                write!(
                    listing,
                    "<Contents><Key>{name}</Key><Size>{}</Size>\
                     <LastModified>2026-01-01T00:00:00.000Z</LastModified>\
                     <ETag>\"{generation}\"</ETag></Contents>",
                    content.len()
                )
                .unwrap();
            }
            listing.push_str("</ListBucketResult>");
            xml(StatusCode::OK, listing)
        }
        ("PUT", Some(object)) => {
            let generation = {
                let mut next = state.next_generation.lock().unwrap();
                *next += 1;
                *next
            };
            objects.insert(object, (body, generation));
            Response::builder()
                .header("etag", format!("\"{generation}\""))
                .header("x-goog-generation", generation.to_string())
                .body(Full::default())
                .unwrap()
        }
        (method @ ("GET" | "HEAD"), Some(object)) => match objects.get(&object) {
            Some((content, generation)) => Response::builder()
                .header("etag", format!("\"{generation}\""))
                .header("x-goog-generation", generation.to_string())
                .header("last-modified", "Thu, 01 Jan 2026 00:00:00 GMT")
                .header("content-length", content.len())
                .body(Full::new(if method == "GET" {
                    content.clone()
                } else {
                    Bytes::new()
                }))
                .unwrap(),
            None => xml(StatusCode::NOT_FOUND, error_xml("NoSuchKey")),
        },
        ("DELETE", Some(object)) => match objects.remove(&object) {
            Some(_) => Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(Full::default())
                .unwrap(),
            None => xml(StatusCode::NOT_FOUND, error_xml("NoSuchKey")),
        },
        _ => xml(
            StatusCode::METHOD_NOT_ALLOWED,
            error_xml("MethodNotAllowed"),
        ),
    }
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

fn error_xml(code: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code></Error>")
}

fn xml(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/xml; charset=UTF-8")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// A user's credentials refreshing at `server`, with the clock `clock` (token source and
/// cache both).
pub fn user_credentials(server: &FakeTokenServer, clock: &FakeClock) -> Credentials {
    let transport: Arc<dyn Transport> = Arc::new(ReqwestTransport::new().unwrap());
    let source = UserCredentials::builder()
        .with_refresh_token(REFRESH_TOKEN)
        .with_token_uri(server.token_url())
        .with_client_id("123.apps.googleusercontent.com")
        .with_client_secret(CLIENT_SECRET)
        .with_scopes(["https://www.googleapis.com/auth/devstorage.read_write"])
        .with_transport(transport)
        .with_clock(clock.clone())
        .build()
        .unwrap();
    Credentials::builder(source)
        .with_clock(Arc::new(clock.clone()))
        .build()
        .unwrap()
}

/// `object_store`'s GCS builder on `credentials`, pointed at the stand-in: its base URL, plain
/// HTTP allowed (loopback), and no retries, so that a failure shows at once.
pub fn store_builder(gcs: &FakeGcs, credentials: Credentials) -> GoogleCloudStorageBuilder {
    gcs_builder(credentials, BUCKET)
        .with_base_url(&gcs.url())
        .with_client_options(ClientOptions::new().with_allow_http(true))
        .with_retry(RetryConfig {
            max_retries: 0,
            ..RetryConfig::default()
        })
}

/// What a V4 signed URL signs (`GOOG4-RSA-SHA256`), rebuilt from the URL as Cloud Storage
/// does to check it, and the signature it carries.
pub fn string_to_sign(url: &url::Url) -> (String, Vec<u8>) {
    let mut signature = None;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (name, value) in url.query_pairs() {
        if name == "X-Goog-Signature" {
            signature = Some(hex_decode(&value));
        } else {
            pairs.push((strict(&name), strict(&value)));
        }
    }
    pairs.sort();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let get = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    assert_eq!(get("X-Goog-Algorithm"), "GOOG4-RSA-SHA256");
    assert_eq!(get("X-Goog-SignedHeaders"), "host");
    let canonical = format!(
        "GET\n{}\n{query}\nhost:storage.googleapis.com\n\nhost\nUNSIGNED-PAYLOAD",
        url.path()
    );
    let credential = get("X-Goog-Credential");
    let (_, scope) = credential.split_once('/').unwrap();
    let hashed = Sha256::digest(canonical.as_bytes())
        .iter()
        .fold(String::new(), |mut hex, b| {
            write!(hex, "{b:02x}").unwrap();
            hex
        });
    let string = format!(
        "GOOG4-RSA-SHA256\n{}\n{scope}\n{hashed}",
        get("X-Goog-Date")
    );
    (string, signature.unwrap())
}

/// Percent-encodes everything but the unreserved characters, as Cloud Storage's canonical
/// query string wants.
fn strict(s: &str) -> String {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
