//! The token response as sent, read member by member straight into secret types, and the wiping
//! of parsed JSON.

use std::fmt;

use secrecy::SecretString;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use zeroize::Zeroize;

/// The members of a token response credkit models; the rest are extras.
pub(super) struct Wire {
    pub(super) access_token: Option<SecretString>,
    pub(super) expires_in: Option<serde_json::Value>,
    pub(super) token_type: Option<String>,
    pub(super) scope: Option<String>,
    pub(super) id_token: Option<SecretString>,
    pub(super) refresh_token: Option<SecretString>,
    pub(super) extra: serde_json::Map<String, serde_json::Value>,
}

// By hand rather than derived with `#[serde(flatten)]`: flattening buffers the whole object,
// tokens included, in serde's private content type, which is never wiped. Here each secret goes
// from the parser into its `SecretString` and nowhere else.
impl<'de> Deserialize<'de> for Wire {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(WireVisitor)
    }
}

struct WireVisitor;

impl<'de> Visitor<'de> for WireVisitor {
    type Value = Wire;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a token response object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Wire, A::Error> {
        let mut wire = Wire {
            access_token: None,
            expires_in: None,
            token_type: None,
            scope: None,
            id_token: None,
            refresh_token: None,
            extra: serde_json::Map::new(),
        };
        let mut seen = [false; 6];
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "access_token" => 0,
                "expires_in" => 1,
                "token_type" => 2,
                "scope" => 3,
                "id_token" => 4,
                "refresh_token" => 5,
                _ => {
                    let value = map.next_value()?;
                    wire.extra.insert(key, value);
                    continue;
                }
            };
            if std::mem::replace(&mut seen[slot], true) {
                return Err(de::Error::custom("a member appears twice"));
            }
            match slot {
                0 => wire.access_token = map.next_value()?,
                1 => wire.expires_in = map.next_value()?,
                2 => wire.token_type = map.next_value()?,
                3 => wire.scope = map.next_value()?,
                4 => wire.id_token = map.next_value()?,
                _ => wire.refresh_token = map.next_value()?,
            }
        }
        Ok(wire)
    }
}

/// Wipes every string of a parsed JSON value (keys and values, at any depth) and leaves it
/// empty: for JSON that held secrets, such as a token endpoint's error body or a credentials
/// file, before it is dropped.
///
/// ```
/// let mut value = serde_json::json!({"refresh_token": "1//secret", "scopes": ["a"]});
/// credkit_core::oauth::zeroize_json(&mut value);
/// assert!(value.is_null());
/// ```
pub fn zeroize_json(value: &mut serde_json::Value) {
    wipe(value);
}

/// [`zeroize_json`], counting the strings (keys and values) it wiped.
fn wipe(value: &mut serde_json::Value) -> usize {
    match std::mem::take(value) {
        serde_json::Value::String(mut s) => {
            s.zeroize();
            1
        }
        serde_json::Value::Array(items) => items.into_iter().map(|mut item| wipe(&mut item)).sum(),
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(mut key, mut item)| {
                key.zeroize();
                1 + wipe(&mut item)
            })
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_at_any_depth_is_wiped() {
        let mut value = serde_json::json!({
            "refresh_token": "1//secret",
            "scopes": ["a", ["b", {"c": "d"}]],
            "n": 1,
            "ok": true,
            "none": null,
        });
        // Keys: refresh_token, scopes, n, ok, none, c; values: 1//secret, a, b, d.
        assert_eq!(wipe(&mut value), 10);
        assert!(value.is_null());
        let mut text = serde_json::json!("secret");
        zeroize_json(&mut text);
        assert!(text.is_null());
    }

    #[test]
    fn serde_is_told_what_was_expected() {
        let Err(err) = serde_json::from_str::<Wire>("[]") else {
            panic!("an array is not a token response");
        };
        assert!(
            err.to_string().contains("expected a token response object"),
            "{err}"
        );
    }
}
