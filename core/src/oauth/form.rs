//! `application/x-www-form-urlencoded` request bodies, encoded exactly as the reference library
//! encodes them, in one buffer that is zeroized when the body is dropped.

use bytes::Bytes;
use zeroize::Zeroizing;

/// A form body of `pairs`, in order, as `name=value` joined by `&`: the bytes Python's
/// `urllib.parse.urlencode` (that is, `quote_plus` with no safe characters) produces for the
/// same pairs.
///
/// Letters, digits and `_ . - ~` stay as they are, a space becomes `+`, and every other byte of
/// the UTF-8 text becomes `%XX` in upper-case hex (`*` is `%2A`, `/` is `%2F`, `+` is `%2B`).
///
/// The body is written into one buffer of its exact final size (so no reallocation leaves a
/// copy of a secret behind) that is zeroized when the last `Bytes` referring to it is dropped.
///
/// ```
/// use credkit_core::oauth::form_body;
///
/// let body = form_body(&[("grant_type", "refresh_token"), ("scope", "email profile"), ("x", "a*b~c/d")]);
/// assert_eq!(&body[..], b"grant_type=refresh_token&scope=email+profile&x=a%2Ab~c%2Fd");
/// ```
pub fn form_body(pairs: &[(&str, &str)]) -> Bytes {
    let mut body = Zeroizing::new(String::with_capacity(form_len(pairs)));
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            body.push('&');
        }
        push_encoded(&mut body, name.as_bytes());
        body.push('=');
        push_encoded(&mut body, value.as_bytes());
    }
    let bytes = Zeroizing::new(std::mem::take(&mut *body).into_bytes());
    Bytes::from_owner(bytes)
}

/// The exact length of `form_body(pairs)`, so that its buffer never grows: growing would leave a
/// copy of a secret behind in the old allocation, which nothing zeroizes.
fn form_len(pairs: &[(&str, &str)]) -> usize {
    pairs
        .iter()
        .map(|(name, value)| encoded_len(name.as_bytes()) + 1 + encoded_len(value.as_bytes()))
        .sum::<usize>()
        + pairs.len().saturating_sub(1)
}

/// Appends `value` encoded as Python's `quote_plus(value, safe="")`.
///
/// `form_urlencoded` (the WHATWG encoder) agrees with `quote_plus` on every byte but two: it
/// leaves `*` as is and encodes `~` as `%7E`, where `quote_plus` (Python 3.7 and later, following
/// RFC 3986's unreserved set) encodes `*` as `%2A` and leaves `~`. Its output comes in chunks, each
/// either a run of bytes left as they are, `+`, or one `%XX`; those two bytes are put right
/// here, and nothing else is encoded by hand.
pub(crate) fn push_encoded(out: &mut String, value: &[u8]) {
    for chunk in form_urlencoded::byte_serialize(value) {
        if chunk == "%7E" {
            out.push('~');
        } else if chunk.contains('*') {
            for part in chunk.split_inclusive('*') {
                match part.strip_suffix('*') {
                    Some(before) => {
                        out.push_str(before);
                        out.push_str("%2A");
                    }
                    None => out.push_str(part),
                }
            }
        } else {
            out.push_str(chunk);
        }
    }
}

/// The length [`push_encoded`] gives `value`.
fn encoded_len(value: &[u8]) -> usize {
    form_urlencoded::byte_serialize(value)
        .map(|chunk| match chunk {
            "%7E" => 1,
            _ => chunk.len() + 2 * chunk.bytes().filter(|&b| b == b'*').count(),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The reference's rule, written out: Python's `quote_plus(s, safe="")` on the UTF-8 bytes.
    #[allow(clippy::format_push_string)] // test-only, and as plain as the rule it spells out
    fn quote_plus(value: &[u8]) -> String {
        let mut out = String::new();
        for &b in value {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                    out.push(char::from(b));
                }
                b' ' => out.push('+'),
                _ => out += &format!("%{b:02X}"),
            }
        }
        out
    }

    fn encode(value: &[u8]) -> String {
        let mut out = String::new();
        push_encoded(&mut out, value);
        assert_eq!(out.len(), encoded_len(value));
        out
    }

    #[test]
    fn every_byte_value_matches_quote_plus() {
        for b in 0..=u8::MAX {
            assert_eq!(encode(&[b]), quote_plus(&[b]), "byte {b:#04x}");
            let run = [b'a', b, b, b'z'];
            assert_eq!(encode(&run), quote_plus(&run), "byte {b:#04x} in a run");
        }
    }

    #[test]
    fn the_two_bytes_where_whatwg_differs() {
        assert_eq!(encode(b"~"), "~");
        assert_eq!(encode(b"*"), "%2A");
        assert_eq!(encode(b"a**b~~c"), "a%2A%2Ab~~c");
    }

    #[test]
    fn body_is_sized_exactly_and_joined_in_order() {
        let body = form_body(&[("a", "1 2"), ("b*", "~")]);
        assert_eq!(&body[..], b"a=1+2&b%2A=~");
        assert!(form_body(&[]).is_empty());
        assert_eq!(form_len(&[]), 0);
    }

    proptest! {
        #[test]
        fn any_bytes_match_quote_plus(value in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(encode(&value), quote_plus(&value));
        }

        /// The buffer is sized exactly, so it never grows and leaves no copy behind.
        #[test]
        fn the_length_is_known_before_encoding(
            pairs in proptest::collection::vec((any::<String>(), any::<String>()), 0..4),
        ) {
            let pairs: Vec<(&str, &str)> =
                pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            prop_assert_eq!(form_len(&pairs), form_body(&pairs).len());
        }

        #[test]
        fn any_text_matches_quote_plus(value in any::<String>()) {
            prop_assert_eq!(encode(value.as_bytes()), quote_plus(value.as_bytes()));
        }
    }
}
