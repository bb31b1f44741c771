//! `rediss://` against a real `redis-server` with TLS on: a private CA trusted through the
//! builder, a server the web PKI roots do not vouch for, mutual TLS, and the settings the
//! builder refuses. The certificates are made for each test run.
#![cfg(feature = "tls")]
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use credkit_core::{AccessToken, CredentialRecord, ErrorKind, Storage};
use credkit_storage_redis::RedisStorage;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};
use support::RedisServer;

/// A private CA, a server certificate for 127.0.0.1 and a client certificate, all signed by
/// it, as PEM files in a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca: String,
    client_chain: String,
    client_key: String,
}

impl Pki {
    fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "credkit test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        // Each certificate with its own subject: OpenSSL takes a certificate whose subject is
        // its issuer's for a self-signed one.
        let signed = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
            params.distinguished_name = DistinguishedName::new();
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_chain, server_key) = signed("127.0.0.1");
        let (client_chain, client_key) = signed("credkit-test-client");
        let dir = tempfile::tempdir().unwrap();
        for (name, pem) in [
            ("ca.pem", ca.pem()),
            ("server.pem", server_chain),
            ("server.key", server_key),
        ] {
            std::fs::write(dir.path().join(name), pem).unwrap();
        }
        Self {
            dir,
            ca: ca.pem(),
            client_chain,
            client_key,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    /// A server speaking TLS only; `clients` is `--tls-auth-clients` (`no`, or `yes` for
    /// mutual TLS).
    fn server(&self, clients: &str) -> RedisServer {
        let (cert, key, ca) = (
            self.path("server.pem"),
            self.path("server.key"),
            self.path("ca.pem"),
        );
        RedisServer::start_with(&[
            "--port",
            "0",
            "--tls-port",
            "{port}",
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            clients,
        ])
    }
}

/// A store on `server` over TLS, trusting the private CA.
fn trusting(pki: &Pki, server: &RedisServer) -> credkit_storage_redis::RedisStorageBuilder {
    RedisStorage::builder(rediss(server)).with_tls_root_certificates(pki.ca.clone())
}

fn rediss(server: &RedisServer) -> String {
    format!("rediss://127.0.0.1:{}/0", server.port())
}

fn record() -> CredentialRecord {
    CredentialRecord::new().with_access_token(&AccessToken::new("ya29.over-tls"))
}

async fn round_trip(storage: &RedisStorage) {
    storage.store("user", &record()).await.unwrap();
    let back = storage.load("user").await.unwrap().unwrap();
    assert!(back.access_token().is_some());
}

#[tokio::test]
async fn a_server_signed_by_a_private_ca_is_trusted_when_the_ca_is_given() {
    support::require_redis!();
    let pki = Pki::new();
    let server = pki.server("no");
    round_trip(&trusting(&pki, &server).build().unwrap()).await;
}

#[tokio::test]
async fn a_server_the_web_pki_does_not_vouch_for_is_refused() {
    support::require_redis!();
    let pki = Pki::new();
    let server = pki.server("no");
    let storage = RedisStorage::new(&rediss(&server)).unwrap();
    let err = storage.load("user").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    // The next handshake would fail the same way: permanent, and says what to do.
    assert!(!err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert!(
        err.to_string().contains("with_tls_root_certificates"),
        "{err}"
    );
}

#[tokio::test]
async fn mutual_tls_presents_the_client_certificate() {
    support::require_redis!();
    let pki = Pki::new();
    let server = pki.server("yes");
    let without = trusting(&pki, &server).build().unwrap();
    let err = without.load("user").await.unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
    assert!(
        err.to_string().contains("with_tls_client_certificate"),
        "{err}"
    );
    let with = trusting(&pki, &server)
        .with_tls_client_certificate(pki.client_chain.clone(), pki.client_key.clone())
        .build()
        .unwrap();
    round_trip(&with).await;
}

#[test]
fn tls_settings_need_a_rediss_url_and_pem() {
    let pki = Pki::new();
    let err = RedisStorage::builder("redis://127.0.0.1:6379/0")
        .with_tls_root_certificates(pki.ca.clone())
        .build()
        .unwrap_err();
    assert!(err.is_invalid_value(), "{err}");
    assert!(err.to_string().contains("use rediss://"), "{err}");

    let err = RedisStorage::builder("rediss://127.0.0.1:6379/0")
        .with_tls_client_certificate(pki.client_chain.clone(), "not a key")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("could not be read"), "{err}");
}

#[test]
fn the_builder_never_shows_the_client_key() {
    let pki = Pki::new();
    let builder = RedisStorage::builder("rediss://127.0.0.1:6379/0")
        .with_tls_root_certificates(pki.ca.clone())
        .with_tls_client_certificate(pki.client_chain.clone(), pki.client_key.clone());
    let shown = format!("{builder:?}");
    let key_body = pki.client_key.lines().nth(1).unwrap();
    assert!(!shown.contains(key_body), "{shown}");
    assert!(shown.contains("client_certificate: true"), "{shown}");
    assert!(Path::new(&pki.path("ca.pem")).exists());
}
