//! Reading the metadata server's replies: text values, service account information and
//! identity tokens. Access tokens are read by credkit-core's token-response reader. Every
//! reader returns a reason on failure that never quotes the reply.

use credkit_core::AccessToken;
use serde::Deserialize;
use time::OffsetDateTime;

/// The longest text value accepted, in bytes: metadata values credkit reads (an email, a
/// project ID, a domain) are short.
pub(crate) const MAX_TEXT: usize = 4096;

/// A text value (`project/project-id`, `universe/universe-domain`): UTF-8, surrounding
/// whitespace removed, one line of printable characters.
pub(crate) fn text(body: &[u8]) -> Result<String, String> {
    if body.len() > MAX_TEXT {
        return Err(format!("the value is longer than {MAX_TEXT} bytes"));
    }
    let text = std::str::from_utf8(body).map_err(|_| "the value is not UTF-8 text".to_owned())?;
    let text = text.trim();
    if text.chars().any(char::is_control) {
        return Err("the value contains control characters".to_owned());
    }
    Ok(text.to_owned())
}

/// What the metadata server says about one of the instance's service accounts
/// (`instance/service-accounts/ACCOUNT/?recursive=true`).
///
/// ```
/// # #[allow(dead_code)]
/// # async fn f(server: credkit_metadata::MetadataServer) -> credkit_core::Result<()> {
/// let info = server.service_account("default").await?;
/// println!("{} with scopes {:?}", info.email(), info.scopes());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceAccountInfo {
    email: String,
    scopes: Vec<String>,
    aliases: Vec<String>,
}

impl ServiceAccountInfo {
    /// The account's email address.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// The scopes the instance's tokens for the account carry by default (empty when the server
    /// lists none).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Other names of the account on this instance, such as `default`.
    pub fn aliases(&self) -> &[String] {
        &self.aliases
    }
}

#[derive(Deserialize)]
struct InfoWire {
    email: Option<String>,
    #[serde(default)]
    scopes: Option<Scopes>,
    #[serde(default)]
    aliases: Option<Vec<String>>,
}

/// Scopes as a list, or as one string (separated by whitespace or commas).
#[derive(Deserialize)]
#[serde(untagged)]
enum Scopes {
    List(Vec<String>),
    Text(String),
}

/// The service account information JSON object; `email` is required and must be one line.
pub(crate) fn service_account(body: &[u8]) -> Result<ServiceAccountInfo, String> {
    let wire: InfoWire = serde_json::from_slice(body).map_err(|err| {
        if err.is_data() {
            "a member of the service account information has the wrong type".to_owned()
        } else {
            "the service account information is not a JSON object".to_owned()
        }
    })?;
    let email = wire
        .email
        .ok_or_else(|| "service account info is missing 'email' field".to_owned())?;
    if email.is_empty() || email.chars().any(char::is_control) {
        return Err("the service account email is empty or not one line".to_owned());
    }
    let scopes = match wire.scopes {
        None => Vec::new(),
        Some(Scopes::List(list)) => list,
        Some(Scopes::Text(text)) => text
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    Ok(ServiceAccountInfo {
        email,
        scopes,
        aliases: wire.aliases.unwrap_or_default(),
    })
}

/// An identity token (`.../identity?audience=...`): a JWT, whose secret is the whole text and
/// whose expiry is its `exp` claim, read from the payload without verifying the signature (the
/// token came from the metadata server over the transport the caller trusts; its recipient
/// verifies it). `sent_at` becomes the issue time.
pub(crate) fn id_token(body: &[u8], sent_at: OffsetDateTime) -> Result<AccessToken, String> {
    let text =
        std::str::from_utf8(body).map_err(|_| "the ID token is not UTF-8 text".to_owned())?;
    let token = AccessToken::from_id_token(text.trim()).map_err(|e| e.message().to_owned())?;
    Ok(token.with_issued_at(sent_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
    use credkit_core::secrecy::ExposeSecret;
    use time::macros::datetime;

    fn b64(json: &str) -> String {
        URL_SAFE_NO_PAD_INDIFFERENT.encode(json)
    }

    fn jwt(claims: &str) -> String {
        format!("{}.{}.c2ln", b64(r#"{"alg":"RS256"}"#), b64(claims))
    }

    const SENT: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);

    #[test]
    fn text_values() {
        assert_eq!(text(b"my-project\n").unwrap(), "my-project");
        assert_eq!(text(b"").unwrap(), "");
        assert!(text(b"a\nb").is_err());
        assert!(text(&[0xff]).is_err());
        assert!(text(&vec![b'a'; MAX_TEXT + 1]).is_err());
        assert!(text(&vec![b'a'; MAX_TEXT]).is_ok());
    }

    #[test]
    fn service_account_information() {
        let info = service_account(
            br#"{"aliases":["default"],"email":"sa@p.iam.gserviceaccount.com","scopes":["a","b"]}"#,
        )
        .unwrap();
        assert_eq!(info.email(), "sa@p.iam.gserviceaccount.com");
        assert_eq!(info.scopes(), ["a", "b"]);
        assert_eq!(info.aliases(), ["default"]);
        let info = service_account(br#"{"email":"e","scopes":"a b,c"}"#).unwrap();
        assert_eq!(info.scopes(), ["a", "b", "c"]);
        assert!(info.aliases().is_empty());
        assert!(
            service_account(br#"{"email":"e"}"#)
                .unwrap()
                .scopes()
                .is_empty()
        );
        for (bad, why) in [
            (&br#"{"scopes":[]}"#[..], "missing 'email'"),
            (br#"{"email":""}"#, "empty"),
            (br#"{"email":"a\nb"}"#, "one line"),
            (br#"{"email":1}"#, "wrong type"),
            (b"email", "not a JSON object"),
        ] {
            let reason = service_account(bad).unwrap_err();
            assert!(reason.contains(why), "{reason}");
        }
    }

    #[test]
    fn an_id_token_expires_at_its_exp() {
        let text = jwt(r#"{"aud":"https://a.example","exp":1767229200,"iat":1767225600}"#);
        let token = id_token(format!("{text}\n").as_bytes(), SENT).unwrap();
        assert_eq!(token.secret().expose_secret(), text);
        assert_eq!(token.id_token().unwrap().expose_secret(), text);
        assert_eq!(token.expiry(), Some(datetime!(2026-01-01 1:00 UTC)));
        assert_eq!(token.issued_at(), Some(SENT));
        let float = id_token(jwt(r#"{"exp":1767229200.9}"#).as_bytes(), SENT).unwrap();
        assert_eq!(float.expiry(), Some(datetime!(2026-01-01 1:00 UTC)));
        let padded = format!(
            "{}.{}.s",
            b64("{}"),
            base64::engine::general_purpose::URL_SAFE.encode(r#"{"exp":1767229200 }"#)
        );
        assert!(padded.contains('='));
        assert!(id_token(padded.as_bytes(), SENT).is_ok());
    }

    #[test]
    fn bad_id_tokens_give_reasons_without_the_token() {
        let cases = [
            (String::new(), "empty"),
            ("a b".to_owned(), "whitespace"),
            ("abc".to_owned(), "not a JWT"),
            ("a.b.c.d".to_owned(), "not a JWT"),
            ("a.%%%.c".to_owned(), "not base64url"),
            (format!("a.{}.c", b64("[1]")), "JSON object"),
            (jwt("{}"), "no `exp`"),
            (jwt(r#"{"exp":"soon"}"#), "not a number"),
            (jwt(r#"{"exp":null}"#), "not a number"),
            (jwt(r#"{"exp":1e300}"#), "in range"),
            (jwt(r#"{"exp":99999999999999}"#), "in range"),
        ];
        for (text, why) in cases {
            let reason = id_token(text.as_bytes(), SENT).unwrap_err();
            assert!(reason.contains(why), "{text}: {reason}");
            if text.len() > 3 {
                assert!(!reason.contains(&text), "{reason}");
            }
        }
        assert!(id_token(&[0xff, 0xfe], SENT).unwrap_err().contains("UTF-8"));
    }
}
