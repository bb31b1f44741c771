//! The test kit of credkit, for credkit's own tests and for yours.
//!
//! # Testing code that uses credkit
//!
//! Code of yours that takes a `Credentials` and calls an API is tested with two pieces:
//! [`scripted_credentials`] (credentials whose tokens you script, on a clock you move) and
//! [`FakeApiServer`] (the API on 127.0.0.1, recording the bearer tokens it got, answering
//! `401`s and other statuses as told):
//!
//! ```
//! use std::time::Duration;
//! use credkit_core::Credentials;
//! use credkit_testing::{FakeApiServer, ScriptedCredentials};
//!
//! /// The code under test: a GET with the credentials' headers.
//! async fn get(credentials: &Credentials, url: &str) -> Result<u16, Box<dyn std::error::Error>> {
//!     let headers = credentials.headers().await?;
//!     Ok(reqwest::Client::new().get(url).headers(headers).send().await?.status().as_u16())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let kit = ScriptedCredentials::new(); // numbered one-hour tokens
//! let api = FakeApiServer::start().await?;
//! assert_eq!(get(&kit.credentials, &api.url()).await?, 200);
//! kit.clock.advance(Duration::from_secs(3600)); // the token expires
//! assert_eq!(get(&kit.credentials, &api.url()).await?, 200);
//! assert_eq!(api.bearer_tokens(), ["scripted-token-1", "scripted-token-2"]);
//! # Ok(())
//! # }
//! ```
//!
//! The crate's `tests/user_function.rs` has the three tests such a function needs (the bearer
//! token sent, a `401` leading to one refresh and one replay, an expired token refreshed), each
//! under 15 lines.
//!
//! # What is in the kit
//!
//! - [`scripted_credentials`]: a [`ScriptedCredentials`], that is a `Credentials` over a
//!   [`ScriptedSource`] with both on one [`FakeClock`], in one call.
//! - [`FakeApiServer`]: the API your code calls, on 127.0.0.1: any path, every request
//!   recorded with its headers, scripted [`Reply`]s used once each, a bearer-token check.
//! - [`ScriptedSource`]: an in-memory token source answering tokens or errors in order, with
//!   lifetimes on a [`FakeClock`], a fetch counter, and an optional delay or hang.
//! - [`contract::token_source`]: the `TokenSource` contract suite, for your own providers.
//! - [`capture_logs`]: the `tracing` events a closure emits, to check a warning is logged or
//!   that no secret ever reaches a log line.
//! - [`response`], [`json_response`], [`reply_response`]: responses for mocks;
//!   [`block_on`] for synchronous test bodies such as `proptest!` cases.
//! - [`FakeClock`]: time that moves only when the test says so; pending sleeps complete as it
//!   passes them, and an auto-advance mode makes backoff instant.
//! - [`FakeTokenServer`]: a real HTTP token endpoint on 127.0.0.1 with scripted and hostile
//!   [`Reply`]s and a record of every request; [`FakeTokenEndpoint`] is the same in memory.
//! - [`TestIdTokenIssuer`]: ID tokens (RS256, ES256) signed with per-run keys, and the JWK set
//!   and PEM maps that publish the keys; [`FakeKeyServer`] serves them on 127.0.0.1 with a
//!   configurable `Cache-Control`, a fetch counter and scripted [`KeyServerFault`]s.
//! - [`FakeReauthServer`]: Google's reauthentication API (`sessions:start`, `:continue`) on
//!   127.0.0.1, answering scripted [`ReauthReply`]s with [`FakeChallenge`]s.
//! - [`FakeIamServer`]: the IAM Credentials API (`generateAccessToken`, `generateIdToken`,
//!   `signBlob`, `signJwt`) on 127.0.0.1, with real signatures by a per-run key, scripted
//!   errors and hangs, and a record of every request.
//! - [`FakeStsServer`]: Google's Security Token Service on 127.0.0.1: the token exchange checked
//!   as STS checks it (members, audience, subject token, basic client auth), the refresh-token
//!   grant with strict rotation, scripted [`StsReply`]s, and every [`StsRequest`] recorded.
//! - [`FakeAuthorizationServer`]: Google's OAuth 2.0 authorization server for installed apps on
//!   127.0.0.1: the authorization-code flow with PKCE and a loopback redirect, the device flow
//!   and revocation, checked as Google checks them, with scripted [`AuthorizeReply`]s,
//!   [`TokenReply`]s and [`DevicePoll`]s, and every [`AuthorizationRequest`] recorded.
//! - [`FakeAwsMetadataServer`]: AWS's instance metadata service (`IMDSv1` and `IMDSv2`) on 127.0.0.1,
//!   with scripted faults and a record of requests.
//! - `ScriptedExecutable` (Unix): a program for the executable credential source that prints a
//!   given response, records its arguments and environment, hangs, floods or fails.
//! - Mocks of the core traits, made with mockall: [`MockTokenSource`], [`MockTransport`],
//!   [`MockClock`], [`MockStorage`], [`MockSpawner`].
//! - [`contract`]: contract suites your own implementations run, such as
//!   [`contract::storage::run`] for a `Storage` ([`contract::storage::run_fenced`] for one whose
//!   lease can lapse: fencing by generation) and [`contract::token_source`] for a
//!   `TokenSource`.
//! - [`program_available`]: a test that needs a program (redis-server, postgres, chromium) is
//!   skipped in one line where it is missing, and fails where CI requires it.
//! - [`strategies`]: proptest strategies for secrets, tokens, expiries and scope lists, clock
//!   steps, source behaviour, lifetimes (zero and already expired too) and hostile replies.
//! - [`AdcEnv`]: an isolated environment for Application Default Credentials tests (its own
//!   variables, home, gcloud folder and `PATH`, the metadata server pointed at loopback), as a
//!   lookup for `Adc::with_env` and as variables for a child process.
//! - [`FakeGcloud`] (Unix): an executable that answers like the `gcloud` tool, for the gcloud
//!   provider's tests.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use credkit_core::{AccessToken, Clock, TokenState, REFRESH_THRESHOLD};
//! use credkit_testing::FakeClock;
//!
//! let clock = FakeClock::new();
//! let token = AccessToken::new("t").with_lifetime(clock.now(), Duration::from_secs(3600));
//! assert_eq!(token.state(clock.now(), REFRESH_THRESHOLD), TokenState::Fresh);
//! clock.advance(Duration::from_secs(3600 - 225));
//! assert_eq!(token.state(clock.now(), REFRESH_THRESHOLD), TokenState::Stale);
//! ```
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![doc(test(attr(deny(warnings))))]

mod adc_env;
mod authorization;
mod aws;
mod clock;
pub mod contract;
mod counting;
#[cfg(unix)]
mod executable;
#[cfg(unix)]
mod gcloud;
mod http_serve;
mod iam;
mod id_tokens;
mod keys;
mod logs;
mod metadata;
mod mint;
mod mocks;
mod programs;
mod reauth;
mod reference;
mod responses;
mod scripted;
mod scripted_credentials;
mod server;
pub mod strategies;
mod sts;

// The public interface is:
pub use adc_env::AdcEnv;
pub use authorization::{
    AuthorizationRequest, AuthorizeReply, DevicePoll, FAKE_CLIENT_ID, FAKE_CLIENT_SECRET,
    FAKE_USER_CODE, FAKE_USER_EMAIL, FakeAuthorizationServer, FakeAuthorizationServerBuilder,
    TokenReply,
};
pub use aws::{
    AwsMetadataEndpoint, AwsMetadataFault, AwsMetadataRequest, FAKE_AWS_ACCESS_KEY_ID,
    FAKE_AWS_ROLE, FAKE_AWS_SECRET_ACCESS_KEY, FAKE_AWS_SESSION_TOKEN, FAKE_AWS_ZONE,
    FAKE_IMDSV2_TOKEN, FakeAwsMetadataServer, FakeAwsMetadataServerBuilder,
};
pub use clock::{FAKE_CLOCK_START, FakeClock};
pub use counting::CountingStorage;
#[cfg(unix)]
pub use executable::{ExecutableRun, ScriptedExecutable, ScriptedExecutableBuilder};
#[cfg(unix)]
pub use gcloud::{
    FAKE_GCLOUD_ACCOUNT, FAKE_GCLOUD_TOKEN, FakeGcloud, FakeGcloudBuilder, GcloudReply,
};
pub use iam::{
    FAKE_IAM_DWD_TOKEN, FAKE_IAM_TOKEN, FakeIamServer, FakeIamServerBuilder, IamRequest,
};
pub use id_tokens::{
    FakeKeyServer, KeyServerFault, TEST_ID_TOKEN_EMAIL, TEST_ID_TOKEN_ISSUER,
    TEST_ID_TOKEN_SUBJECT, TestIdTokenIssuer,
};
pub use keys::TestKey;
pub use logs::{LogLine, capture_logs};
pub use metadata::{
    FAKE_METADATA_EMAIL, FAKE_METADATA_PROJECT, FAKE_METADATA_TOKEN, FakeMetadataServer,
    FakeMetadataServerBuilder, MetadataRequest,
};
/// Re-exported so tests name the version the mocks are made with (`mockall::Sequence`, say).
pub use mint::IdTokenMinter;
pub use mockall;
pub use mocks::{MockClock, MockSpawner, MockStorage, MockTokenSource, MockTransport};
pub use programs::program_available;
pub use reauth::{FakeChallenge, FakeReauthServer, ReauthReply};
pub use reference::google_auth_python;
pub use responses::{block_on, json_response, reply_response, response};
pub use scripted::{ScriptedSource, Step};
pub use scripted_credentials::{ScriptedCredentials, scripted_credentials};
pub use server::{
    FAKE_EXPIRES_IN, FakeApiServer, FakeTokenEndpoint, FakeTokenServer, IN_MEMORY_TOKEN_URL,
    JwtBearerCheck, RecordedRequest, Reply,
};
pub use sts::{
    FAKE_STS_REFRESH_TOKEN, FAKE_STS_TOKEN, FakeStsServer, FakeStsServerBuilder, StsReply,
    StsRequest,
};
