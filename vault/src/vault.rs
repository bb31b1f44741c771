//! `Vault`: users' credentials built on demand from the client and the stored record, kept hot
//! in a bounded cache, loaded once per cold user, inserted and removed under the user's lease.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use credkit_core::http::HeaderMap;
use credkit_core::{
    AccessToken, BuildError, Clock, CredentialRecord, Credentials, CredentialsBuilder, Error,
    KeyPage, Lease, LeaseOptions, REFRESH_THRESHOLD, RefreshEvent, Result, Spawner, Storage,
    SystemClock, Transport,
};
use credkit_login::{OAuthClient, Revocation, Revoker, TokenKind};
use credkit_refresh_token::UserCredentials;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared as SharedFuture};
use quick_cache::{Lifecycle, UnitWeighter};

use crate::error;
use crate::events::{Observer, VaultEvent};
use crate::grant::Grant;
use crate::meta::Meta;
use crate::source::{UserSource, UserState};
use crate::status::{Inserted, Removed, UserStatus};

/// The default prefix of the storage keys of users' records.
pub const DEFAULT_KEY_PREFIX: &str = "vault:";
/// The default bound on users kept in memory.
pub const DEFAULT_CAPACITY: u64 = 100_000;
/// How long a user whose consent is needed is refused without a look at the storage.
pub const DEFAULT_CONSENT_RECHECK: Duration = Duration::from_secs(30);
/// How long an insert, a removal or a re-encryption waits for the user's lease.
const LEASE_WAIT: Duration = Duration::from_secs(30);
/// Keys listed per page when counting.
const COUNT_PAGE: usize = 1000;

/// A vault of many users' credentials for a service that acts for them: each user's refresh
/// token in a shared [`Storage`] under `PREFIX + user ID`, served with the same hot path as one
/// [`Credentials`], refreshed once per user per expiry across every process sharing the
/// storage (through its lease), and a revoked grant handled once.
///
/// - **Hot users** stay in memory, at most [`with_capacity`](VaultBuilder::with_capacity) of
///   them (a `quick_cache` cache: S3-FIFO, scan resistant). A cached user's
///   [`headers`](Vault::headers) is one cache lookup (tens of nanoseconds) plus
///   `Credentials::headers`. A user whose rotated refresh token waits for the storage is pinned:
///   never evicted until a store confirms the rotation. Each user's `Credentials` keeps one
///   copy of its header values ([`with_header_copies(1)`](CredentialsBuilder::with_header_copies);
///   [`with_credentials`](VaultBuilder::with_credentials) can change it) and its record in
///   compact form.
/// - **A cold user** costs one read of the storage: the record is loaded once (concurrent
///   callers share the load) and given to the user's `Credentials`
///   ([`with_loaded_record`](CredentialsBuilder::with_loaded_record)); a refresh then reads it
///   again only under the lease.
/// - **Revocation**: a refresh answered `invalid_grant` marks the record "consent needed" in
///   the storage, so every process stops refreshing the user; it is reported once
///   ([`VaultEvent::ConsentNeeded`]) and calls fail with [`Refusal::ConsentNeeded`](crate::Refusal)
///   without a request, reading the storage again at most every
///   [`consent recheck interval`](VaultBuilder::with_consent_recheck), until a new grant is
///   [inserted](Vault::insert).
/// - **Encryption at rest** is the storage's codec's job: give Redis or Postgres a
///   [`SealedCodec`](crate::SealedCodec).
///
/// Clones share everything. Runtime-free: give a [`Spawner`] for refreshes ahead of expiry,
/// and so that a rotation the store could not take is stored again in the background (its
/// user's lease released as soon as it lands, not at the user's next refresh).
///
/// ```
/// use credkit_core::MemoryStorage;
/// use credkit_login::OAuthClient;
/// use credkit_testing::{FakeTokenEndpoint, Reply};
/// use credkit_vault::{Grant, Vault};
///
/// # futures::executor::block_on(async {
/// let endpoint = FakeTokenEndpoint::new();
/// endpoint.push_reply(Reply::token("ya29.for-alice"));
/// let client = OAuthClient::new("client-id", Some("client-secret".to_owned().into()))
///     .with_token_uri(endpoint.token_url());
/// let vault = Vault::builder(client, MemoryStorage::new())
///     .with_transport(endpoint.clone())
///     .build()?;
///
/// vault.insert("alice", Grant::new("1//alice-refresh".to_owned())).await?;
/// let headers = vault.headers("alice").await?;
/// assert_eq!(headers["authorization"], "Bearer ya29.for-alice");
/// assert_eq!(vault.count().await?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Vault {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    /// The client's credentials without a user: each user's are a copy with the user's record.
    template: UserCredentials,
    revoker: Revoker,
    prefix: String,
    cache: Users,
    /// Cold users being loaded: concurrent callers share one load.
    loading: Mutex<HashMap<Arc<str>, Loading>>,
    spawner: Option<Arc<dyn Spawner>>,
    configure: Option<Configure>,
}

/// What a user's source needs of the vault.
pub(crate) struct Shared {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) consent_recheck: Duration,
    observer: Option<Observer>,
}

impl Shared {
    pub(crate) fn emit(&self, event: &VaultEvent) {
        if let Some(observer) = &self.observer
            && std::panic::catch_unwind(AssertUnwindSafe(|| observer(event))).is_err()
        {
            tracing::error!("the vault's event observer panicked; the event was dropped");
        }
    }
}

/// One user in memory.
#[derive(Clone)]
struct Entry {
    credentials: Credentials,
    state: Arc<UserState>,
}

/// The hot users: at most the capacity, a user with an unstored rotation pinned.
type Users = quick_cache::sync::Cache<Arc<str>, Entry, UnitWeighter, RandomState, Pinning>;

/// Pins a user whose rotated refresh token the storage has not taken: evicted, the rotation
/// would be lost (and with a strictly rotating server, the user logged out).
#[derive(Clone, Copy, Debug)]
struct Pinning;

impl Lifecycle<Arc<str>, Entry> for Pinning {
    type RequestState = ();

    fn is_pinned(&self, _user: &Arc<str>, entry: &Entry) -> bool {
        entry.credentials.has_unstored_rotation()
    }

    fn begin_request(&self) -> Self::RequestState {}
}

type Loading = SharedFuture<BoxFuture<'static, std::result::Result<Entry, Error>>>;
type Configure = Arc<dyn Fn(CredentialsBuilder) -> CredentialsBuilder + Send + Sync>;

/// Builds a [`Vault`]: the client, the storage, the transport, and how many users to keep in
/// memory.
pub struct VaultBuilder {
    client: OAuthClient,
    storage: Arc<dyn Storage>,
    transport: Option<Arc<dyn Transport>>,
    clock: Arc<dyn Clock>,
    scopes: Vec<String>,
    quota_project: Option<String>,
    prefix: String,
    capacity: u64,
    spawner: Option<Arc<dyn Spawner>>,
    observer: Option<Observer>,
    configure: Option<Configure>,
    consent_recheck: Duration,
}

impl Vault {
    /// A builder for a vault of `client`'s users (its ID, secret, token and revocation
    /// endpoints), stored in `storage`.
    pub fn builder(client: OAuthClient, storage: impl Storage + 'static) -> VaultBuilder {
        VaultBuilder {
            client,
            storage: Arc::new(storage),
            transport: None,
            clock: Arc::new(SystemClock),
            scopes: Vec::new(),
            quota_project: None,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            capacity: DEFAULT_CAPACITY,
            spawner: None,
            observer: None,
            configure: None,
            consent_recheck: DEFAULT_CONSENT_RECHECK,
        }
    }

    /// The storage key of `user`'s record.
    ///
    /// ```
    /// # use credkit_vault::Vault;
    /// # let vault = Vault::builder(credkit_login::OAuthClient::new("c", None), credkit_core::MemoryStorage::new())
    /// #     .with_transport(credkit_testing::MockTransport::new()).build()?;
    /// assert_eq!(vault.storage_key("alice"), "vault:alice");
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn storage_key(&self, user: &str) -> String {
        format!("{}{user}", self.inner.prefix)
    }

    /// `user`'s credentials: from memory, or built from the stored record (one read).
    ///
    /// # Errors
    ///
    /// [`Refusal::UnknownUser`](crate::Refusal::UnknownUser) when nothing is stored for the
    /// user, [`Refusal::ConsentNeeded`](crate::Refusal::ConsentNeeded) when the grant was
    /// refused, [`Refusal::InvalidUserId`](crate::Refusal::InvalidUserId), or the storage's
    /// error.
    pub async fn credentials(&self, user: &str) -> Result<Credentials> {
        self.entry(user).await.map(|entry| entry.credentials)
    }

    /// The headers that authorize a request for `user`: `authorization` (and
    /// `x-goog-user-project` with a quota project). A cached fresh token costs one cache lookup
    /// plus [`Credentials::headers`].
    ///
    /// # Errors
    ///
    /// As [`credentials`](Self::credentials), and the refresh's error.
    pub async fn headers(&self, user: &str) -> Result<HeaderMap> {
        self.entry(user).await?.credentials.headers().await
    }

    /// `user`'s access token.
    ///
    /// # Errors
    ///
    /// As [`headers`](Self::headers).
    pub async fn access_token(&self, user: &str) -> Result<Arc<AccessToken>> {
        self.entry(user).await?.credentials.access_token().await
    }

    /// Stores `grant` for `user`, atomically under the user's lease: a user's first grant, or a
    /// new consent after a revocation. Every process uses it from its next refresh; this one at
    /// once.
    ///
    /// # Errors
    ///
    /// [`Refusal::NewerGrant`](crate::Refusal::NewerGrant) when the stored grant was given later
    /// than this one (unless [`Grant::replacing`]); the storage's error (nothing changed).
    pub async fn insert(&self, user: &str, grant: Grant) -> Result<Inserted> {
        error::check_user(user)?;
        let key = self.storage_key(user);
        let now = self.inner.shared.clock.now();
        let granted_at = grant.granted_at.unwrap_or(now);
        let inserted = self
            .under_lease(user, &key, async |storage| {
                let stored = storage.load(&key).await?;
                if let Some(stored) = &stored {
                    let meta = Meta::read(stored);
                    let newer = meta.consent_needed_at.is_none()
                        && meta.granted_at.is_some_and(|at| at > granted_at);
                    if newer && !grant.replacing {
                        return Err(error::newer_grant(user));
                    }
                }
                let mut record =
                    CredentialRecord::new().with_refresh_token(grant.refresh_token.clone());
                if let Some(token) = &grant.access_token {
                    record = record.with_access_token(token);
                }
                let record = Meta {
                    granted_at: Some(granted_at),
                    consent_needed_at: None,
                }
                .write(record);
                storage.store(&key, &record).await?;
                Ok(if stored.is_some() {
                    Inserted::Replaced
                } else {
                    Inserted::New
                })
            })
            .await?;
        self.forget(user);
        Ok(inserted)
    }

    /// Revokes `user`'s refresh token at the client's revocation endpoint (RFC 7009), then
    /// deletes the record, under the user's lease. A token the server no longer knows is not an
    /// error.
    ///
    /// # Errors
    ///
    /// The revocation's error (a transport failure: the record is kept, so that a retry can
    /// revoke it), or the storage's.
    pub async fn remove(&self, user: &str) -> Result<Removed> {
        error::check_user(user)?;
        let key = self.storage_key(user);
        let revoker = self.inner.revoker.clone();
        let removed = self
            .under_lease(user, &key, async |storage| {
                let Some(record) = storage.load(&key).await? else {
                    return Ok(Removed::NotStored);
                };
                let removed = match record.refresh_token() {
                    Some(token) => match revoker.revoke(token, TokenKind::RefreshToken).await? {
                        Revocation::AlreadyInvalid => Removed::AlreadyInvalid,
                        _ => Removed::Revoked,
                    },
                    None => Removed::AlreadyInvalid,
                };
                storage.remove(&key).await?;
                Ok(removed)
            })
            .await?;
        self.forget(user);
        Ok(removed)
    }

    /// `user`'s standing, read from the storage (never a token).
    ///
    /// # Errors
    ///
    /// [`Refusal::InvalidUserId`](crate::Refusal::InvalidUserId), or the storage's error.
    pub async fn status(&self, user: &str) -> Result<UserStatus> {
        error::check_user(user)?;
        let key = self.storage_key(user);
        let record = error::guarded("reading", self.inner.shared.storage.load(&key)).await?;
        let now = self.inner.shared.clock.now();
        let cached = self.inner.cache.contains_key(user);
        Ok(UserStatus::new(
            user,
            record.as_ref(),
            now,
            REFRESH_THRESHOLD,
            cached,
        ))
    }

    /// One page of at most `limit` users, from `cursor` (`None`: the first page; else the last
    /// page's [`KeyPage::next`]). Reads no record.
    ///
    /// # Errors
    ///
    /// A [`Configuration`](credkit_core::ErrorKind::Configuration) error when the storage
    /// cannot list (Redis: build it with `with_listing`), or the storage's error.
    pub async fn list(&self, cursor: Option<&str>, limit: usize) -> Result<KeyPage> {
        let prefix = &self.inner.prefix;
        let page = error::guarded(
            "listing",
            self.inner.shared.storage.list(prefix, cursor, limit),
        )
        .await?
        .ok_or_else(error::cannot_list)?;
        let (keys, next) = page.into_parts();
        let users = keys
            .into_iter()
            .filter_map(|key| key.strip_prefix(prefix.as_str()).map(str::to_owned))
            .collect();
        Ok(KeyPage::new(users, next))
    }

    /// How many users have a grant stored. Pages through the keys (reads no record).
    ///
    /// # Errors
    ///
    /// As [`list`](Self::list).
    pub async fn count(&self) -> Result<u64> {
        let mut count = 0u64;
        let mut cursor: Option<String> = None;
        loop {
            let page = self.list(cursor.as_deref(), COUNT_PAGE).await?;
            let (users, next) = page.into_parts();
            count = count.saturating_add(users.len() as u64);
            match next {
                Some(next) => cursor = Some(next),
                None => return Ok(count),
            }
        }
    }

    /// Stores `user`'s record again, as it is, under the user's lease: the storage's codec
    /// seals it with its current key (what re-encryption after a key rotation does, user by
    /// user). False when nothing is stored.
    ///
    /// # Errors
    ///
    /// The storage's error (a record sealed with a key the codec no longer has cannot be read).
    pub async fn reseal(&self, user: &str) -> Result<bool> {
        error::check_user(user)?;
        let key = self.storage_key(user);
        self.under_lease(user, &key, async |storage| {
            let Some(record) = storage.load(&key).await? else {
                return Ok(false);
            };
            storage.store(&key, &record).await?;
            Ok(true)
        })
        .await
    }

    /// Drops `user`'s credentials from this process's memory (not from the storage): the next
    /// call loads the record again. (A rotation not yet stored goes with them: the vault only
    /// forgets a user on purpose, after a new grant or a removal.)
    pub fn forget(&self, user: &str) {
        self.inner.cache.remove(user);
    }

    /// How many users this process holds in memory.
    pub fn users_in_memory(&self) -> u64 {
        self.inner.cache.len() as u64
    }

    /// The user's entry: cached, kept aside, or loaded.
    async fn entry(&self, user: &str) -> Result<Entry> {
        if let Some(entry) = self.inner.cache.get(user) {
            if !entry.state.consent_needed() {
                return Ok(entry);
            }
            let now = self.inner.shared.clock.now().unix_timestamp();
            if entry
                .state
                .refuse_without_looking(now, self.inner.shared.consent_recheck)
            {
                return Err(error::consent_needed(user));
            }
            // Time to look again: a new grant may have been inserted by another process.
            self.inner.cache.remove(user);
        }
        error::check_user(user)?;
        let entry = self.load(user).await?;
        if entry.state.consent_needed() {
            let now = self.inner.shared.clock.now().unix_timestamp();
            entry
                .state
                .refuse_without_looking(now, self.inner.shared.consent_recheck);
            return Err(error::consent_needed(user));
        }
        Ok(entry)
    }

    /// Loads a cold user, sharing the load with concurrent callers.
    async fn load(&self, user: &str) -> Result<Entry> {
        let loading = {
            let mut loading = self
                .inner
                .loading
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(shared) = loading.get(user) {
                shared.clone()
            } else {
                let user: Arc<str> = Arc::from(user);
                let key = Arc::clone(&user);
                let vault = self.clone();
                let shared = async move {
                    let built = vault.build_entry(&user).await;
                    if let Ok(entry) = &built {
                        vault.inner.cache.insert(Arc::clone(&user), entry.clone());
                    }
                    vault
                        .inner
                        .loading
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .remove(&user);
                    built
                }
                .boxed()
                .shared();
                loading.insert(key, shared.clone());
                shared
            }
        };
        loading.await
    }

    /// `user`'s entry from the stored record.
    async fn build_entry(&self, user: &Arc<str>) -> Result<Entry> {
        let key = self.storage_key(user);
        let shared = &self.inner.shared;
        let record = error::guarded("loading", shared.storage.load(&key))
            .await?
            .ok_or_else(|| error::unknown_user(user))?;
        let state = Arc::new(UserState::new(
            Meta::read(&record).consent_needed_at.is_some(),
        ));
        let source = UserSource {
            user: Arc::clone(user),
            key: key.clone(),
            // The token goes to the cache (the loaded record seeds it), not to a second copy
            // in the source's state.
            credentials: self
                .inner
                .template
                .with_record(&record.clone().without_access_token()),
            state: Arc::clone(&state),
            shared: Arc::clone(shared),
        };
        let mut builder = Credentials::builder(source)
            .with_clock(Arc::clone(&shared.clock))
            .with_storage(Arc::clone(&shared.storage), key)
            .with_loaded_record(record)
            // One user's credentials are rarely used on many cores at once: one copy of the
            // header values, not one per core (see `CredentialsBuilder::with_header_copies`).
            .with_header_copies(1);
        if let Some(spawner) = &self.inner.spawner {
            builder = builder.with_spawner(Arc::clone(spawner));
        }
        if shared.observer.is_some() {
            let (shared, user) = (Arc::clone(shared), Arc::clone(user));
            builder = builder.on_refresh(move |event: &RefreshEvent| {
                shared.emit(&VaultEvent::Refresh {
                    user: Arc::clone(&user),
                    event: event.clone(),
                });
            });
        }
        if let Some(configure) = &self.inner.configure {
            builder = configure(builder);
        }
        let credentials = builder.build().map_err(error::build)?;
        Ok(Entry { credentials, state })
    }

    /// Runs `change` with the storage while holding `user`'s lease (when the storage offers
    /// one), so that it never races a refresh or another change.
    async fn under_lease<T>(
        &self,
        user: &str,
        key: &str,
        change: impl AsyncFnOnce(&Arc<dyn Storage>) -> Result<T>,
    ) -> Result<T> {
        let storage = &self.inner.shared.storage;
        let options = LeaseOptions::new(LEASE_WAIT, Arc::clone(&self.inner.shared.clock));
        let lease: Option<Lease> = error::guarded("leasing", storage.lease(key, &options))
            .await
            .map_err(|err| error::no_lease(user, err))?;
        let outcome = error::guarded("changing", change(storage)).await;
        if let Some(lease) = lease
            && let Err(err) = lease.release().await
        {
            tracing::warn!(user, error = %err, "releasing the lease on a user's record failed; it lapses by itself");
        }
        outcome
    }
}

impl VaultBuilder {
    /// The transport to the token and revocation endpoints (required): `credkit-reqwest`'s, or
    /// a test's.
    #[must_use]
    pub fn with_transport(mut self, transport: impl Transport + 'static) -> Self {
        self.transport = Some(Arc::new(transport));
        self
    }

    /// The clock (default: the system's).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The scopes each refresh asks for (default: none, which keeps what the user granted).
    #[must_use]
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The project billed for every user's API calls (sent as `x-goog-user-project`).
    #[must_use]
    pub fn with_quota_project(mut self, project: impl Into<String>) -> Self {
        self.quota_project = Some(project.into());
        self
    }

    /// The prefix of users' storage keys (default `vault:`): a user's record is under
    /// `PREFIX + user ID`. Give each application sharing a storage its own.
    #[must_use]
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// At most `users` users kept in memory (default 100 000, at least 1); the least useful are
    /// evicted first (S3-FIFO), never one whose rotated refresh token waits for the storage.
    #[must_use]
    pub fn with_capacity(mut self, users: u64) -> Self {
        self.capacity = users;
        self
    }

    /// Where users' refreshes ahead of expiry run, and the stores of rotations the store could
    /// not take at first (default: none; a caller drives refreshes, and a rotation waits for
    /// its user's next refresh, keeping the user's lease until then).
    #[must_use]
    pub fn with_spawner<M>(mut self, spawner: impl credkit_core::IntoSpawner<M>) -> Self {
        self.spawner = Some(Arc::new(spawner.into_spawner()));
        self
    }

    /// Calls `observer` on every [`VaultEvent`]. It runs inline: keep it short, never block.
    #[must_use]
    pub fn on_event<F>(mut self, observer: F) -> Self
    where
        F: Fn(&VaultEvent) + Send + Sync + 'static,
    {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// Adjusts each user's [`CredentialsBuilder`] before it is built (the refresh threshold,
    /// the retry policy, the lease policy, the header copies...).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use credkit_vault::Vault;
    /// let vault = Vault::builder(credkit_login::OAuthClient::new("c", None), credkit_core::MemoryStorage::new())
    ///     .with_transport(credkit_testing::MockTransport::new())
    ///     .with_credentials(|builder| builder.with_refresh_threshold(Duration::from_secs(300)))
    ///     .build()?;
    /// # let _ = vault;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    #[must_use]
    pub fn with_credentials<F>(mut self, configure: F) -> Self
    where
        F: Fn(CredentialsBuilder) -> CredentialsBuilder + Send + Sync + 'static,
    {
        self.configure = Some(Arc::new(configure));
        self
    }

    /// How long calls for a user whose consent is needed are refused without reading the
    /// storage again (default 30 s): the delay before this process notices a grant inserted
    /// by another.
    #[must_use]
    pub fn with_consent_recheck(mut self, interval: Duration) -> Self {
        self.consent_recheck = interval;
        self
    }

    /// The vault.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] when no transport was given, or the client's settings are not usable.
    pub fn build(self) -> std::result::Result<Vault, BuildError> {
        let transport = self
            .transport
            .ok_or_else(|| BuildError::missing_field("transport"))?;
        let mut template = UserCredentials::builder()
            .with_client_id(self.client.client_id())
            .with_token_uri(self.client.token_uri())
            .with_transport(Arc::clone(&transport))
            .with_clock(Arc::clone(&self.clock));
        if let Some(secret) = self.client.client_secret() {
            template = template.with_client_secret(secret.clone());
        }
        if !self.scopes.is_empty() {
            template = template.with_scopes(self.scopes.clone());
        }
        if let Some(project) = &self.quota_project {
            template = template.with_quota_project(project.clone());
        }
        let template = template.build()?;
        let revoker = Revoker::new(transport)
            .with_uri(self.client.revoke_uri())
            .with_clock(Arc::clone(&self.clock));
        let shared = Arc::new(Shared {
            storage: self.storage,
            clock: self.clock,
            consent_recheck: self.consent_recheck,
            observer: self.observer,
        });
        let capacity = self.capacity.max(1);
        let cache = Users::with(
            usize::try_from(capacity).unwrap_or(usize::MAX),
            capacity,
            UnitWeighter,
            RandomState::new(),
            Pinning,
        );
        Ok(Vault {
            inner: Arc::new(Inner {
                shared,
                template,
                revoker,
                prefix: self.prefix,
                cache,
                loading: Mutex::default(),
                spawner: self.spawner,
                configure: self.configure,
            }),
        })
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("prefix", &self.inner.prefix)
            .field("storage", &self.inner.shared.storage)
            .field("cached", &self.inner.cache.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for VaultBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VaultBuilder")
            .field("client", &self.client)
            .field("storage", &self.storage)
            .field("scopes", &self.scopes)
            .field("quota_project", &self.quota_project)
            .field("prefix", &self.prefix)
            .field("capacity", &self.capacity)
            .field("consent_recheck", &self.consent_recheck)
            .finish_non_exhaustive()
    }
}
