//! The [`Storage`] contract suite: [`run`] it against your store.
//!
//! ```
//! use credkit_core::MemoryStorage;
//!
//! # futures::executor::block_on(async {
//! let storage = MemoryStorage::new();
//! credkit_testing::contract::storage::run(|| storage.clone()).await;
//! # });
//! ```

// A contract suite reports a broken promise by panicking, as `assert!` does.
#![allow(clippy::panic, clippy::expect_used)]

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use credkit_core::{
    AccessToken, Clock, CredentialRecord, ErrorKind, LeaseOptions, Storage, SystemClock,
    secrecy::{ExposeSecret, SecretString},
    time::macros::datetime,
};
use futures::FutureExt;
use futures::future::{join_all, poll_fn};

use crate::FakeClock;

/// How long a check waits for a lease that is free or about to be: long enough for any sane
/// store, and only ever reached if the store is broken (the wait ends when the lease is had).
const GENEROUS_WAIT: Duration = Duration::from_secs(20);

/// Runs every check of the `Storage` contract, panicking with a message naming the broken
/// promise on the first failure.
///
/// `make` returns a handle onto **one and the same** backing store each time it is called:
/// a clone of an in-memory store, or a new handle onto the same directory, database or server.
/// Different handles stand for different processes (a lease taken through one must exclude the
/// others). The checks use keys starting with `credkit-contract-` and remove their records.
///
/// The checks:
///
/// - `load` of an unknown key is `Ok(None)`; `remove` of an unknown key is `Ok(())`.
/// - A stored record loads back whole (access token, expiry, issue time, scopes, refresh
///   token, provider fields), through another handle too; `store` replaces; `remove` removes;
///   keys do not touch each other, awkward keys (`../x`, `a/b`, the empty key, non-ASCII)
///   included.
/// - Concurrent stores to one key leave one of the stored records, whole; concurrent stores
///   to different keys all land.
/// - Records of an older format (no version) and a newer one (unknown fields) round-trip with
///   the fields this version knows.
/// - If the store offers a lease ([`Storage::lease`] not `Ok(None)`): it is exclusive across
///   handles and per key; it is released by `release`, by drop, when its holder's handle is
///   gone too, and a waiter that is cancelled holds nothing; a wait that runs out is a
///   transient [`ErrorKind::Timeout`] error after no more than the wait (on the options'
///   clock), and a waiter gets the lease once its holder lets go. Stores without a lease skip
///   these.
/// - If the store can list ([`Storage::list`] not `Ok(None)`): every key under a prefix comes
///   back exactly once across pages of the limit given, keys under other prefixes never, and a
///   removed key no more.
///
/// A store whose lease can *lapse* (a time to live, a connection) also runs [`run_fenced`].
///
/// # Panics
///
/// When the store breaks the contract (that is the point), or when one of its operations
/// fails.
pub async fn run<S, F>(make: F)
where
    S: Storage + 'static,
    F: Fn() -> S,
{
    unknown_keys(&make()).await;
    round_trip(&make, "credkit-contract-round-trip").await;
    replace_and_remove(&make()).await;
    keys_are_independent(&make()).await;
    concurrent_stores(&make).await;
    other_versions(&make()).await;
    if offers_lease(&make()).await {
        lease_is_exclusive(&make).await;
        lease_is_released(&make).await;
        cancelled_waiter_holds_nothing(&make).await;
        bounded_wait(&make).await;
        waiter_gets_the_lease(&make).await;
    }
    if offers_list(&make()).await {
        listing(&make()).await;
    }
}

/// Runs [`run`], then the checks of [fencing](credkit_core::Storage#fencing): for a store whose
/// lease can lapse while its holder still runs.
///
/// `lapse(key)` makes the lease on `key` lapse as if its holder had paused past its time to
/// live, without telling the holder's handle: delete the lease's key in Redis, its row in a
/// database. The checks:
///
/// - A holder whose lease lapsed, after another holder took the lease and stored, is fenced
///   off: its store fails with a permanent [`ErrorKind::Storage`] error, its lease reports
///   itself no longer held, and the newer record is kept. It can take the lease again, and its
///   stores then land.
/// - Several stores under one lease all land (the fence moves with each).
/// - A store without the lease always lands.
/// - A record removed under a holder's lease (the medium lost it) does not fence the holder
///   off: its store lands.
/// - Fences are per key: another key's lapse fences nothing here.
///
/// # Panics
///
/// When the store breaks the contract, or offers no lease, or one of its operations fails.
pub async fn run_fenced<S, F, L, Fut>(make: F, lapse: L)
where
    S: Storage + 'static,
    F: Fn() -> S,
    L: Fn(String) -> Fut,
    Fut: Future<Output = ()>,
{
    run(&make).await;
    assert!(
        offers_lease(&make()).await,
        "run_fenced is for stores that offer a lease"
    );
    a_lapsed_holder_is_fenced_off(&make, &lapse).await;
    stores_under_one_lease_land(&make()).await;
    a_removed_record_fences_nothing(&make).await;
    fences_are_per_key(&make, &lapse).await;
}

async fn a_lapsed_holder_is_fenced_off<S, F, L, Fut>(make: &F, lapse: &L)
where
    S: Storage,
    F: Fn() -> S,
    L: Fn(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let key = "credkit-contract-fenced";
    let (a, b) = (make(), make());
    store(&a, key, &record(1)).await;
    let stale = take(&a, key, GENEROUS_WAIT).await;
    lapse(key.to_owned()).await;
    let fresh = take(&b, key, GENEROUS_WAIT).await;
    store(&b, key, &record(2)).await;
    if let Err(err) = fresh.release().await {
        panic!("release failed: {err}");
    }
    match a.store(key, &record(3)).await {
        Ok(()) => panic!(
            "a holder whose lease lapsed overwrote the record another holder stored since \
             (fence stores by generation: see credkit_core::Storage#fencing)"
        ),
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::Storage, "a fenced-off store: {err}");
            assert!(
                !err.is_transient(),
                "a fenced-off store is a permanent error (retrying cannot help): {err}"
            );
        }
    }
    assert!(
        !stale.is_held(),
        "a lease whose store was fenced off must report itself no longer held"
    );
    let kept = load(&b, key).await.expect("the newer record must be kept");
    assert_eq!(which(&kept, "after a fenced-off store"), 2);
    drop(stale);
    // Not fenced for good: the lease again, and its stores land.
    let again = take(&a, key, GENEROUS_WAIT).await;
    store(&a, key, &record(4)).await;
    assert!(again.is_held(), "a store that landed lapses nothing");
    drop(again);
    let kept = load(&b, key).await.expect("a stored record must load");
    assert_eq!(which(&kept, "under a lease taken again"), 4);
    // Without the lease, a store lands.
    store(&a, key, &record(5)).await;
    let kept = load(&b, key).await.expect("a stored record must load");
    assert_eq!(which(&kept, "without the lease"), 5);
    remove(&a, key).await;
}

async fn stores_under_one_lease_land<S: Storage>(storage: &S) {
    let key = "credkit-contract-fence-moves";
    store(storage, key, &record(0)).await;
    let lease = take(storage, key, GENEROUS_WAIT).await;
    for n in 1..=3 {
        store(storage, key, &record(n)).await;
    }
    assert!(lease.is_held(), "stores that landed lapse nothing");
    drop(lease);
    let kept = load(storage, key).await.expect("a stored record must load");
    assert_eq!(which(&kept, "stores under one lease"), 3);
    remove(storage, key).await;
}

async fn a_removed_record_fences_nothing<S: Storage, F: Fn() -> S>(make: &F) {
    let key = "credkit-contract-fence-lost";
    let (a, b) = (make(), make());
    store(&a, key, &record(1)).await;
    store(&a, key, &record(2)).await;
    let lease = take(&a, key, GENEROUS_WAIT).await;
    // The medium loses the record (a failover, an operator): the holder's is the newer one.
    remove(&b, key).await;
    store(&a, key, &record(3)).await;
    assert!(
        lease.is_held(),
        "a record that went backwards lapses nothing"
    );
    drop(lease);
    let kept = load(&b, key).await.expect("the holder's store must land");
    assert_eq!(which(&kept, "after the record was lost"), 3);
    remove(&a, key).await;
}

async fn fences_are_per_key<S, F, L, Fut>(make: &F, lapse: &L)
where
    S: Storage,
    F: Fn() -> S,
    L: Fn(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let (mine, theirs) = (
        "credkit-contract-fence-mine",
        "credkit-contract-fence-theirs",
    );
    let (a, b) = (make(), make());
    let held = take(&a, mine, GENEROUS_WAIT).await;
    let other = take(&a, theirs, GENEROUS_WAIT).await;
    lapse(theirs.to_owned()).await;
    let newer = take(&b, theirs, GENEROUS_WAIT).await;
    store(&b, theirs, &record(1)).await;
    drop(newer);
    store(&a, mine, &record(2)).await;
    assert!(held.is_held(), "another key's lapse fenced this key off");
    drop((held, other));
    remove(&a, mine).await;
    remove(&a, theirs).await;
}

async fn offers_list<S: Storage>(storage: &S) -> bool {
    match storage.list("credkit-contract-list-", None, 10).await {
        Ok(listed) => listed.is_some(),
        Err(err) => panic!("listing failed: {err}"),
    }
}

async fn listing<S: Storage>(storage: &S) {
    let prefix = "credkit-contract-list-";
    let keys: Vec<String> = (0..7).map(|i| format!("{prefix}{i}")).collect();
    for (n, key) in (0u32..).zip(&keys) {
        store(storage, key, &record(n)).await;
    }
    store(storage, "credkit-contract-lisT-other", &record(9)).await;
    let listed = list_all(storage, prefix, 3).await;
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        listed.len(),
        "a key came back twice across pages: {listed:?}"
    );
    assert_eq!(
        sorted, keys,
        "listing under {prefix:?} must give exactly the keys stored under it"
    );
    remove(storage, &keys[2]).await;
    let listed = list_all(storage, prefix, 100).await;
    assert!(
        !listed.contains(&keys[2]) && listed.len() == 6,
        "a removed key was still listed: {listed:?}"
    );
    for key in &keys {
        remove(storage, key).await;
    }
    remove(storage, "credkit-contract-lisT-other").await;
    assert!(
        list_all(storage, prefix, 100).await.is_empty(),
        "removed keys were still listed"
    );
}

/// Every key under `prefix`, through pages of at most `limit`.
async fn list_all<S: Storage>(storage: &S, prefix: &str, limit: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let page = match storage.list(prefix, cursor.as_deref(), limit).await {
            Ok(Some(page)) => page,
            Ok(None) => panic!("a store that listed once must keep listing"),
            Err(err) => panic!("listing failed: {err}"),
        };
        let (page_keys, next) = page.into_parts();
        assert!(
            page_keys.len() <= limit,
            "a page held {} keys, past its limit of {limit}",
            page_keys.len()
        );
        assert!(
            page_keys.iter().all(|key| key.starts_with(prefix)),
            "a key outside {prefix:?} was listed: {page_keys:?}"
        );
        keys.extend(page_keys);
        match next {
            Some(next) => cursor = Some(next),
            None => return keys,
        }
    }
    panic!("listing never ended (a cursor that goes round?)");
}

fn record(n: u32) -> CredentialRecord {
    let token = AccessToken::new(format!("contract-access-{n}"))
        .with_expiry(datetime!(2030-01-01 12:00 UTC))
        .with_issued_at(datetime!(2030-01-01 11:00 UTC))
        .with_granted_scopes(["scope-a", "scope-b"]);
    let mut fields = serde_json::Map::new();
    fields.insert("client_id".into(), format!("client-{n}").into());
    CredentialRecord::new()
        .with_access_token(&token)
        .with_refresh_token(SecretString::from(format!("contract-refresh-{n}")))
        .with_provider_fields(fields)
}

/// The number `n` of [`record(n)`] that `loaded` is, checking that it is whole.
fn which(loaded: &CredentialRecord, what: &str) -> u32 {
    let token = loaded
        .access_token()
        .unwrap_or_else(|| panic!("{what}: the access token was lost"));
    let secret = token.secret().expose_secret().to_owned();
    let n: u32 = secret
        .strip_prefix("contract-access-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{what}: the access token came back changed"));
    assert_eq!(
        token.expiry(),
        Some(datetime!(2030-01-01 12:00 UTC)),
        "{what}: expiry"
    );
    assert_eq!(
        token.issued_at(),
        Some(datetime!(2030-01-01 11:00 UTC)),
        "{what}: issue time"
    );
    assert_eq!(
        token.granted_scopes(),
        Some(&["scope-a".to_owned(), "scope-b".to_owned()][..]),
        "{what}: granted scopes"
    );
    assert_eq!(
        loaded.refresh_token().map(ExposeSecret::expose_secret),
        Some(format!("contract-refresh-{n}").as_str()),
        "{what}: the refresh token does not belong with the access token (a torn record?)"
    );
    assert_eq!(
        loaded.provider_fields().get("client_id"),
        Some(&format!("client-{n}").into()),
        "{what}: provider fields"
    );
    n
}

async fn load<S: Storage>(storage: &S, key: &str) -> Option<CredentialRecord> {
    match storage.load(key).await {
        Ok(record) => record,
        Err(err) => panic!("load({key:?}) failed: {err}"),
    }
}

async fn store<S: Storage>(storage: &S, key: &str, record: &CredentialRecord) {
    if let Err(err) = storage.store(key, record).await {
        panic!("store({key:?}) failed: {err}");
    }
}

async fn remove<S: Storage>(storage: &S, key: &str) {
    if let Err(err) = storage.remove(key).await {
        panic!("remove({key:?}) failed: {err}");
    }
}

async fn unknown_keys<S: Storage>(storage: &S) {
    let key = "credkit-contract-never-stored";
    assert!(
        load(storage, key).await.is_none(),
        "load of an unknown key must be Ok(None)"
    );
    remove(storage, key).await;
}

async fn round_trip<S: Storage, F: Fn() -> S>(make: &F, key: &str) {
    let (writer, reader) = (make(), make());
    store(&writer, key, &record(7)).await;
    let back = load(&writer, key).await.expect("a stored record must load");
    assert_eq!(which(&back, "round trip"), 7);
    let other = load(&reader, key)
        .await
        .expect("a stored record must load through another handle");
    assert_eq!(which(&other, "round trip through another handle"), 7);
    remove(&writer, key).await;
}

async fn replace_and_remove<S: Storage>(storage: &S) {
    let key = "credkit-contract-replace";
    store(storage, key, &record(1)).await;
    store(storage, key, &record(2)).await;
    let back = load(storage, key)
        .await
        .expect("a replaced record must load");
    assert_eq!(which(&back, "replace"), 2, "store must replace the record");
    remove(storage, key).await;
    assert!(
        load(storage, key).await.is_none(),
        "remove must remove the record"
    );
    remove(storage, key).await;
}

async fn keys_are_independent<S: Storage>(storage: &S) {
    let keys = [
        "credkit-contract-a",
        "credkit-contract-a/b",
        "credkit-contract-../x",
        "credkit-contract-A",
        "credkit-contract-ünï",
        "credkit-contract-",
    ];
    for (n, key) in (0u32..).zip(keys) {
        store(storage, key, &record(n)).await;
    }
    for (n, key) in (0u32..).zip(keys) {
        let back = load(storage, key)
            .await
            .unwrap_or_else(|| panic!("the record of {key:?} was lost"));
        assert_eq!(
            which(&back, key),
            n,
            "the record of {key:?} was overwritten by another key's"
        );
    }
    remove(storage, keys[0]).await;
    assert!(
        load(storage, keys[1]).await.is_some(),
        "remove touched another key"
    );
    for key in keys {
        remove(storage, key).await;
    }
}

async fn concurrent_stores<S: Storage, F: Fn() -> S>(make: &F) {
    let key = "credkit-contract-concurrent";
    let handles: Vec<S> = (0..8).map(|_| make()).collect();
    let records: Vec<CredentialRecord> = (0..16).map(record).collect();
    join_all(
        records
            .iter()
            .enumerate()
            .map(|(i, r)| store(&handles[i % handles.len()], key, r)),
    )
    .await;
    let back = load(&handles[0], key)
        .await
        .expect("a record must remain after concurrent stores");
    let n = which(&back, "concurrent stores");
    assert!(n < 16, "concurrent stores left a record nobody stored");
    remove(&handles[0], key).await;

    let keys: Vec<String> = (0..8)
        .map(|i| format!("credkit-contract-concurrent-{i}"))
        .collect();
    join_all((0u32..).zip(&keys).map(|(i, k)| {
        let handle = &handles[i as usize % handles.len()];
        let r = &records[i as usize];
        store(handle, k, r)
    }))
    .await;
    for (i, k) in (0u32..).zip(&keys) {
        let back = load(&handles[0], k)
            .await
            .unwrap_or_else(|| panic!("a concurrent store to {k:?} was lost"));
        assert_eq!(which(&back, k), i);
        remove(&handles[0], k).await;
    }
}

async fn other_versions<S: Storage>(storage: &S) {
    let key = "credkit-contract-versions";
    let older = CredentialRecord::from_json(br#"{"refresh_token":"older-refresh"}"#)
        .expect("a record without a version must parse");
    store(storage, key, &older).await;
    let back = load(storage, key).await.expect("an older record must load");
    assert_eq!(
        back.refresh_token().map(ExposeSecret::expose_secret),
        Some("older-refresh"),
        "an older record must keep its refresh token"
    );
    let newer = CredentialRecord::from_json(
        br#"{"version":99,"access_token":"newer-access","refresh_token":"newer-refresh",
             "expiry":"2030-01-01T12:00:00Z","provider":{"client_id":"c"},"generation":7}"#,
    )
    .expect("a newer record must parse");
    store(storage, key, &newer).await;
    let back = load(storage, key).await.expect("a newer record must load");
    assert_eq!(
        back.access_token()
            .map(|t| t.secret().expose_secret().to_owned()),
        Some("newer-access".to_owned())
    );
    assert_eq!(
        back.refresh_token().map(ExposeSecret::expose_secret),
        Some("newer-refresh")
    );
    assert_eq!(back.provider_fields().get("client_id"), Some(&"c".into()));
    remove(storage, key).await;
}

fn options(wait: Duration) -> LeaseOptions {
    LeaseOptions::new(wait, SystemClock)
}

async fn offers_lease<S: Storage>(storage: &S) -> bool {
    match storage
        .lease("credkit-contract-offers", &options(GENEROUS_WAIT))
        .await
    {
        Ok(Some(lease)) => {
            if let Err(err) = lease.release().await {
                panic!("releasing a lease failed: {err}");
            }
            true
        }
        Ok(None) => false,
        Err(err) => panic!("taking a free lease failed: {err}"),
    }
}

/// The lease on `key` through `storage`, which must be had within `wait`.
async fn take<S: Storage>(storage: &S, key: &str, wait: Duration) -> credkit_core::Lease {
    match storage.lease(key, &options(wait)).await {
        Ok(Some(lease)) => {
            assert!(lease.is_held(), "a lease just taken must be held");
            lease
        }
        Ok(None) => panic!("a store that offered a lease once must keep offering it"),
        Err(err) => panic!("the lease on {key:?} could not be had: {err}"),
    }
}

/// Asserts that the lease on `key` through `storage` is held elsewhere: a zero wait fails.
async fn assert_busy<S: Storage>(storage: &S, key: &str, what: &str) {
    match storage.lease(key, &options(Duration::ZERO)).await {
        Ok(Some(_)) => panic!("{what}: the lease was handed out twice"),
        Ok(None) => panic!("a store that offered a lease once must keep offering it"),
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::Timeout, "{what}: {err}");
            assert!(err.is_transient(), "{what}: a lease timeout is transient");
        }
    }
}

async fn lease_is_exclusive<S: Storage, F: Fn() -> S>(make: &F) {
    let (a, b) = (make(), make());
    let key = "credkit-contract-exclusive";
    let held = take(&a, key, GENEROUS_WAIT).await;
    assert_busy(&b, key, "another handle").await;
    assert_busy(&a, key, "the same handle").await;
    let other = take(&b, "credkit-contract-exclusive-other", Duration::ZERO).await;
    drop(other);
    drop(held);
}

async fn lease_is_released<S: Storage, F: Fn() -> S>(make: &F) {
    let key = "credkit-contract-released";
    let (a, b) = (make(), make());
    let held = take(&a, key, GENEROUS_WAIT).await;
    if let Err(err) = held.release().await {
        panic!("release failed: {err}");
    }
    let held = take(&b, key, GENEROUS_WAIT).await;
    drop(held);
    let held = take(&a, key, GENEROUS_WAIT).await;
    // The holder dies: its lease and its handle go.
    drop(a);
    drop(held);
    drop(take(&b, key, GENEROUS_WAIT).await);
}

async fn cancelled_waiter_holds_nothing<S: Storage, F: Fn() -> S>(make: &F) {
    let key = "credkit-contract-cancelled";
    let (a, b, c) = (make(), make(), make());
    // A waiter cancelled while the lease is held elsewhere.
    let held = take(&a, key, GENEROUS_WAIT).await;
    let clock = FakeClock::new();
    let slow = LeaseOptions::new(Duration::from_secs(3600), clock.clone());
    // Boxed by `async_trait`: dropping it cancels it.
    let mut waiting = b.lease(key, &slow);
    for _ in 0..3 {
        assert!(
            (&mut waiting).now_or_never().is_none(),
            "a waiter got a held lease"
        );
    }
    drop(waiting);
    drop(held);
    drop(take(&c, key, GENEROUS_WAIT).await);
    // A lease future dropped at its first poll, when the lease is free.
    let first_poll = b.lease(key, &options(GENEROUS_WAIT)).now_or_never();
    drop(first_poll);
    drop(take(&c, key, GENEROUS_WAIT).await);
}

async fn bounded_wait<S: Storage, F: Fn() -> S>(make: &F) {
    let key = "credkit-contract-bounded";
    let (a, b) = (make(), make());
    let held = take(&a, key, GENEROUS_WAIT).await;
    let clock = FakeClock::new();
    let wait = Duration::from_secs(30);
    let started = clock.now();
    let options = LeaseOptions::new(wait, clock.clone());
    let mut waiting = pin!(b.lease(key, &options));
    // Time moves only while the waiter is pending, a second per poll; it must give up once the
    // wait has passed, and not before.
    let outcome = poll_fn(|cx| match waiting.as_mut().poll(cx) {
        Poll::Ready(outcome) => Poll::Ready(outcome),
        Poll::Pending => {
            clock.advance(Duration::from_secs(1));
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
    let waited = clock.now() - started;
    match outcome {
        Ok(Some(_)) => panic!("a waiter got a held lease"),
        Ok(None) => panic!("a store that offered a lease once must keep offering it"),
        Err(err) => {
            assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
            assert!(err.is_transient(), "a lease timeout is transient");
        }
    }
    assert!(
        waited >= wait,
        "the waiter gave up after {waited} on its clock, before its wait of {wait:?}"
    );
    drop(held);
}

async fn waiter_gets_the_lease<S: Storage, F: Fn() -> S>(make: &F) {
    let key = "credkit-contract-handover";
    let (a, b) = (make(), make());
    let held = take(&a, key, GENEROUS_WAIT).await;
    let generous = options(GENEROUS_WAIT);
    let waiting = b.lease(key, &generous);
    let release = async move {
        // Let the waiter start waiting first.
        let mut yielded = false;
        poll_fn(|cx| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
        drop(held);
    };
    let (got, ()) = futures::join!(waiting, release);
    match got {
        Ok(Some(lease)) => drop(lease),
        Ok(None) => panic!("a store that offered a lease once must keep offering it"),
        Err(err) => panic!("a waiter did not get a released lease: {err}"),
    }
}
