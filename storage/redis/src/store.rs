//! `RedisStorage`: records in Redis hashes, written by generation-fenced compare-and-set.
//!
//! **Failover.** A store under a lease is refused only when the record's generation is
//! *higher* than the lease's fence, not whenever it differs. While Redis keeps its writes,
//! generations only grow, and a holder that took the lease after this one (and so may hold a
//! record made from this one's, or a newer rotation) writes a higher generation: it wins. A
//! *lower* generation means Redis lost writes (a failover to a replica that lagged, a removal,
//! a restart without persistence), and the holder's record was made from a newer one than
//! Redis holds now. An exact-match fence refused it, after which `Credentials` adopted the
//! older record and dropped the rotation it held (with a strictly rotating server, the user is
//! logged out at the next refresh). So such a store lands, at the fence plus one: past every
//! generation the holder knew, so a holder whose lease began on the lost history is fenced off
//! by it. A number can then be reused (the replica's generation 6 is not the lost 6), but a
//! record at or below the fence that is not the one the lease began on was made under a later
//! lease from an older record than the holder's, with an older refresh token (which a strictly
//! rotating server had already refused): the holder that knew more wins it. Nobody is fenced
//! for good: a fence lives as long as its lease, and the next lease starts from the generation
//! it finds. What a replica never got cannot be given back: a process that was not refreshing
//! during the failover adopts the older record at its next refresh (`Credentials` trusts the
//! record under the lease), so where rotations are strict, keep replicas in step
//! (`min-replicas-to-write`, `WAIT`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use credkit_core::{
    BuildError, CredentialRecord, Fences, KeyPage, Lease, LeaseOptions, PlainJson, RecordCodec,
    Result, Storage,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use crate::error;
use crate::keys::Names;
use crate::scripts;

/// The default key prefix.
const DEFAULT_PREFIX: &str = "credkit:";
/// The default lease time to live: a holder that dies frees the key after this long.
const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
/// The default interval between lease attempts when no release announcement arrives.
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// The default bound on connecting and on each reply.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// A credkit [`Storage`] in Redis, shared by every process that points at the same server and
/// prefix: one refresh per expiry across a fleet, and no lost rotation.
///
/// - **Records** live in a hash per key (`rec`: the record's bytes, `gen`: its generation),
///   named `PREFIX + sha256(key)`: a caller's key never appears in Redis.
/// - **Lease**: `SET PREFIX+hash:lease OWNER NX PX ttl` with a random owner, renewed in the
///   background (every third of the time to live) while held, released by an atomic
///   compare-and-delete that announces the release on the channel `PREFIX+hash:released`.
///   Waiters wake on that announcement, and poll as a fallback; both are bounded by
///   [`LeaseOptions::wait`] on its clock. A holder that dies frees the key when the time to
///   live runs out.
/// - **Fencing**: taking the lease reads the record's generation. A store made while this
///   handle holds the lease is refused if the generation has grown past that one (a Lua
///   compare-and-set), so a holder whose lease lapsed mid-refresh cannot overwrite a rotation
///   another holder stored since: its store fails with a permanent
///   [`ErrorKind::Storage`](credkit_core::ErrorKind::Storage) error. Stores without the lease
///   always land and move the generation on.
/// - **Failover**: when the generation went *backwards* under a lease (a failover to a replica
///   that lost the last writes, a removed record), the holder's record is the newer one: its
///   store lands, at a generation past every one the holder knew, and the lease stays held. A
///   holder is never fenced for good: the next lease starts from the generation it finds.
/// - **Failures**: a server out of reach is a transient error (the connection manager
///   reconnects by itself), so `Credentials` keeps serving by its lease policy.
/// - **Secrets** are stored as they are; Redis is the trust boundary. To encrypt records
///   before they leave the process, give a [`RecordCodec`] to
///   [`RedisStorageBuilder::with_codec`].
///
/// - **Clones** share the connection and settings, not leases: each clone is a holder of its
///   own, and a store is fenced only by the leases taken through the same clone, as if
///   another process made it. Give each `Credentials` its own clone
///   (`with_storage(storage.clone(), key)`), not one shared `Arc<RedisStorage>`.
///
/// Needs a tokio runtime (the redis crate's connection manager runs on it).
///
/// ```no_run
/// use credkit_core::{AccessToken, CredentialRecord, Storage};
/// use credkit_storage_redis::RedisStorage;
///
/// # #[allow(dead_code)]
/// # async fn run() -> credkit_core::Result<()> {
/// let storage = RedisStorage::new("redis://127.0.0.1:6379/0")?;
/// let record = CredentialRecord::new().with_access_token(&AccessToken::new("ya29.a"));
/// storage.store("user:client-id", &record).await?;
/// assert!(storage.load("user:client-id").await?.is_some());
/// # Ok(())
/// # }
/// ```
pub struct RedisStorage {
    pub(crate) inner: Arc<Inner>,
    /// The leases taken through this handle, which fence its stores. Not shared by clones:
    /// each clone is a holder of its own.
    pub(crate) fences: Arc<Fences>,
}

pub(crate) struct Inner {
    pub(crate) client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    config: ConnectionManagerConfig,
    prefix: String,
    pub(crate) lease_ttl: Duration,
    pub(crate) poll_interval: Duration,
    codec: Arc<dyn RecordCodec>,
    listing: bool,
}

/// Builds a [`RedisStorage`]: the prefix, the lease's timing, the connection's timeouts and
/// the record codec.
///
/// ```
/// use std::time::Duration;
/// use credkit_storage_redis::RedisStorage;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> credkit_core::Result<()> {
/// let storage = RedisStorage::builder("redis://127.0.0.1:6379/0")
///     .with_prefix("myapp:credkit:")
///     .with_lease_ttl(Duration::from_secs(15))
///     .build()?;
/// assert_eq!(storage.prefix(), "myapp:credkit:");
/// # Ok(())
/// # }
/// ```
pub struct RedisStorageBuilder {
    /// May hold a password: wiped on drop, never shown.
    url: Zeroizing<String>,
    prefix: String,
    lease_ttl: Duration,
    poll_interval: Duration,
    timeout: Duration,
    codec: Arc<dyn RecordCodec>,
    listing: bool,
    #[cfg(feature = "tls")]
    tls: crate::tls::TlsSettings,
}

impl RedisStorage {
    /// A store on the Redis server at `url` (`redis://[:PASSWORD@]HOST[:PORT][/DB]`,
    /// `redis://USER:PASSWORD@…` for ACL users, `rediss://…` with the `tls` feature), with the
    /// default settings. Connects on first use, not here.
    ///
    /// ```
    /// use credkit_storage_redis::RedisStorage;
    ///
    /// assert!(RedisStorage::new("redis://127.0.0.1:6379/0").is_ok());
    /// assert!(RedisStorage::new("not a url").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// A [`BuildError`] when `url` is not a Redis URL.
    pub fn new(url: &str) -> std::result::Result<Self, BuildError> {
        Self::builder(url).build()
    }

    /// A builder for a store on the Redis server at `url`; see [`RedisStorageBuilder`].
    pub fn builder(url: impl Into<String>) -> RedisStorageBuilder {
        RedisStorageBuilder {
            url: Zeroizing::new(url.into()),
            prefix: DEFAULT_PREFIX.to_owned(),
            lease_ttl: DEFAULT_LEASE_TTL,
            poll_interval: DEFAULT_POLL_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            codec: Arc::new(PlainJson::default()),
            listing: false,
            #[cfg(feature = "tls")]
            tls: crate::tls::TlsSettings::default(),
        }
    }

    /// The prefix of every Redis key this store uses.
    ///
    /// ```
    /// # use credkit_storage_redis::RedisStorage;
    /// assert_eq!(RedisStorage::new("redis://127.0.0.1/")?.prefix(), "credkit:");
    /// # Ok::<(), credkit_core::Error>(())
    /// ```
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The lease's time to live: how long a dead holder keeps other processes waiting.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use credkit_storage_redis::RedisStorage;
    /// assert_eq!(RedisStorage::new("redis://127.0.0.1/")?.lease_ttl(), Duration::from_secs(10));
    /// # Ok::<(), credkit_core::Error>(())
    /// ```
    pub fn lease_ttl(&self) -> Duration {
        self.inner.lease_ttl
    }

    /// The Redis key of the hash that holds `key`'s record (for operators: `HGET NAME gen`
    /// shows its generation).
    ///
    /// ```
    /// # use credkit_storage_redis::RedisStorage;
    /// let storage = RedisStorage::new("redis://127.0.0.1/")?;
    /// let name = storage.record_key("user:client-id");
    /// assert!(name.starts_with("credkit:") && !name.contains("client-id"));
    /// # Ok::<(), credkit_core::Error>(())
    /// ```
    pub fn record_key(&self, key: &str) -> String {
        self.names(key).record
    }

    /// The sorted set of listed keys (with [`RedisStorageBuilder::with_listing`]).
    fn index_name(&self) -> String {
        format!("{}index", self.inner.prefix)
    }

    /// The key as the index holds it: `""` (not indexed) without listing.
    fn indexed_key<'k>(&self, key: &'k str) -> &'k str {
        if self.inner.listing { key } else { "" }
    }

    pub(crate) fn names(&self, key: &str) -> Names {
        Names::new(&self.inner.prefix, key)
    }

    /// The shared connection, made on first use; a failed attempt is retried by the next call.
    pub(crate) async fn connection(&self) -> Result<ConnectionManager> {
        self.inner
            .connection
            .get_or_try_init(|| {
                ConnectionManager::new_with_config(
                    self.inner.client.clone(),
                    self.inner.config.clone(),
                )
            })
            .await
            .cloned()
            .map_err(|err| error::command("connecting", err))
    }

    /// This handle itself, fences and all (a clone is another holder): for the tasks that act
    /// for one of its leases.
    pub(crate) fn same_holder(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            fences: Arc::clone(&self.fences),
        }
    }
}

impl Clone for RedisStorage {
    /// Another handle on the same connection and settings, holding no lease: a holder of its
    /// own, whose stores are fenced only by the leases taken through it.
    // (Named, not `Self`: the public API reads as it did when this impl was derived.)
    fn clone(&self) -> RedisStorage {
        Self {
            inner: Arc::clone(&self.inner),
            fences: Arc::default(),
        }
    }
}

impl RedisStorageBuilder {
    /// The prefix of every Redis key (default `credkit:`): give each application or
    /// environment its own when they share a server.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The lease's time to live (default 10 s, at least 100 ms): renewed every third of it
    /// while held, so it bounds only how long a dead holder delays the others.
    #[must_use]
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl.max(Duration::from_millis(100));
        self
    }

    /// How often a waiter tries the lease again when no release announcement arrives (default
    /// 250 ms).
    #[must_use]
    pub fn with_lease_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The bound on connecting and on each reply (default 2 s): an unreachable server fails
    /// calls within it, as a transient error.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The codec record bytes pass through on their way to and from Redis (default
    /// [`PlainJson`]); see [`RecordCodec`] to encrypt them.
    #[must_use]
    pub fn with_codec(mut self, codec: impl RecordCodec + 'static) -> Self {
        self.codec = Arc::new(codec);
        self
    }

    /// Keeps an index of the keys stored (a sorted set, `PREFIX + "index"`), so that
    /// [`Storage::list`] can page through them without reading a record (off by default:
    /// Redis then holds no caller key, only their SHA-256). Records stored before it was on are
    /// listed after their next store. The vault and `credkit vault` need it.
    ///
    /// ```
    /// # use credkit_storage_redis::RedisStorage;
    /// let storage = RedisStorage::builder("redis://127.0.0.1/").with_listing().build()?;
    /// # let _ = storage;
    /// # Ok::<(), credkit_core::BuildError>(())
    /// ```
    #[must_use]
    pub fn with_listing(mut self) -> Self {
        self.listing = true;
        self
    }

    /// Trusts the certificate authorities in `pem` (one or more PEM certificates) for a
    /// `rediss://` server, instead of the web PKI roots: for a server whose certificate a
    /// private CA signed. Behind the `tls` feature.
    ///
    /// ```
    /// # use credkit_storage_redis::RedisStorage;
    /// # fn ca_pem() -> Vec<u8> { Vec::new() }
    /// let storage = RedisStorage::builder("rediss://redis.internal:6380/0")
    ///     .with_tls_root_certificates(ca_pem())
    ///     .build();
    /// # let _ = storage;
    /// ```
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_tls_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.roots = Some(pem.into());
        self
    }

    /// Presents a client certificate to a `rediss://` server that asks for one (mutual TLS):
    /// `chain_pem`, the certificate and its chain, and `key_pem`, its private key, both PEM.
    /// The key is wiped from this builder's memory when it is dropped and never shown. Behind
    /// the `tls` feature.
    ///
    /// ```
    /// # use credkit_storage_redis::RedisStorage;
    /// # fn read(_: &str) -> Vec<u8> { Vec::new() }
    /// let storage = RedisStorage::builder("rediss://redis.internal:6380/0")
    ///     .with_tls_client_certificate(read("client.pem"), read("client.key"))
    ///     .build();
    /// # let _ = storage;
    /// ```
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn with_tls_client_certificate(
        mut self,
        chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.client = Some((chain_pem.into(), Zeroizing::new(key_pem.into())));
        self
    }

    /// The store. Connects on first use, not here.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] (invalid value) when the URL is not a Redis URL, or (feature `tls`)
    /// when TLS certificates were given with a URL that is not `rediss://`, or are not PEM.
    pub fn build(self) -> std::result::Result<RedisStorage, BuildError> {
        #[cfg(feature = "tls")]
        let client = self.tls.client(&self.url)?;
        #[cfg(not(feature = "tls"))]
        let client = redis::Client::open(self.url.as_str()).map_err(error::bad_url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(self.timeout);
        Ok(RedisStorage {
            inner: Arc::new(Inner {
                client,
                connection: OnceCell::new(),
                config,
                prefix: self.prefix,
                lease_ttl: self.lease_ttl,
                poll_interval: self.poll_interval,
                codec: self.codec,
                listing: self.listing,
            }),
            fences: Arc::default(),
        })
    }
}

#[async_trait]
impl Storage for RedisStorage {
    async fn load(&self, key: &str) -> Result<Option<CredentialRecord>> {
        let names = self.names(key);
        let mut connection = self.connection().await?;
        let stored: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(&names.record)
            .arg("rec")
            .query_async(&mut connection)
            .await
            .map_err(|err| error::command("loading a credential record", err))?;
        let Some(stored) = stored.map(Zeroizing::new) else {
            return Ok(None);
        };
        let json = self
            .inner
            .codec
            .decode(key, &stored)
            .map_err(error::undecodable)?;
        CredentialRecord::from_json(&json)
            .map(Some)
            .map_err(error::malformed)
    }

    async fn store(&self, key: &str, record: &CredentialRecord) -> Result<()> {
        let names = self.names(key);
        let json = record.to_json()?;
        let bytes = Zeroizing::new(self.inner.codec.encode(key, &json)?);
        let fence = self.fences.fence(&names.record);
        let expected = fence
            .as_ref()
            .map(|fence| fence.generation().to_string())
            .unwrap_or_default();
        let mut connection = self.connection().await?;
        let (stored, generation): (i64, i64) = scripts::STORE
            .key(&names.record)
            .key(self.index_name())
            .arg(&bytes[..])
            .arg(expected)
            .arg(self.indexed_key(key))
            .invoke_async(&mut connection)
            .await
            .map_err(|err| error::command("storing a credential record", err))?;
        let generation = u64::try_from(generation)
            .map_err(|_| error::unexpected_reply("storing a credential record"))?;
        match (stored, fence) {
            (1 | 2, Some(fence)) => {
                if stored == 2 {
                    tracing::warn!(
                        fence = fence.generation(),
                        generation,
                        "the credential record in Redis was older than the one this lease began on \
                         (a failover to a replica that lost the last writes, or a removal); \
                         this holder's newer record replaced it"
                    );
                }
                self.fences.landed(&names.record, &fence, generation);
                Ok(())
            }
            (1, None) => Ok(()),
            (0, Some(fence)) => {
                self.fences.refused(&names.record, &fence, generation);
                Err(fence.refusal(generation))
            }
            _ => Err(error::unexpected_reply("storing a credential record")),
        }
    }

    async fn remove(&self, key: &str) -> Result<()> {
        let names = self.names(key);
        let mut connection = self.connection().await?;
        scripts::REMOVE
            .key(&names.record)
            .key(self.index_name())
            .arg(self.indexed_key(key))
            .invoke_async::<()>(&mut connection)
            .await
            .map_err(|err| error::command("removing a credential record", err))
    }

    async fn list(
        &self,
        prefix: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Option<KeyPage>> {
        if !self.inner.listing {
            return Ok(None);
        }
        let limit = limit.max(1);
        let from = match cursor {
            Some(after) => format!("({after}"),
            None => format!("[{prefix}"),
        };
        let mut connection = self.connection().await?;
        let mut keys: Vec<String> = redis::cmd("ZRANGEBYLEX")
            .arg(self.index_name())
            .arg(from)
            .arg("+")
            .arg("LIMIT")
            .arg(0)
            .arg(limit.saturating_add(1))
            .query_async(&mut connection)
            .await
            .map_err(|err| error::command("listing credential records", err))?;
        keys.retain(|key| key.starts_with(prefix));
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

impl fmt::Debug for RedisStorageBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: only the address is shown.
        let mut debug = f.debug_struct("RedisStorageBuilder");
        match redis::IntoConnectionInfo::into_connection_info(self.url.as_str()) {
            Ok(info) => debug.field("addr", &format_args!("{}", info.addr())),
            Err(_) => debug.field("addr", &format_args!("(not a Redis URL)")),
        };
        debug
            .field("prefix", &self.prefix)
            .field("lease_ttl", &self.lease_ttl)
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .field("codec", &self.codec)
            .field("listing", &self.listing);
        #[cfg(feature = "tls")]
        debug.field("tls", &self.tls);
        debug.finish()
    }
}

impl fmt::Debug for RedisStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password: only the host is shown.
        let addr = &self.inner.client.get_connection_info().addr();
        f.debug_struct("RedisStorage")
            .field("addr", &format_args!("{addr}"))
            .field("prefix", &self.inner.prefix)
            .field("lease_ttl", &self.inner.lease_ttl)
            .field("poll_interval", &self.inner.poll_interval)
            .field("codec", &self.inner.codec)
            .field("listing", &self.inner.listing)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_are_read_back() {
        let storage = RedisStorage::builder("redis://127.0.0.1/")
            .with_prefix("app:")
            .with_lease_ttl(Duration::from_secs(42))
            .build()
            .unwrap();
        assert_eq!(storage.prefix(), "app:");
        assert_eq!(storage.lease_ttl(), Duration::from_secs(42));
        let defaults = RedisStorage::new("redis://127.0.0.1/").unwrap();
        assert_eq!(defaults.prefix(), "credkit:");
        assert_eq!(defaults.lease_ttl(), Duration::from_secs(10));
    }
}
