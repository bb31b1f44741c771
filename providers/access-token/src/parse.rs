//! Reading a handed-in token: a bare token (one line), or a JSON document that may say when it
//! expires. A failure is a [`Refusal`], which never quotes the input.

use std::time::Duration;

use credkit_core::AccessToken;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Refusal;

/// The UTF-8 byte order mark some Windows editors put first; skipped.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A token read from a file or a variable, before the clock is consulted.
pub(crate) struct Parsed {
    pub(crate) secret: SecretString,
    /// When it expires, when the document says so.
    pub(crate) expiry: Option<OffsetDateTime>,
    /// When it was issued, when known: the file's modification time, for an `expires_in`.
    pub(crate) issued_at: Option<OffsetDateTime>,
}

impl Parsed {
    /// The token as of `now`: its known expiry, or for an unknown one `reread` from `now`
    /// (a deadline to read the file again, not a real expiry), or none.
    ///
    /// # Errors
    ///
    /// [`Refusal::Expired`] when the known expiry is `now` or earlier.
    pub(crate) fn at(
        self,
        now: OffsetDateTime,
        reread: Option<Duration>,
    ) -> Result<AccessToken, Refusal> {
        let token = AccessToken::from_secret(self.secret);
        match (self.expiry, reread) {
            (Some(expiry), _) if expiry <= now => Err(Refusal::Expired),
            (Some(expiry), _) => {
                let token = token.with_expiry(expiry);
                // Never issued after now: a file's time may be ahead of this clock.
                Ok(match self.issued_at {
                    Some(issued_at) => token.with_issued_at(issued_at.min(now)),
                    None => token,
                })
            }
            (None, Some(reread)) => Ok(token.with_lifetime(now, reread)),
            (None, None) => Ok(token),
        }
    }
}

/// The members of a JSON token document credkit reads; the others are ignored. The spellings:
/// an OAuth token response (`access_token`, `expires_in`), IAM's `generateAccessToken`
/// (`accessToken`, `expireTime`), google-auth's and credkit's records (`expiry`), gcloud's
/// `config-helper` (`token_expiry`) and STS-style `expire_time`. Two spellings of one member
/// in a document are refused (serde reports the duplicate).
#[derive(Deserialize)]
struct Document {
    #[serde(alias = "accessToken")]
    access_token: Option<SecretString>,
    #[serde(alias = "expireTime", alias = "expire_time", alias = "token_expiry")]
    expiry: Option<serde_json::Value>,
    expires_in: Option<serde_json::Value>,
}

/// Reads `bytes`: after a byte order mark and surrounding white space are removed, a JSON
/// document when it starts with `{`, else a bare token. `written` is when the file was last
/// modified, which an `expires_in` counts from (`None` for a variable: `expires_in` is then
/// refused).
pub(crate) fn parse(bytes: &[u8], written: Option<OffsetDateTime>) -> Result<Parsed, Refusal> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let text = bytes.trim_ascii();
    if text.first() == Some(&b'{') {
        return document(text, written);
    }
    Ok(Parsed {
        secret: bare(text)?,
        expiry: None,
        issued_at: None,
    })
}

/// A bare token: non-empty visible ASCII, nothing else.
pub(crate) fn bare(text: &[u8]) -> Result<SecretString, Refusal> {
    check(text)?;
    let text = std::str::from_utf8(text).map_err(|_| Refusal::NotAscii)?;
    Ok(SecretString::from(text))
}

/// What an HTTP header can carry: non-empty, ASCII, no white space or control character.
fn check(token: &[u8]) -> Result<(), Refusal> {
    if token.is_empty() {
        return Err(Refusal::Empty);
    }
    if !token.is_ascii() {
        return Err(Refusal::NotAscii);
    }
    if !token.iter().all(u8::is_ascii_graphic) {
        return Err(Refusal::ControlCharacter);
    }
    Ok(())
}

fn document(text: &[u8], written: Option<OffsetDateTime>) -> Result<Parsed, Refusal> {
    let document: Document = serde_json::from_slice(text).map_err(|e| {
        if e.is_eof() {
            Refusal::Truncated
        } else {
            Refusal::Malformed
        }
    })?;
    let secret = document.access_token.ok_or(Refusal::NoToken)?;
    check(secret.expose_secret().as_bytes())?;
    let absolute = document.expiry.map(absolute_expiry).transpose()?;
    // A member that is `null` arrives as `None` (serde reads `null` into an `Option` so).
    let relative = match document.expires_in {
        None => None,
        Some(value) => {
            let written = written.ok_or(Refusal::BadExpiry)?;
            Some((written, relative_expiry(&value, written)?))
        }
    };
    let expiry = match (absolute, relative) {
        // Both given: the earlier one, so no token is served past either.
        (Some(absolute), Some((_, relative))) => Some(absolute.min(relative)),
        (absolute, relative) => absolute.or(relative.map(|(_, expiry)| expiry)),
    };
    Ok(Parsed {
        secret,
        expiry,
        issued_at: relative.map(|(written, _)| written),
    })
}

/// An RFC 3339 `expiry`.
fn absolute_expiry(value: serde_json::Value) -> Result<OffsetDateTime, Refusal> {
    match value {
        serde_json::Value::String(text) => {
            OffsetDateTime::parse(&text, &Rfc3339).map_err(|_| Refusal::BadExpiry)
        }
        _ => Err(Refusal::BadExpiry),
    }
}

/// `written` plus an `expires_in` of seconds: a number, or a decimal string (as some token
/// endpoints send it); not negative.
fn relative_expiry(
    value: &serde_json::Value,
    written: OffsetDateTime,
) -> Result<OffsetDateTime, Refusal> {
    let seconds = match value {
        serde_json::Value::Number(number) => number.as_f64(),
        serde_json::Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or(Refusal::BadExpiry)?;
    let lifetime = Duration::try_from_secs_f64(seconds).map_err(|_| Refusal::BadExpiry)?;
    time::Duration::try_from(lifetime)
        .ok()
        .and_then(|lifetime| written.checked_add(lifetime))
        .ok_or(Refusal::BadExpiry)
}

#[cfg(test)]
mod tests;
