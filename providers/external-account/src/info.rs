//! The `external_account` credentials file: read and checked as the reference's `from_info`
//! does (its error texts where it has one), with the credential source parsed into a supplier
//! at once, so a malformed file fails when it is loaded, not at the first refresh.

use std::sync::Arc;
use std::time::Duration;

use credkit_core::BuildError;
use credkit_core::oauth::scrub;
use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::credentials::{ExternalAccountCredentials, ExternalAccountCredentialsBuilder};
use crate::supplier::SubjectTokenSupplier;

/// The `type` of an external account's credentials file.
pub const EXTERNAL_ACCOUNT: &str = "external_account";

/// The subject token type of AWS's signed `GetCallerIdentity` request.
pub const AWS_SUBJECT_TOKEN_TYPE: &str = "urn:ietf:params:aws:token-type:aws4_request";

/// What a credential source's parser gets from the file around it.
#[derive(Debug)]
#[allow(dead_code, reason = "read by the executable and AWS sources")]
pub(crate) struct SourceContext<'a> {
    /// The file's `subject_token_type`.
    pub(crate) subject_token_type: &'a str,
    /// The file's `audience`.
    pub(crate) audience: &'a str,
    /// The service account the file impersonates, if it does.
    pub(crate) impersonated_email: Option<&'a str>,
}

/// An `external_account` credentials file, read: the reference's
/// `external_account.Credentials.from_info` members, and its `credential_source` parsed into a
/// [`SubjectTokenSupplier`] (a file, a URL, an executable, or AWS).
///
/// ```
/// use credkit_external_account::ExternalAccountInfo;
///
/// let info = ExternalAccountInfo::from_json_str(r#"{
///   "type": "external_account",
///   "audience": "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/github",
///   "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
///   "token_url": "https://sts.googleapis.com/v1/token",
///   "credential_source": {"file": "/var/run/oidc/token"}
/// }"#)?;
/// assert_eq!(info.source_kind(), "file");
/// assert_eq!(info.project_number(), Some("123"));
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ExternalAccountInfo {
    pub(crate) audience: String,
    pub(crate) subject_token_type: String,
    pub(crate) token_url: Option<String>,
    pub(crate) token_info_url: Option<String>,
    pub(crate) impersonation_url: Option<String>,
    pub(crate) impersonation_lifetime: Option<Duration>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<SecretString>,
    pub(crate) quota_project: Option<String>,
    pub(crate) workforce_pool_user_project: Option<String>,
    pub(crate) universe_domain: Option<String>,
    pub(crate) supplier: Arc<dyn SubjectTokenSupplier>,
}

impl ExternalAccountInfo {
    /// Reads the file's JSON text.
    ///
    /// # Errors
    ///
    /// As [`from_json`](Self::from_json), and text that is not JSON.
    pub fn from_json_str(text: &str) -> Result<Self, BuildError> {
        from_text(text, EXTERNAL_ACCOUNT, Self::from_json)
    }

    /// Reads the file at `path` (at most 1 MiB).
    ///
    /// # Errors
    ///
    /// The file is missing, unreadable or not JSON (the reference's texts), or as
    /// [`from_json`](Self::from_json).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, BuildError> {
        let json = credkit_core::credentials_file::read_json(path.as_ref())?;
        Self::from_json(&json)
    }

    /// Reads the file's JSON.
    ///
    /// # Errors
    ///
    /// Not a JSON object; a `type` other than `external_account`; a missing `audience` or
    /// `subject_token_type`; a member of the wrong type; a malformed `credential_source` (with
    /// the reference's message, such as `Invalid credential_source format 'xml'`); a
    /// `workforce_pool_user_project` on a workload pool (`workforce_pool_user_project should
    /// not be set for non-workforce pool credentials`).
    pub fn from_json(json: &Value) -> Result<Self, BuildError> {
        let map = object_of_type(json, EXTERNAL_ACCOUNT)?;
        let audience = required_string(map, "audience")?;
        let subject_token_type = required_string(map, "subject_token_type")?;
        let impersonation_url = optional_string(map, "service_account_impersonation_url")?;
        let impersonation_lifetime = match map.get("service_account_impersonation") {
            None | Some(Value::Null) => None,
            Some(Value::Object(options)) => match options.get("token_lifetime_seconds") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => Some(Duration::from_secs(n.as_u64().ok_or_else(
                    || {
                        BuildError::invalid_value(
                            "service_account_impersonation.token_lifetime_seconds must be a whole number of seconds",
                        )
                    },
                )?)),
                Some(_) => {
                    return Err(BuildError::invalid_value(
                        "service_account_impersonation.token_lifetime_seconds must be a number",
                    ));
                }
            },
            Some(_) => {
                return Err(BuildError::invalid_value(
                    "service_account_impersonation must be a JSON object",
                ));
            }
        };
        let impersonated_email = impersonation_url
            .as_deref()
            .and_then(crate::credentials::service_account_email);
        let source = SourceContext {
            subject_token_type: &subject_token_type,
            audience: &audience,
            impersonated_email,
        };
        let supplier = match map.get("credential_source") {
            Some(Value::Object(credential_source)) => supplier_for(credential_source, &source)?,
            None | Some(Value::Null) => {
                return Err(BuildError::missing_fields(
                    "A valid credential source or a subject token supplier must be provided.",
                ));
            }
            Some(_) => {
                return Err(BuildError::invalid_value(
                    "Invalid credential_source. The credential_source is not a dict.",
                ));
            }
        };
        let info = Self {
            token_url: optional_string(map, "token_url")?,
            token_info_url: optional_string(map, "token_info_url")?,
            client_id: optional_string(map, "client_id")?,
            client_secret: optional_string(map, "client_secret")?.map(SecretString::from),
            quota_project: optional_string(map, "quota_project_id")?,
            workforce_pool_user_project: optional_string(map, "workforce_pool_user_project")?,
            universe_domain: optional_string(map, "universe_domain")?,
            audience,
            subject_token_type,
            impersonation_url,
            impersonation_lifetime,
            supplier,
        };
        crate::credentials::check_workforce_project(
            &info.audience,
            info.workforce_pool_user_project.as_deref(),
        )?;
        Ok(info)
    }

    /// The STS audience.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The subject token type.
    pub fn subject_token_type(&self) -> &str {
        &self.subject_token_type
    }

    /// The STS endpoint, if the file names one.
    pub fn token_url(&self) -> Option<&str> {
        self.token_url.as_deref()
    }

    /// The service account impersonation URL, if the file has one.
    pub fn service_account_impersonation_url(&self) -> Option<&str> {
        self.impersonation_url.as_deref()
    }

    /// The impersonated service account, from the impersonation URL.
    pub fn service_account_email(&self) -> Option<&str> {
        self.impersonation_url
            .as_deref()
            .and_then(crate::credentials::service_account_email)
    }

    /// The OAuth client ID, if the file has one.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The quota project, if the file has one.
    pub fn quota_project(&self) -> Option<&str> {
        self.quota_project.as_deref()
    }

    /// The workforce pool user project, if the file has one.
    pub fn workforce_pool_user_project(&self) -> Option<&str> {
        self.workforce_pool_user_project.as_deref()
    }

    /// The universe domain, if the file names one.
    pub fn universe_domain(&self) -> Option<&str> {
        self.universe_domain.as_deref()
    }

    /// Which source supplies the subject token: `file`, `url`, `executable` or `aws`.
    pub fn source_kind(&self) -> &'static str {
        self.supplier.kind()
    }

    /// Whether the audience is a workforce pool's (a user), not a workload pool's.
    pub fn is_workforce_pool(&self) -> bool {
        crate::credentials::is_workforce_pool(&self.audience)
    }

    /// The project number in the audience (`//iam.googleapis.com/projects/NUMBER/...`).
    pub fn project_number(&self) -> Option<&str> {
        crate::credentials::project_number(&self.audience)
    }

    /// A builder of credentials from this file; add the transport (and scopes) and build.
    pub fn builder(&self) -> ExternalAccountCredentialsBuilder {
        ExternalAccountCredentials::from_info(self)
    }
}

/// Parses `credential_source` as the reference's ADC chooses the class: AWS by the subject
/// token type, an executable by its member, else a file or a URL.
fn supplier_for(
    credential_source: &Map<String, Value>,
    context: &SourceContext<'_>,
) -> Result<Arc<dyn SubjectTokenSupplier>, BuildError> {
    if context.subject_token_type == AWS_SUBJECT_TOKEN_TYPE {
        crate::aws::from_credential_source(credential_source, context)
    } else if credential_source
        .get("executable")
        .is_some_and(|v| !v.is_null())
    {
        crate::executable::from_credential_source(credential_source, context)
    } else {
        crate::identity_pool::from_credential_source(credential_source, context)
    }
}

/// `text` parsed as JSON and read by `read`; the parsed copy is wiped afterwards.
pub(crate) fn from_text<T>(
    text: &str,
    kind: &str,
    read: impl FnOnce(&Value) -> Result<T, BuildError>,
) -> Result<T, BuildError> {
    let mut value: Value = serde_json::from_str(text).map_err(|err| {
        BuildError::parsing(format!(
            "the {kind} credentials are not valid JSON (line {}, column {})",
            err.line(),
            err.column()
        ))
    })?;
    let read = read(&value);
    credkit_core::oauth::zeroize_json(&mut value);
    read
}

/// The members of a credentials file of type `kind`: a JSON object whose `type`, if any, is
/// `kind`.
pub(crate) fn object_of_type<'a>(
    json: &'a Value,
    kind: &str,
) -> Result<&'a Map<String, Value>, BuildError> {
    let Value::Object(map) = json else {
        return Err(BuildError::parsing(format!(
            "the {kind} credentials are not a JSON object"
        )));
    };
    if let Some(found) = map.get("type")
        && found.as_str() != Some(kind)
    {
        let found = found
            .as_str()
            .map_or_else(|| found.to_string(), |found| scrub(found, &[]));
        return Err(BuildError::unknown_type(format!(
            "the credentials' type is {found}, not {kind}"
        )));
    }
    Ok(map)
}

/// A required string member.
pub(crate) fn required_string(map: &Map<String, Value>, name: &str) -> Result<String, BuildError> {
    optional_string(map, name)?.ok_or_else(|| BuildError::missing_field(name))
}

/// An optional string member; `null` is absent.
pub(crate) fn optional_string(
    map: &Map<String, Value>,
    name: &str,
) -> Result<Option<String>, BuildError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(BuildError::invalid_value(format!(
            "{name} must be a string"
        ))),
    }
}
