//! The `tls` feature's settings: the roots to trust and the client certificate, handed to the
//! redis crate when the client is built.

use std::fmt;

use credkit_core::BuildError;
use redis::{ClientTlsConfig, TlsCertificates};
use zeroize::Zeroizing;

use crate::error;

/// What [`RedisStorageBuilder`](crate::RedisStorageBuilder) was told about TLS.
#[derive(Default)]
pub(crate) struct TlsSettings {
    /// PEM certificate authorities to trust instead of the web PKI roots.
    pub(crate) roots: Option<Vec<u8>>,
    /// PEM certificate chain, and its private key.
    pub(crate) client: Option<(Vec<u8>, Zeroizing<Vec<u8>>)>,
}

/// The redis crate builds its rustls configuration on the process's default crypto provider,
/// which rustls picks by itself only when exactly one of its providers is compiled in: with
/// both (ring enabled by another crate of the program, credkit-reqwest's `ring` feature say),
/// the first `rediss://` connection would panic. So, when no default is installed, this
/// installs the aws-lc-rs provider this crate builds with, the one rustls picks when it is
/// alone. A default the application installed is never replaced.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err: another thread installed one in between, which is as good.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

impl TlsSettings {
    /// The redis client for `url`, with these settings when there are any.
    pub(crate) fn client(self, url: &str) -> Result<redis::Client, BuildError> {
        ensure_crypto_provider();
        if self.roots.is_none() && self.client.is_none() {
            return redis::Client::open(url).map_err(error::bad_url);
        }
        let info = redis::IntoConnectionInfo::into_connection_info(url).map_err(error::bad_url)?;
        if !matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }) {
            return Err(error::tls_without_rediss());
        }
        let client_tls = self.client.map(|(client_cert, mut key)| ClientTlsConfig {
            client_cert,
            // Moved, not copied: the redis crate holds the only copy from here on.
            client_key: std::mem::take(&mut *key),
        });
        redis::Client::build_with_tls(
            info,
            TlsCertificates {
                client_tls,
                root_cert: self.roots,
            },
        )
        .map_err(error::bad_tls_settings)
    }
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Whether each is set; never the key.
        f.debug_struct("TlsSettings")
            .field("private_roots", &self.roots.is_some())
            .field("client_certificate", &self.client.is_some())
            .finish()
    }
}
