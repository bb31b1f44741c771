//! Refresh-token ("authorized user") credentials for credkit: the Rust counterpart of the
//! reference library's `google.oauth2.credentials.Credentials`.
//!
//! [`UserCredentials`] holds a user's refresh token and OAuth client and runs the refresh-token
//! grant (RFC 6749 section 6) with the reference's exact request, errors and state updates:
//! refresh-token rotation, the ID token, granted scopes, the rapt token, the quota project and the
//! universe-domain guard. It reads and writes `authorized_user` JSON
//! ([`UserCredentials::from_authorized_user_file`], [`UserCredentials::to_json`]).
//!
//! Application Default Credentials discovery (which finds `authorized_user` files among other
//! types) is in the `credkit` facade crate.
//!
//! It is a [`TokenSource`](credkit_core::TokenSource) and caches nothing itself: the caching
//! layer of `credkit-core` does that. It depends only on `credkit-core`'s public API, exactly as a
//! third-party provider would, and sends HTTP through any [`Transport`](credkit_core::Transport).
//!
//! # Reauthentication
//!
//! When the token endpoint refuses a refresh with `invalid_grant` and the subtype
//! `invalid_rapt` or `rapt_required`, the user must prove themselves again. With
//! [`UserCredentialsBuilder::with_enable_reauth_refresh`] off (the default) the refresh fails
//! with the reference's "Reauthentication is needed. Please run `gcloud auth
//! application-default login` to reauthenticate." (kind `ReauthRequired`). On, the refresh runs
//! the reference's flow: a refresh grant for [`REAUTH_SCOPE`]; `POST {reauth}/v2/sessions:start`;
//! one `POST {reauth}/v2/sessions/{id}:continue` per challenge, at most
//! [`RUN_CHALLENGE_RETRY_LIMIT`] rounds; then the refresh once more with the rapt token it got.
//! The new rapt token is kept: [`UserCredentials::rapt_token`], `to_json`, `to_record`, and
//! every later refresh send it. Every failure of the flow is permanent; its own failures read
//! "Reauthentication failed. ..." with the reference's text, and an HTTP error of the reauth
//! API is that API's error (its status kept).
//!
//! **Retries never ask twice.** As in the reference, `sessions:start` and each `:continue` are
//! sent again after a transient failure (a 500, 503, 504, 408 or 429, and also a connection
//! reset or timeout, which the reference does not retry): 3 attempts in all, about 1 s and then
//! about 2 s apart ([`RetryPolicy::default`](credkit_core::RetryPolicy::default)), a
//! `Retry-After` honoured up to 30 s, every wait on the credentials' clock. A `:continue` is
//! sent again with the answer it already carries; a prompt or challenge handler never runs
//! again, so the user is asked once per challenge. Any other failure (a 400, a 401) is not
//! retried. A failure from `sessions:start` on is permanent, so the caching layer's own
//! retries never start the challenges over; a transient failure before it (the grant for
//! [`REAUTH_SCOPE`]) or after it (the last grant, which sends the rapt token already kept) is
//! retried by that layer, which asks nobody either.
//!
//! **Reauthentication is interactive; the cache is not.** The flow may ask a person, so it runs
//! only when a person waits: inside [`credkit_core::interactive`]. A refresh nobody waits for
//! (refresh ahead on a spawner, one that `apply` started) reports the "Reauthentication is
//! needed" error instead, and never calls the reauth API. The question is asked in the poll
//! that reads the refusal, and again in the poll that would start each challenge's prompt or
//! handler: a caller that gave up midway (its own timeout), leaving the refresh to a spawner's
//! task or an `apply`, is no longer there to answer, so the flow then fails with the "not in an
//! interactive session" error below and asks nobody:
//!
//! ```no_run
//! use credkit_core::Credentials;
//! use credkit_core::interactive::interactive;
//! use credkit_refresh_token::{prompt_fn, UserCredentials};
//! use secrecy::SecretString;
//!
//! # async fn f(transport: credkit_reqwest::ReqwestTransport) -> Result<(), Box<dyn std::error::Error>> {
//! let creds = UserCredentials::from_authorized_user_file("adc.json", None)?
//!     .to_builder()
//!     .with_transport(transport)
//!     .with_enable_reauth_refresh(true)
//!     .with_password_prompt(prompt_fn(|prompt| async move {
//!         // Read it without echo, from a terminal the user is at.
//!         # let _ = prompt;
//!         Ok(SecretString::from("..."))
//!     }))
//!     .build()?;
//! let credentials = Credentials::builder(creds.clone()).build()?;
//! let headers = interactive(credentials.headers()).await?; // may ask for the password
//! # let _ = headers;
//! # Ok(())
//! # }
//! # let _ = f;
//! ```
//!
//! The challenges: `PASSWORD` asks the [`PasswordPrompt`] (an empty answer is sent as `" "`);
//! `SAML` fails with the reference's "Please run `gcloud auth login`..."; `SECURITY_KEY` fails
//! with an error saying to plug in a [`ReauthChallenge`] (its docs describe the reference's
//! `WebAuthn` plugin protocol). Any type can be answered by a handler of your own
//! ([`UserCredentialsBuilder::with_reauth_challenge`], [`challenge_fn`]). Without a prompt or a
//! handler the flow still runs as the reference's does: an `AUTHENTICATED` answer to
//! `sessions:start` succeeds, and a challenge fails with "Reauthentication failed.
//! Reauthentication challenge could not be answered because you are not in an interactive
//! session.".
//!
//! The reauth API's base URL is [`DEFAULT_REAUTH_URI`] unless
//! [`UserCredentialsBuilder::with_reauth_uri`] sets another; it must be `https://`, or `http://`
//! to a loopback host. The flow's requests carry the reauth access token as a bearer token, and
//! neither it, the password nor the rapt token reaches a log, an error or `Debug`. The whole
//! refresh, prompts included, runs within the caching layer's flight deadline (180 s by
//! default; `CredentialsBuilder::with_flight_deadline`).
//!
//! # Where credkit departs from the reference
//!
//! - A scope shortfall logs the reference's warning and exposes the granted scopes; it is never
//!   an error. No metrics header is sent.
//! - A non-JSON error body (an HTML 503 page) is a typed error naming status and content type,
//!   never the body; without `error_description` the message is the `error` code alone.
//! - `expires_in` may be a decimal string; `expiry` may be RFC 3339 with an offset; a `type`
//!   other than `authorized_user` is rejected by name; a string `scopes` is split on whitespace
//!   without empty entries.
//! - `with_*` copies keep the token's expiry, and are built (so checked) by the one builder, so
//!   they return a `Result`; any other setting is copied through
//!   [`UserCredentials::to_builder`].
//! - The requested scopes, a scope shortfall and where the credential came from are methods
//!   ([`UserCredentials::requested_scopes`], [`UserCredentials::missing_scopes`],
//!   [`UserCredentials::credential_source`]).
//! - A `"refresh_token": null` in a refresh response keeps the stored refresh token.
//! - Tokens with CR, LF or other control characters are rejected.
//! - Reauthentication runs only when a caller waits (above), and "interactive" means a prompt
//!   or handler was given, not that standard input is a terminal. Its requests are retried as
//!   the reference retries them (above), a connection reset or timeout included, and the
//!   caching layer never starts the challenges over, so the user is asked once per challenge;
//!   the new rapt token is kept as soon as it is obtained. "Reauthentication required." and "Reauthentication successful." are
//!   `tracing` events, not lines on standard error.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod python_json;
mod reauth;
mod user;

// The public interface is:
pub use reauth::{
    Challenge, ChallengeFn, DEFAULT_REAUTH_URI, PASSWORD_PROMPT, PasswordPrompt, PromptFn,
    ProposalResponse, REAUTH_SCOPE, RUN_CHALLENGE_RETRY_LIMIT, ReauthChallenge, challenge_fn,
    prompt_fn,
};
pub use user::{
    DEFAULT_UNIVERSE_DOMAIN, GOOGLE_TOKEN_URI, UserCredentials, UserCredentialsBuilder,
};

/// Re-exported so users of this provider name the same core.
pub use credkit_core as core;
