//! `credkit metadata-server`: the Compute Engine metadata server's interface on a local port,
//! answered by credkit-helpers' `MetadataHandler` from the credentials the options name.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use credkit::external_account::ExternalAccountCredentials;
use credkit::metadata::{MetadataCredentials, MetadataServer};
use credkit::service_account::ServiceAccountCredentials;
use credkit_core::bytes::Bytes;
use credkit_core::{AccessToken, Credentials, Error, ErrorKind, Result};
use credkit_helpers::metadata_server::{
    DEFAULT_UNIVERSE_DOMAIN, IdTokenFormat, MetadataBackend, MetadataHandler,
};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Mutex;

use crate::cli::{MetadataServerArgs, SourceArgs};
use crate::failure::Failure;
use crate::lazy::LazyTransport;
use crate::source::{self, Loaded, Origin};
use crate::{commands, output, signals};

/// At most this many scope sets (`?scopes=`) keep their own credentials; the oldest is
/// dropped for a new one beyond that, so a client cannot grow the server without bound.
const MAX_SCOPE_SETS: usize = 16;

/// At most this many audiences keep their own ID-token credentials, for the same reason.
const MAX_AUDIENCES: usize = 16;

/// How long open connections may take to finish after SIGINT or SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// `credkit metadata-server`: loads the credentials, binds, prints the environment lines, and
/// serves until SIGINT or SIGTERM.
pub(crate) async fn run(args: &MetadataServerArgs) -> Result<(), Failure> {
    let loaded = source::load(&args.source).await?;
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|err| Failure::new(format!("could not listen on {addr}: {err}")))?;
    let local = listener
        .local_addr()
        .map_err(|err| Failure::new(format!("could not read the listening address: {err}")))?;
    refuse_loop(&loaded, local).await?;
    // The handlers are in place before the environment lines are printed: from then on, a
    // signal ends the server cleanly.
    let stop = signals::stop_signal()?;
    let project = match &args.project {
        Some(project) => Some(project.clone()),
        None => project_id(&loaded).await,
    };
    let backend = Backend {
        email: loaded
            .origin
            .email()
            .await?
            .or_else(|| loaded.email.clone()),
        default_set: scope_set(&scopes_of(&loaded.origin)),
        scopes: scopes_of(&loaded.origin),
        universe: universe_of(&loaded.origin),
        project,
        numeric_project: args.numeric_project_id.map(|n| n.to_string()),
        args: args.source.clone(),
        default: loaded,
        scoped: Mutex::new(VecDeque::new()),
        audiences: Mutex::new(VecDeque::new()),
    };
    let handler = MetadataHandler::new(backend);
    let host = advertised(local);
    output::print(&format!(
        "GCE_METADATA_HOST={host}\nGCE_METADATA_IP={host}\n"
    ))?;
    serve(listener, handler, stop).await;
    Ok(())
}

/// The address clients on this machine reach: the bound one, or 127.0.0.1 for an
/// unspecified bind (0.0.0.0, `::`).
fn advertised(local: SocketAddr) -> SocketAddr {
    if local.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), local.port())
    } else {
        local
    }
}

/// Accepts connections until SIGINT or SIGTERM, then lets open ones finish (for a while).
async fn serve(listener: TcpListener, handler: MetadataHandler, stop: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Too many open files, say: try again shortly.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let handler = handler.clone();
                let service = service_fn(move |request| answer(handler.clone(), request));
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
}

/// One request: its head to the handler, the handler's answer back. A `5xx` is reported on
/// standard error with its path (never a query or a token).
async fn answer(
    handler: MetadataHandler,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, _body) = request.into_parts();
    let request = hyper::Request::from_parts(parts, ());
    let response = handler.respond(&request).await;
    if response.status().is_server_error() {
        output::warn(&format!(
            "{} {}: {} {}",
            request.method(),
            request.uri().path(),
            response.status().as_u16(),
            String::from_utf8_lossy(response.body()).trim_end()
        ));
    }
    Ok(response.map(Full::new))
}

/// Fails when the credentials are the metadata server's and that server is this one: every
/// token request would ask itself.
async fn refuse_loop(loaded: &Loaded, local: SocketAddr) -> Result<(), Failure> {
    let host = match &loaded.origin {
        Origin::Other(found) => {
            let Some(metadata) = found
                .credential()
                .as_any()
                .and_then(|any| any.downcast_ref::<MetadataCredentials>())
            else {
                return Ok(());
            };
            metadata.server().host().to_owned()
        }
        // Impersonation over the metadata server's token: the source's host is the one the
        // environment names, read as the metadata client reads it (the transport is never
        // built: nothing is sent).
        Origin::Impersonated(impersonated)
            if impersonated.source().source_name() == METADATA_SOURCE =>
        {
            match MetadataServer::from_env(LazyTransport::new(None)) {
                Ok(server) => server.host().to_owned(),
                // A host the client refuses: the credentials cannot reach anything.
                Err(_) => return Ok(()),
            }
        }
        _ => return Ok(()),
    };
    if names_this_server(&host, local).await {
        return Err(Failure::new(format!(
            "the credentials found are the metadata server's at {host} (GCE_METADATA_HOST), which is this server: it would ask itself for tokens; unset GCE_METADATA_HOST and GCE_METADATA_IP, or give --credentials FILE"
        )));
    }
    Ok(())
}

/// The name the metadata server's token source goes by.
const METADATA_SOURCE: &str = "metadata server";

/// Whether `host[:port]` (port 80 when absent) reaches the server listening on `local`.
async fn names_this_server(host: &str, local: SocketAddr) -> bool {
    let Ok(url) = url::Url::parse(&format!("http://{host}/")) else {
        return false;
    };
    let Some(port) = url.port_or_known_default() else {
        return false;
    };
    if port != local.port() {
        return false;
    }
    let ips: Vec<IpAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(url::Host::Domain(name)) => match tokio::net::lookup_host((name, port)).await {
            Ok(addrs) => addrs.map(|addr| addr.ip()).collect(),
            Err(_) => Vec::new(),
        },
        None => Vec::new(),
    };
    ips.into_iter().any(|ip| reaches(ip, local.ip()))
}

/// Whether a connection to `ip` lands on a socket bound to `bound` (same port).
fn reaches(ip: IpAddr, bound: IpAddr) -> bool {
    ip == bound || (bound.is_unspecified() && (ip.is_loopback() || ip.is_unspecified()))
}

/// The project ID: the discovered credential's, else what Application Default Credentials
/// find; `None` (a 404) when no place knows one.
async fn project_id(loaded: &Loaded) -> Option<String> {
    if let Origin::Other(found) = &loaded.origin
        && let Ok(Some(project)) = found.project_id().await
    {
        return Some(project);
    }
    commands::project_id().await
}

/// The scopes a token without `?scopes=` has, as the provider knows them.
fn scopes_of(origin: &Origin) -> Vec<String> {
    match origin {
        Origin::User(user) => user.requested_scopes().to_vec(),
        Origin::Gcloud(_) => Vec::new(),
        Origin::Impersonated(impersonated) => impersonated.scopes().to_vec(),
        Origin::Other(found) => {
            let any = found.credential().as_any();
            if let Some(sa) = any.and_then(|a| a.downcast_ref::<ServiceAccountCredentials>()) {
                sa.scopes().map(<[String]>::to_vec).unwrap_or_default()
            } else if let Some(ea) =
                any.and_then(|a| a.downcast_ref::<ExternalAccountCredentials>())
            {
                ea.scopes().to_vec()
            } else if let Some(md) = any.and_then(|a| a.downcast_ref::<MetadataCredentials>()) {
                md.scopes().to_vec()
            } else {
                Vec::new()
            }
        }
    }
}

/// `scopes` sorted, without repeats.
fn scope_set(scopes: &[String]) -> Vec<String> {
    let mut set = scopes.to_vec();
    set.sort();
    set.dedup();
    set
}

/// The universe domain the credentials belong to.
fn universe_of(origin: &Origin) -> String {
    let domain = match origin {
        Origin::User(user) => Some(user.universe_domain()),
        Origin::Impersonated(impersonated) => Some(impersonated.universe_domain()),
        Origin::Gcloud(_) => None,
        Origin::Other(found) => {
            let any = found.credential().as_any();
            if let Some(sa) = any.and_then(|a| a.downcast_ref::<ServiceAccountCredentials>()) {
                Some(sa.universe_domain())
            } else {
                any.and_then(|a| a.downcast_ref::<ExternalAccountCredentials>())
                    .map(ExternalAccountCredentials::universe_domain)
            }
        }
    };
    domain
        .filter(|d| !d.is_empty())
        .unwrap_or(DEFAULT_UNIVERSE_DOMAIN)
        .to_owned()
}

/// The metadata server's answers from the loaded credentials.
#[derive(Debug)]
struct Backend {
    /// The options, to load the credentials again for other scopes.
    args: SourceArgs,
    /// The credentials for the default scopes.
    default: Loaded,
    email: Option<String>,
    scopes: Vec<String>,
    /// `scopes` as a set (sorted, without repeats), to compare a request's with.
    default_set: Vec<String>,
    universe: String,
    project: Option<String>,
    numeric_project: Option<String>,
    /// Credentials per other scope set (sorted), oldest first.
    scoped: Mutex<VecDeque<(Vec<String>, Credentials)>>,
    /// ID-token credentials per audience, oldest first.
    audiences: Mutex<VecDeque<(String, Credentials)>>,
}

impl Backend {
    /// The credentials for `scopes`: the default ones for the default scopes, else those
    /// loaded for the set (through the same token cache).
    async fn for_scopes(&self, scopes: &[String]) -> Result<Credentials> {
        let wanted = scope_set(scopes);
        if wanted == self.default_set {
            return Ok(self.default.credentials.clone());
        }
        let mut kept = self.scoped.lock().await;
        if let Some((_, credentials)) = kept.iter().find(|(set, _)| *set == wanted) {
            return Ok(credentials.clone());
        }
        let mut args = self.args.clone();
        args.scopes.clone_from(&wanted);
        let loaded = source::load(&args).await.map_err(|failure| {
            Error::new(
                ErrorKind::Configuration,
                format!("no credentials for the scopes asked for: {failure}"),
            )
        })?;
        if kept.len() >= MAX_SCOPE_SETS {
            kept.pop_front();
        }
        kept.push_back((wanted, loaded.credentials.clone()));
        Ok(loaded.credentials)
    }

    /// The ID-token credentials for `audience`, kept so a fresh ID token is served again.
    async fn for_audience(&self, audience: &str) -> Result<Credentials> {
        let mut audiences = self.audiences.lock().await;
        if let Some((_, credentials)) = audiences.iter().find(|(a, _)| a == audience) {
            return Ok(credentials.clone());
        }
        let source = self
            .default
            .origin
            .id_token_source(audience, self.default.email.as_deref())
            .map_err(|failure| Error::new(ErrorKind::Configuration, failure.to_string()))?;
        let mut builder = Credentials::builder(source);
        if self.args.no_retry {
            builder = builder.without_retries();
        }
        let credentials = builder
            .build()
            .map_err(|err| Error::new(ErrorKind::Configuration, err.to_string()))?;
        if audiences.len() >= MAX_AUDIENCES {
            audiences.pop_front();
        }
        audiences.push_back((audience.to_owned(), credentials.clone()));
        Ok(credentials)
    }
}

#[async_trait]
impl MetadataBackend for Backend {
    async fn access_token(&self, scopes: Option<&[String]>) -> Result<Arc<AccessToken>> {
        let credentials = match scopes {
            Some(scopes) => self.for_scopes(scopes).await?,
            None => self.default.credentials.clone(),
        };
        credentials.access_token().await
    }

    /// The format is not passed on: credkit's ID tokens carry the standard claims (a
    /// `full` token's instance details exist only on Compute Engine).
    async fn id_token(&self, audience: &str, _format: IdTokenFormat) -> Result<Arc<AccessToken>> {
        self.for_audience(audience).await?.access_token().await
    }

    async fn email(&self) -> Result<String> {
        Ok(self
            .email
            .clone()
            .unwrap_or_else(|| credkit_helpers::metadata_server::DEFAULT_ALIAS.to_owned()))
    }

    async fn scopes(&self) -> Result<Vec<String>> {
        Ok(self.scopes.clone())
    }

    async fn project_id(&self) -> Result<Option<String>> {
        Ok(self.project.clone())
    }

    async fn numeric_project_id(&self) -> Result<Option<String>> {
        Ok(self.numeric_project.clone())
    }

    async fn universe_domain(&self) -> Result<String> {
        Ok(self.universe.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[tokio::test]
    async fn which_hosts_name_this_server() {
        let loopback = addr("127.0.0.1:8080");
        assert!(names_this_server("127.0.0.1:8080", loopback).await);
        assert!(!names_this_server("127.0.0.1:8081", loopback).await);
        assert!(!names_this_server("127.0.0.2:8080", loopback).await);
        assert!(!names_this_server("127.0.0.1", loopback).await);
        assert!(names_this_server("127.0.0.1", addr("127.0.0.1:80")).await);
        assert!(!names_this_server("not a host", loopback).await);
        let any = addr("0.0.0.0:8080");
        assert!(names_this_server("127.0.0.1:8080", any).await);
        assert!(names_this_server("[::1]:8080", any).await);
        assert!(names_this_server("0.0.0.0:8080", any).await);
        assert!(!names_this_server("10.1.2.3:8080", any).await);
        assert!(names_this_server("10.1.2.3:8080", addr("10.1.2.3:8080")).await);
    }

    #[test]
    fn the_advertised_address() {
        assert_eq!(advertised(addr("0.0.0.0:9")), addr("127.0.0.1:9"));
        assert_eq!(advertised(addr("[::]:9")), addr("127.0.0.1:9"));
        assert_eq!(advertised(addr("10.0.0.1:9")), addr("10.0.0.1:9"));
    }
}
