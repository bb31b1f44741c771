//! AWS-sourced subject tokens (the reference's `aws` module): a `GetCallerIdentity` request
//! signed with AWS Signature Version 4 by credentials from an
//! [`AwsSecurityCredentialsSupplier`], serialized as the subject token Google's STS verifies.
//!
//! - `mod.rs`: [`AwsSource`] (the subject token supplier), the `credential_source` parser, and
//!   [`ExternalAccountCredentials::aws_builder`];
//! - `sigv4.rs`: the signature and the serialization, byte for byte as the reference;
//! - `imds.rs`: [`DefaultAwsSecurityCredentialsSupplier`] and the readers of the metadata
//!   service's replies;
//! - `env.rs`: the `AWS_*` variables, with the reference's precedence;
//! - `url.rs`: Python's URL splitting where the signature reads it, and the checks of configured URLs.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use credkit_core::{BuildError, Error};
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::credentials::{ExternalAccountCredentials, ExternalAccountCredentialsBuilder};
use crate::info::{AWS_SUBJECT_TOKEN_TYPE, SourceContext};
use crate::supplier::{AwsSecurityCredentialsSupplier, SubjectTokenSupplier, SupplierContext};

mod env;
mod imds;
mod sigv4;
mod url;

pub use imds::{DefaultAwsSecurityCredentialsSupplier, MAX_AWS_METADATA_REPLY_BYTES};

/// The regional `GetCallerIdentity` endpoint the signed request names when none is configured:
/// the reference's default, `{region}` replaced by the supplier's region.
pub const DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL: &str =
    "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15";

/// The subject token of AWS workloads: a `GetCallerIdentity` request signed (AWS Signature
/// Version 4, at the credentials' clock's time) with the credentials of an
/// [`AwsSecurityCredentialsSupplier`], carrying the audience as `x-goog-cloud-target-resource`,
/// and serialized as the reference serializes it. Google's STS replays it to AWS to learn who
/// signed.
///
/// The region is asked of the supplier once and kept, as the reference does; the credentials
/// are asked for at every exchange (a supplier caches them if it wants to).
///
/// ```
/// use credkit_external_account::{
///     AWS_SUBJECT_TOKEN_TYPE, AwsSource, DefaultAwsSecurityCredentialsSupplier,
///     ExternalAccountCredentials,
/// };
///
/// // The default verification URL, through the shortcut:
/// let builder = ExternalAccountCredentials::aws_builder(
///     "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/aws",
///     DefaultAwsSecurityCredentialsSupplier::new(),
/// );
/// # let _ = builder;
/// // Another one (FIPS, say), through the source:
/// let source = AwsSource::new(DefaultAwsSecurityCredentialsSupplier::new())
///     .with_regional_cred_verification_url(
///         "https://sts-fips.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
///     )?;
/// let builder = ExternalAccountCredentials::builder(
///     "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/aws",
///     AWS_SUBJECT_TOKEN_TYPE,
///     source,
/// );
/// # let _ = builder;
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
pub struct AwsSource {
    supplier: Arc<dyn AwsSecurityCredentialsSupplier>,
    verification_url: String,
    /// Whether the supplier is the built-in one configured by a `credential_source`: `kind()`
    /// is then `aws`, else `programmatic`, as the reference's metrics say.
    from_file: bool,
    region: Mutex<Option<String>>,
}

impl fmt::Debug for AwsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSource")
            .field("supplier", &self.supplier)
            .field("regional_cred_verification_url", &self.verification_url)
            .field("kind", &self.kind())
            .finish_non_exhaustive()
    }
}

impl AwsSource {
    /// A source signing with `supplier`'s credentials for
    /// [`DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL`].
    pub fn new(supplier: impl AwsSecurityCredentialsSupplier + 'static) -> Self {
        Self::with_supplier(Arc::new(supplier), false)
    }

    fn with_supplier(supplier: Arc<dyn AwsSecurityCredentialsSupplier>, from_file: bool) -> Self {
        Self {
            supplier,
            verification_url: DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL.to_owned(),
            from_file,
            region: Mutex::new(None),
        }
    }

    /// The same source, signing for `url` (`regional_cred_verification_url`), in which every
    /// `{region}` is replaced by the region.
    ///
    /// # Errors
    ///
    /// A URL that is not printable ASCII, `https`, with a host (`Invalid AWS service URL`).
    pub fn with_regional_cred_verification_url(
        mut self,
        url: impl Into<String>,
    ) -> Result<Self, BuildError> {
        let url = url.into();
        url::check_verification_url(&url, "regional_cred_verification_url")?;
        self.verification_url = url;
        Ok(self)
    }

    /// The verification URL, `{region}` not yet replaced.
    pub fn regional_cred_verification_url(&self) -> &str {
        &self.verification_url
    }

    async fn region(&self, context: &SupplierContext) -> Result<String, Error> {
        let cached = self
            .region
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(region) = cached {
            return Ok(region);
        }
        let region = self.supplier.aws_region(context).await?;
        if sigv4::is_region(&region) {
            *self.region.lock().unwrap_or_else(PoisonError::into_inner) = Some(region.clone());
        }
        Ok(region)
    }
}

#[async_trait]
impl SubjectTokenSupplier for AwsSource {
    async fn subject_token(&self, context: &SupplierContext) -> Result<SecretString, Error> {
        let region = self.region(context).await?;
        let credentials = self.supplier.aws_security_credentials(context).await?;
        let url = self.verification_url.replace("{region}", &region);
        sigv4::subject_token(
            &credentials,
            &sigv4::Request {
                url: &url,
                region: &region,
                now: context.clock().now(),
                target_resource: context.audience(),
            },
        )
    }

    fn kind(&self) -> &'static str {
        if self.from_file {
            "aws"
        } else {
            "programmatic"
        }
    }
}

impl ExternalAccountCredentials {
    /// A builder of credentials for the AWS workload identity provider `audience`, signing
    /// with `supplier`'s credentials for [`DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL`]
    /// (the reference's `aws.Credentials` with an `aws_security_credentials_supplier`). For
    /// another verification URL, give [`builder`](Self::builder) an [`AwsSource`] made with
    /// [`with_regional_cred_verification_url`](AwsSource::with_regional_cred_verification_url).
    ///
    /// ```
    /// use async_trait::async_trait;
    /// use credkit_core::Error;
    /// use credkit_external_account::{
    ///     AwsSecurityCredentials, AwsSecurityCredentialsSupplier, ExternalAccountCredentials,
    ///     SupplierContext,
    /// };
    ///
    /// #[derive(Debug)]
    /// struct FromMyVault;
    ///
    /// #[async_trait]
    /// impl AwsSecurityCredentialsSupplier for FromMyVault {
    ///     async fn aws_region(&self, _: &SupplierContext) -> Result<String, Error> {
    ///         Ok("eu-west-1".into())
    ///     }
    ///     async fn aws_security_credentials(
    ///         &self,
    ///         _: &SupplierContext,
    ///     ) -> Result<AwsSecurityCredentials, Error> {
    ///         Ok(AwsSecurityCredentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI".into()))
    ///     }
    /// }
    ///
    /// let builder = ExternalAccountCredentials::aws_builder(
    ///     "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/aws",
    ///     FromMyVault,
    /// );
    /// assert!(builder.build().is_err()); // no transport yet
    /// ```
    pub fn aws_builder(
        audience: impl Into<String>,
        supplier: impl AwsSecurityCredentialsSupplier + 'static,
    ) -> ExternalAccountCredentialsBuilder {
        Self::builder_with_supplier(
            audience.into(),
            AWS_SUBJECT_TOKEN_TYPE.to_owned(),
            Arc::new(AwsSource::new(supplier)),
        )
    }
}

/// Parses an AWS `credential_source`, with the reference's checks and texts: `environment_id`
/// `aws1` and a `regional_cred_verification_url`, else `No valid AWS 'credential_source'
/// provided`; another version, `aws version 'N' is not supported in the current build.`. The
/// URLs are checked here, not at the first exchange.
pub(crate) fn from_credential_source(
    source: &Map<String, Value>,
    _context: &SourceContext<'_>,
) -> Result<Arc<dyn SubjectTokenSupplier>, BuildError> {
    let environment_id = match source.get("environment_id") {
        None | Some(Value::Null) => "",
        Some(Value::String(id)) => id.as_str(),
        Some(_) => {
            return Err(BuildError::invalid_value(
                "credential_source.environment_id must be a string",
            ));
        }
    };
    let verification_url = crate::info::optional_string(source, "regional_cred_verification_url")?;
    let version = environment_version(environment_id);
    let Some((version, verification_url)) = version.zip(verification_url) else {
        return Err(BuildError::invalid_value(
            "No valid AWS 'credential_source' provided",
        ));
    };
    if version.trim_start_matches('0') != "1" {
        return Err(BuildError::invalid_value(format!(
            "aws version '{version}' is not supported in the current build."
        )));
    }
    let mut supplier = DefaultAwsSecurityCredentialsSupplier::new();
    if let Some(url) = non_empty(source, "region_url")? {
        supplier = supplier.with_region_url(url)?;
    }
    if let Some(url) = non_empty(source, "url")? {
        supplier = supplier.with_security_credentials_url(url)?;
    }
    if let Some(url) = non_empty(source, "imdsv2_session_token_url")? {
        supplier = supplier.with_imdsv2_session_token_url(url)?;
    }
    let aws = AwsSource::with_supplier(Arc::new(supplier), true)
        .with_regional_cred_verification_url(verification_url)?;
    Ok(Arc::new(aws))
}

/// The version in `aws{digits}`, as the reference's `^(aws)([\d]+)$` reads it (a final newline
/// allowed, as `$` allows it; ASCII digits only).
fn environment_version(id: &str) -> Option<&str> {
    let id = id.strip_suffix('\n').unwrap_or(id);
    let digits = id.strip_prefix("aws")?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// A URL member: absent, `null` and empty are none.
fn non_empty(source: &Map<String, Value>, name: &str) -> Result<Option<String>, BuildError> {
    Ok(crate::info::optional_string(source, name)?.filter(|url| !url.is_empty()))
}

/// The readers of the metadata service's replies and the signer, for the fuzz target (through
/// the crate's `fuzzing` module).
#[cfg(fuzzing)]
pub(crate) mod fuzzing {
    use credkit_core::Error;
    use credkit_core::time::OffsetDateTime;
    use secrecy::SecretString;

    use crate::supplier::AwsSecurityCredentials;

    /// An `IMDSv2` session token reply.
    pub fn aws_session_token(body: &[u8]) -> Result<SecretString, Error> {
        super::imds::read_session_token(body)
    }

    /// An availability zone reply, read as a region.
    pub fn aws_region(body: &[u8]) -> Result<String, Error> {
        super::imds::read_region(body)
    }

    /// A role name reply.
    pub fn aws_role_name(body: &[u8]) -> Result<String, Error> {
        super::imds::read_role_name(body)
    }

    /// A security credentials reply.
    pub fn aws_security_credentials(body: &[u8]) -> Result<AwsSecurityCredentials, Error> {
        super::imds::read_security_credentials(body)
    }

    /// The subject token for `url` (already substituted), `region` and `credentials` at `now`.
    pub fn aws_subject_token(
        credentials: &AwsSecurityCredentials,
        url: &str,
        region: &str,
        now: OffsetDateTime,
        audience: &str,
    ) -> Result<SecretString, Error> {
        super::sigv4::subject_token(
            credentials,
            &super::sigv4::Request {
                url,
                region,
                now,
                target_resource: audience,
            },
        )
    }

    /// Whether a verification URL is accepted when parsed.
    pub fn aws_verification_url_accepted(url: &str) -> bool {
        super::url::check_verification_url(url, "url").is_ok()
    }

    /// Whether a metadata URL is accepted when parsed.
    pub fn aws_metadata_url_accepted(url: &str) -> bool {
        super::url::check_metadata_url(url, "url").is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(source: Value) -> Result<Arc<dyn SubjectTokenSupplier>, BuildError> {
        let Value::Object(source) = source else {
            unreachable!()
        };
        from_credential_source(
            &source,
            &SourceContext {
                subject_token_type: AWS_SUBJECT_TOKEN_TYPE,
                audience: "aud",
                impersonated_email: None,
            },
        )
    }

    const URL: &str = DEFAULT_AWS_REGIONAL_CREDENTIAL_VERIFICATION_URL;

    #[test]
    fn the_environment_id_is_checked_as_the_reference() {
        for id in ["aws1", "aws01", "aws1\n"] {
            let source =
                serde_json::json!({"environment_id": id, "regional_cred_verification_url": URL});
            assert_eq!(parse(source).unwrap().kind(), "aws", "{id:?}");
        }
        for (id, version) in [("aws2", "2"), ("aws10", "10"), ("aws0", "0")] {
            let source =
                serde_json::json!({"environment_id": id, "regional_cred_verification_url": URL});
            assert_eq!(
                parse(source).unwrap_err().to_string(),
                format!("aws version '{version}' is not supported in the current build.")
            );
        }
        for source in [
            serde_json::json!({"environment_id": "aws1"}),
            serde_json::json!({"regional_cred_verification_url": URL}),
            serde_json::json!({"environment_id": "azure1", "regional_cred_verification_url": URL}),
            serde_json::json!({"environment_id": "aws", "regional_cred_verification_url": URL}),
            serde_json::json!({"environment_id": "aws1x", "regional_cred_verification_url": URL}),
            serde_json::json!({"environment_id": "AWS1", "regional_cred_verification_url": URL}),
            serde_json::json!({"environment_id": null, "regional_cred_verification_url": URL}),
        ] {
            assert_eq!(
                parse(source.clone()).unwrap_err().to_string(),
                "No valid AWS 'credential_source' provided",
                "{source}"
            );
        }
    }

    #[test]
    fn the_urls_are_checked_when_parsed() {
        let err = parse(serde_json::json!({
            "environment_id": "aws1",
            "regional_cred_verification_url": "http://sts.{region}.amazonaws.com",
        }))
        .unwrap_err();
        assert!(
            err.to_string().starts_with("Invalid AWS service URL"),
            "{err}"
        );
        for member in ["region_url", "url", "imdsv2_session_token_url"] {
            let err = parse(serde_json::json!({
                "environment_id": "aws1",
                "regional_cred_verification_url": URL,
                member: "http://metadata.example/x",
            }))
            .unwrap_err();
            assert!(err.to_string().contains(member), "{err}");
            let err = parse(serde_json::json!({
                "environment_id": "aws1",
                "regional_cred_verification_url": URL,
                member: 7,
            }))
            .unwrap_err();
            assert_eq!(err.to_string(), format!("{member} must be a string"));
        }
    }
}
