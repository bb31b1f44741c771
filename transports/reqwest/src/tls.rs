//! The TLS configuration: rustls with the crypto provider the features choose.
//!
//! With `aws-lc-rs` alone, reqwest's `rustls` feature builds it (the platform verifier over
//! aws-lc-rs, or over the process's default provider when the application installed one) and
//! this module adds nothing. With `ring`, reqwest has no provider of its own and would panic
//! building a client unless the application installed a process default: this module builds the
//! same configuration over ring instead, and hands it to reqwest ready-made.

#[cfg(feature = "ring")]
use std::sync::Arc;

use credkit_core::BuildError;

/// Hands reqwest the rustls configuration this crate builds, when it builds one.
// Only the `ring` configuration can fail; with aws-lc-rs alone reqwest builds it.
#[cfg_attr(not(feature = "ring"), allow(clippy::unnecessary_wraps))]
pub(crate) fn configure(
    builder: reqwest::ClientBuilder,
) -> Result<reqwest::ClientBuilder, BuildError> {
    #[cfg(feature = "ring")]
    let builder = builder.tls_backend_preconfigured(client_config()?);
    Ok(builder)
}

/// rustls as reqwest configures it for an HTTP/1.1 client: TLS 1.2 and 1.3, the platform's
/// verifier (the system's trust store), no client certificate, ALPN `http/1.1`. The provider is
/// the process default when the application installed one (as reqwest does), else ring.
#[cfg(feature = "ring")]
pub(crate) fn client_config() -> Result<rustls::ClientConfig, BuildError> {
    use rustls_platform_verifier::BuilderVerifierExt;

    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(crate::error::tls_config)?
        .with_platform_verifier()
        .map_err(crate::error::tls_config)?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A caller's client builder for the unit tests: reqwest's own, which with `ring` alone needs
/// the configuration handed to it (no test installs a process default, so that
/// [`client_config`]'s test sees none).
#[cfg(test)]
pub(crate) fn caller_client() -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder();
    #[cfg(feature = "ring")]
    let builder = builder.tls_backend_preconfigured(client_config().unwrap());
    builder
}

#[cfg(all(test, feature = "ring"))]
mod tests {
    use super::*;

    fn suites(provider: &rustls::crypto::CryptoProvider) -> Vec<rustls::CipherSuite> {
        provider
            .cipher_suites
            .iter()
            .map(rustls::SupportedCipherSuite::suite)
            .collect()
    }

    #[test]
    fn the_ring_configuration_uses_ring_and_speaks_http_1_1() {
        let config = client_config().unwrap();
        // No test installs a process default, so the provider is ring's own.
        assert!(rustls::crypto::CryptoProvider::get_default().is_none());
        assert_eq!(
            suites(config.crypto_provider()),
            suites(&rustls::crypto::ring::default_provider())
        );
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
    }
}
