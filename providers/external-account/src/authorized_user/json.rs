//! JSON as the reference writes it: Python's `json.dumps` with its defaults (`", "` and `": "`
//! as separators, everything outside printable ASCII escaped as `\uXXXX`), into one buffer of
//! its final size that is zeroized when dropped.

use serde_json::Value;
use zeroize::Zeroizing;

/// One value of the object `to_json` writes, borrowed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Field<'a> {
    Text(&'a str),
    List(&'a [String]),
    Json(&'a Value),
}

/// `{"key": value, ...}` in the order given, as `json.dumps` writes it.
pub(crate) fn python_object(entries: &[(&str, Field<'_>)]) -> Zeroizing<String> {
    // Measured first, so the buffer is allocated once and never grows: a grown buffer would
    // leave a copy of a secret behind in the old allocation.
    let mut len = 0;
    write_object(entries, &mut |piece| len += piece.len());
    let mut out = Zeroizing::new(String::with_capacity(len));
    write_object(entries, &mut |piece| out.push_str(piece));
    out
}

fn write_object(entries: &[(&str, Field<'_>)], out: &mut dyn FnMut(&str)) {
    out("{");
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out(", ");
        }
        write_string(key, out);
        out(": ");
        match value {
            Field::Text(text) => write_string(text, out),
            Field::List(items) => {
                out("[");
                for (j, item) in items.iter().enumerate() {
                    if j > 0 {
                        out(", ");
                    }
                    write_string(item, out);
                }
                out("]");
            }
            Field::Json(value) => write_value(value, out),
        }
    }
    out("}");
}

fn write_value(value: &Value, out: &mut dyn FnMut(&str)) {
    match value {
        Value::Null => out("null"),
        Value::Bool(true) => out("true"),
        Value::Bool(false) => out("false"),
        Value::Number(number) => out(&number.to_string()),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out("[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out(", ");
                }
                write_value(item, out);
            }
            out("]");
        }
        Value::Object(map) => {
            out("{");
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out(", ");
                }
                write_string(key, out);
                out(": ");
                write_value(item, out);
            }
            out("}");
        }
    }
}

/// A string as `json.dumps` (`ensure_ascii=True`) writes it.
fn write_string(text: &str, out: &mut dyn FnMut(&str)) {
    out("\"");
    let mut start = 0;
    for (at, c) in text.char_indices() {
        let escaped: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            ' '..='~' => continue,
            _ => None,
        };
        out(&text[start..at]);
        start = at + c.len_utf8();
        if let Some(escape) = escaped {
            out(escape);
            continue;
        }
        let mut units = [0_u16; 2];
        for unit in c.encode_utf16(&mut units) {
            let mut hex = *b"\\u0000";
            for (k, slot) in hex[2..].iter_mut().enumerate() {
                let nibble = (*unit >> (12 - 4 * k)) & 0xf;
                *slot = b"0123456789abcdef"[usize::from(nibble)];
            }
            out(std::str::from_utf8(&hex).unwrap_or("\\ufffd"));
        }
    }
    out(&text[start..]);
    out("\"");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_lists_and_values_are_written_as_json_dumps() {
        let scopes = ["a".to_owned(), "b\"c".to_owned()];
        let value = serde_json::json!({"x": [1, true, false, null, "é", {}], "y": {"z": 2.5}});
        let out = python_object(&[
            (
                "k",
                Field::Text("plain \\ \n \u{7f} ö 😀 \r\t\u{8}\u{c}\u{1}/"),
            ),
            ("scopes", Field::List(&scopes)),
            ("tb", Field::Json(&value)),
        ]);
        assert_eq!(
            out.as_str(),
            r#"{"k": "plain \\ \n \u007f \u00f6 \ud83d\ude00 \r\t\b\f\u0001/", "scopes": ["a", "b\"c"], "tb": {"x": [1, true, false, null, "\u00e9", {}], "y": {"z": 2.5}}}"#
        );
        assert_eq!(out.capacity(), out.len());
        assert_eq!(python_object(&[]).as_str(), "{}");
    }
}
