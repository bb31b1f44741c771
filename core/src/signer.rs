//! `Signer`: signing bytes as a service account, for signed URLs, signed policy documents and
//! self-signed JWTs.

use std::fmt;

use async_trait::async_trait;

use crate::Result;

/// The algorithm of RSA PKCS#1 v1.5 signatures over SHA-256, as JWTs name it: what service
/// account keys and the IAM Credentials API's `signBlob` produce.
pub const RS256: &str = "RS256";

/// Signs bytes as a service account.
///
/// A service-account key signs locally; impersonation signs through the IAM Credentials API's
/// `signBlob`. Either way the caller gets the signature and the ID of the key that made it, so
/// that a verifier can find the public key (a signed URL names the account's email; a JWT's
/// header names the key ID).
///
/// Object safe and `Send + Sync`: hold one as `Arc<dyn Signer>`. `&T`, `Box<T>` and `Arc<T>` of
/// a signer are signers too.
///
/// # Examples
///
/// A signer of your own (here a fixed signature, as a test double would be):
///
/// ```
/// use async_trait::async_trait;
/// use credkit_core::{Result, Signature, Signer};
///
/// #[derive(Debug)]
/// struct Fixed;
///
/// #[async_trait]
/// impl Signer for Fixed {
///     async fn sign(&self, message: &[u8]) -> Result<Signature> {
///         Ok(Signature::new(message.iter().rev().copied().collect()).with_key_id("key-1"))
///     }
///
///     fn signer_email(&self) -> &str {
///         "robot@project.iam.gserviceaccount.com"
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let signature = Fixed.sign(b"abc").await?;
/// assert_eq!(signature.bytes(), b"cba");
/// assert_eq!(signature.key_id(), Some("key-1"));
/// assert_eq!(Fixed.algorithm(), "RS256");
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait Signer: Send + Sync + fmt::Debug {
    /// Signs `message`.
    ///
    /// # Errors
    ///
    /// A remote signer's transport or service error, classified as transient or permanent; a
    /// local key never fails for an RSA key that was accepted when it was loaded, but may report
    /// an internal failure of the crypto library as an error rather than panic.
    async fn sign(&self, message: &[u8]) -> Result<Signature>;

    /// The email of the account whose key signs: what a signed URL names as its
    /// `GoogleAccessId` or `X-Goog-Credential`.
    fn signer_email(&self) -> &str;

    /// The ID of the key that signs, when it is known before signing (a service-account key
    /// file names it); a remote signer reports it with each [`Signature`] instead. Default: none.
    fn key_id(&self) -> Option<&str> {
        None
    }

    /// The signature algorithm, as JWTs name it. Default: [`RS256`].
    fn algorithm(&self) -> &str {
        RS256
    }
}

crate::forward_impls! {
    #[async_trait]
    trait Signer {
        async fn sign(&self, message: &[u8]) -> Result<Signature>;
        fn signer_email(&self) -> &str;
        fn key_id(&self) -> Option<&str>;
        fn algorithm(&self) -> &str;
    }
}

/// A signature, and the ID of the key that made it when the signer knows it.
///
/// Not a secret: a signature is published with what it signs.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Signature {
    bytes: Vec<u8>,
    key_id: Option<String>,
}

impl Signature {
    /// A signature of `bytes`, with no key ID.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            key_id: None,
        }
    }

    /// The same signature, naming the key that made it.
    #[must_use]
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// The signature's bytes (for RS256, as long as the key's modulus).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The signature's bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The ID of the key that made it, when known.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signature")
            .field("len", &self.bytes.len())
            .field("key_id", &self.key_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[derive(Debug)]
    struct Reverse;

    #[async_trait]
    impl Signer for Reverse {
        async fn sign(&self, message: &[u8]) -> Result<Signature> {
            Ok(Signature::new(message.iter().rev().copied().collect()))
        }
        fn signer_email(&self) -> &'static str {
            "a@b"
        }
        fn key_id(&self) -> Option<&'static str> {
            Some("k")
        }
        fn algorithm(&self) -> &'static str {
            "ES256"
        }
    }

    #[test]
    fn wrappers_forward_every_method() {
        let shared: Arc<dyn Signer> = Arc::new(Reverse);
        let boxed: Box<dyn Signer> = Box::new(Reverse);
        for signer in [&shared as &dyn Signer, &boxed, &&Reverse] {
            let signature = futures::executor::block_on(signer.sign(b"xy")).unwrap();
            assert_eq!(signature.bytes(), b"yx");
            assert_eq!(signer.signer_email(), "a@b");
            assert_eq!(signer.key_id(), Some("k"));
            assert_eq!(signer.algorithm(), "ES256");
        }
    }

    #[test]
    fn signature_debug_shows_length_and_key() {
        let signature = Signature::new(vec![1, 2, 3]).with_key_id("kid");
        assert_eq!(
            format!("{signature:?}"),
            r#"Signature { len: 3, key_id: Some("kid") }"#
        );
        assert_eq!(signature.clone().into_bytes(), vec![1, 2, 3]);
        assert_eq!(Signature::new(vec![]).key_id(), None);
    }
}
