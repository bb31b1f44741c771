//! Workload and workforce identity federation for credkit: credentials without service-account
//! keys. An external token (GitHub Actions' OIDC token, a Kubernetes service-account token, an
//! AWS role, an Azure managed identity, any OIDC or SAML issuer) is exchanged at Google's
//! Security Token Service (RFC 8693) for a Google access token, then, when configured, used to
//! impersonate a service account through `credkit-impersonated`.
//!
//! - [`ExternalAccountCredentials`]: the reference's `external_account.Credentials`, with every
//!   source: [`FileSource`], [`UrlSource`], an executable, AWS, or a caller's own
//!   [`SubjectTokenSupplier`] / [`AwsSecurityCredentialsSupplier`].
//! - [`ExternalAccountInfo`]: the `external_account` credentials file, checked as the reference
//!   checks it. The facade crate `credkit` registers it with ADC.
//!
//! The sources fetch and nothing more: wrap them in
//! [`Credentials`](credkit_core::Credentials) for caching, single flight, refresh ahead and
//! retries. The crate needs no particular async runtime and takes any
//! [`Transport`](credkit_core::Transport).
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod authorized_user;
mod aws;
mod credentials;
mod executable;
mod identity_pool;
mod info;
mod sts;
mod supplier;

// The public interface is:
pub use credentials::{
    CLOUD_PLATFORM_SCOPE, DEFAULT_UNIVERSE_DOMAIN, ExternalAccountCredentials,
    ExternalAccountCredentialsBuilder,
};
pub use executable::{ExecutableSource, ExecutableSourceBuilder};
pub use identity_pool::{FileSource, MAX_SUBJECT_TOKEN_BYTES, SubjectTokenFormat, UrlSource};
pub use info::{AWS_SUBJECT_TOKEN_TYPE, EXTERNAL_ACCOUNT, ExternalAccountInfo};
pub use sts::{ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT_TYPE};
pub use supplier::{
    AwsSecurityCredentials, AwsSecurityCredentialsSupplier, EnvLookup, SubjectTokenSupplier,
    SupplierContext,
};

/// Re-exported so users of this provider name the same core.
pub use credkit_core as core;

/// The parsers of the executable source, for the fuzz targets in `fuzz/`: compiled only under
/// `--cfg fuzzing` (which cargo-fuzz sets), never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use std::path::Path;
    use std::time::SystemTime;

    use credkit_core::Error;
    use secrecy::SecretString;

    /// What the program printed: its token, `None` for no response.
    pub fn executable_output(
        stdout: &[u8],
        subject_token_type: &str,
        now: SystemTime,
    ) -> Result<Option<SecretString>, Error> {
        crate::executable::printed(stdout, subject_token_type, now)
    }

    /// A response cached in the output file: its token, `None` to run the program.
    pub fn executable_cache(
        bytes: &[u8],
        subject_token_type: &str,
        now: SystemTime,
    ) -> Result<Option<SecretString>, Error> {
        crate::executable::cached_response(
            bytes,
            Path::new("/fuzz/output.json"),
            subject_token_type,
            now,
        )
    }

    /// The command line split into words, or Python's message.
    pub fn split_command(line: &str) -> Result<Vec<String>, &'static str> {
        crate::executable::split(line).map_err(|err| err.message())
    }
}
