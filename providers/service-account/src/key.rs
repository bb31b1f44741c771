//! `ServiceAccountKey`: a `service_account` key file, parsed and its private key loaded.

use std::fmt;
use std::path::Path;

use credkit_core::BuildError;
use credkit_core::credentials_file::{self, WipedJson};
use serde_json::{Map, Value};

use crate::error;
use crate::signer::ServiceAccountSigner;

/// The universe of Google's public cloud, where key files without a `universe_domain` belong.
pub const DEFAULT_UNIVERSE_DOMAIN: &str = "googleapis.com";

/// The members every key must have, in the order missing ones are named.
const REQUIRED: [&str; 2] = ["client_email", "token_uri"];

/// A service account key: the `service_account` JSON a key file holds, parsed, with its
/// private key loaded into a [`ServiceAccountSigner`].
///
/// Read as google-auth's `_service_account_info.from_dict` reads it:
///
/// - `client_email` and `token_uri` must be present; missing ones are named in that fixed order:
///   "Service account info was not in the expected format, missing fields `client_email`,
///   `token_uri`."
/// - `private_key` must be present ("The `private_key` field was not found in the service account
///   info.") and hold an RSA key in PEM (PKCS#8, as Google issues them, or PKCS#1).
/// - `private_key_id` (the signer's key ID), `project_id`, `client_id` and `universe_domain`
///   (default `googleapis.com`; an empty or `null` one too) are read when present.
/// - A missing `type` is accepted, as by the reference, which never looks at it; any other
///   `type` than `service_account` is rejected by name (an `authorized_user` file given by
///   mistake fails at once, not at the first token request).
/// - Every other member (`auth_uri`, `auth_provider_x509_cert_url`, `client_x509_cert_url`,
///   anything new) is ignored, as by the reference.
///
/// `Debug` shows the email, the project and the key ID, never the private key; the parsed JSON
/// is zeroized once read.
///
/// # Examples
///
/// ```
/// use credkit_service_account::ServiceAccountKey;
///
/// let err = ServiceAccountKey::from_json(&serde_json::json!({"private_key": "..."})).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "Service account info was not in the expected format, missing fields client_email, token_uri."
/// );
/// ```
#[derive(Clone)]
pub struct ServiceAccountKey {
    parts: KeyParts,
}

/// The members of a key, taken apart by the credentials built from it.
#[derive(Clone)]
pub(crate) struct KeyParts {
    pub(crate) client_email: String,
    pub(crate) token_uri: String,
    pub(crate) project_id: Option<String>,
    pub(crate) private_key_id: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) universe_domain: String,
    pub(crate) signer: ServiceAccountSigner,
}

impl ServiceAccountKey {
    /// A key from parsed `service_account` JSON (see the type's docs for what is read).
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the problem, never quoting the key: not an object, another
    /// `type` ([`is_unknown_type`](BuildError::is_unknown_type)), missing members
    /// ([`is_missing_field`](BuildError::is_missing_field)), a member of the wrong JSON type, or
    /// a private key that is not an acceptable RSA key
    /// ([`is_invalid_value`](BuildError::is_invalid_value)).
    pub fn from_json(info: &Value) -> Result<Self, BuildError> {
        let Some(object) = info.as_object() else {
            return Err(error::info_not_an_object());
        };
        parse(object)
    }

    /// A key from `service_account` JSON text (a key file's content).
    ///
    /// # Errors
    ///
    /// As [`from_json`](Self::from_json), and a parsing error for text that is not JSON.
    pub fn from_json_str(info: &str) -> Result<Self, BuildError> {
        let value =
            WipedJson::new(serde_json::from_str(info).map_err(|e| error::info_not_json(&e))?);
        Self::from_json(&value)
    }

    /// A key from a `service_account` key file.
    ///
    /// # Errors
    ///
    /// A loading error when the file is missing ("File ... was not found."), unreadable or
    /// larger than 1 MiB; a parsing error when it is not JSON ("File ... is not a valid json
    /// file."); then as [`from_json`](Self::from_json).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, BuildError> {
        let path = path.as_ref();
        let value = credentials_file::read_json(path)?;
        Self::from_json(&value)
    }

    /// The service account's email (`client_email`).
    pub fn client_email(&self) -> &str {
        &self.parts.client_email
    }

    /// The token endpoint (`token_uri`).
    pub fn token_uri(&self) -> &str {
        &self.parts.token_uri
    }

    /// The project the account belongs to (`project_id`), when the key names it.
    pub fn project_id(&self) -> Option<&str> {
        self.parts.project_id.as_deref()
    }

    /// The ID of the private key (`private_key_id`), when the key names it: the `kid` of every
    /// JWT it signs.
    pub fn private_key_id(&self) -> Option<&str> {
        self.parts.private_key_id.as_deref()
    }

    /// The account's numeric ID (`client_id`), when the key names it.
    pub fn client_id(&self) -> Option<&str> {
        self.parts.client_id.as_deref()
    }

    /// The universe the account lives in: `googleapis.com` unless the key names another.
    pub fn universe_domain(&self) -> &str {
        &self.parts.universe_domain
    }

    pub(crate) fn into_parts(self) -> KeyParts {
        self.parts
    }

    /// The signer of this key (a cheap clone: the loaded key is shared).
    pub fn signer(&self) -> ServiceAccountSigner {
        self.parts.signer.clone()
    }
}

fn parse(object: &Map<String, Value>) -> Result<ServiceAccountKey, BuildError> {
    match object.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(kind)) if kind == "service_account" => {}
        Some(Value::String(kind)) => return Err(error::info_unknown_type(&printable(kind))),
        Some(_) => return Err(error::info_wrong_type("type", "a string")),
    }
    let missing: Vec<&str> = REQUIRED
        .into_iter()
        .filter(|key| !object.contains_key(*key))
        .collect();
    if !missing.is_empty() {
        return Err(error::info_missing_fields(&missing));
    }
    let Some(private_key) = object.get("private_key") else {
        return Err(error::info_no_private_key());
    };
    let required = |key: &str| -> Result<String, BuildError> {
        match object.get(key) {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(error::info_wrong_type(key, "a string")),
        }
    };
    let optional = |key: &str| -> Result<Option<String>, BuildError> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(error::info_wrong_type(key, "a string")),
        }
    };
    let client_email = required("client_email")?;
    let token_uri = required("token_uri")?;
    let project_id = optional("project_id")?;
    let private_key_id = optional("private_key_id")?;
    let client_id = optional("client_id")?;
    let universe_domain = optional("universe_domain")?
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_UNIVERSE_DOMAIN.to_owned());
    let Value::String(pem) = private_key else {
        return Err(error::info_wrong_type("private_key", "a string"));
    };
    // Borrowed, not copied: the only copy of the PEM text is the caller's JSON value.
    let signer = ServiceAccountSigner::from_pem(pem, client_email.clone(), private_key_id.clone())?;
    Ok(ServiceAccountKey {
        parts: KeyParts {
            client_email,
            token_uri,
            project_id,
            private_key_id,
            client_id,
            universe_domain,
            signer,
        },
    })
}

/// A value from the file fit for a message: at most 64 visible ASCII characters.
fn printable(text: &str) -> String {
    text.chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.parts.client_email)
            .field("project_id", &self.parts.project_id)
            .field("private_key_id", &self.parts.private_key_id)
            .field("token_uri", &self.parts.token_uri)
            .field("universe_domain", &self.parts.universe_domain)
            .finish_non_exhaustive()
    }
}
