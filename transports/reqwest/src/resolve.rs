//! The resolver of the direct client: `localhost` is loopback without asking DNS, and only the
//! names plain `http` may reach are resolved at all.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves `localhost` to `127.0.0.1` and `::1`, the metadata server's name and the names a
/// transport was told to allow plain `http` to through the system's resolver, and refuses every
/// other name.
///
/// The direct client only ever sees hosts the endpoint policy lets through it (the rest go to
/// the main client), and IP literals never reach a resolver. Answering `localhost` here means a
/// `/etc/hosts` entry or a DNS server can never redirect a plain-http token request off the
/// machine; `metadata.google.internal` has to be asked of the system, which on Google Cloud
/// answers it locally.
#[derive(Debug)]
pub(crate) struct DirectResolver {
    /// Names resolved by the system, lower case as the URL parser spells them.
    names: Arc<[String]>,
}

impl DirectResolver {
    pub(crate) fn new(names: Arc<[String]>) -> Self {
        Self { names }
    }
}

impl Resolve for DirectResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str();
        if host.eq_ignore_ascii_case("localhost") {
            let addrs = [
                SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
            ];
            let answer: Addrs = Box::new(addrs.into_iter());
            return Box::pin(std::future::ready(Ok(answer)));
        }
        if self.names.iter().any(|n| n.eq_ignore_ascii_case(host)) {
            let host = host.to_owned();
            return Box::pin(async move {
                // The port is filled in by the connector.
                let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
                let addrs: Addrs = Box::new(found.collect::<Vec<_>>().into_iter());
                Ok(addrs)
            });
        }
        Box::pin(std::future::ready(Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the direct client resolves only localhost and the hosts allowed plain http",
        )
        .into())))
    }
}
