//! The executable's configuration and response parser, without running anything.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use super::response::{self, Problem};
use super::{ExecutableSource, from_credential_source};
use crate::info::SourceContext;

const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
const SAML: &str = "urn:ietf:params:oauth:token-type:saml2";

fn context() -> SourceContext<'static> {
    SourceContext {
        subject_token_type: JWT,
        audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
        impersonated_email: None,
    }
}

/// The source for `credential_source`, or the message of its error.
fn parse(credential_source: &Value) -> Result<ExecutableSource, String> {
    parse_with(credential_source, &context())
}

fn parse_with(
    credential_source: &Value,
    context: &SourceContext<'_>,
) -> Result<ExecutableSource, String> {
    let Value::Object(map) = credential_source else {
        return Err("not an object".to_owned());
    };
    let supplier = from_credential_source(map, context).map_err(|e| e.to_string())?;
    assert_eq!(supplier.kind(), "executable");
    super::builder::parse(map, context).map_err(|e| e.to_string())
}

fn error_of(credential_source: &Value) -> String {
    match parse(credential_source) {
        Ok(source) => unreachable!("{credential_source} was accepted: {source:?}"),
        Err(message) => message,
    }
}

#[test]
fn the_reference_s_defaults_and_settings_are_read() -> Result<(), String> {
    let source = parse(&json!({"executable": {"command": "/bin/helper --a=1 'b c'"}}))?;
    assert_eq!(source.command(), "/bin/helper --a=1 'b c'");
    assert_eq!(source.program(), "/bin/helper");
    assert_eq!(source.args(), ["--a=1", "b c"]);
    assert_eq!(source.timeout(), Duration::from_secs(30));
    assert_eq!(source.output_file(), None);
    assert_eq!(source.impersonated_email(), None);

    let source = parse(&json!({"executable": {
        "command": "helper", "timeout_millis": 5000, "output_file": "/tmp/out.json"
    }}))?;
    assert_eq!(source.timeout(), Duration::from_secs(5));
    assert_eq!(
        source.output_file().and_then(|p| p.to_str()),
        Some("/tmp/out.json")
    );
    let source = parse(&json!({"executable": {"command": "helper", "timeout_millis": 120_000}}))?;
    assert_eq!(source.timeout(), Duration::from_secs(120));
    let source = parse(&json!({"executable": {"command": "helper", "timeout_millis": 7500.5}}))?;
    assert_eq!(source.timeout(), Duration::from_micros(7_500_500));
    // Zero and null are the default, as Python's truth test has it; so is an empty output file.
    for zero in [json!(0), json!(0.0), Value::Null] {
        let source = parse(&json!({"executable": {
            "command": "helper", "timeout_millis": zero, "output_file": ""
        }}))?;
        assert_eq!(source.timeout(), ExecutableSource::DEFAULT_TIMEOUT);
        assert_eq!(source.output_file(), None);
    }
    let impersonating = SourceContext {
        impersonated_email: Some("sa@p.iam.gserviceaccount.com"),
        ..context()
    };
    let source = parse_with(
        &json!({"executable": {"command": "helper"}}),
        &impersonating,
    )?;
    assert_eq!(
        source.impersonated_email(),
        Some("sa@p.iam.gserviceaccount.com")
    );
    Ok(())
}

#[test]
fn a_missing_executable_or_command_has_the_reference_s_messages() {
    for executable in [json!({}), json!(false), json!(""), json!(0)] {
        assert_eq!(
            error_of(&json!({ "executable": executable })),
            "Missing credential_source. An 'executable' must be provided."
        );
    }
    assert!(error_of(&json!({"executable": "helper"})).contains("must be a JSON object"));
    for command in [json!(""), Value::Null, json!("   "), json!("''")] {
        let message =
            error_of(&json!({"executable": {"command": command, "timeout_millis": 5000}}));
        assert_eq!(
            message, "Missing command field. Executable command must be provided.",
            "{command}"
        );
    }
    assert_eq!(
        error_of(&json!({"executable": {"timeout_millis": 5000}})),
        "Missing command field. Executable command must be provided."
    );
    assert!(error_of(&json!({"executable": {"command": ["a"]}})).contains("must be a string"));
}

#[test]
fn timeouts_out_of_range_have_the_reference_s_messages() {
    for millis in [
        json!(4999),
        json!(120_001),
        json!(-1),
        json!(4999.9),
        json!(1e300),
    ] {
        assert_eq!(
            error_of(&json!({"executable": {"command": "helper", "timeout_millis": millis}})),
            "Timeout must be between 5 and 120 seconds.",
            "{millis}"
        );
    }
    assert!(
        error_of(&json!({"executable": {"command": "helper", "timeout_millis": "5000"}}))
            .contains("timeout_millis must be a number")
    );
    for millis in [json!(29_999), json!(1_800_001)] {
        assert_eq!(
            error_of(&json!({"executable": {
                "command": "helper", "interactive_timeout_millis": millis
            }})),
            "Interactive timeout must be between 30 seconds and 30 minutes."
        );
    }
    assert!(
        parse(&json!({"executable": {
            "command": "helper", "interactive_timeout_millis": 30_000
        }}))
        .is_ok()
    );
    assert!(
        error_of(&json!({"executable": {"command": "helper", "output_file": 1}}))
            .contains("output_file must be a string")
    );
}

#[test]
fn a_command_line_that_cannot_be_split_is_refused() {
    assert!(
        error_of(&json!({"executable": {"command": "helper 'unclosed"}}))
            .ends_with("No closing quotation")
    );
    assert!(
        error_of(&json!({"executable": {"command": "helper \\"}}))
            .ends_with("No escaped character")
    );
    assert!(error_of(&json!({"executable": {"command": "helper a\u{0}b"}})).contains("NUL"));
}

#[test]
fn the_builder_checks_what_the_file_does() {
    let build = |timeout: Duration| {
        ExecutableSource::builder("helper")
            .with_timeout(timeout)
            .build()
    };
    assert!(build(ExecutableSource::MIN_TIMEOUT).is_ok());
    assert!(build(ExecutableSource::MAX_TIMEOUT).is_ok());
    for timeout in [
        Duration::from_nanos(4_999_999_999),
        ExecutableSource::MAX_TIMEOUT + Duration::from_nanos(1),
    ] {
        let err = build(timeout).unwrap_err();
        assert!(err.is_invalid_value());
        assert_eq!(
            err.to_string(),
            "Timeout must be between 5 and 120 seconds."
        );
    }
    let err = ExecutableSource::builder("").build().unwrap_err();
    assert!(err.is_missing_field(), "{err}");
    assert!(
        ExecutableSource::builder("helper")
            .with_output_file("")
            .build()
            .is_err()
    );
}

// ---- The response parser ----

/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn check(response: &Value, expected: &str) -> Result<(String, bool), Problem> {
    response::check(response, expected, now())
        .map(|r| (r.token.expose_secret().to_owned(), r.has_expiry))
}

fn ok_response() -> Value {
    json!({"version": 1, "success": true, "token_type": JWT, "id_token": "eyJ.token",
           "expiration_time": NOW + 3600})
}

fn with(mut base: Value, member: &str, value: Value) -> Value {
    if let Value::Object(map) = &mut base {
        map.insert(member.to_owned(), value);
    }
    base
}

fn without(mut base: Value, member: &str) -> Value {
    if let Value::Object(map) = &mut base {
        map.remove(member);
    }
    base
}

fn malformed(response: &Value, expected: &str) -> String {
    match check(response, expected) {
        Err(Problem::Malformed(message)) => message.into_owned(),
        other => unreachable!("{response}: {other:?}"),
    }
}

fn unusable(response: &Value, expected: &str) -> String {
    match check(response, expected) {
        Err(Problem::Unusable(message)) => message.into_owned(),
        other => unreachable!("{response}: {other:?}"),
    }
}

#[test]
fn a_good_response_gives_its_token_for_every_accepted_type() {
    assert_eq!(
        check(&ok_response(), JWT),
        Ok(("eyJ.token".to_owned(), true))
    );
    assert_eq!(
        check(&ok_response(), ID_TOKEN),
        Ok(("eyJ.token".to_owned(), true))
    );
    let id = with(ok_response(), "token_type", json!(ID_TOKEN));
    assert_eq!(check(&id, JWT), Ok(("eyJ.token".to_owned(), true)));
    let saml = json!({"version": 1, "success": true, "token_type": SAML,
                      "saml_response": "PHNhbWw+"});
    assert_eq!(check(&saml, SAML), Ok(("PHNhbWw+".to_owned(), false)));
    // Expiring exactly now is not yet expired (the reference compares with `<`).
    let edge = with(ok_response(), "expiration_time", json!(NOW));
    assert!(check(&edge, JWT).is_ok());
    let fraction = with(ok_response(), "expiration_time", json!(1_767_225_600.5));
    assert!(check(&fraction, JWT).is_ok());
}

#[test]
fn malformed_responses_have_the_reference_s_messages() {
    assert_eq!(
        malformed(&json!([1]), JWT),
        "The executable response is not a JSON object."
    );
    assert_eq!(
        malformed(&without(ok_response(), "version"), JWT),
        "The executable response is missing the version field."
    );
    for version in [json!("1"), json!(0), json!(1.0), json!(-1), Value::Null] {
        assert!(malformed(&with(ok_response(), "version", version), JWT).contains("version"),);
    }
    assert_eq!(
        malformed(&without(ok_response(), "success"), JWT),
        "The executable response is missing the success field."
    );
    assert!(malformed(&with(ok_response(), "success", json!(1)), JWT).contains("success"));
    let failure = json!({"version": 1, "success": false, "code": "401"});
    assert_eq!(
        malformed(&failure, JWT),
        "Error code and message fields are required in the response."
    );
    assert!(
        malformed(&with(ok_response(), "expiration_time", json!("soon")), JWT)
            .contains("expiration_time")
    );
    assert_eq!(
        malformed(&without(ok_response(), "token_type"), JWT),
        "The executable response is missing the token_type field."
    );
    assert!(malformed(&with(ok_response(), "token_type", json!(1)), JWT).contains("token_type"));
    assert_eq!(
        malformed(&without(ok_response(), "id_token"), JWT),
        "The executable response is missing the id_token field."
    );
    assert!(malformed(&with(ok_response(), "id_token", json!(7)), JWT).contains("not a string"));
    assert!(malformed(&with(ok_response(), "id_token", json!("")), JWT).contains("empty"));
    assert!(
        malformed(&with(ok_response(), "id_token", json!("a\nb")), JWT)
            .contains("control characters")
    );
    let huge = "x".repeat(crate::MAX_SUBJECT_TOKEN_BYTES + 1);
    assert!(malformed(&with(ok_response(), "id_token", json!(huge)), JWT).contains("larger"));
    let largest = "x".repeat(crate::MAX_SUBJECT_TOKEN_BYTES);
    assert!(check(&with(ok_response(), "id_token", json!(largest)), JWT).is_ok());
}

#[test]
fn stale_responses_are_the_reference_s_refresh_errors() {
    assert_eq!(
        unusable(&with(ok_response(), "version", json!(2)), JWT),
        "Executable returned unsupported version 2."
    );
    // The version is checked before anything else is missing.
    assert_eq!(
        unusable(&json!({"version": 2}), JWT),
        "Executable returned unsupported version 2."
    );
    assert_eq!(
        unusable(&with(ok_response(), "expiration_time", json!(NOW - 1)), JWT),
        "The token returned by the executable is expired."
    );
    // The expiry is checked before the token type.
    let expired_untyped = without(
        with(ok_response(), "expiration_time", json!(NOW - 1)),
        "token_type",
    );
    assert!(unusable(&expired_untyped, JWT).contains("expired"));
    assert_eq!(
        unusable(&with(ok_response(), "token_type", json!("urn:x")), JWT),
        "Executable returned unsupported token type."
    );
    let saml_for_oidc = unusable(&with(ok_response(), "token_type", json!(SAML)), JWT);
    assert!(saml_for_oidc.contains("does not accept"), "{saml_for_oidc}");
    assert!(unusable(&ok_response(), SAML).contains("does not accept"));
    assert!(
        unusable(
            &ok_response(),
            "urn:ietf:params:oauth:token-type:access_token"
        )
        .contains("does not accept")
    );
}

#[test]
fn a_failure_gives_its_code_and_message_scrubbed() {
    let failure = json!({"version": 1, "success": false, "code": "401",
                         "message": "bad eyJ.secret-token-echoed\nx-forged: 1",
                         "id_token": "eyJ.secret-token-echoed"});
    let Err(problem @ Problem::Unsuccessful { .. }) = check(&failure, JWT) else {
        unreachable!("a failure");
    };
    assert_eq!(
        problem.message(),
        "Executable returned unsuccessful response: code: 401, message: bad [REDACTED]\u{FFFD}x-forged: 1."
    );
    let numeric = json!({"version": 1, "success": false, "code": 7, "message": null});
    let Err(problem) = check(&numeric, JWT) else {
        unreachable!("a failure");
    };
    assert_eq!(
        problem.message(),
        "Executable returned unsuccessful response: code: 7, message: null."
    );
}

#[test]
fn python_s_falsy_values_are_no_response() {
    for value in [
        json!(null),
        json!(false),
        json!(0),
        json!(0.0),
        json!(""),
        json!([]),
        json!({}),
    ] {
        assert!(response::is_falsy(&value), "{value}");
    }
    for value in [
        json!(true),
        json!(1),
        json!(-0.5),
        json!("0"),
        json!([0]),
        json!({"a": 1}),
    ] {
        assert!(!response::is_falsy(&value), "{value}");
    }
}

#[test]
fn expiry_is_compared_before_the_epoch_too() {
    let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
    let response = with(ok_response(), "expiration_time", json!(-5));
    assert!(response::check(&response, JWT, before_epoch).is_ok());
    let response = with(ok_response(), "expiration_time", json!(-11));
    assert!(response::check(&response, JWT, before_epoch).is_err());
}
