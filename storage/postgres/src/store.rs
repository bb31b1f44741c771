//! `PostgresStorage`: records in one table, written by generation-fenced statements; the
//! builder; listing and counting by key range.

use std::fmt::{self, Write as _};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{
    BuildError, CredentialRecord, Fence, FenceCheck, Fences, KeyPage, Lease, LeaseOptions,
    PlainJson, RecordCodec, Result, Storage,
};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::config::Host;
use zeroize::Zeroizing;

use crate::error;
use crate::schema::{self, Tables};

/// The default table prefix.
const DEFAULT_TABLE_PREFIX: &str = "credkit_";
/// The default lease time to live: a holder that dies frees the key after this long.
const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
/// The default interval between lease attempts when no release announcement arrives.
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// The default bound on each call (connecting included).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default number of pooled connections.
const DEFAULT_POOL_SIZE: usize = 4;
/// How many times a fenced store starts again when another process inserted the record it
/// found missing, before it reports contention.
const STORE_ATTEMPTS: usize = 3;

/// A credkit [`Storage`] in Postgres, shared by every process that points at the same database
/// and tables: one refresh per expiry across them, and no lost rotation.
///
/// - **Records** are rows of `PREFIX + records` (the caller's key, the record's bytes through
///   the [`RecordCodec`], a generation, the time of the last store). The tables are created on
///   first use (or by [`migrate`](PostgresStorage::migrate)); the crate's docs give the DDL.
/// - **Lease**: a row of `PREFIX + leases` with a random owner and an expiry on the
///   *database's* clock (`clock_timestamp()`), taken by one statement that also reads the record's
///   generation, renewed in the background (every third of the time to live) while held,
///   released by a compare-and-delete that announces the release (`NOTIFY`). Waiters `LISTEN`
///   and poll as a fallback; both are bounded by [`LeaseOptions::wait`] on its clock. A holder
///   that dies frees the key when the time to live runs out.
/// - **Fencing**: a store made while this handle holds the key's lease runs in a transaction
///   that locks the row (`SELECT ... FOR UPDATE`) and applies core's
///   [`Fence::check`]: a record that another holder stored since the lease began is not
///   overwritten, and the store fails with a permanent
///   [`ErrorKind::Storage`](credkit_core::ErrorKind::Storage) error. Stores without the lease
///   always land and move the generation on, in one statement.
/// - **Failures**: a server out of reach, a restart, a serialization failure is a transient
///   error, so `Credentials` keeps serving by its lease policy; the pool replaces broken
///   connections by itself.
/// - **Clones** share the pool and settings, not leases: each clone is a holder of its own, as
///   another process is. Give each `Credentials` its own clone.
/// - **Secrets** are stored as they are; the database is the trust boundary. To encrypt
///   records before they leave the process, give a [`RecordCodec`] to
///   [`PostgresStorageBuilder::with_codec`]. Keys are stored as they are too (listing needs
///   them), and may not contain a NUL character.
///
/// Needs a tokio runtime.
///
/// ```no_run
/// use credkit_core::{AccessToken, CredentialRecord, Storage};
/// use credkit_storage_postgres::PostgresStorage;
///
/// # #[allow(dead_code)]
/// # async fn run() -> credkit_core::Result<()> {
/// let storage = PostgresStorage::new("postgres://credkit:PASSWORD@db.internal/app")?;
/// let record = CredentialRecord::new().with_access_token(&AccessToken::new("ya29.a"));
/// storage.store("user:client-id", &record).await?;
/// assert!(storage.load("user:client-id").await?.is_some());
/// # Ok(())
/// # }
/// ```
pub struct PostgresStorage {
    pub(crate) inner: Arc<Inner>,
    /// The leases taken through this handle, which fence its stores. Not shared by clones:
    /// each clone is a holder of its own.
    pub(crate) fences: Arc<Fences>,
}

pub(crate) struct Inner {
    pool: Pool,
    /// For the connections that `LISTEN` (outside the pool). Holds the password.
    pub(crate) config: tokio_postgres::Config,
    pub(crate) tables: Tables,
    pub(crate) lease_ttl: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) timeout: Duration,
    codec: Arc<dyn RecordCodec>,
    /// Whether the tables were found (or made) at this credkit's version; false again when a
    /// statement finds a table missing, so that the next call makes it again.
    migrated: AtomicBool,
    /// One migration at a time per handle's shared state.
    migrating: tokio::sync::Mutex<()>,
}

/// Builds a [`PostgresStorage`]: where its tables are, the lease's timing, the timeout, the
/// pool's size and the record codec.
///
/// ```
/// use std::time::Duration;
/// use credkit_storage_postgres::PostgresStorage;
///
/// let storage = PostgresStorage::builder("postgres://credkit@127.0.0.1:5432/app")
///     .with_schema("auth")
///     .with_table_prefix("myapp_")
///     .with_lease_ttl(Duration::from_secs(15))
///     .build()?;
/// assert_eq!(storage.lease_ttl(), Duration::from_secs(15));
/// # Ok::<(), credkit_core::BuildError>(())
/// ```
pub struct PostgresStorageBuilder {
    /// May hold a password: wiped on drop, never shown.
    url: Zeroizing<String>,
    schema: Option<String>,
    table_prefix: String,
    lease_ttl: Duration,
    poll_interval: Duration,
    timeout: Duration,
    pool_size: usize,
    codec: Arc<dyn RecordCodec>,
}

impl PostgresStorage {
    /// A store in the database at `url` (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`, or
    /// libpq's `key=value` pairs), with the default settings. Connects on first use, not here.
    ///
    /// ```
    /// use credkit_storage_postgres::PostgresStorage;
    ///
    /// assert!(PostgresStorage::new("postgres://credkit@127.0.0.1/app").is_ok());
    /// assert!(PostgresStorage::new("postgres://credkit@127.0.0.1:notaport/app").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// A [`BuildError`] when `url` is not a Postgres URL, or names no host.
    pub fn new(url: &str) -> std::result::Result<Self, BuildError> {
        Self::builder(url).build()
    }

    /// A builder for a store in the database at `url`; see [`PostgresStorageBuilder`].
    pub fn builder(url: impl Into<String>) -> PostgresStorageBuilder {
        PostgresStorageBuilder {
            url: Zeroizing::new(url.into()),
            schema: None,
            table_prefix: DEFAULT_TABLE_PREFIX.to_owned(),
            lease_ttl: DEFAULT_LEASE_TTL,
            poll_interval: DEFAULT_POLL_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            pool_size: DEFAULT_POOL_SIZE,
            codec: Arc::new(PlainJson::default()),
        }
    }

    /// The lease's time to live: how long a dead holder keeps other processes waiting.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use credkit_storage_postgres::PostgresStorage;
    /// let storage = PostgresStorage::new("postgres://credkit@127.0.0.1/app")?;
    /// assert_eq!(storage.lease_ttl(), Duration::from_secs(10));
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn lease_ttl(&self) -> Duration {
        self.inner.lease_ttl
    }

    /// The table that holds the records, quoted and qualified as SQL names it (for operators:
    /// `SELECT key, generation, updated_at FROM ...`).
    ///
    /// ```
    /// # use credkit_storage_postgres::PostgresStorage;
    /// let storage = PostgresStorage::builder("postgres://credkit@127.0.0.1/app")
    ///     .with_schema("auth")
    ///     .build()?;
    /// assert_eq!(storage.records_table(), r#""auth"."credkit_records""#);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn records_table(&self) -> &str {
        &self.inner.tables.records
    }

    /// The table that holds the leases, quoted and qualified as SQL names it.
    ///
    /// ```
    /// # use credkit_storage_postgres::PostgresStorage;
    /// let storage = PostgresStorage::new("postgres://credkit@127.0.0.1/app")?;
    /// assert_eq!(storage.leases_table(), r#""credkit_leases""#);
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    pub fn leases_table(&self) -> &str {
        &self.inner.tables.leases
    }

    /// Creates the tables, or brings them up to this credkit's schema version, now rather than
    /// on first use: one transaction under an advisory lock, so that processes starting
    /// together do not race. Does nothing (no DDL) when they are up to date. Each handle does
    /// this by itself before its first statement (and again after a statement found a table
    /// missing): call it to fail at start-up rather than at the first use.
    ///
    /// ```no_run
    /// # use credkit_storage_postgres::PostgresStorage;
    /// # #[allow(dead_code)]
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let storage = PostgresStorage::new("postgres://credkit:PASSWORD@db.internal/app")?;
    /// storage.migrate().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Storage`](credkit_core::ErrorKind::Storage) error when the database
    /// fails, when the user may not create the tables, or when they are at a newer schema
    /// version than this credkit knows (permanent: upgrade credkit).
    pub async fn migrate(&self) -> Result<()> {
        self.run("creating the credkit tables", async {
            self.client_unmigrated().await.map(drop)
        })
        .await
    }

    /// How many records have a key starting with `prefix` (`""`: all of them), by the same
    /// key range as [`Storage::list`]. Reads no record.
    ///
    /// ```no_run
    /// # use credkit_storage_postgres::PostgresStorage;
    /// # #[allow(dead_code)]
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let storage = PostgresStorage::new("postgres://credkit:PASSWORD@db.internal/app")?;
    /// let users = storage.count("user:").await?;
    /// # let _ = users;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// An [`ErrorKind::Storage`](credkit_core::ErrorKind::Storage) error when the database
    /// fails.
    pub async fn count(&self, prefix: &str) -> Result<u64> {
        const DOING: &str = "counting credential records";
        self.run(DOING, async {
            let client = self.client(DOING).await?;
            let end = prefix_end(prefix);
            let records = &self.inner.tables.records;
            let row = if let Some(end) = &end {
                let sql = format!("SELECT count(*) FROM {records} WHERE key >= $1 AND key < $2");
                self.query_one(&client, DOING, &sql, &[&prefix, end])
                    .await?
            } else {
                let sql = format!("SELECT count(*) FROM {records} WHERE key >= $1");
                self.query_one(&client, DOING, &sql, &[&prefix]).await?
            };
            let count: i64 = row
                .try_get(0)
                .map_err(|err| error::statement(DOING, &err))?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .await
    }

    /// Runs `call`, failing it (transient) past the store's timeout. Dropping the call's future
    /// rolls back a transaction it began.
    pub(crate) async fn run<T>(
        &self,
        doing: &str,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.inner.timeout, call).await {
            Ok(outcome) => outcome,
            Err(_) => Err(error::timeout(doing, self.inner.timeout)),
        }
    }

    /// A pooled connection, the tables migrated first (once, and again after a statement
    /// found a table missing; a failed migration is tried again by the next call).
    pub(crate) async fn client(&self, doing: &str) -> Result<Object> {
        if self.inner.migrated.load(Ordering::Acquire) {
            return self
                .inner
                .pool
                .get()
                .await
                .map_err(|err| error::pool(doing, err));
        }
        self.client_unmigrated().await
    }

    async fn client_unmigrated(&self) -> Result<Object> {
        let mut client = self
            .inner
            .pool
            .get()
            .await
            .map_err(|err| error::pool("connecting", err))?;
        let _migrating = self.inner.migrating.lock().await;
        if !self.inner.migrated.load(Ordering::Acquire) {
            schema::migrate(&mut client, &self.inner.tables).await?;
            self.inner.migrated.store(true, Ordering::Release);
        }
        Ok(client)
    }

    /// The error for a failed statement. A table found missing (dropped, or a restore from
    /// before it was made) is made again by the next call: that failure is transient.
    pub(crate) fn failed(
        &self,
        doing: &str,
        source: &tokio_postgres::Error,
    ) -> credkit_core::Error {
        if source.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) {
            self.inner.migrated.store(false, Ordering::Release);
            return error::tables_missing(doing, source);
        }
        error::statement(doing, source)
    }

    /// This handle itself, fences and all (a clone is another holder): for the tasks that act
    /// for one of its leases.
    pub(crate) fn same_holder(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            fences: Arc::clone(&self.fences),
        }
    }

    /// A store under `fence`: in a transaction that locks the row, by core's rule.
    async fn store_fenced(&self, key: &str, bytes: &[u8], fence: &Fence) -> Result<()> {
        const DOING: &str = "storing a credential record";
        let failed = |err: tokio_postgres::Error| self.failed(DOING, &err);
        let records = &self.inner.tables.records;
        let mut client = self.client(DOING).await?;
        let transaction = client.transaction().await.map_err(failed)?;
        let select = transaction
            .prepare_cached(&format!(
                "SELECT generation FROM {records} WHERE key = $1 FOR UPDATE"
            ))
            .await
            .map_err(failed)?;
        let upsert = transaction
            .prepare_cached(&format!(
                "INSERT INTO {records} AS r (key, record, generation) VALUES ($1, $2, $3)
                 ON CONFLICT (key) DO UPDATE
                 SET record = EXCLUDED.record, generation = EXCLUDED.generation, updated_at = now()
                 WHERE r.generation = $4
                 RETURNING generation"
            ))
            .await
            .map_err(failed)?;
        for _ in 0..STORE_ATTEMPTS {
            let found: i64 = match transaction
                .query_opt(&select, &[&key])
                .await
                .map_err(failed)?
            {
                Some(row) => row.try_get(0).map_err(failed)?,
                None => 0,
            };
            let check = fence.check(generation_of(found));
            let generation = match check {
                FenceCheck::Refused { found } => {
                    // Dropping the transaction rolls it back.
                    self.fences.refused(key, fence, found);
                    return Err(fence.refusal(found));
                }
                landing => landing.generation().unwrap_or(u64::MAX),
            };
            // With the row locked, the upsert meets the generation just read; with no row,
            // another process may insert one meanwhile (no lock held it off), and then the
            // upsert lands nothing and the check runs again on that row.
            let landed = transaction
                .query_opt(&upsert, &[&key, &bytes, &to_column(generation), &found])
                .await
                .map_err(failed)?;
            if landed.is_none() {
                continue;
            }
            transaction.commit().await.map_err(failed)?;
            if let FenceCheck::LandsPastLoss { .. } = check {
                tracing::warn!(
                    fence = fence.generation(),
                    generation,
                    "the credential record in Postgres was older than the one this lease began \
                     on (a removal, or a restore from a backup); this holder's newer record \
                     replaced it"
                );
            }
            self.fences.landed(key, fence, generation);
            return Ok(());
        }
        Err(error::contended(DOING))
    }
}

/// A generation read from the table (never negative) as core counts them.
pub(crate) fn generation_of(column: i64) -> u64 {
    u64::try_from(column).unwrap_or(0)
}

/// A generation as the table holds it.
fn to_column(generation: u64) -> i64 {
    i64::try_from(generation).unwrap_or(i64::MAX)
}

/// The least string greater than every string that starts with `prefix` (in the byte order of
/// UTF-8, which the `"C"` collation of the key columns follows), or `None` when there is none
/// (every key then sorts below no bound).
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The next scalar value, past the surrogates.
        let next = match u32::from(last) + 1 {
            0xD800 => 0xE000,
            next => next,
        };
        if let Some(next) = char::from_u32(next) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl PostgresStorage {
    async fn query_one(
        &self,
        client: &Object,
        doing: &str,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<tokio_postgres::Row> {
        let failed = |err: tokio_postgres::Error| self.failed(doing, &err);
        let statement = client.prepare_cached(sql).await.map_err(failed)?;
        client.query_one(&statement, params).await.map_err(failed)
    }
}

impl Clone for PostgresStorage {
    /// Another handle on the same pool and settings, holding no lease: a holder of its own,
    /// whose stores are fenced only by the leases taken through it.
    fn clone(&self) -> PostgresStorage {
        Self {
            inner: Arc::clone(&self.inner),
            fences: Arc::default(),
        }
    }
}

impl PostgresStorageBuilder {
    /// The schema the tables are in (default: none, the first of the connection's search
    /// path, `public` by default), created by the migration if missing. A plain identifier:
    /// letters, digits and underscores.
    #[must_use]
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The prefix of the tables' names (default `credkit_`: `credkit_records`,
    /// `credkit_leases`, `credkit_schema_version`): give each application its own when they
    /// share a database. Letters, digits and underscores, at most 49 bytes; may be empty.
    #[must_use]
    pub fn with_table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = prefix.into();
        self
    }

    /// The lease's time to live (default 10 s, at least 100 ms), on the database's clock:
    /// renewed every third of it while held, so it bounds only how long a dead holder delays
    /// the others.
    #[must_use]
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.max(Duration::from_millis(100));
        self
    }

    /// How often a waiter tries the lease again when no release announcement arrives (default
    /// 250 ms, at least 1 ms).
    #[must_use]
    pub fn with_lease_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The bound on each call, connecting included (default 5 s): an unreachable or stalled
    /// server fails calls within it, as a transient error.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many connections the pool keeps at most (default 4, at least 1). A waiter for a
    /// lease uses one more of its own while it waits, to `LISTEN`.
    #[must_use]
    pub fn with_pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// The codec record bytes pass through on their way to and from Postgres (default
    /// [`PlainJson`]); see [`RecordCodec`] to encrypt them.
    #[must_use]
    pub fn with_codec(mut self, codec: impl RecordCodec + 'static) -> Self {
        self.codec = Arc::new(codec);
        self
    }

    /// The store. Connects on first use, not here.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] (invalid value) when the URL is not a Postgres URL or names no host,
    /// or when the schema or table prefix is not a plain identifier.
    pub fn build(self) -> std::result::Result<PostgresStorage, BuildError> {
        let mut config: tokio_postgres::Config = self.url.parse().map_err(error::bad_url)?;
        if config.get_hosts().is_empty() {
            return Err(error::no_host());
        }
        let tables = Tables::new(self.schema.as_deref(), &self.table_prefix)?;
        config.connect_timeout(self.timeout);
        if config.get_application_name().is_none() {
            config.application_name("credkit");
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.timeout))
            .recycle_timeout(Some(self.timeout))
            .build()
            .map_err(error::bad_pool)?;
        Ok(PostgresStorage {
            inner: Arc::new(Inner {
                pool,
                config,
                tables,
                lease_ttl: self.lease_ttl,
                poll_interval: self.poll_interval,
                timeout: self.timeout,
                codec: self.codec,
                migrated: AtomicBool::new(false),
                migrating: tokio::sync::Mutex::new(()),
            }),
            fences: Arc::default(),
        })
    }
}

#[async_trait]
impl Storage for PostgresStorage {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        const DOING: &str = "loading a credential record";
        let stored = self
            .run(DOING, async {
                let client = self.client(DOING).await?;
                let failed = |err: tokio_postgres::Error| self.failed(DOING, &err);
                let statement = client
                    .prepare_cached(&format!(
                        "SELECT record FROM {} WHERE key = $1",
                        self.inner.tables.records
                    ))
                    .await
                    .map_err(failed)?;
                let row = client
                    .query_opt(&statement, &[&key])
                    .await
                    .map_err(failed)?;
                Ok(row)
            })
            .await?;
        let Some(row) = stored else {
            return Ok(None);
        };
        // Decoded from the row's own buffer: no copy of the stored bytes is made.
        let stored: &[u8] = row
            .try_get(0)
            .map_err(|err| error::statement(DOING, &err))?;
        let json = self
            .inner
            .codec
            .decode(key, stored)
            .map_err(error::undecodable)?;
        drop(row);
        CredentialRecord::from_json(&json)
            .map(Some)
            .map_err(error::malformed)
    }

    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        const DOING: &str = "storing a credential record";
        let json = record.to_json()?;
        let bytes = Zeroizing::new(self.inner.codec.encode(key, &json)?);
        self.run(DOING, async {
            if let Some(fence) = self.fences.fence(key) {
                return self.store_fenced(key, &bytes, &fence).await;
            }
            let client = self.client(DOING).await?;
            let failed = |err: tokio_postgres::Error| self.failed(DOING, &err);
            let statement = client
                .prepare_cached(&format!(
                    "INSERT INTO {} AS r (key, record, generation) VALUES ($1, $2, 1)
                     ON CONFLICT (key) DO UPDATE
                     SET record = EXCLUDED.record, generation = r.generation + 1, updated_at = now()",
                    self.inner.tables.records
                ))
                .await
                .map_err(failed)?;
            client
                .execute(&statement, &[&key, &&bytes[..]])
                .await
                .map(drop)
                .map_err(failed)
        })
        .await
    }

    async fn remove(&self, key: &str) -> Result<()> {
        const DOING: &str = "removing a credential record";
        self.run(DOING, async {
            let client = self.client(DOING).await?;
            let failed = |err: tokio_postgres::Error| self.failed(DOING, &err);
            let statement = client
                .prepare_cached(&format!(
                    "DELETE FROM {} WHERE key = $1",
                    self.inner.tables.records
                ))
                .await
                .map_err(failed)?;
            client
                .execute(&statement, &[&key])
                .await
                .map(drop)
                .map_err(failed)
        })
        .await
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<KeyPage>> {
        const DOING: &str = "listing credential records";
        let limit = limit.max(1);
        let end = prefix_end(prefix);
        // Keyset pagination on the primary key's range for the prefix: no LIKE pattern (whose
        // wildcards would need escaping), and an index range scan that stops at the page.
        let mut sql = format!(
            "SELECT key FROM {} WHERE key >= $1",
            self.inner.tables.records
        );
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&prefix, &fetch];
        // No `key > ''` without a cursor: it would leave the empty key out.
        if let Some(after) = &cursor {
            params.push(after);
            let _ = write!(sql, " AND key > ${}", params.len());
        }
        if let Some(end) = &end {
            params.push(end);
            let _ = write!(sql, " AND key < ${}", params.len());
        }
        sql.push_str(" ORDER BY key LIMIT $2");
        let rows = self
            .run(DOING, async {
                let client = self.client(DOING).await?;
                let failed = |err: tokio_postgres::Error| self.failed(DOING, &err);
                let statement = client.prepare_cached(&sql).await.map_err(failed)?;
                client.query(&statement, &params).await.map_err(failed)
            })
            .await?;
        let mut keys = rows
            .iter()
            .map(|row| row.try_get::<_, String>(0))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|err| error::statement(DOING, &err))?;
        let next = if keys.len() > limit {
            keys.truncate(limit);
            keys.last().cloned()
        } else {
            None
        };
        Ok(Some(KeyPage::new(keys, next)))
    }

    async fn lease(&self, key: &str, options: &LeaseOptions) -> Result<Option<Lease>> {
        crate::lease::take(self, key, options).await.map(Some)
    }
}

/// Where `config` connects, without the user's password: hosts (or socket directories),
/// ports, database and user.
fn describe(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            // One port stands for every host's, as in libpq.
            let port = match ports {
                [one] => *one,
                _ => ports.get(i).copied().unwrap_or(5432),
            };
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    format!(
        "{}/{} as {}",
        hosts.join(","),
        config.get_dbname().unwrap_or(""),
        config.get_user().unwrap_or("(the default user)")
    )
}

impl fmt::Debug for PostgresStorageBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: only where it connects is shown.
        let mut debug = f.debug_struct("PostgresStorageBuilder");
        match self.url.parse::<tokio_postgres::Config>() {
            Ok(config) => debug.field("server", &format_args!("{}", describe(&config))),
            Err(_) => debug.field("server", &format_args!("(not a Postgres URL)")),
        };
        debug
            .field("schema", &self.schema)
            .field("table_prefix", &self.table_prefix)
            .field("lease_ttl", &self.lease_ttl)
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .field("pool_size", &self.pool_size)
            .field("codec", &self.codec)
            .finish()
    }
}

impl fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The configuration holds the password: only where it connects is shown.
        f.debug_struct("PostgresStorage")
            .field("server", &format_args!("{}", describe(&self.inner.config)))
            .field("records", &self.inner.tables.records)
            .field("lease_ttl", &self.inner.lease_ttl)
            .field("poll_interval", &self.inner.poll_interval)
            .field("timeout", &self.inner.timeout)
            .field("codec", &self.inner.codec)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_bound_exactly_the_keys_under_the_prefix() {
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("user-").as_deref(), Some("user."));
        assert_eq!(prefix_end("a%_").as_deref(), Some("a%`"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end("x\u{D7FF}").as_deref(), Some("x\u{E000}"));
        let end = prefix_end("user-").unwrap();
        for under in ["user-", "user-1", "user-\u{10FFFF}\u{10FFFF}"] {
            assert!(under >= "user-" && under < end.as_str(), "{under:?}");
        }
        for outside in ["user", "user.", "user/", "userz"] {
            assert!(
                !(outside >= "user-" && outside < end.as_str()),
                "{outside:?}"
            );
        }
    }

    #[test]
    fn settings_are_read_back_and_debug_hides_the_password() {
        let builder = PostgresStorage::builder("postgres://me:hunter2@db.internal:6543/app")
            .with_table_prefix("app_")
            .with_lease_ttl(Duration::from_millis(1))
            .with_pool_size(0);
        let shown = format!("{builder:?}");
        assert!(shown.contains("db.internal:6543/app as me"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let storage = builder.build().unwrap();
        assert_eq!(storage.lease_ttl(), Duration::from_millis(100));
        assert_eq!(storage.records_table(), "\"app_records\"");
        assert_eq!(storage.leases_table(), "\"app_leases\"");
        let shown = format!("{storage:?}");
        assert!(shown.contains("db.internal:6543/app as me"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let shown = format!("{:?}", PostgresStorage::builder("not: a url"));
        assert!(shown.contains("(not a Postgres URL)"), "{shown}");
    }

    #[test]
    fn generations_convert_without_wrapping() {
        assert_eq!(generation_of(7), 7);
        assert_eq!(generation_of(-1), 0);
        assert_eq!(to_column(7), 7);
        assert_eq!(to_column(u64::MAX), i64::MAX);
    }

    #[test]
    fn describe_names_every_host_and_port_and_the_default_ones() {
        let config: tokio_postgres::Config = "host=a,b port=1,2 dbname=app user=me password=pw"
            .parse()
            .unwrap();
        assert_eq!(describe(&config), "a:1,b:2/app as me");
        let config: tokio_postgres::Config = "host=a,b port=7 dbname=app user=me".parse().unwrap();
        assert_eq!(describe(&config), "a:7,b:7/app as me");
        let config: tokio_postgres::Config = "postgres://db.internal".parse().unwrap();
        assert_eq!(describe(&config), "db.internal:5432/ as (the default user)");
        let config: tokio_postgres::Config = "host=/run/postgresql port=6000 dbname=app user=me"
            .parse()
            .unwrap();
        assert_eq!(describe(&config), "/run/postgresql:6000/app as me");
    }

    #[test]
    fn bad_urls_and_names_are_refused_at_build() {
        assert!(PostgresStorage::new("postgres://me:pw@db/app?sslmode=bogus").is_err());
        assert!(PostgresStorage::new("postgres:///app").is_err());
        let error = PostgresStorage::builder("postgres://me:hunter2@db/app")
            .with_schema("a;b")
            .build()
            .unwrap_err();
        assert!(!error.to_string().contains("hunter2"));
    }
}
