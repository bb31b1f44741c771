//! mockall mocks of the core traits, for checking interactions.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use credkit_core::{
    AccessToken, Clock, CredentialRecord, Result, Spawner, Storage, TokenSource, Transport,
};
use futures::future::BoxFuture;
use mockall::mock;
use time::OffsetDateTime;

mock! {
    /// A mock [`TokenSource`]: script `fetch_token` with `expect_fetch_token()`.
    ///
    /// To script answers in order, prefer [`ScriptedSource`](crate::ScriptedSource): it also
    /// stamps lifetimes on the test's clock and counts fetches. With mockall, expectations are
    /// matched newest first, so two plain `.times(1)` expectations answer in *reverse* order
    /// once the first is used up; put them in a [`mockall::Sequence`] (`.in_sequence(&mut seq)`
    /// on each) to have them answer in the order written, and fail on any other order.
    ///
    /// ```
    /// use credkit_core::{AccessToken, TokenSource};
    /// use credkit_testing::MockTokenSource;
    ///
    /// let mut source = MockTokenSource::new();
    /// source.expect_fetch_token().times(1).returning(|| Ok(AccessToken::new("t")));
    /// # futures::executor::block_on(async {
    /// assert!(source.fetch_token().await.is_ok());
    /// # });
    /// ```
    pub TokenSource {}

    #[async_trait]
    impl TokenSource for TokenSource {
        async fn fetch_token(&self) -> Result<AccessToken>;
    }
}

mock! {
    /// A mock [`Transport`]: script `send` with `expect_send()`.
    ///
    /// - `withf` gets the request **by reference** (`|request: &http::Request<Bytes>|`), to
    ///   decide whether this expectation matches; `returning` gets it **by value**
    ///   (`|request: http::Request<Bytes>|`), to build the answer, and must return
    ///   `Result<http::Response<Bytes>>`: [`response`](crate::response),
    ///   [`json_response`](crate::json_response) and [`reply_response`](crate::reply_response)
    ///   make one.
    /// - Expectations are tried newest first. For answers in order (a 401, then a 200), put them
    ///   in a [`mockall::Sequence`]:
    ///
    /// ```
    /// use bytes::Bytes;
    /// use credkit_core::Transport;
    /// use credkit_testing::{MockTransport, block_on, mockall::Sequence, response};
    ///
    /// let mut api = MockTransport::new();
    /// let mut seq = Sequence::new();
    /// api.expect_send().times(1).in_sequence(&mut seq).returning(|_| Ok(response(401, "{}")));
    /// api.expect_send()
    ///     .withf(|request| request.headers().contains_key("authorization"))
    ///     .times(1)
    ///     .in_sequence(&mut seq)
    ///     .returning(|request| Ok(response(200, format!("{} ok", request.uri()))));
    /// let get = || http::Request::get("https://api.example.test/").header("authorization", "Bearer t").body(Bytes::new());
    /// assert_eq!(block_on(api.send(get()?))?.status(), 401);
    /// assert_eq!(block_on(api.send(get()?))?.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// ```
    /// use std::sync::Arc;
    /// use bytes::Bytes;
    /// use credkit_core::Transport;
    /// use credkit_testing::MockTransport;
    ///
    /// let mut transport = MockTransport::new();
    /// transport
    ///     .expect_send()
    ///     .withf(|request| request.method() == http::Method::POST)
    ///     .returning(|_| Ok(http::Response::new(Bytes::from_static(b"{}"))));
    /// let transport: Arc<dyn Transport> = Arc::new(transport);
    /// # futures::executor::block_on(async {
    /// let request = http::Request::post("https://example.test/token").body(Bytes::new()).unwrap();
    /// assert_eq!(transport.send(request).await.unwrap().status(), 200);
    /// # });
    /// ```
    pub Transport {}

    #[async_trait]
    impl Transport for Transport {
        async fn send(&self, request: http::Request<Bytes>) -> Result<http::Response<Bytes>>;
    }
}

mock! {
    /// A mock [`Clock`]. For most tests [`FakeClock`](crate::FakeClock) is simpler.
    pub Clock {}

    impl Clock for Clock {
        fn now(&self) -> OffsetDateTime;
        fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
    }
}

mock! {
    /// A mock [`Storage`]: check that a record was stored exactly once, before a token was handed
    /// out, and so on. It offers no lease ([`Storage::lease`] keeps the trait's default,
    /// `Ok(None)`), so tests that set no lease expectation keep working; test lease handling
    /// with a real store or a small double of your own.
    pub Storage {}

    #[async_trait]
    impl Storage for Storage {
        async fn load(&self, key: &str) -> Result<Option<CredentialRecord>>;
        async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()>;
        async fn remove(&self, key: &str) -> Result<()>;
    }
}

mock! {
    /// A mock [`Spawner`]: check that background work was (or was not) spawned.
    pub Spawner {}

    impl Spawner for Spawner {
        fn spawn(&self, future: BoxFuture<'static, ()>);
    }
}

macro_rules! opaque_debug {
    ($($mock:ident),*) => {$(
        impl std::fmt::Debug for $mock {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($mock)).finish_non_exhaustive()
            }
        }
    )*};
}

opaque_debug!(
    MockTokenSource,
    MockTransport,
    MockClock,
    MockStorage,
    MockSpawner
);
