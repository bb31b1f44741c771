//! `gcs_builder`: `object_store`'s GCS builder, set up with credkit credentials.

use std::sync::Arc;

use credkit_core::Credentials;
use object_store::gcp::GoogleCloudStorageBuilder;

use crate::provider::GcsCredentialProvider;
use crate::signing::NoSigner;

/// `object_store`'s [`GoogleCloudStorageBuilder`] for `bucket`, its bearer tokens from
/// `credentials` (a [`GcsCredentialProvider`]), and no signer yet.
///
/// Everything else is `object_store`'s and may still be set on the builder: the base URL,
/// client options, retries. With credentials given, `object_store` reads no key file, no
/// `GOOGLE_APPLICATION_CREDENTIALS` and never asks the metadata server for tokens.
///
/// Signed URLs fail, saying how to give a signer, until
/// [`with_signing_credentials`](GoogleCloudStorageBuilder::with_signing_credentials) is given a
/// [`GcsSigningProvider`](crate::GcsSigningProvider); `object_store`'s own default would ask the
/// metadata server for an account to sign as, which off Google Cloud means a request to a
/// link-local address that never answers.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use credkit_core::{AccessToken, Credentials, StaticSource};
/// use credkit_object_store::{GcsSigningProvider, gcs_builder};
///
/// let credentials = Credentials::new(StaticSource::new(AccessToken::new("ya29.t")));
/// let store = gcs_builder(credentials, "my-bucket")
///     .with_signing_credentials(Arc::new(GcsSigningProvider::sign_blob(
///         "robot@my-project.iam.gserviceaccount.com",
///     )))
///     .build()?;
/// assert_eq!(store.to_string(), "GoogleCloudStorage(my-bucket)");
/// # Ok::<(), object_store::Error>(())
/// ```
pub fn gcs_builder(
    credentials: Credentials,
    bucket: impl Into<String>,
) -> GoogleCloudStorageBuilder {
    GoogleCloudStorageBuilder::new()
        .with_bucket_name(bucket)
        .with_credentials(Arc::new(GcsCredentialProvider::new(credentials)))
        .with_signing_credentials(Arc::new(NoSigner))
}
