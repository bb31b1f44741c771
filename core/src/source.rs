//! The `TokenSource` trait: how credkit gets a brand-new token.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{AccessToken, Clock, CredentialRecord, Result, RetryPolicy};

/// Something that can fetch a brand-new access token: a refresh-token grant, an external program,
/// a caller's callback, a fixed token.
///
/// Providers implement it, and so can any crate: a plugin provider is a type with this trait,
/// nothing more. Wrap it in [`Credentials`](crate::Credentials) to get caching, single-flight
/// refresh, refresh ahead and retries; a source does none of that itself.
///
/// # Contract
///
/// - **No caching.** Each call fetches a new token. The caching layer decides when to call.
/// - **No retries.** Return the first failure, classified: [`Error::is_transient`] is true only
///   where trying again may help (a timeout, a 503). The retrying layer
///   ([`Retrying`](crate::Retrying)) is the one place retries happen, so one 503 never turns into
///   nine requests.
/// - **Thread safety.** Methods take `&self`; a source is shared as `Arc<dyn TokenSource>` and may
///   be called from several threads, though the caching layer never runs two fetches at once.
///   Keep mutable state (a rotated refresh token) behind interior mutability.
/// - **Cancellation.** The future may be dropped at any `.await`. A dropped fetch must leave the
///   source usable; at worst the work is lost. Do not leave a lock held across an `.await` in a
///   way that a drop could poison.
/// - **Secrets.** Never put a token in an error message or a log line.
/// - **Lifetimes.** Count a token's lifetime from *before* the request, by the [`Clock`] the
///   source was given (the one given to [`Credentials`](crate::Credentials) too): read
///   `clock.now()`, send, then stamp `expires_in` from that instant. A token already expired on
///   arrival is refused by the caching layer with "the token expired N s before it was
///   received: check the clocks".
///
/// `credkit_testing::contract::token_source` checks all of this for an implementation in a few
/// lines.
///
/// # An HTTP plugin
///
/// A source that calls a token endpoint (a broker, an identity provider) sends an
/// `http::Request<Bytes>` through a [`Transport`](crate::Transport) it was given and reads the
/// reply with [`oauth::read_token_response`](crate::oauth::read_token_response), which turns a
/// success into an [`AccessToken`] and every failure into a classified error with no secret in
/// it. `http::Error` converts into [`Error`](crate::Error) with `?`. The `plugin_provider`
/// example in the repository's `examples/` is a complete one:
///
/// ```
/// use std::sync::Arc;
/// use async_trait::async_trait;
/// use credkit_core::{AccessToken, Clock, Result, TokenSource, Transport, bytes::Bytes, oauth};
///
/// # #[allow(dead_code)]
/// #[derive(Debug)]
/// struct Broker {
///     transport: Arc<dyn Transport>,
///     clock: Arc<dyn Clock>,
/// }
///
/// #[async_trait]
/// impl TokenSource for Broker {
///     async fn fetch_token(&self) -> Result<AccessToken> {
///         let request = http::Request::post("https://broker.example.test/token")
///             .body(Bytes::from_static(b"grant_type=client_credentials"))?;
///         let sent_at = self.clock.now(); // before the request
///         let response = self.transport.send(request).await?;
///         oauth::read_token_response(&response, sent_at, &[])
///     }
/// }
/// ```
///
/// [`Clock`]: crate::Clock
///
/// [`Error::is_transient`]: crate::Error::is_transient
///
/// # Examples
///
/// A plugin provider that reads a token from somewhere of its own:
///
/// ```
/// use async_trait::async_trait;
/// use credkit_core::{AccessToken, Result, TokenSource};
///
/// #[derive(Debug)]
/// struct Vault;
///
/// #[async_trait]
/// impl TokenSource for Vault {
///     async fn fetch_token(&self) -> Result<AccessToken> {
///         Ok(AccessToken::new("ya29.from-the-vault"))
///     }
/// }
///
/// # futures::executor::block_on(async {
/// let token = Vault.fetch_token().await?;
/// assert_eq!(token.token_type(), "Bearer");
/// # Ok::<(), credkit_core::Error>(())
/// # }).unwrap();
/// ```
#[async_trait]
pub trait TokenSource: Send + Sync + Debug {
    /// Fetches a brand-new token.
    ///
    /// # Errors
    ///
    /// Any failure, classified as transient or permanent (see the trait docs).
    async fn fetch_token(&self) -> Result<AccessToken>;

    /// A short name for this source in logs and aggregated errors; the type name by default.
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }

    /// A token this source already holds without fetching (the access token saved in a
    /// credentials file beside the refresh token, say), which the caching layer may serve
    /// until it goes stale instead of fetching at once. Default: none.
    ///
    /// [`Credentials`](crate::Credentials) asks for it when it is built, unless its builder was
    /// given one ([`with_initial_token`](crate::CredentialsBuilder::with_initial_token)); a
    /// [`ChainSource`](crate::ChainSource) answers with its first member's. A token that cannot
    /// go into a header is a build error, as with `with_initial_token`.
    fn initial_token(&self) -> Option<AccessToken> {
        None
    }

    /// Takes in a credential record that the caching layer read from its storage, written by
    /// this process earlier or by another one sharing the storage. A source whose state changes
    /// as it fetches (a refresh token that rotates) adopts the stored state, so that its next
    /// fetch uses the refresh token the last holder stored, not one rotated away since.
    /// Default: nothing.
    fn adopt_record(&self, record: &CredentialRecord) {
        let _ = record;
    }

    /// The clock this source reads (to date the tokens it fetches, say), so the caching layer
    /// built over it decides freshness by the same clock. Default: none, and the caching layer
    /// uses its builder's clock, else the [`SystemClock`](crate::SystemClock).
    ///
    /// [`Credentials::builder`](crate::Credentials::builder) asks for it unless its builder was
    /// given one ([`with_clock`](crate::CredentialsBuilder::with_clock)): a provider given a
    /// `FakeClock` in a test needs no second `with_clock` on the credentials.
    fn clock(&self) -> Option<Arc<dyn Clock>> {
        None
    }

    /// The retry policy this source's failures call for, when the default does not suit it: a
    /// local server that refuses connections while it starts (the metadata server on a new
    /// node) wants quick retries, where a remote token endpoint wants backoff. Default: none,
    /// and the caching layer uses its builder's policy, else [`RetryPolicy::default`].
    ///
    /// The caching layer remains the one retry layer: a source states a preference and never
    /// retries on its own. [`CredentialsBuilder::with_retry_policy`](crate::CredentialsBuilder::with_retry_policy)
    /// and [`without_retries`](crate::CredentialsBuilder::without_retries) override it.
    fn retry_policy(&self) -> Option<RetryPolicy> {
        None
    }

    /// The project this source bills requests to, sent as `x-goog-user-project` (the
    /// `quota_project_id` of a credentials file, say). Default: none.
    ///
    /// [`Credentials::builder`](crate::Credentials::builder) uses it unless its builder was given
    /// one ([`with_quota_project`](crate::CredentialsBuilder::with_quota_project)). A source
    /// whose tokens may bill different projects (a [`ChainSource`](crate::ChainSource)) answers
    /// none and sets each token's own [`AccessToken::with_quota_project`] instead.
    fn quota_project(&self) -> Option<&str> {
        None
    }
}

crate::forward_impls! {
    #[async_trait]
    trait TokenSource {
        async fn fetch_token(&self) -> Result<AccessToken>;
        fn name(&self) -> &str;
        fn initial_token(&self) -> Option<AccessToken>;
        fn adopt_record(&self, record: &CredentialRecord);
        fn clock(&self) -> Option<Arc<dyn Clock>>;
        fn retry_policy(&self) -> Option<RetryPolicy>;
        fn quota_project(&self) -> Option<&str>;
    }
}
