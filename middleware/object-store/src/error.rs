//! Every error this crate hands `object_store`, as named constructors. credkit's own error is
//! kept as the source, typed (`downcast_ref::<credkit_core::Error>()` finds its kind, OAuth
//! code and transience); no message holds a token, a key or a signature.

use credkit_core::{Error, ErrorKind};

/// The store name `object_store`'s GCS client reports its own errors with.
const STORE: &str = "GCS";

/// No token could be had: the credentials' error (for example `invalid_grant: Token has been
/// expired or revoked.`, or a transient timeout), as the source of `object_store`'s generic
/// error, whose message repeats it.
pub(crate) fn no_token(source: Error) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: Box::new(source),
    }
}

/// The signer failed to sign: its error as the source.
pub(crate) fn signing_failed(source: Error) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: Box::new(source),
    }
}

/// Signed URLs were asked of a store built without a signer.
pub(crate) fn no_signer() -> object_store::Error {
    object_store::Error::NotSupported {
        source: Box::new(Error::new(
            ErrorKind::Configuration,
            "signed URLs need a signer: give the builder's with_signing_credentials a \
             credkit_object_store::GcsSigningProvider (from_signer with a service-account key or \
             an IAM signer, or sign_blob with the account's email)",
        )),
    }
}

/// A remote signer did not finish at once, and there is no multi-threaded tokio runtime to
/// wait for it on: `object_store` calls a signing key synchronously.
pub(crate) fn remote_signer_needs_threads() -> Error {
    Error::new(
        ErrorKind::Configuration,
        "this signer signs remotely and object_store signs synchronously: sign on a \
         multi-threaded tokio runtime, or use a service-account key, or \
         GcsSigningProvider::sign_blob to let object_store call signBlob itself",
    )
}

/// The signer panicked; the panic was caught.
pub(crate) fn signer_panicked() -> Error {
    Error::new(
        ErrorKind::Internal,
        "the signer panicked while signing a URL (caught): this is a bug in the signer",
    )
}
