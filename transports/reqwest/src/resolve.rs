//! The resolver of the loopback client: `localhost` is loopback, without asking DNS.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves `localhost` to `127.0.0.1` and `::1` and refuses every other name.
///
/// The loopback client only ever sees loopback hosts (the endpoint policy routes the rest
/// elsewhere), and loopback IP literals never reach a resolver, so `localhost` is the one name it
/// resolves. Answering it here means a `/etc/hosts` entry or a DNS server can never redirect a
/// plain-http token request off the machine. The port is filled in by the connector.
#[derive(Debug)]
pub(crate) struct LoopbackResolver;

impl Resolve for LoopbackResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let answer: Result<Addrs, _> = if name.as_str().eq_ignore_ascii_case("localhost") {
            let addrs = [
                SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
            ];
            Ok(Box::new(addrs.into_iter()))
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the loopback client resolves only localhost",
            )
            .into())
        };
        Box::pin(std::future::ready(answer))
    }
}
