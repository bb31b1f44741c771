//! `FakeKeyServer`: Google's ID-token key endpoints on 127.0.0.1.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::header::{AGE, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::TestIdTokenIssuer;

/// What the next request to a [`FakeKeyServer`] gets instead of the keys.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyServerFault {
    /// An error status with a short text body.
    Status(u16),
    /// `200` with a body that is not JSON.
    Garbage,
    /// `200` with a JSON object that holds no usable key.
    NoKeys,
    /// No answer, ever (the connection stays open).
    Hang,
}

/// Google's ID-token key endpoints on 127.0.0.1: `/jwks` serves a JWK set (as
/// `oauth2/v3/certs`), `/certs` a `kid → PEM certificate` map (as `oauth2/v1/certs`), `/pem` a
/// `kid → PEM public key` map (as IAP's `public_key`), each with a configurable
/// `Cache-Control` (default `public, max-age=3600`) and `Age`. It counts the requests, and
/// answers scripted faults ([`KeyServerFault`]) to the next ones.
///
/// # Examples
///
/// ```
/// use credkit_testing::{FakeKeyServer, KeyServerFault, TestIdTokenIssuer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let issuer = TestIdTokenIssuer::generate()?;
/// let server = FakeKeyServer::start(&issuer).await?;
/// assert!(server.jwks_url().ends_with("/jwks"));
/// server.set_cache_control(Some("no-store"));
/// server.push_fault(KeyServerFault::Status(503)); // the next request gets a 503
/// assert_eq!(server.fetches(), 0);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct FakeKeyServer {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

#[derive(Debug)]
struct State {
    documents: Mutex<Documents>,
    faults: Mutex<VecDeque<KeyServerFault>>,
    fetches: AtomicUsize,
}

#[derive(Debug)]
struct Documents {
    jwks: String,
    certs: String,
    pem: String,
    cache_control: Option<String>,
    age: Option<u64>,
}

impl State {
    fn documents(&self) -> MutexGuard<'_, Documents> {
        self.documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn faults(&self) -> MutexGuard<'_, VecDeque<KeyServerFault>> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FakeKeyServer {
    /// Starts serving `issuer`'s keys on a free port of 127.0.0.1.
    ///
    /// # Errors
    ///
    /// When no port can be bound.
    pub async fn start(issuer: &TestIdTokenIssuer) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            documents: Mutex::new(Documents {
                jwks: String::new(),
                certs: String::new(),
                pem: String::new(),
                cache_control: Some("public, max-age=3600".to_owned()),
                age: None,
            }),
            faults: Mutex::new(VecDeque::new()),
            fetches: AtomicUsize::new(0),
        });
        let server = Self {
            addr,
            task: tokio::spawn(accept_loop(listener, Arc::clone(&state))),
            state,
        };
        server.serve(&[issuer]);
        Ok(server)
    }

    /// Serves the keys of `issuers` from now on (key rotation: an old and a new issuer, then
    /// the new one alone).
    pub fn serve(&self, issuers: &[&TestIdTokenIssuer]) {
        let mut keys = Vec::new();
        let mut certs = serde_json::Map::new();
        let mut pem = serde_json::Map::new();
        for issuer in issuers {
            if let Some(set) = issuer.jwk_set()["keys"].as_array() {
                keys.extend(set.iter().cloned());
            }
            for (kid, cert) in issuer.pem_certificates() {
                certs.insert(kid, cert.into());
            }
            for (kid, key) in issuer.pem_public_keys() {
                pem.insert(kid, key.into());
            }
        }
        let mut documents = self.state.documents();
        documents.jwks = serde_json::json!({ "keys": keys }).to_string();
        documents.certs = serde_json::Value::Object(certs).to_string();
        documents.pem = serde_json::Value::Object(pem).to_string();
    }

    /// The URL of the JWK set.
    pub fn jwks_url(&self) -> String {
        format!("http://{}/jwks", self.addr)
    }

    /// The URL of the `kid → PEM certificate` map.
    pub fn certs_url(&self) -> String {
        format!("http://{}/certs", self.addr)
    }

    /// The URL of the `kid → PEM public key` map.
    pub fn pem_url(&self) -> String {
        format!("http://{}/pem", self.addr)
    }

    /// The `Cache-Control` header of key responses; `None` sends none.
    pub fn set_cache_control(&self, value: Option<&str>) {
        self.state.documents().cache_control = value.map(str::to_owned);
    }

    /// The `Age` header of key responses, in seconds; `None` sends none.
    pub fn set_age(&self, age: Option<Duration>) {
        self.state.documents().age = age.map(|age| age.as_secs());
    }

    /// Answers the next request with `fault` (faults queue up, one per request).
    pub fn push_fault(&self, fault: KeyServerFault) {
        self.state.faults().push_back(fault);
    }

    /// How many requests arrived (faulted ones too).
    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for FakeKeyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `state` on `listener` until the task is aborted.
async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    crate::http_serve::accept_loop(listener, state, answer).await;
}

async fn answer(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // Counted after the fault is taken: a test that saw the count knows which fault it got.
    let fault = state.faults().pop_front();
    state.fetches.fetch_add(1, Ordering::SeqCst);
    let (body, status) = match fault {
        Some(KeyServerFault::Hang) => std::future::pending().await,
        Some(KeyServerFault::Status(status)) => (
            "fake key server failure\n".to_owned(),
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        ),
        Some(KeyServerFault::Garbage) => ("<html>not json</html>".to_owned(), StatusCode::OK),
        Some(KeyServerFault::NoKeys) => (r#"{"keys":[]}"#.to_owned(), StatusCode::OK),
        None => {
            let documents = state.documents();
            match request.uri().path() {
                "/jwks" => (documents.jwks.clone(), StatusCode::OK),
                "/certs" => (documents.certs.clone(), StatusCode::OK),
                "/pem" => (documents.pem.clone(), StatusCode::OK),
                _ => ("Not Found\n".to_owned(), StatusCode::NOT_FOUND),
            }
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let documents = state.documents();
    if let Some(value) = documents
        .cache_control
        .as_deref()
        .and_then(|value| HeaderValue::from_str(value).ok())
    {
        headers.insert(CACHE_CONTROL, value);
    }
    if let Some(age) = documents.age {
        headers.insert(AGE, HeaderValue::from(age));
    }
    Ok(response)
}
