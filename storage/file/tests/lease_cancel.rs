//! A lease given up half-way: a caller whose `lease` future is dropped while its lock attempt
//! runs on the blocking pool leaves no lock behind, so the next caller takes it at once.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::panic)]

use std::future::Future;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use credkit_core::{Lease, LeaseOptions, Result, Storage};
use credkit_storage_file::FileStorage;
use credkit_testing::FakeClock;
use futures::executor::block_on;

/// Whether this process holds a `flock` on the file at `path`, read from `/proc/locks` (which
/// looks without taking the lock, as a try-lock would). `None` when the kernel does not say.
fn flocked_by_me(path: &Path) -> Option<bool> {
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let Ok(meta) = std::fs::metadata(path) else {
        return Some(false);
    };
    let (ino, pid) = (meta.ino().to_string(), std::process::id().to_string());
    Some(locks.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // `1: FLOCK  ADVISORY  WRITE <pid> <major>:<minor>:<inode> 0 EOF`; waiters have `->`.
        fields.get(1) == Some(&"FLOCK")
            && fields.get(4) == Some(&pid.as_str())
            && fields
                .get(5)
                .and_then(|id| id.rsplit(':').next())
                .is_some_and(|inode| inode == ino)
    }))
}

/// Spins (yielding, never sleeping) until `done` holds or `bound` of real time has passed.
fn spin_until(bound: Duration, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < bound {
        if done() {
            return true;
        }
        std::thread::yield_now();
    }
    done()
}

type LeaseFuture<'a> = Pin<Box<dyn Future<Output = Result<Option<Lease>>> + Send + 'a>>;

/// Polls `lease` once, with a waker that does nothing.
fn poll_once(lease: &mut LeaseFuture<'_>) -> Poll<Result<Option<Lease>>> {
    let mut cx = Context::from_waker(futures::task::noop_waker_ref());
    lease.as_mut().poll(&mut cx)
}

#[test]
fn a_lease_dropped_while_its_lock_attempt_runs_leaves_the_lock_free() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("store");
    let first = FileStorage::new(&dir).unwrap();
    // Another handle on the same directory, as another process's would be.
    let second = FileStorage::builder(&dir)
        .with_lease_poll_interval(Duration::from_millis(1))
        .build()
        .unwrap();
    let lock = first.lock_path("k");
    if flocked_by_me(&lock).is_none() {
        eprintln!(
            "SKIPPED a_lease_dropped_while_its_lock_attempt_runs_leaves_the_lock_free: \
             /proc/locks cannot be read, so the abandoned lock cannot be seen"
        );
        return;
    }
    // The first caller's clock never moves: its lease only ever tries the lock.
    let stopped = FakeClock::new();
    let patient = LeaseOptions::new(Duration::from_secs(30), stopped);
    // The second caller may try the lock 60 000 times (1 ms apart on its own fake clock, which
    // moves only by its sleeps): bounded, and each try is at once.
    let clock = FakeClock::new().with_auto_advance(true);
    let bounded = LeaseOptions::new(Duration::from_secs(60), clock.clone());

    // The first poll hands the lock attempt to the blocking pool. Should the pool finish it
    // before that poll returns (the lease is then ours, and dropped), try again.
    let mut lease: LeaseFuture<'_> = first.lease("k", &patient);
    let mut rounds = 1;
    while poll_once(&mut lease).is_ready() {
        assert!(
            rounds < 100,
            "the lock attempt always finished within the first poll"
        );
        rounds += 1;
        lease = first.lease("k", &patient);
    }
    // The attempt takes the lock on its thread; nobody polls the future to collect it.
    assert!(
        spin_until(Duration::from_secs(20), || flocked_by_me(&lock)
            == Some(true)),
        "the lock attempt never took the lock"
    );
    let busy = LeaseOptions::new(Duration::ZERO, FakeClock::new());
    let err = block_on(second.lease("k", &busy)).unwrap_err();
    assert_eq!(err.kind(), credkit_core::ErrorKind::Timeout, "{err}");

    // The caller gives up: the lock taken for it is released with its future.
    drop(lease);
    let taken = block_on(second.lease("k", &bounded)).unwrap();
    assert!(taken.is_some());
    eprintln!("taken after {} tries", clock.sleeps().len() + 1);
}

#[test]
fn a_lease_dropped_before_its_lock_attempt_ran_leaves_the_lock_free() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("store");
    let first = FileStorage::new(&dir).unwrap();
    let second = FileStorage::builder(&dir)
        .with_lease_poll_interval(Duration::from_millis(1))
        .build()
        .unwrap();
    let options = LeaseOptions::new(Duration::from_secs(30), FakeClock::new());
    // Dropped at once after handing its attempt to the pool: whether the attempt ran or not,
    // nothing holds the lock for long.
    for _ in 0..50 {
        let mut lease: LeaseFuture<'_> = first.lease("k", &options);
        let _ = poll_once(&mut lease);
        drop(lease);
        let clock = FakeClock::new().with_auto_advance(true);
        let bounded = LeaseOptions::new(Duration::from_secs(60), clock);
        let taken = block_on(second.lease("k", &bounded)).unwrap();
        assert!(taken.is_some());
    }
}
