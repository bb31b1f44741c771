//! `ServiceAccountSigner`: RS256 signatures with a service account's private key, by aws-lc-rs.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use credkit_core::{BuildError, RS256, Result, Signature, Signer};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::error;

/// Signs as a service account with its private key: RSA PKCS#1 v1.5 over SHA-256 ([`RS256`]),
/// as google-auth's `RSASigner` does, through aws-lc-rs.
///
/// The key ID is the key file's `private_key_id` and the email its `client_email`. Cheap to
/// clone (the key is shared); the key is never shown by `Debug` and is wiped by aws-lc-rs when
/// the last clone is dropped.
///
/// # Examples
///
/// ```
/// use credkit_core::Signer;
/// use credkit_service_account::ServiceAccountKey;
/// use credkit_testing::TestKey;
///
/// let key = TestKey::generate()?;
/// let info = key.service_account_json("robot@project.iam.gserviceaccount.com", "https://oauth2.googleapis.com/token");
/// let signer = ServiceAccountKey::from_json_str(&info)?.signer();
/// let signature = futures::executor::block_on(signer.sign(b"hello"))?;
/// assert_eq!(signature.bytes().len(), 256); // a 2048-bit key
/// assert_eq!(signature.key_id(), Some(key.key_id()));
/// assert_eq!(signer.signer_email(), "robot@project.iam.gserviceaccount.com");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ServiceAccountSigner {
    inner: Arc<Inner>,
}

struct Inner {
    key: RsaKeyPair,
    email: String,
    key_id: Option<String>,
}

impl ServiceAccountSigner {
    /// A signer from a PEM private key (PKCS#8 `BEGIN PRIVATE KEY`, as key files hold, or PKCS#1
    /// `BEGIN RSA PRIVATE KEY`), signing as `email` with the key ID `key_id`.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] ([`is_invalid_value`](BuildError::is_invalid_value)) when `pem` holds no
    /// private key, a key that is not RSA, or an RSA key aws-lc-rs refuses (smaller than 2048
    /// bits, say). The message never quotes the key.
    pub fn from_pem(
        pem: &str,
        email: impl Into<String>,
        key_id: Option<String>,
    ) -> Result<Self, BuildError> {
        let key = rsa_key_from_pem(pem)?;
        Ok(Self {
            inner: Arc::new(Inner {
                key,
                email: email.into(),
                key_id,
            }),
        })
    }

    /// The length of a signature in bytes: the key's modulus length.
    pub fn signature_len(&self) -> usize {
        self.inner.key.public_modulus_len()
    }

    /// Signs `message` now, without a future: what [`Signer::sign`] does.
    ///
    /// # Errors
    ///
    /// An internal error should aws-lc-rs fail with a key it accepted (it does not).
    pub fn sign_now(&self, message: &[u8]) -> Result<Signature> {
        let mut signature = vec![0; self.signature_len()];
        self.inner
            .key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| error::signing_failed())?;
        let signature = Signature::new(signature);
        Ok(match &self.inner.key_id {
            Some(key_id) => signature.with_key_id(key_id.clone()),
            None => signature,
        })
    }
}

/// Reads the first private key of `pem` and accepts it as an RSA key.
fn rsa_key_from_pem(pem: &str) -> Result<RsaKeyPair, BuildError> {
    // The parser's error names the section kinds and positions, never the key's bytes; kept
    // out of the message anyway, described by its kind.
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|err| {
        error::key_not_pem(match err {
            rustls_pki_types::pem::Error::NoItemsFound => "it holds no PEM private key block",
            _ => "its PEM block is malformed",
        })
    })?;
    let parsed = match &der {
        PrivateKeyDer::Pkcs8(key) => RsaKeyPair::from_pkcs8(key.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(key) => RsaKeyPair::from_der(key.secret_pkcs1_der()),
        PrivateKeyDer::Sec1(_) => return Err(error::key_not_rsa("an elliptic-curve (SEC1) key")),
        _ => return Err(error::key_not_rsa("a key of an unknown kind")),
    };
    parsed.map_err(|rejected| match &der {
        // A PKCS#8 key of another algorithm (an EC or Ed25519 key) is refused as the wrong type.
        PrivateKeyDer::Pkcs8(_) if rejected.description_() == "WrongAlgorithm" => {
            error::key_not_rsa("a PKCS#8 key of another algorithm")
        }
        _ => error::key_rejected(rejected.description_()),
    })
}

#[async_trait]
impl Signer for ServiceAccountSigner {
    /// Signs `message` locally: RS256, the signature as long as the key's modulus, carrying the
    /// key ID.
    async fn sign(&self, message: &[u8]) -> Result<Signature> {
        self.sign_now(message)
    }

    fn signer_email(&self) -> &str {
        &self.inner.email
    }

    fn key_id(&self) -> Option<&str> {
        self.inner.key_id.as_deref()
    }

    fn algorithm(&self) -> &str {
        RS256
    }
}

impl fmt::Debug for ServiceAccountSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountSigner")
            .field("email", &self.inner.email)
            .field("key_id", &self.inner.key_id)
            .field("bits", &(self.signature_len() * 8))
            .finish_non_exhaustive()
    }
}
