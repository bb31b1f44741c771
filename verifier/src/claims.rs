//! The claims of a verified ID token, and the checks on them.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::VerifyError;
use crate::error::{sanitize, sanitize_list};

/// The claims of an ID token that passed every check.
///
/// The claims Google sets are typed; every other claim is kept in [`other`](Self::other).
/// `Serialize` writes them back as one JSON object (the `credkit verify-id-token` output).
///
/// ```
/// use credkit_core::Clock;
/// use credkit_testing::{FakeClock, TestIdTokenIssuer};
/// use credkit_verifier::IdTokenVerifier;
///
/// # futures::executor::block_on(async {
/// let issuer = TestIdTokenIssuer::generate()?;
/// let clock = FakeClock::new();
/// let mut claims = TestIdTokenIssuer::google_claims("https://svc.example", clock.now());
/// claims["picture"] = "https://example.com/me.png".into();
/// let verifier = IdTokenVerifier::builder()
///     .with_audience("https://svc.example")
///     .with_jwk_set(issuer.jwk_set_json())
///     .with_clock(clock.clone())
///     .build()?;
/// let verified = verifier.verify(&issuer.mint(&claims)).await?;
/// assert_eq!(verified.email.as_deref(), Some("robot@credkit-test.iam.gserviceaccount.com"));
/// assert_eq!(verified.other["picture"], "https://example.com/me.png");
/// assert_eq!(serde_json::to_value(&verified)?, claims);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct IdTokenClaims {
    /// The issuer, one of the verifier's accepted issuers.
    pub iss: String,
    /// The subject: the account's stable, unique ID (required by OpenID Connect).
    pub sub: String,
    /// The audience that matched one of the verifier's (of several in the token, the first
    /// that matched), or the token's only audience when the audience is not checked.
    pub aud: String,
    /// The authorized party: the client the token was issued to, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: i64,
    /// Issue time, in seconds since the Unix epoch.
    pub iat: i64,
    /// The account's email address, when the token carries it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether Google verified the email address (also read from the strings `"true"` and
    /// `"false"`, as some older tokens carry it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// The hosted domain of a Google Workspace account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hd: Option<String>,
    /// The user's full name, when the token carries it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every other claim, as in the token.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl IdTokenClaims {
    /// [`exp`](Self::exp) as a time.
    pub fn expires_at(&self) -> OffsetDateTime {
        timestamp(self.exp)
    }

    /// [`iat`](Self::iat) as a time.
    pub fn issued_at(&self) -> OffsetDateTime {
        timestamp(self.iat)
    }
}

fn timestamp(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(if seconds.is_negative() {
        time::PrimitiveDateTime::MIN.assume_utc()
    } else {
        time::PrimitiveDateTime::MAX.assume_utc()
    })
}

/// What the claims are checked against.
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    pub(crate) issuers: Vec<String>,
    /// `None`: the audience is not checked (an explicit, dangerous choice).
    pub(crate) audiences: Option<Vec<String>>,
    pub(crate) clock_skew: Duration,
    pub(crate) hosted_domain: Option<String>,
    pub(crate) require_email_verified: bool,
}

impl Policy {
    /// Checks the claims of `payload` (a verified token's payload) at `now`, in the reference's
    /// order: times, issuer, audience; then the hosted domain and the email.
    pub(crate) fn check(
        &self,
        payload: &[u8],
        now: OffsetDateTime,
    ) -> Result<IdTokenClaims, VerifyError> {
        let Ok(Value::Object(mut claims)) = serde_json::from_slice::<Value>(payload) else {
            return Err(VerifyError::malformed("the payload is not a JSON object"));
        };
        let exp = numeric_date(claims.remove("exp"), "exp")?;
        let iat = numeric_date(claims.remove("iat"), "iat")?;
        let nbf = match claims.get("nbf") {
            None => None,
            Some(nbf) => Some(numeric_date(Some(nbf.clone()), "nbf")?),
        };
        let now = now.unix_timestamp();
        let skew = i64::try_from(self.clock_skew.as_secs()).unwrap_or(i64::MAX);
        let not_before = nbf.map_or(iat, |nbf| nbf.max(iat));
        if now < not_before.saturating_sub(skew) {
            return Err(VerifyError::NotYetValid { not_before, now });
        }
        if now > exp.saturating_add(skew) {
            return Err(VerifyError::Expired { exp, now });
        }
        let iss = string(claims.remove("iss"), "iss")?;
        if !self.issuers.contains(&iss) {
            return Err(VerifyError::WrongIssuer {
                iss: sanitize(&iss),
            });
        }
        let aud = self.audience(claims.remove("aud"))?;
        let sub = string(claims.remove("sub"), "sub")?;
        let hd = optional_string(claims.remove("hd"), "hd")?;
        if let Some(required) = &self.hosted_domain
            && hd.as_deref() != Some(required.as_str())
        {
            return Err(VerifyError::WrongHostedDomain {
                hd: sanitize(hd.as_deref().unwrap_or("")),
            });
        }
        let email_verified = match claims.remove("email_verified") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(verified)) => Some(verified),
            Some(Value::String(text)) if text == "true" => Some(true),
            Some(Value::String(text)) if text == "false" => Some(false),
            Some(_) => {
                return Err(VerifyError::malformed(
                    "the email_verified claim is not a boolean",
                ));
            }
        };
        if self.require_email_verified && email_verified != Some(true) {
            return Err(VerifyError::EmailNotVerified);
        }
        Ok(IdTokenClaims {
            iss,
            sub,
            aud,
            azp: optional_string(claims.remove("azp"), "azp")?,
            exp,
            iat,
            email: optional_string(claims.remove("email"), "email")?,
            email_verified,
            hd,
            name: optional_string(claims.remove("name"), "name")?,
            other: claims,
        })
    }

    /// The token's audience that matched, or why none did. `aud` is a string or an array of
    /// strings (RFC 7519); Google's ID tokens carry a string.
    fn audience(&self, aud: Option<Value>) -> Result<String, VerifyError> {
        let audiences = match aud {
            None | Some(Value::Null) => return Err(VerifyError::MissingClaim { claim: "aud" }),
            Some(Value::String(aud)) => vec![aud],
            Some(Value::Array(values)) => values
                .into_iter()
                .map(|value| match value {
                    Value::String(aud) => Ok(aud),
                    _ => Err(VerifyError::malformed("the aud claim is not a string")),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => return Err(VerifyError::malformed("the aud claim is not a string")),
        };
        let matched = match &self.audiences {
            None => audiences.first(),
            Some(accepted) => audiences.iter().find(|aud| accepted.contains(aud)),
        };
        matched.cloned().ok_or_else(|| VerifyError::WrongAudience {
            aud: sanitize_list(&audiences),
        })
    }
}

/// A `NumericDate`: an integer (or a finite fraction, floored) number of seconds.
fn numeric_date(value: Option<Value>, claim: &'static str) -> Result<i64, VerifyError> {
    let not_a_number = match claim {
        "exp" => "the exp claim is not a number",
        "iat" => "the iat claim is not a number",
        _ => "the nbf claim is not a number",
    };
    match value {
        None | Some(Value::Null) => Err(VerifyError::MissingClaim { claim }),
        Some(Value::Number(number)) => number
            .as_i64()
            .or_else(|| {
                number
                    .as_f64()
                    .filter(|seconds| seconds.is_finite())
                    // Intended: `as` saturates to i64's range, and a date that far is
                    // expired or not yet valid whichever way it is clamped.
                    .map(|seconds| {
                        #[allow(clippy::cast_possible_truncation)]
                        let whole = seconds.floor() as i64;
                        whole
                    })
            })
            .ok_or(VerifyError::malformed(not_a_number)),
        Some(_) => Err(VerifyError::malformed(not_a_number)),
    }
}

fn string(value: Option<Value>, claim: &'static str) -> Result<String, VerifyError> {
    optional_string(value, claim)?.ok_or(VerifyError::MissingClaim { claim })
}

fn optional_string(
    value: Option<Value>,
    claim: &'static str,
) -> Result<Option<String>, VerifyError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(VerifyError::malformed(match claim {
            "iss" => "the iss claim is not a string",
            "sub" => "the sub claim is not a string",
            "hd" => "the hd claim is not a string",
            "azp" => "the azp claim is not a string",
            "email" => "the email claim is not a string",
            _ => "the name claim is not a string",
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_out_of_range_saturate() {
        assert_eq!(timestamp(0), OffsetDateTime::UNIX_EPOCH);
        assert_eq!(timestamp(-1).unix_timestamp(), -1);
        assert_eq!(
            timestamp(i64::MIN),
            time::PrimitiveDateTime::MIN.assume_utc()
        );
        assert_eq!(
            timestamp(i64::MAX),
            time::PrimitiveDateTime::MAX.assume_utc()
        );
        assert_eq!(timestamp(1_700_000_000).unix_timestamp(), 1_700_000_000);
    }

    #[test]
    fn numeric_dates_floor_fractions_and_clamp() {
        use serde_json::json;
        assert_eq!(numeric_date(Some(json!(5)), "exp").unwrap(), 5);
        assert_eq!(numeric_date(Some(json!(5.9)), "exp").unwrap(), 5);
        assert_eq!(numeric_date(Some(json!(-0.5)), "iat").unwrap(), -1);
        assert_eq!(numeric_date(Some(json!(1e300)), "exp").unwrap(), i64::MAX);
        assert_eq!(
            numeric_date(Some(json!(u64::MAX)), "exp").unwrap(),
            i64::MAX
        );
        let reason = |claim| match numeric_date(Some(json!("x")), claim) {
            Err(VerifyError::Malformed { reason }) => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason("exp"), "the exp claim is not a number");
        assert_eq!(reason("iat"), "the iat claim is not a number");
        assert_eq!(reason("nbf"), "the nbf claim is not a number");
        assert!(matches!(
            numeric_date(None, "iat"),
            Err(VerifyError::MissingClaim { claim: "iat" })
        ));
    }

    #[test]
    fn string_claims_name_themselves_when_mistyped() {
        for claim in ["iss", "sub", "hd", "azp", "email", "name"] {
            match optional_string(Some(serde_json::json!(1)), claim) {
                Err(VerifyError::Malformed { reason }) => {
                    assert_eq!(reason, format!("the {claim} claim is not a string"));
                }
                other => panic!("{claim}: {other:?}"),
            }
        }
        assert_eq!(optional_string(Some(Value::Null), "hd").unwrap(), None);
        assert!(matches!(
            string(None, "sub"),
            Err(VerifyError::MissingClaim { claim: "sub" })
        ));
    }
}
