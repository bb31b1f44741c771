//! JSON as the reference writes it: Python's `json.dumps` with its defaults (`", "` and `": "`
//! as separators, every character outside printable ASCII escaped as `\uXXXX`). The reauth
//! request bodies and `to_json` both write through [`python_json_vec`], with [`PythonFormatter`].

use std::io;

use bytes::Bytes;
use credkit_core::{Error, Result};
use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};
use zeroize::Zeroizing;

/// `value` as Python's `json.dumps(value)` writes it, in a buffer of its exact size that is
/// zeroized when the last `Bytes` referring to it drops.
pub(crate) fn python_json<T: Serialize + ?Sized>(value: &T) -> Result<Bytes> {
    python_json_vec(value).map(Bytes::from_owner)
}

/// [`python_json`] into a buffer of its own: measured first and allocated at its final size,
/// so it never grows (growing would leave a copy of a secret behind in the old allocation,
/// which nothing zeroizes).
pub(crate) fn python_json_vec<T: Serialize + ?Sized>(value: &T) -> Result<Zeroizing<Vec<u8>>> {
    let mut buffer = Zeroizing::new(Vec::with_capacity(python_json_len(value)?));
    write(&mut *buffer, value)?;
    Ok(buffer)
}

/// The exact length of `python_json(value)`.
fn python_json_len<T: Serialize + ?Sized>(value: &T) -> Result<usize> {
    let mut counter = Counter(0);
    write(&mut counter, value)?;
    Ok(counter.0)
}

fn write<W: io::Write, T: Serialize + ?Sized>(writer: W, value: &T) -> Result<()> {
    let mut serializer = Serializer::with_formatter(writer, PythonFormatter);
    value.serialize(&mut serializer).map_err(|err| {
        Error::internal("a reauth request body could not be written").with_source(err)
    })
}

/// Counts bytes, so the real buffer is allocated once at its final size.
struct Counter(usize);

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `json.dumps`'s defaults: `separators=(", ", ": ")`, `ensure_ascii=True`: everything outside
/// printable ASCII escaped as `\uXXXX` in lower-case hex (UTF-16 surrogate pairs above U+FFFF).
/// `serde_json` escapes `"`, `\\` and U+0000 to U+001F itself, exactly as Python does; the
/// fragments it leaves to this formatter may still hold U+007F (DEL) and non-ASCII.
struct PythonFormatter;

impl Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // serde_json has escaped `"`, `\` and C0 controls already (as Python does); the rest of
        // what Python escapes is DEL and everything beyond ASCII, in UTF-16 units.
        let mut start = 0;
        for (at, c) in fragment.char_indices() {
            if (' '..='~').contains(&c) {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..at])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            start = at + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_length_is_known_before_writing() {
        for value in [
            json!(null),
            json!({"a": [1, 2.5, "\u{e9}\u{1F600}"], "b": {"c": true}}),
            json!(["x".repeat(1000), "\n\t\"\\"]),
        ] {
            assert_eq!(
                python_json_len(&value).unwrap(),
                python_json(&value).unwrap().len()
            );
        }
    }

    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Continue {
        session_id: &'static str,
        challenge_id: u8,
        action: &'static str,
        proposal_response: serde_json::Value,
    }

    #[test]
    fn matches_python_json_dumps() {
        let body = python_json(&Continue {
            session_id: "123",
            challenge_id: 1,
            action: "RESPOND",
            proposal_response: json!({"credential": "pässwörd 🔑\u{7f}\n\"x\""}),
        })
        .unwrap();
        // json.dumps({...}) in CPython 3.12.
        assert_eq!(
            std::str::from_utf8(&body).unwrap(),
            r#"{"sessionId": "123", "challengeId": 1, "action": "RESPOND", "proposalResponse": {"credential": "p\u00e4ssw\u00f6rd \ud83d\udd11\u007f\n\"x\""}}"#
        );
        let start =
            python_json(&json!({"supportedChallengeTypes": ["SECURITY_KEY", "PASSWORD", "SAML"]}))
                .unwrap();
        assert_eq!(
            &start[..],
            br#"{"supportedChallengeTypes": ["SECURITY_KEY", "PASSWORD", "SAML"]}"#
        );
    }
}
