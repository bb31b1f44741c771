//! `ImpersonatedServiceAccountInfo`: the `impersonated_service_account` credentials file (what
//! `gcloud auth application-default login --impersonate-service-account` writes), read as the
//! reference's `from_impersonated_service_account_info` reads it.

use std::fmt;

use credkit_core::BuildError;
use credkit_core::oauth::{scrub, zeroize_json};
use serde_json::Value;

/// The `type` of an impersonated service account's credentials file.
pub const IMPERSONATED_SERVICE_ACCOUNT: &str = "impersonated_service_account";

/// The `type`s of `source_credentials` the reference accepts.
pub const SUPPORTED_SOURCE_TYPES: [&str; 3] = [
    "authorized_user",
    "service_account",
    "external_account_authorized_user",
];

/// An `impersonated_service_account` credentials file, parsed: everything but building the
/// source credentials, which stays with the caller (the facade's ADC loader builds them through
/// its registered loaders).
///
/// Read as the reference reads it:
/// - `service_account_impersonation_url` (required): the target principal is the text between
///   its last `/` and `:generateAccessToken` ("Cannot extract target principal from URL").
///   Only the principal is taken from it: the IAM endpoint follows the universe domain, so a
///   file cannot send the source's token to another host.
/// - `source_credentials` (required): a JSON object of type `authorized_user`,
///   `service_account` or `external_account_authorized_user` ("source credential of type T
///   is not supported.").
/// - `delegates`, `quota_project_id`, `scopes` (optional).
///
/// The source's JSON holds secrets (a refresh token, a private key): it is wiped when this is
/// dropped, and `Debug` shows only its type.
///
/// # Examples
///
/// ```
/// use credkit_impersonated::ImpersonatedServiceAccountInfo;
///
/// let info = ImpersonatedServiceAccountInfo::from_json(&serde_json::json!({
///     "type": "impersonated_service_account",
///     "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/robot@p.iam.gserviceaccount.com:generateAccessToken",
///     "source_credentials": {"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"},
///     "delegates": ["projects/-/serviceAccounts/hop@p.iam.gserviceaccount.com"],
/// }))?;
/// assert_eq!(info.target_principal(), "robot@p.iam.gserviceaccount.com");
/// assert_eq!(info.source_type(), "authorized_user");
/// assert_eq!(info.delegates().len(), 1);
/// assert!(!format!("{info:?}").contains("\"r\""));
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ImpersonatedServiceAccountInfo {
    target_principal: String,
    impersonation_url: String,
    source: Value,
    source_type: String,
    delegates: Vec<String>,
    quota_project: Option<String>,
    scopes: Option<Vec<String>>,
}

impl ImpersonatedServiceAccountInfo {
    /// Reads the file's JSON.
    ///
    /// # Errors
    ///
    /// Not a JSON object; a `type` other than `impersonated_service_account`; a missing or
    /// non-string `service_account_impersonation_url`, or one without a principal ("Cannot
    /// extract target principal from URL"); missing `source_credentials`, or a source type
    /// that is not supported ("source credential of type T is not supported."); `delegates`
    /// or `scopes` that are not lists of strings; a `quota_project_id` that is not a string.
    pub fn from_json(json: &Value) -> Result<Self, BuildError> {
        let Value::Object(map) = json else {
            return Err(BuildError::parsing(
                "the impersonated_service_account credentials are not a JSON object",
            ));
        };
        if let Some(kind) = map.get("type")
            && kind.as_str() != Some(IMPERSONATED_SERVICE_ACCOUNT)
        {
            return Err(BuildError::unknown_type(format!(
                "the credentials' type is {kind}, not {IMPERSONATED_SERVICE_ACCOUNT}"
            )));
        }
        let source = match map.get("source_credentials") {
            Some(Value::Object(source)) => source,
            Some(_) => {
                return Err(BuildError::invalid_value(
                    "source_credentials must be a JSON object (the source's credentials file)",
                ));
            }
            None => return Err(BuildError::missing_field("source_credentials")),
        };
        let source_type = match source.get("type") {
            Some(Value::String(kind)) => scrub(kind, &[]),
            Some(other) => other.to_string(),
            None => "None".to_owned(),
        };
        if !SUPPORTED_SOURCE_TYPES.contains(&source_type.as_str()) {
            return Err(BuildError::unknown_type(format!(
                "source credential of type {source_type} is not supported."
            )));
        }
        let impersonation_url = match map.get("service_account_impersonation_url") {
            Some(Value::String(url)) => url.clone(),
            Some(_) => {
                return Err(BuildError::invalid_value(
                    "service_account_impersonation_url must be a string",
                ));
            }
            None => {
                return Err(BuildError::missing_field(
                    "service_account_impersonation_url",
                ));
            }
        };
        let target_principal = target_principal(&impersonation_url).ok_or_else(|| {
            BuildError::invalid_value(format!(
                "Cannot extract target principal from {}",
                scrub(&impersonation_url, &[])
            ))
        })?;
        let quota_project = match map.get("quota_project_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(project)) => Some(project.clone()),
            Some(_) => {
                return Err(BuildError::invalid_value(
                    "quota_project_id must be a string",
                ));
            }
        };
        Ok(Self {
            target_principal,
            impersonation_url,
            source: Value::Object(source.clone()),
            source_type,
            delegates: strings(map.get("delegates"), "delegates")?.unwrap_or_default(),
            quota_project,
            scopes: strings(map.get("scopes"), "scopes")?,
        })
    }

    /// Reads the file's text.
    ///
    /// # Errors
    ///
    /// Text that is not JSON (the parser's message never quotes the text); then as
    /// [`from_json`](Self::from_json).
    pub fn from_json_str(text: &str) -> Result<Self, BuildError> {
        let mut json: Value = serde_json::from_str(text).map_err(|_| {
            BuildError::parsing(
                "the impersonated_service_account credentials file is not valid JSON",
            )
        })?;
        let info = Self::from_json(&json);
        zeroize_json(&mut json);
        info
    }

    /// The service account to impersonate.
    pub fn target_principal(&self) -> &str {
        &self.target_principal
    }

    /// `service_account_impersonation_url`, as written.
    pub fn service_account_impersonation_url(&self) -> &str {
        &self.impersonation_url
    }

    /// The source's credentials (a JSON object holding secrets): build the source from it.
    pub fn source_credentials(&self) -> &Value {
        &self.source
    }

    /// The `type` of the source's credentials.
    pub fn source_type(&self) -> &str {
        &self.source_type
    }

    /// `delegates`, or none.
    pub fn delegates(&self) -> &[String] {
        &self.delegates
    }

    /// `quota_project_id`.
    pub fn quota_project(&self) -> Option<&str> {
        self.quota_project.as_deref()
    }

    /// `scopes`.
    pub fn scopes(&self) -> Option<&[String]> {
        self.scopes.as_deref()
    }
}

/// The principal between the last `/` and `:generateAccessToken`, as the reference cuts it
/// (`rfind("/")`, `find(":generateAccessToken")`); `None` when the cut is empty or inverted.
fn target_principal(url: &str) -> Option<String> {
    let start = url.rfind('/')?;
    let end = url.find(":generateAccessToken")?;
    let principal = url.get(start + 1..end)?;
    (!principal.is_empty()).then(|| principal.to_owned())
}

/// An optional list of strings.
fn strings(value: Option<&Value>, name: &str) -> Result<Option<Vec<String>>, BuildError> {
    let invalid = || BuildError::invalid_value(format!("{name} must be a list of strings"));
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(invalid))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(invalid()),
    }
}

impl Drop for ImpersonatedServiceAccountInfo {
    fn drop(&mut self) {
        zeroize_json(&mut self.source);
    }
}

impl fmt::Debug for ImpersonatedServiceAccountInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImpersonatedServiceAccountInfo")
            .field("target_principal", &self.target_principal)
            .field("source_type", &self.source_type)
            .field("delegates", &self.delegates)
            .field("quota_project", &self.quota_project)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const URL: &str = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/t@p.iam.gserviceaccount.com:generateAccessToken";

    fn file(extra: Value) -> Value {
        let mut base = json!({
            "type": "impersonated_service_account",
            "service_account_impersonation_url": URL,
            "source_credentials": {"type": "service_account", "private_key": "SECRETKEY"},
        });
        if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
            base.extend(extra);
        }
        base
    }

    fn message(json: &Value) -> String {
        ImpersonatedServiceAccountInfo::from_json(json)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn reads_every_field() {
        let info = ImpersonatedServiceAccountInfo::from_json(&file(json!({
            "delegates": ["a", "b"],
            "quota_project_id": "qp",
            "scopes": ["s1"],
        })))
        .unwrap();
        assert_eq!(info.target_principal(), "t@p.iam.gserviceaccount.com");
        assert_eq!(info.service_account_impersonation_url(), URL);
        assert_eq!(info.source_type(), "service_account");
        assert_eq!(info.source_credentials()["private_key"], "SECRETKEY");
        assert_eq!(info.delegates(), ["a", "b"]);
        assert_eq!(info.quota_project(), Some("qp"));
        assert_eq!(info.scopes().unwrap(), ["s1"]);
        let shown = format!("{info:?}");
        assert!(!shown.contains("SECRETKEY"), "{shown}");
        assert!(shown.contains("t@p.iam"), "{shown}");
        let bare = ImpersonatedServiceAccountInfo::from_json(&file(json!({
            "delegates": null, "quota_project_id": null, "scopes": null, "type": null,
        })));
        assert!(bare.is_err()); // a null type is not ours
        let mut no_type = file(json!({}));
        no_type.as_object_mut().unwrap().remove("type");
        let info = ImpersonatedServiceAccountInfo::from_json(&no_type).unwrap();
        assert!(info.delegates().is_empty());
        assert_eq!(info.quota_project(), None);
        assert_eq!(info.scopes(), None);
    }

    #[test]
    fn extracts_the_principal_as_the_reference() {
        assert_eq!(
            target_principal("https://h/v1/projects/-/serviceAccounts/x@y:generateAccessToken")
                .as_deref(),
            Some("x@y")
        );
        assert_eq!(target_principal("x@y:generateAccessToken"), None);
        assert_eq!(target_principal("https://h/:generateAccessToken"), None);
        assert_eq!(target_principal("https://h/a:generateAccessToken/b"), None);
        assert_eq!(target_principal("https://h/v1/x@y"), None);
        let bad = "https://h/v1/x@y:signBlob";
        assert_eq!(
            message(&file(json!({"service_account_impersonation_url": bad}))),
            format!("Cannot extract target principal from {bad}")
        );
    }

    #[test]
    fn refuses_what_the_reference_refuses() {
        assert_eq!(
            message(&file(
                json!({"source_credentials": {"type": "external_account"}})
            )),
            "source credential of type external_account is not supported."
        );
        assert_eq!(
            message(&file(json!({"source_credentials": {}}))),
            "source credential of type None is not supported."
        );
        assert_eq!(
            message(&file(json!({"source_credentials": {"type": 5}}))),
            "source credential of type 5 is not supported."
        );
        for ok in SUPPORTED_SOURCE_TYPES {
            assert!(
                ImpersonatedServiceAccountInfo::from_json(&file(
                    json!({"source_credentials": {"type": ok}})
                ))
                .is_ok()
            );
        }
        assert!(message(&file(json!({"source_credentials": "x"}))).contains("JSON object"));
        let mut no_source = file(json!({}));
        no_source
            .as_object_mut()
            .unwrap()
            .remove("source_credentials");
        assert!(message(&no_source).contains("source_credentials"));
        let mut no_url = file(json!({}));
        no_url
            .as_object_mut()
            .unwrap()
            .remove("service_account_impersonation_url");
        assert!(message(&no_url).contains("service_account_impersonation_url"));
        assert!(message(&file(json!({"service_account_impersonation_url": 1}))).contains("string"));
        assert!(message(&file(json!({"type": "service_account"}))).contains("service_account"));
        assert!(message(&file(json!({"delegates": "a"}))).contains("delegates"));
        assert!(message(&file(json!({"scopes": [1]}))).contains("scopes"));
        assert!(message(&file(json!({"quota_project_id": 1}))).contains("quota_project_id"));
        assert!(message(&json!([])).contains("not a JSON object"));
    }

    #[test]
    fn echoed_text_is_one_clean_line() {
        let err = message(&file(json!({"source_credentials": {"type": "a\nb"}})));
        assert_eq!(
            err,
            "source credential of type a\u{FFFD}b is not supported."
        );
        let err = message(&file(
            json!({"service_account_impersonation_url": "x\r\ny"}),
        ));
        assert_eq!(
            err,
            "Cannot extract target principal from x\u{FFFD}\u{FFFD}y"
        );
    }

    #[test]
    fn text_is_parsed_without_being_quoted() {
        let err = ImpersonatedServiceAccountInfo::from_json_str("{\"secret-text").unwrap_err();
        assert!(!err.to_string().contains("secret-text"));
        assert!(err.is_parsing());
        let info =
            ImpersonatedServiceAccountInfo::from_json_str(&file(json!({})).to_string()).unwrap();
        assert_eq!(info.source_type(), "service_account");
    }
}
