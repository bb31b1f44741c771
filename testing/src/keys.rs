//! `TestKey`: an RSA key pair made for one test run, and the `service_account` key file of it.

use std::fmt::{self, Write as _};
use std::io;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

/// An RSA-2048 key pair generated per run (no key is ever checked in), with a random key ID:
/// the private key as PEM for a `service_account` key file, the public key to verify what it
/// signed.
///
/// # Examples
///
/// ```
/// use credkit_testing::TestKey;
///
/// let key = TestKey::generate()?;
/// assert!(key.private_key_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
/// let info: serde_json::Value = serde_json::from_str(
///     &key.service_account_json("robot@p.iam.gserviceaccount.com", "http://127.0.0.1:9/token"),
/// )?;
/// assert_eq!(info["type"], "service_account");
/// assert_eq!(info["private_key_id"], key.key_id());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TestKey {
    pair: Arc<RsaKeyPair>,
    private_key_pem: String,
    public_key_der: Vec<u8>,
    public_key_spki_der: Vec<u8>,
    key_id: String,
}

impl TestKey {
    /// Generates a new RSA-2048 key pair and a random 40-hex-digit key ID (as Google's
    /// `private_key_id`s are).
    ///
    /// # Errors
    ///
    /// When the crypto library fails to generate or encode the key (it does not).
    pub fn generate() -> io::Result<Self> {
        let failed = |what: &str| io::Error::other(format!("TestKey: {what} failed"));
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| failed("generating"))?;
        let pkcs8 = pair
            .as_der()
            .map_err(|_| failed("encoding the private key"))?;
        let private_key_pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.as_ref()));
        let public_key_der = pair.public_key().as_ref().to_vec();
        let public_key_spki_der = pair
            .public_key()
            .as_der()
            .map_err(|_| failed("encoding the public key"))?
            .as_ref()
            .to_vec();
        let mut id = [0u8; 20];
        SystemRandom::new()
            .fill(&mut id)
            .map_err(|_| failed("drawing a key ID"))?;
        let key_id = id.iter().fold(String::with_capacity(40), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
        Ok(Self {
            pair: Arc::new(pair),
            private_key_pem,
            public_key_der,
            public_key_spki_der,
            key_id,
        })
    }

    /// The private key: PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as key files hold it.
    pub fn private_key_pem(&self) -> &str {
        &self.private_key_pem
    }

    /// The public key as a PKCS#1 `RSAPublicKey` in DER (what `jsonwebtoken`'s
    /// `DecodingKey::from_rsa_der` takes).
    pub fn public_key_der(&self) -> &[u8] {
        &self.public_key_der
    }

    /// The public key as PEM (`-----BEGIN PUBLIC KEY-----`, `SubjectPublicKeyInfo`), for tools
    /// such as Python's `cryptography`.
    pub fn public_key_pem(&self) -> String {
        pem::encode(&pem::Pem::new(
            "PUBLIC KEY",
            self.public_key_spki_der.clone(),
        ))
    }

    /// The key ID: the key file's `private_key_id`, the `kid` of the JWTs it signs.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A JWT of `claims` signed by this key (RS256, header `{"alg": "RS256", "kid": <key ID>,
    /// "typ": "JWT"}`): an assertion as a service account would make it, for testing what
    /// checks them.
    ///
    /// # Panics
    ///
    /// If the crypto library fails to sign (it does not).
    pub fn sign_jwt(&self, claims: &serde_json::Value) -> String {
        let header = json!({"alg": "RS256", "kid": self.key_id, "typ": "JWT"});
        let mut jwt = URL_SAFE_NO_PAD.encode(header.to_string());
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut jwt);
        let mut signature = vec![0; self.pair.public_modulus_len()];
        #[allow(clippy::expect_used)] // a test helper: a signing failure is a failed test
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                jwt.as_bytes(),
                &mut signature,
            )
            .expect("signing with a generated RSA key");
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jwt);
        jwt
    }

    /// A `service_account` key file of this key for `client_email`, with `token_uri`: every
    /// member a real key file has (`type`, `project_id` `credkit-test`, `private_key_id`,
    /// `private_key`, `client_email`, `client_id`, `auth_uri`, `token_uri`,
    /// `auth_provider_x509_cert_url`, `client_x509_cert_url`, `universe_domain`).
    pub fn service_account_info(&self, client_email: &str, token_uri: &str) -> serde_json::Value {
        json!({
            "type": "service_account",
            "project_id": "credkit-test",
            "private_key_id": self.key_id,
            "private_key": self.private_key_pem,
            "client_email": client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": format!("https://www.googleapis.com/robot/v1/metadata/x509/{client_email}"),
            "universe_domain": "googleapis.com",
        })
    }

    /// [`service_account_info`](Self::service_account_info) as JSON text, a ready key file body.
    pub fn service_account_json(&self, client_email: &str, token_uri: &str) -> String {
        self.service_account_info(client_email, token_uri)
            .to_string()
    }
}

impl fmt::Debug for TestKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}
