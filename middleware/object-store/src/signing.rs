//! `GcsSigningProvider`: `object_store`'s signing credential for signed URLs, from credkit's
//! [`Signer`] or through `signBlob` with the store's own bearer token.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::{Result, Signer};
use futures::FutureExt;
use object_store::CredentialProvider;
use object_store::gcp::{GcpSigningCredential, ServiceAccountKey};
use tokio::runtime::{Handle, RuntimeFlavor};

use crate::error;

/// `object_store`'s signing credential for Google Cloud Storage's signed URLs (V4,
/// `GOOG4-RSA-SHA256`): give it to
/// [`GoogleCloudStorageBuilder::with_signing_credentials`](object_store::gcp::GoogleCloudStorageBuilder::with_signing_credentials),
/// then call [`object_store::signer::Signer::signed_url`] on the store.
///
/// `object_store`'s [`GcpSigningCredential`] is an account's email and either a key that signs
/// or nothing, in which case `object_store` calls IAM's `signBlob` itself with the store's bearer
/// token. Hence two ways:
///
/// - [`from_signer`](Self::from_signer): credkit's [`Signer`] signs, as the account it names.
///   A service-account key (`credkit-service-account`'s `ServiceAccountSigner`) signs at once,
///   on any runtime. A remote signer (`credkit-impersonated`'s `IamSigner`, which calls
///   `signBlob` with its own credentials) has to be waited for inside `object_store`'s
///   **synchronous** call to the key: this crate does that with tokio's `block_in_place`, which
///   needs the multi-threaded runtime (`#[tokio::main]`'s default); on a current-thread runtime
///   that call fails with an error that says so, rather than block the thread the request
///   would need.
/// - [`sign_blob`](Self::sign_blob): only the email; `object_store` calls
///   `https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/{email}:signBlob`
///   with the bearer token of the store's credentials, which therefore need
///   `iam.serviceAccounts.signBlob` on that account (on Compute Engine, the metadata server's
///   account signing as itself, as `object_store` does by default there).
///
/// Cheap to hand out: the credential is made once, and every call returns the same `Arc`.
///
/// # Examples
///
/// ```
/// use credkit_object_store::GcsSigningProvider;
/// use object_store::CredentialProvider;
///
/// # futures::executor::block_on(async {
/// let provider = GcsSigningProvider::sign_blob("robot@project.iam.gserviceaccount.com");
/// let credential = provider.get_credential().await?;
/// assert_eq!(credential.email, "robot@project.iam.gserviceaccount.com");
/// assert!(credential.private_key.is_none()); // object_store calls signBlob
/// # Ok::<(), object_store::Error>(())
/// # }).unwrap();
/// ```
pub struct GcsSigningProvider {
    credential: Arc<GcpSigningCredential>,
    /// The signer's `Debug`, when a signer signs.
    signer: Option<Arc<dyn Signer>>,
}

impl GcsSigningProvider {
    /// Signed URLs signed by `signer`, naming its [`signer_email`](Signer::signer_email) as the
    /// account (`X-Goog-Credential`). See the type's docs for remote signers.
    ///
    /// `signer` is any [`Signer`], including an `Arc<dyn Signer>`.
    ///
    /// ```
    /// use credkit_object_store::GcsSigningProvider;
    /// use credkit_service_account::ServiceAccountKey;
    /// # use credkit_testing::TestKey;
    /// # let key = TestKey::generate()?;
    /// # let key_file = key.service_account_json("robot@project.iam.gserviceaccount.com", "https://oauth2.googleapis.com/token");
    ///
    /// let signer = ServiceAccountKey::from_json_str(&key_file)?.signer();
    /// let provider = GcsSigningProvider::from_signer(signer);
    /// # let _ = provider;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_signer(signer: impl Signer + 'static) -> Self {
        let signer: Arc<dyn Signer> = Arc::new(signer);
        let key = ServiceAccountKey::new(Box::new(SignWith {
            signer: Arc::clone(&signer),
        }));
        Self {
            credential: Arc::new(GcpSigningCredential {
                email: signer.signer_email().to_owned(),
                private_key: Some(key),
            }),
            signer: Some(signer),
        }
    }

    /// Signed URLs for the account `email`, signed by IAM's `signBlob`, which `object_store`
    /// calls itself with the store's bearer token (see the type's docs).
    pub fn sign_blob(email: impl Into<String>) -> Self {
        Self {
            credential: Arc::new(GcpSigningCredential {
                email: email.into(),
                private_key: None,
            }),
            signer: None,
        }
    }

    /// The email of the account the URLs are signed as.
    ///
    /// ```
    /// use credkit_object_store::GcsSigningProvider;
    ///
    /// let provider = GcsSigningProvider::sign_blob("robot@p.iam.gserviceaccount.com");
    /// assert_eq!(provider.email(), "robot@p.iam.gserviceaccount.com");
    /// ```
    pub fn email(&self) -> &str {
        &self.credential.email
    }
}

#[async_trait]
impl CredentialProvider for GcsSigningProvider {
    type Credential = GcpSigningCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<GcpSigningCredential>> {
        Ok(Arc::clone(&self.credential))
    }
}

impl fmt::Debug for GcsSigningProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcsSigningProvider")
            .field("email", &self.credential.email)
            .field("signer", &self.signer)
            .finish()
    }
}

/// What a store built by [`gcs_builder`](crate::gcs_builder) signs with until it is given a
/// signer: nothing. Signed URLs fail with an error that says how to give one, instead of
/// `object_store`'s default, which asks the metadata server (a link-local host off Google
/// Cloud).
#[derive(Debug)]
pub(crate) struct NoSigner;

#[async_trait]
impl CredentialProvider for NoSigner {
    type Credential = GcpSigningCredential;

    async fn get_credential(&self) -> object_store::Result<Arc<GcpSigningCredential>> {
        Err(error::no_signer())
    }
}

/// credkit's asynchronous [`Signer`] as `object_store`'s synchronous
/// [`object_store::client::Signer`].
struct SignWith {
    signer: Arc<dyn Signer>,
}

impl SignWith {
    /// Signs `message`: at once if the signer finishes on its first poll (a local key), else on
    /// the current multi-threaded tokio runtime, in place. A panicking signer is an error.
    fn sign_now(&self, message: &[u8]) -> Result<Vec<u8>> {
        let mut signing = self.signer.sign(message);
        let first = catch_unwind(AssertUnwindSafe(|| (&mut signing).now_or_never()))
            .map_err(|_| error::signer_panicked())?;
        if let Some(signed) = first {
            return signed.map(credkit_core::Signature::into_bytes);
        }
        // A remote signer. object_store calls this synchronously from its own future, so the
        // only way to wait without stalling the runtime is to hand this worker's other tasks to
        // another worker while this one blocks: the multi-threaded runtime's block_in_place.
        // A current-thread runtime has no other thread to run the signer's I/O on.
        let handle = match Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => handle,
            _ => return Err(error::remote_signer_needs_threads()),
        };
        let signed = catch_unwind(AssertUnwindSafe(|| {
            tokio::task::block_in_place(|| handle.block_on(signing))
        }))
        .map_err(|_| error::signer_panicked())?;
        signed.map(credkit_core::Signature::into_bytes)
    }
}

impl object_store::client::Signer for SignWith {
    fn sign(&self, string_to_sign: &[u8]) -> object_store::Result<Vec<u8>> {
        self.sign_now(string_to_sign).map_err(error::signing_failed)
    }
}

#[cfg(test)]
mod tests {
    use credkit_core::{Error, ErrorKind, Signature};
    use futures::future::{BoxFuture, pending};

    use super::*;

    /// Signs with the reversed message, at once.
    #[derive(Debug)]
    struct Reverse;

    #[async_trait]
    impl Signer for Reverse {
        async fn sign(&self, message: &[u8]) -> Result<Signature> {
            Ok(Signature::new(message.iter().rev().copied().collect()))
        }
        fn signer_email(&self) -> &'static str {
            "reverse@p.iam.gserviceaccount.com"
        }
    }

    /// Never finishes, or panics, or fails, as told.
    #[derive(Debug)]
    enum Odd {
        Pending,
        Panics,
        Fails,
    }

    impl Signer for Odd {
        fn sign<'a, 'b, 'c>(&'a self, _: &'b [u8]) -> BoxFuture<'c, Result<Signature>>
        where
            'a: 'c,
            'b: 'c,
        {
            match self {
                Odd::Pending => Box::pin(pending()),
                Odd::Panics => Box::pin(async { panic!("a signer's bug") }),
                Odd::Fails => {
                    Box::pin(async { Err(Error::new(ErrorKind::Provider, "signBlob said no")) })
                }
            }
        }
        fn signer_email(&self) -> &'static str {
            "odd@p.iam.gserviceaccount.com"
        }
    }

    fn sign_with(signer: impl Signer + 'static) -> SignWith {
        SignWith {
            signer: Arc::new(signer),
        }
    }

    #[test]
    fn a_local_signer_signs_without_a_runtime() {
        let signed = object_store::client::Signer::sign(&sign_with(Reverse), b"abc").unwrap();
        assert_eq!(signed, b"cba");
        let provider = GcsSigningProvider::from_signer(Reverse);
        assert_eq!(provider.email(), "reverse@p.iam.gserviceaccount.com");
        let credential = futures::executor::block_on(provider.get_credential()).unwrap();
        assert!(credential.private_key.is_some());
        let again = futures::executor::block_on(provider.get_credential()).unwrap();
        assert!(Arc::ptr_eq(&credential, &again));
    }

    #[test]
    fn a_remote_signer_without_a_multi_threaded_runtime_is_an_error_not_a_hang() {
        let err = sign_with(Odd::Pending).sign_now(b"abc").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration);
        assert!(
            err.to_string().contains("multi-threaded tokio runtime"),
            "{err}"
        );

        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let err = runtime
            .block_on(async { sign_with(Odd::Pending).sign_now(b"abc") })
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Configuration);
    }

    #[test]
    fn a_panicking_signer_is_an_error() {
        let err = sign_with(Odd::Panics).sign_now(b"abc").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(err.to_string().contains("panicked"), "{err}");
    }

    #[test]
    fn a_failing_signer_gives_object_store_its_error_as_the_source() {
        let err = object_store::client::Signer::sign(&sign_with(Odd::Fails), b"abc").unwrap_err();
        let object_store::Error::Generic { store, source } = &err else {
            panic!("not a generic error: {err:?}");
        };
        assert_eq!(*store, "GCS");
        let source = source.downcast_ref::<Error>().unwrap();
        assert_eq!(source.message(), "signBlob said no");
        assert!(err.to_string().contains("signBlob said no"), "{err}");
    }

    #[test]
    fn without_a_signer_signed_urls_say_how_to_give_one() {
        let err = futures::executor::block_on(NoSigner.get_credential()).unwrap_err();
        assert!(matches!(err, object_store::Error::NotSupported { .. }));
        assert!(
            err.to_string().contains("with_signing_credentials"),
            "{err}"
        );
    }

    #[test]
    fn debug_names_the_account_and_the_signer() {
        let debug = format!("{:?}", GcsSigningProvider::from_signer(Reverse));
        assert_eq!(
            debug,
            r#"GcsSigningProvider { email: "reverse@p.iam.gserviceaccount.com", signer: Some(Reverse) }"#
        );
    }
}
