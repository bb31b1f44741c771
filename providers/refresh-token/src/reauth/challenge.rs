//! The challenge extension point: [`ReauthChallenge`], what it is given ([`Challenge`]) and what
//! it answers ([`ProposalResponse`]), and the [`challenge_fn`] adaptor for closures.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use credkit_core::Result;
use credkit_core::oauth::zeroize_json;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

/// One challenge of a reauthentication session, as the reauth API described it.
///
/// ```
/// use credkit_refresh_token::Challenge;
///
/// let challenge = Challenge::from_json(serde_json::json!({
///     "challengeType": "SECURITY_KEY",
///     "challengeId": 2,
///     "status": "READY",
///     "securityKey": {"applicationId": "app", "relyingPartyId": "rp", "challenges": []},
/// }));
/// assert_eq!(challenge.challenge_type(), "SECURITY_KEY");
/// assert_eq!(challenge.challenge_id(), &serde_json::json!(2));
/// assert_eq!(challenge.metadata()["securityKey"]["relyingPartyId"], "rp");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Challenge {
    metadata: Arc<Map<String, Value>>,
}

impl Challenge {
    /// A challenge from the reauth API's JSON object (`challengeType`, `challengeId`, `status`
    /// and the type's own members). Anything but an object counts as an empty one.
    pub fn from_json(json: Value) -> Self {
        let metadata = match json {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Self {
            metadata: Arc::new(metadata),
        }
    }

    /// The `challengeType`: `PASSWORD`, `SECURITY_KEY`, `SAML`, or another the API names; `""`
    /// when absent.
    pub fn challenge_type(&self) -> &str {
        self.metadata
            .get("challengeType")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The `challengeId`, as the API wrote it (a number, usually); `null` when absent.
    pub fn challenge_id(&self) -> &Value {
        self.metadata.get("challengeId").unwrap_or(&Value::Null)
    }

    /// The whole challenge object: for a security key, its `securityKey` member holds the
    /// `applicationId`, `relyingPartyId` and `challenges` (`keyHandle`, `challenge`).
    pub fn metadata(&self) -> &Map<String, Value> {
        &self.metadata
    }
}

/// The answer to a challenge, sent as the `proposalResponse` of `sessions/{id}:continue`.
///
/// It holds secrets (a password, a signed assertion): `Debug` never shows it, and it is
/// zeroized when dropped.
///
/// ```
/// use credkit_refresh_token::ProposalResponse;
/// use secrecy::SecretString;
///
/// let answer = ProposalResponse::password(&SecretString::from("hunter2"));
/// assert!(!format!("{answer:?}").contains("hunter2"));
/// let signed = ProposalResponse::new(serde_json::json!({"securityKey": {"clientData": "..."}}));
/// # let _ = signed;
/// ```
pub struct ProposalResponse {
    value: Value,
}

impl ProposalResponse {
    /// An answer of any shape, such as a security key's
    /// `{"securityKey": {"clientData", "authenticatorData", "signatureData", "applicationId",
    /// "keyHandle", "securityKeyReplyType": 2}}`.
    pub fn new(value: Value) -> Self {
        Self { value }
    }

    /// The `PASSWORD` answer, `{"credential": <password>}`, exactly as given (the built-in
    /// password challenge turns an empty answer into `" "` before it gets here).
    pub fn password(password: &SecretString) -> Self {
        let mut map = Map::new();
        map.insert(
            "credential".to_owned(),
            Value::String(password.expose_secret().to_owned()),
        );
        Self::new(Value::Object(map))
    }

    /// The answer's JSON, taken out (the emptied answer left behind has nothing to wipe).
    pub(crate) fn into_json(mut self) -> Value {
        std::mem::take(&mut self.value)
    }
}

impl Drop for ProposalResponse {
    fn drop(&mut self) {
        zeroize_json(&mut self.value);
    }
}

impl fmt::Debug for ProposalResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProposalResponse([REDACTED])")
    }
}

/// Answers one kind of reauthentication challenge: the extension point of the reauth flow.
///
/// The flow calls [`respond`](Self::respond) with the first `READY` challenge of a session
/// whose type this handler was registered for
/// ([`UserCredentialsBuilder::with_reauth_challenge`](crate::UserCredentialsBuilder::with_reauth_challenge)),
/// and sends the answer as the `proposalResponse`.
///
/// # Contract
///
/// - **Interactive.** A handler may ask a person (a prompt, a touch of a security key). The flow
///   runs only when a caller waits for it (see the crate docs on reauthentication), never from
///   a background refresh.
/// - **No answer.** `Ok(None)` means "no answer" (no device, a timeout): the flow then fails
///   with the reference's "Reauthentication failed. Failed to obtain rapt token.".
/// - **Errors** end the flow and reach the caller as they are: make them permanent and keep
///   secrets out of their messages.
/// - **Secrets.** The answer is a [`ProposalResponse`], zeroized on drop; never log it.
/// - **Cancellation.** The future may be dropped at any `.await` (the caller gave up, or the
///   refresh passed its deadline).
///
/// # Security keys: the reference's `WebAuthn` plugin
///
/// credkit has no built-in security-key support; plug it in here for `SECURITY_KEY`. The
/// reference library talks to a `WebAuthn` plugin: an executable named by the environment
/// variable `GOOGLE_AUTH_WEBAUTHN_PLUGIN`, spoken to over its standard input and output, each
/// message a 4-byte little-endian length followed by that many bytes of JSON. The request is
/// `{"type": "get", "origin": "https://accounts.google.com", "requestData": {"rpid":
/// <securityKey.relyingPartyId>, "challenge": <the first challenge's `challenge`, re-encoded as
/// unpadded URL-safe base64>, "timeout": 120000, "allowCredentials": [{"type": "public-key",
/// "id": <keyHandle>}...], "userVerification": "preferred", "extensions": {"appid":
/// <securityKey.applicationId>}}}`; the reply's `responseData` becomes
/// `{"securityKey": {"clientData", "authenticatorData", "signatureData", "applicationId",
/// "keyHandle", "securityKeyReplyType": 2}}`, the [`ProposalResponse`]. The reference prints
/// "Please insert and touch your security key" first.
///
/// # Examples
///
/// ```
/// use async_trait::async_trait;
/// use credkit_core::Result;
/// use credkit_refresh_token::{Challenge, ProposalResponse, ReauthChallenge, UserCredentials};
///
/// #[derive(Debug)]
/// struct TouchTheKey;
///
/// #[async_trait]
/// impl ReauthChallenge for TouchTheKey {
///     async fn respond(&self, challenge: &Challenge) -> Result<Option<ProposalResponse>> {
///         let _rp = &challenge.metadata()["securityKey"]["relyingPartyId"];
///         // ... ask the authenticator ...
///         Ok(Some(ProposalResponse::new(serde_json::json!({"securityKey": {"clientData": "…"}}))))
///     }
/// }
///
/// let creds = UserCredentials::builder()
///     .with_enable_reauth_refresh(true)
///     .with_reauth_challenge("SECURITY_KEY", TouchTheKey)
///     .build()?;
/// # let _ = creds;
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
#[async_trait]
pub trait ReauthChallenge: Send + Sync + fmt::Debug {
    /// Whether this machine can answer the challenge at all. Default: true. When false, the
    /// flow fails with the reference's "Challenge TYPE is not locally eligible".
    fn is_locally_eligible(&self) -> bool {
        true
    }

    /// Answers `challenge`, or `Ok(None)` for no answer.
    ///
    /// # Errors
    ///
    /// Whatever stops the answer (a prompt that failed, a device error); it ends the flow.
    async fn respond(&self, challenge: &Challenge) -> Result<Option<ProposalResponse>>;
}

credkit_core::forward_impls! {
    #[async_trait]
    trait ReauthChallenge {
        fn is_locally_eligible(&self) -> bool;
        async fn respond(&self, challenge: &Challenge) -> Result<Option<ProposalResponse>>;
    }
}

/// A [`ReauthChallenge`] made from an async closure by [`challenge_fn`].
#[derive(Clone)]
pub struct ChallengeFn<F> {
    f: F,
}

/// Makes a [`ReauthChallenge`] of an async closure that gets the [`Challenge`] and returns the
/// answer (or `None`).
///
/// ```
/// use credkit_refresh_token::{challenge_fn, ProposalResponse, UserCredentials};
///
/// let creds = UserCredentials::builder()
///     .with_enable_reauth_refresh(true)
///     .with_reauth_challenge("SECURITY_KEY", challenge_fn(|challenge| async move {
///         let _key = challenge.metadata().get("securityKey").cloned();
///         Ok(Some(ProposalResponse::new(serde_json::json!({"securityKey": {}}))))
///     }))
///     .build()?;
/// # let _ = creds;
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
pub fn challenge_fn<F, Fut>(f: F) -> ChallengeFn<F>
where
    F: Fn(Challenge) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Option<ProposalResponse>>> + Send,
{
    ChallengeFn { f }
}

impl<F> fmt::Debug for ChallengeFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChallengeFn").finish_non_exhaustive()
    }
}

#[async_trait]
impl<F, Fut> ReauthChallenge for ChallengeFn<F>
where
    F: Fn(Challenge) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Option<ProposalResponse>>> + Send,
{
    async fn respond(&self, challenge: &Challenge) -> Result<Option<ProposalResponse>> {
        (self.f)(challenge.clone()).await
    }
}
