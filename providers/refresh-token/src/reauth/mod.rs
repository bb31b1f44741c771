//! Reauthentication: what a refresh does when the token endpoint asks the user to prove
//! themselves again (`invalid_grant` with the subtype `invalid_rapt` or `rapt_required`).
//!
//! With `enable_reauth_refresh` off, such a refresh fails with the reference's
//! "Reauthentication is needed..." error. With it on, and a caller waiting (see
//! [`credkit_core::interactive`]), the refresh runs the reference's flow: a refresh grant for
//! [`REAUTH_SCOPE`], `sessions:start`, one `:continue` per challenge ([`flow`]; each request
//! retried after a transient failure by `RetryPolicy::run`), then the refresh again with the rapt token,
//! which is kept.

mod builtin;
mod challenge;
mod flow;
mod settings;
#[cfg(test)]
mod tests;

use credkit_core::Error;

use crate::error;

pub use builtin::{PASSWORD_PROMPT, PasswordPrompt, PromptFn, prompt_fn};
pub use challenge::{Challenge, ChallengeFn, ProposalResponse, ReauthChallenge, challenge_fn};
pub(crate) use flow::{Session, obtain_rapt};
pub(crate) use settings::ReauthSettings;

/// The scope of the access token that answers reauthentication challenges.
pub const REAUTH_SCOPE: &str = "https://www.googleapis.com/auth/accounts.reauth";

/// Google's reauthentication API, the default base URL (its sessions are under `/v2/sessions`).
pub const DEFAULT_REAUTH_URI: &str = "https://reauth.googleapis.com";

/// How many rounds of challenges one reauthentication answers at most.
pub const RUN_CHALLENGE_RETRY_LIMIT: usize = 5;

/// The challenge types sent as `supportedChallengeTypes`, in the reference's order.
pub(crate) const SUPPORTED_CHALLENGES: [&str; 3] = ["SECURITY_KEY", "PASSWORD", "SAML"];

pub(crate) const AUTHENTICATED: &str = "AUTHENTICATED";
pub(crate) const CHALLENGE_REQUIRED: &str = "CHALLENGE_REQUIRED";
pub(crate) const CHALLENGE_PENDING: &str = "CHALLENGE_PENDING";
pub(crate) const READY: &str = "READY";

/// Turns `invalid_grant` with the subtype `invalid_rapt` or `rapt_required` into the reference's
/// "Reauthentication is needed..." error (kind `ReauthRequired`, permanent, keeping the status
/// and the OAuth fields); any other error passes unchanged.
pub(crate) fn map_reauth_needed(err: Error) -> Error {
    if is_reauth_challenge(&err) {
        error::reauth_needed(&err)
    } else {
        err
    }
}

/// Whether the token endpoint's error asks for reauthentication.
pub(crate) fn is_reauth_challenge(err: &Error) -> bool {
    err.oauth_error() == Some("invalid_grant")
        && matches!(err.error_subtype(), Some("invalid_rapt" | "rapt_required"))
}
