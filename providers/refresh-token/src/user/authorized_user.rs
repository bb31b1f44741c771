//! `authorized_user` JSON in (`from_authorized_user_info` / `_file`) and out (`to_json`).

use std::path::Path;

use credkit_core::credentials_file;
use credkit_core::{BuildError, Clock, REFRESH_THRESHOLD, SystemClock};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use zeroize::Zeroizing;

use super::{GOOGLE_TOKEN_URI, UserCredentials, UserCredentialsBuilder};
use crate::error;
use crate::python_json::python_json_vec;

impl UserCredentials {
    /// Credentials from parsed `authorized_user` JSON, as the reference's
    /// `from_authorized_user_info`.
    ///
    /// - `refresh_token`, `client_id` and `client_secret` must be present (a `null` passes);
    ///   missing ones are named in that fixed order.
    /// - The token endpoint is always Google's ([`GOOGLE_TOKEN_URI`]); a `token_uri` in the JSON is
    ///   ignored, as in the reference. [`with_token_uri`](UserCredentials::with_token_uri) (or
    ///   [`to_builder`](UserCredentials::to_builder)) is the way to change it.
    /// - `scopes` wins over the JSON's `scopes`, which may be a list or a space-separated string.
    /// - `expiry` is read as the reference writes it (`2020-08-14T15:54:01Z`, fractional seconds
    ///   dropped) and as RFC 3339 with an offset; a missing or empty one makes the token already
    ///   expired (now minus 225 s), so it is refreshed before use.
    /// - A missing `type` is accepted; any other `type` than `authorized_user` is rejected by name.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the problem (never a secret): not an object, missing fields, a
    /// wrong type such as a number for `client_id`, an unknown `type`, an unreadable `expiry`, a
    /// token with control characters.
    ///
    /// # Examples
    ///
    /// ```
    /// use credkit_refresh_token::UserCredentials;
    ///
    /// let info = serde_json::json!({"client_id": "123", "client_secret": "secret"});
    /// let err = UserCredentials::from_authorized_user_info(&info, None).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "Authorized user info was not in the expected format, missing fields refresh_token."
    /// );
    /// ```
    pub fn from_authorized_user_info(
        info: &Value,
        scopes: Option<Vec<String>>,
    ) -> Result<Self, BuildError> {
        from_info(info, scopes, &SystemClock)
    }

    /// Credentials from an `authorized_user` JSON file, as
    /// [`from_authorized_user_info`](Self::from_authorized_user_info).
    ///
    /// # Errors
    ///
    /// A [`BuildError`]: the file is missing or unreadable ("File ... was not found."), larger
    /// than 1 MiB, not valid JSON ("File ... is not a valid json file."), or not acceptable
    /// `authorized_user` info.
    pub fn from_authorized_user_file(
        path: impl AsRef<Path>,
        scopes: Option<Vec<String>>,
    ) -> Result<Self, BuildError> {
        let info = credentials_file::read_json(path.as_ref())?;
        Self::from_authorized_user_info(&info, scopes)
    }

    /// The credentials as `authorized_user` JSON, byte for byte as the reference's `to_json`:
    /// keys in the order `token`, `refresh_token`, `token_uri`, `client_id`, `client_secret`,
    /// `scopes`, `rapt_token`, `universe_domain`, `account`, then `expiry`
    /// (`YYYY-MM-DDTHH:MM:SS[.ffffff]Z`); absent values omitted; every key in `strip` removed;
    /// `", "` and `": "` separators and non-ASCII escaped.
    ///
    /// The output holds secrets (it is what a credentials file holds), so it comes in a buffer
    /// zeroized on drop. Like the reference it writes no `type` and no `quota_project_id`.
    ///
    /// ```
    /// use credkit_refresh_token::UserCredentials;
    ///
    /// let creds = UserCredentials::builder().build()?;
    /// assert_eq!(creds.to_json(&[]).as_str(), r#"{"universe_domain": "googleapis.com", "account": ""}"#);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn to_json(&self, strip: &[&str]) -> Zeroizing<String> {
        fn secret(s: &secrecy::SecretString) -> Field<'_> {
            Field::Text(s.expose_secret())
        }
        let token = self.token();
        let refresh_token = self.refresh_token();
        let rapt_token = self.rapt_token();
        let expiry = self.expiry().map(format_expiry);
        // Borrowed values only: no secret is copied into an intermediate JSON value.
        let entries: [(&str, Option<Field<'_>>); 10] = [
            ("token", token.as_ref().map(secret)),
            ("refresh_token", refresh_token.as_ref().map(secret)),
            ("token_uri", self.token_uri().map(Field::Text)),
            ("client_id", self.client_id().map(Field::Text)),
            ("client_secret", self.client_secret().map(secret)),
            ("scopes", self.scopes().map(Field::List)),
            ("rapt_token", rapt_token.as_ref().map(secret)),
            ("universe_domain", Some(Field::Text(self.universe_domain()))),
            ("account", Some(Field::Text(self.account()))),
            ("expiry", expiry.as_deref().map(Field::Text)),
        ];
        let kept: Vec<(&str, Field<'_>)> = entries
            .into_iter()
            .filter(|(key, _)| !strip.contains(key))
            .filter_map(|(key, value)| value.map(|v| (key, v)))
            .collect();
        // A buffer that never grows (see `python_json_vec`). Serializing strings and lists
        // cannot fail.
        let mut out = python_json_vec(&Ordered(&kept)).unwrap_or_default();
        // The output is ASCII; the bytes move into the String without a copy.
        match String::from_utf8(std::mem::take(&mut *out)) {
            Ok(text) => Zeroizing::new(text),
            Err(err) => {
                let _wiped = Zeroizing::new(err.into_bytes());
                Zeroizing::new(String::new())
            }
        }
    }
}

/// One value of `to_json`'s object, borrowed from the credentials.
#[derive(Clone, Copy)]
enum Field<'a> {
    Text(&'a str),
    List(&'a [String]),
}

impl Serialize for Field<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Text(text) => serializer.serialize_str(text),
            Self::List(items) => items.serialize(serializer),
        }
    }
}

/// A key-ordered JSON object.
struct Ordered<'a>(&'a [(&'a str, Field<'a>)]);

impl Serialize for Ordered<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// The reference's expiry text: `YYYY-MM-DDTHH:MM:SS`, `.ffffff` only with non-zero
/// microseconds, then `Z`, in UTC.
pub(crate) fn format_expiry(expiry: OffsetDateTime) -> String {
    let utc = expiry.to_offset(time::UtcOffset::UTC);
    let base = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    );
    match utc.microsecond() {
        0 => format!("{base}Z"),
        micros => format!("{base}.{micros:06}Z"),
    }
}

/// Reads an expiry as the reference writes it (trailing `Z`s stripped, fractional seconds
/// dropped, naive UTC) or as RFC 3339 with an offset.
pub(crate) fn parse_expiry(text: &str) -> Option<OffsetDateTime> {
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at.replace_nanosecond(0).unwrap_or(at));
    }
    let naive = text.trim_end_matches('Z');
    let naive = naive.split('.').next().unwrap_or(naive);
    PrimitiveDateTime::parse(
        naive,
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
    )
    .ok()
    .map(PrimitiveDateTime::assume_utc)
}

fn from_info(
    info: &Value,
    scopes: Option<Vec<String>>,
    clock: &dyn Clock,
) -> Result<UserCredentials, BuildError> {
    let Some(object) = info.as_object() else {
        return Err(error::info_not_an_object());
    };
    match object.get("type") {
        None | Some(Value::Null) => {}
        Some(Value::String(kind)) if kind == "authorized_user" => {}
        Some(Value::String(kind)) => {
            return Err(error::info_unknown_type(&printable(kind)));
        }
        Some(_) => return Err(error::info_wrong_type("type", "a string")),
    }
    let missing: Vec<&str> = ["refresh_token", "client_id", "client_secret"]
        .into_iter()
        .filter(|key| !object.contains_key(*key))
        .collect();
    if !missing.is_empty() {
        return Err(error::info_missing_fields(&missing));
    }
    let text = |key: &'static str| -> Result<Option<&str>, BuildError> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(error::info_wrong_type(key, "a string")),
        }
    };
    let mut builder = UserCredentials::builder().with_token_uri(GOOGLE_TOKEN_URI);
    for (key, set) in TEXT_FIELDS {
        if let Some(value) = text(key)? {
            builder = set(builder, value);
        }
    }
    if let Some(trust_boundary) = object.get("trust_boundary").filter(|v| !v.is_null()) {
        builder = builder.with_trust_boundary(trust_boundary.clone());
    }
    let expiry = match text("expiry")? {
        Some(expiry) if !expiry.is_empty() => {
            parse_expiry(expiry).ok_or_else(error::info_bad_expiry)?
        }
        _ => clock.now() - time::Duration::try_from(REFRESH_THRESHOLD).unwrap_or_default(),
    };
    builder = builder.with_expiry(expiry);
    let scopes = match scopes {
        Some(scopes) => Some(scopes),
        None => match object.get("scopes") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.split_whitespace().map(str::to_owned).collect()),
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        error::info_wrong_type("scopes", "a list of strings or a string")
                    })?,
            ),
            Some(_) => {
                return Err(error::info_wrong_type(
                    "scopes",
                    "a list of strings or a string",
                ));
            }
        },
    };
    if let Some(scopes) = scopes {
        builder = builder.with_scopes(scopes);
    }
    builder.build()
}

/// Puts one string member of `authorized_user` info on the builder.
type Setter = fn(UserCredentialsBuilder, &str) -> UserCredentialsBuilder;

/// The string members read from `authorized_user` info, and where each goes.
const TEXT_FIELDS: [(&str, Setter); 8] = [
    ("token", |b, v| b.with_token(v)),
    ("refresh_token", |b, v| b.with_refresh_token(v)),
    ("client_id", |b, v| b.with_client_id(v)),
    ("client_secret", |b, v| b.with_client_secret(v)),
    ("quota_project_id", |b, v| b.with_quota_project(v)),
    ("rapt_token", |b, v| b.with_rapt_token(v)),
    ("universe_domain", |b, v| b.with_universe_domain(v)),
    ("account", |b, v| b.with_account(v)),
];

/// A value from the file fit for a message: at most 64 visible ASCII characters.
fn printable(text: &str) -> String {
    text.chars()
        .take(64)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn expiry_formats() {
        assert_eq!(
            format_expiry(datetime!(2020-08-14 15:54:01 UTC)),
            "2020-08-14T15:54:01Z"
        );
        assert_eq!(
            format_expiry(datetime!(2020-08-14 15:54:01.123456 UTC)),
            "2020-08-14T15:54:01.123456Z"
        );
        assert_eq!(
            format_expiry(datetime!(2020-08-14 17:54:01 +2)),
            "2020-08-14T15:54:01Z"
        );
        for text in [
            "2020-08-14T15:54:01Z",
            "2020-08-14T15:54:01",
            "2020-08-14T15:54:01.999Z",
            "2020-08-14T15:54:01ZZ",
            "2020-08-14T17:54:01+02:00",
            "2020-08-14T15:54:01.5+00:00",
        ] {
            assert_eq!(
                parse_expiry(text),
                Some(datetime!(2020-08-14 15:54:01 UTC)),
                "{text}"
            );
        }
        for bad in ["", "yesterday", "2020-13-14T15:54:01Z", "2020-08-14"] {
            assert_eq!(parse_expiry(bad), None, "{bad}");
        }
    }

    #[test]
    fn python_formatter_escapes_non_ascii() {
        let creds = UserCredentials::builder()
            .with_account("jös😀")
            .build()
            .unwrap();
        assert_eq!(
            creds.to_json(&["universe_domain"]).as_str(),
            r#"{"account": "j\u00f6s\ud83d\ude00"}"#
        );
    }
}

#[cfg(test)]
mod ensure_ascii {
    use super::*;

    /// Python's `json.dumps` (`ensure_ascii=True`) for one string, written out from its rule.
    #[allow(clippy::format_push_string)] // test-only, as plain as the rule it spells out
    fn python_dumps(text: &str) -> String {
        let mut out = String::from("\"");
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                ' '..='~' => out.push(c),
                _ => {
                    let mut units = [0_u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out.push('"');
        out
    }

    // Issue 12, bug 1: DEL was written raw. Every Unicode scalar value, through `to_json`,
    // against the reference's rule.
    #[test]
    fn every_character_is_written_as_json_dumps_writes_it() {
        let all: String = (0..=0x10_FFFF_u32).filter_map(char::from_u32).collect();
        let creds = UserCredentials::builder()
            .with_account(all.clone())
            .build()
            .unwrap();
        let json = creds.to_json(&["universe_domain"]);
        assert_eq!(
            json.as_str(),
            format!("{{\"account\": {}}}", python_dumps(&all))
        );
        assert!(json.contains("\\u007f"));
    }
}
