use secrecy::ExposeSecret;
use time::macros::datetime;

use super::*;

const WRITTEN: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
const NOW: OffsetDateTime = datetime!(2026-01-01 0:10 UTC);
const REREAD: Duration = Duration::from_secs(60);

fn read(text: &str) -> Result<AccessToken, Refusal> {
    parse(text.as_bytes(), Some(WRITTEN))?.at(NOW, Some(REREAD))
}

fn secret(token: &AccessToken) -> &str {
    token.secret().expose_secret()
}

#[test]
fn a_bare_token_is_trimmed_and_gets_the_reread_deadline() {
    for text in [
        "ya29.bare",
        "ya29.bare\n",
        "  ya29.bare\r\n\r\n",
        "\t\x0cya29.bare ",
        "\u{feff}ya29.bare\n",
    ] {
        let token = read(text).unwrap();
        assert_eq!(secret(&token), "ya29.bare", "{text:?}");
        assert_eq!(token.expiry(), Some(NOW + REREAD), "{text:?}");
        assert_eq!(token.issued_at(), Some(NOW), "{text:?}");
    }
}

#[test]
fn without_a_reread_interval_an_unknown_expiry_stays_unknown() {
    let token = parse(b"ya29.bare", None).unwrap().at(NOW, None).unwrap();
    assert_eq!(token.expiry(), None);
    assert_eq!(token.issued_at(), None);
}

#[test]
fn bad_bare_tokens_are_refused_by_kind() {
    let cases: [(&[u8], Refusal); 10] = [
        (b"", Refusal::Empty),
        (b" \n\t\r\n", Refusal::Empty),
        (b"\xEF\xBB\xBF\n", Refusal::Empty),
        (b"ya29.a\nya29.b", Refusal::ControlCharacter),
        (b"ya29.a b", Refusal::ControlCharacter),
        (b"ya29.\x00", Refusal::ControlCharacter),
        (b"ya29.\x7f", Refusal::ControlCharacter),
        ("ya29.é".as_bytes(), Refusal::NotAscii),
        (b"ya29.\xff", Refusal::NotAscii),
        (b"\xEF\xBB\xBF\xEF\xBB\xBFya29", Refusal::NotAscii),
    ];
    for (bytes, refusal) in cases {
        assert_eq!(
            parse(bytes, Some(WRITTEN)).err(),
            Some(refusal),
            "{bytes:?}"
        );
    }
}

#[test]
fn a_token_response_counts_expires_in_from_the_files_time() {
    let token =
        read(r#"{"access_token": "ya29.json", "expires_in": 3599, "token_type": "Bearer"}"#)
            .unwrap();
    assert_eq!(secret(&token), "ya29.json");
    assert_eq!(token.expiry(), Some(WRITTEN + Duration::from_secs(3599)));
    assert_eq!(token.issued_at(), Some(WRITTEN));
    assert_eq!(token.lifetime(), Some(Duration::from_secs(3599)));

    for expires_in in [r#""3599""#, r#"" 3599.0 ""#, "3599.0"] {
        let doc = format!(r#"{{"access_token": "ya29.json", "expires_in": {expires_in}}}"#);
        let token = read(&doc).unwrap();
        assert_eq!(
            token.expiry(),
            Some(WRITTEN + Duration::from_secs(3599)),
            "{doc}"
        );
    }
    let token = read(r#"{"access_token": "ya29.json", "expires_in": 1.5e3}"#).unwrap();
    assert_eq!(token.expiry(), Some(WRITTEN + Duration::from_secs(1500)));
}

#[test]
fn every_spelling_of_an_absolute_expiry() {
    for (member, value) in [
        ("expiry", "2026-01-01T01:00:00Z"),
        ("expireTime", "2026-01-01T01:00:00Z"),
        ("expire_time", "2026-01-01T02:00:00+01:00"),
        ("token_expiry", "2026-01-01T01:00:00.000Z"),
    ] {
        for key in ["access_token", "accessToken"] {
            let doc = format!(r#"{{"{key}": "ya29.abs", "{member}": "{value}"}}"#);
            let token = read(&doc).unwrap();
            assert_eq!(secret(&token), "ya29.abs", "{doc}");
            assert_eq!(
                token.expiry(),
                Some(datetime!(2026-01-01 1:00 UTC)),
                "{doc}"
            );
            // When it was issued is unknown: the full refresh threshold applies.
            assert_eq!(token.issued_at(), None, "{doc}");
        }
    }
}

#[test]
fn with_both_expiries_the_earlier_wins() {
    let late = r#"{"access_token": "t", "expiry": "2026-01-02T00:00:00Z", "expires_in": 3600}"#;
    assert_eq!(
        read(late).unwrap().expiry(),
        Some(WRITTEN + Duration::from_secs(3600))
    );
    let early = r#"{"access_token": "t", "expiry": "2026-01-01T00:30:00Z", "expires_in": 3600}"#;
    assert_eq!(
        read(early).unwrap().expiry(),
        Some(datetime!(2026-01-01 0:30 UTC))
    );
    // issued_at comes with expires_in whichever wins: the lifetime scales the threshold.
    assert_eq!(read(early).unwrap().issued_at(), Some(WRITTEN));
}

#[test]
fn null_expiries_are_unknown() {
    let token = read(r#"{"access_token": "ya29.n", "expiry": null, "expires_in": null}"#).unwrap();
    assert_eq!(token.expiry(), Some(NOW + REREAD));
}

#[test]
fn an_expiry_at_or_before_now_is_refused() {
    for doc in [
        r#"{"access_token": "t", "expiry": "2026-01-01T00:10:00Z"}"#,
        r#"{"access_token": "t", "expiry": "2025-12-31T23:00:00Z"}"#,
        r#"{"access_token": "t", "expires_in": 600}"#,
        r#"{"access_token": "t", "expires_in": 0}"#,
    ] {
        assert_eq!(read(doc).err(), Some(Refusal::Expired), "{doc}");
    }
    // One second more, and it is served.
    let doc = r#"{"access_token": "t", "expires_in": 601}"#;
    assert_eq!(
        read(doc).unwrap().expiry(),
        Some(NOW + Duration::from_secs(1))
    );
}

#[test]
fn a_file_time_ahead_of_the_clock_is_not_an_issue_time_in_the_future() {
    let ahead = NOW + Duration::from_secs(30);
    let token = parse(br#"{"access_token": "t", "expires_in": 60}"#, Some(ahead))
        .unwrap()
        .at(NOW, Some(REREAD))
        .unwrap();
    assert_eq!(token.issued_at(), Some(NOW));
    assert_eq!(token.expiry(), Some(ahead + Duration::from_secs(60)));
}

#[test]
fn unusable_documents_are_refused_by_kind() {
    let cases = [
        ("{", Refusal::Truncated),
        (r#"{"access_token": "ya29.cut"#, Refusal::Truncated),
        ("{]", Refusal::Malformed),
        (r#"{"access_token": "a"} trailing"#, Refusal::Malformed),
        (r#"{"access_token": 7}"#, Refusal::Malformed),
        (
            r#"{"access_token": "a", "accessToken": "b"}"#,
            Refusal::Malformed,
        ),
        (
            r#"{"access_token": "a", "access_token": "a"}"#,
            Refusal::Malformed,
        ),
        (
            r#"{"access_token": "a", "expiry": "x", "expireTime": "y"}"#,
            Refusal::Malformed,
        ),
        ("{}", Refusal::NoToken),
        (r#"{"token": "ya29.elsewhere"}"#, Refusal::NoToken),
        (r#"{"access_token": null}"#, Refusal::NoToken),
        (r#"{"access_token": ""}"#, Refusal::Empty),
        (
            r#"{"access_token": " ya29.padded"}"#,
            Refusal::ControlCharacter,
        ),
        (
            r#"{"access_token": "ya29.a\r\nx-injected: 1"}"#,
            Refusal::ControlCharacter,
        ),
        (r#"{"access_token": "ya29.\u00e9"}"#, Refusal::NotAscii),
        (
            r#"{"access_token": "t", "expiry": "tomorrow"}"#,
            Refusal::BadExpiry,
        ),
        (
            r#"{"access_token": "t", "expiry": 1767229200}"#,
            Refusal::BadExpiry,
        ),
        (
            r#"{"access_token": "t", "expires_in": -1}"#,
            Refusal::BadExpiry,
        ),
        (
            r#"{"access_token": "t", "expires_in": "soon"}"#,
            Refusal::BadExpiry,
        ),
        (
            r#"{"access_token": "t", "expires_in": true}"#,
            Refusal::BadExpiry,
        ),
        (
            r#"{"access_token": "t", "expires_in": 1e300}"#,
            Refusal::BadExpiry,
        ),
        (
            r#"{"access_token": "t", "expires_in": 1e15}"#,
            Refusal::BadExpiry,
        ),
    ];
    for (doc, refusal) in cases {
        assert_eq!(read(doc).err(), Some(refusal), "{doc}");
    }
}

#[test]
fn expires_in_without_a_file_time_is_refused() {
    let parsed = parse(br#"{"access_token": "t", "expires_in": 60}"#, None);
    assert_eq!(parsed.err(), Some(Refusal::BadExpiry));
    // An absolute expiry needs none.
    let parsed = parse(
        br#"{"access_token": "t", "expiry": "2026-01-01T01:00:00Z"}"#,
        None,
    );
    assert!(parsed.is_ok());
}

#[test]
fn a_json_looking_value_is_never_taken_for_a_bare_token() {
    // No white space in it: as a bare token it would pass the header check.
    let token = read(r#"{"access_token":"ya29.x"}"#).unwrap();
    assert_eq!(secret(&token), "ya29.x");
}

proptest::proptest! {
    #[test]
    fn parsing_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = parse(&bytes, Some(WRITTEN)).and_then(|p| p.at(NOW, Some(REREAD)));
    }

    #[test]
    fn any_visible_ascii_token_round_trips(token_text in "[!-~]{1,200}") {
        proptest::prop_assume!(!token_text.starts_with('{'));
        let padded = format!(" \n{token_text}\r\n");
        let token = read(&padded).unwrap();
        proptest::prop_assert_eq!(secret(&token), token_text.as_str());
    }
}
