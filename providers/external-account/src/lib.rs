//! Workload and workforce identity federation for credkit: credentials without service-account
//! keys. An external token (GitHub Actions' OIDC token, a Kubernetes service-account token, an
//! AWS role, an Azure managed identity, any OIDC or SAML issuer) is exchanged at Google's
//! Security Token Service (RFC 8693) for a Google access token, then, when configured, used to
//! impersonate a service account through `credkit-impersonated`.
//!
//! - [`ExternalAccountCredentials`]: the reference's `external_account.Credentials`, with every
//!   source: [`FileSource`], [`UrlSource`], [`ExecutableSource`], [`AwsSource`] (over
//!   [`DefaultAwsSecurityCredentialsSupplier`]), or a caller's own [`SubjectTokenSupplier`] /
//!   [`AwsSecurityCredentialsSupplier`].
//! - [`ExternalAccountAuthorizedUserCredentials`]: a workforce identity user's
//!   `external_account_authorized_user` file, refreshed through STS, its rotation kept.
//! - [`ExternalAccountInfo`]: the `external_account` credentials file, checked as the reference
//!   checks it. The facade crate `credkit` registers it with ADC.
//!
//! The sources fetch and nothing more: wrap them in
//! [`Credentials`](credkit_core::Credentials) for caching, single flight, refresh ahead and
//! retries. The crate needs no particular async runtime and takes any
//! [`Transport`](credkit_core::Transport).
//!
//! # Quick start
//!
//! A GitHub Actions job whose OIDC token a step wrote to a file, exchanged at STS and used to
//! impersonate a service account:
//!
//! ```no_run
//! use credkit_core::Credentials;
//! use credkit_external_account::ExternalAccountInfo;
//! use credkit_reqwest::ReqwestTransport;
//!
//! # #[allow(dead_code)]
//! async fn federated() -> Result<(), Box<dyn std::error::Error>> {
//! let info = ExternalAccountInfo::from_json_str(r#"{
//!   "type": "external_account",
//!   "audience": "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/providers/my-repo",
//!   "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
//!   "token_url": "https://sts.googleapis.com/v1/token",
//!   "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/deployer@my-project.iam.gserviceaccount.com:generateAccessToken",
//!   "credential_source": {"file": "/tmp/github-oidc-token"}
//! }"#)?;
//! let source = info.builder().with_transport(ReqwestTransport::new()?).build()?;
//! let credentials = Credentials::new(source);
//! let headers = credentials.headers().await?;
//! # let _ = headers;
//! Ok(())
//! }
//! ```
//!
//! Through the facade crate, `GOOGLE_APPLICATION_CREDENTIALS=/path/to/that.json` is all it
//! takes: ADC loads `external_account` files like any other.
//!
//! # Sources
//!
//! | `credential_source` | subject token | notes |
//! |---|---|---|
//! | `file` | the file's text, or a JSON member (`format`) | read anew at each exchange (a projected token is rotated in place) |
//! | `url` | a `GET`'s body, text or JSON, with `headers` | `https`, or plain `http` to loopback and `169.254.169.254` only; no redirects |
//! | `executable` | a program's version-1 JSON response | only with `GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1`; no shell; a timeout kills its process tree; `output_file` cache |
//! | `environment_id: aws1` | a SigV4-signed `GetCallerIdentity` request | credentials and region from the `AWS_*` environment, else `IMDSv2` |
//! | (a [`SubjectTokenSupplier`] or [`AwsSecurityCredentialsSupplier`] of yours) | what it supplies | [`ExternalAccountCredentials::builder`], [`ExternalAccountCredentials::aws_builder`] |
//!
//! # Testing
//!
//! `credkit_testing::FakeStsServer` is Google's STS on 127.0.0.1 (it checks the exchange form
//! and answers scripted tokens or errors); `FakeIamServer` the impersonation; a fake AWS
//! metadata service and scripted executables serve the other sources.
//!
//! # Differences from the reference
//!
//! - Without scopes, `cloud-platform` (as the Rust peer), not an empty scope. With
//!   impersonation, the STS token asks for the IAM scope alone, as the reference narrows it.
//! - A text subject token is trimmed of surrounding whitespace (as the Go library), so a
//!   token written with `echo` works; a token with control characters, or larger than
//!   [`MAX_SUBJECT_TOKEN_BYTES`], is refused.
//! - Errors name what is wrong and never quote a response body or a token; the reference
//!   puts a URL source's body in its exception. No metrics header is sent.
//! - A URL source follows no redirect: a 3xx is an error naming the status.
//! - The impersonation URL is checked when the credentials are built, not at the first
//!   refresh. Its origin serves every IAM call (ID tokens and `signBlob` too), so a regional
//!   or private endpoint is used throughout; the reference sends those to the default one.
//! - `certificate` sources (X.509 workload identity federation, mutual TLS to STS) are
//!   refused by name: credkit's transports do not yet present client certificates per
//!   credential.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod authorized_user;
mod aws;
mod credentials;
mod executable;
mod identity_pool;
mod info;
mod project;
mod sts;
mod supplier;

// The public interface is:
pub use authorized_user::{
    EXTERNAL_ACCOUNT_AUTHORIZED_USER, ExternalAccountAuthorizedUserCredentials,
    ExternalAccountAuthorizedUserCredentialsBuilder, ExternalAccountAuthorizedUserInfo,
};
pub use aws::{
    AwsSource, DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL,
    DefaultAwsSecurityCredentialsSupplier, MAX_AWS_METADATA_REPLY_BYTES,
};
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

/// The parsers of untrusted input, for the fuzz targets in `fuzz/`: compiled only under
/// `--cfg fuzzing` (which cargo-fuzz sets), never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use std::path::Path;
    use std::time::SystemTime;

    use credkit_core::Error;
    use secrecy::SecretString;

    pub use crate::aws::fuzzing::{
        aws_metadata_url_accepted, aws_region, aws_role_name, aws_security_credentials,
        aws_session_token, aws_subject_token, aws_verification_url_accepted,
    };

    /// A file or URL source's content, as text (`field` `None`) or as JSON with the token in
    /// `field`.
    pub fn subject_token(content: &[u8], field: Option<&str>) -> Result<SecretString, Error> {
        let format = match field {
            Some(field) => crate::SubjectTokenFormat::Json(field.to_owned()),
            None => crate::SubjectTokenFormat::Text,
        };
        format.token(content, "/fuzzed")
    }

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
