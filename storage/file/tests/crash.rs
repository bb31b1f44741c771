//! Crash safety: a child process storing in a loop is killed (`SIGKILL`) at random points, hundreds of
//! times; every time, the record on disk is whole, and it is at least the last store the child
//! reported done (a rotated refresh token that was handed out is always on disk).
#![allow(clippy::unwrap_used, clippy::panic)]
#![cfg(unix)]

mod support;

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use credkit_core::Storage;
use credkit_storage_file::FileStorage;
use support::{number, record, spawn_child};

const CHILD_DIR: &str = "CREDKIT_TEST_CRASH_DIR";
const CHILD_START: &str = "CREDKIT_TEST_CRASH_START";
const KEY: &str = "crash-test";

/// The child: stores records `start`, `start + 1`, ... for ever, printing each number once its
/// store has returned. Does nothing when run as an ordinary test.
#[test]
fn crash_child() {
    let (Ok(dir), Ok(start)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_START)) else {
        return;
    };
    let storage = FileStorage::new(dir).unwrap();
    let start: u64 = start.parse().unwrap();
    futures::executor::block_on(async {
        for n in start.. {
            storage.store(KEY, &record(n)).await.unwrap();
            println!("stored {n}");
        }
    });
}

/// A small deterministic generator (xorshift), seeded from the clock and printed, so a
/// failure can be replayed by fixing the seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn a_killed_writer_leaves_the_old_record_or_the_new_one_never_a_torn_one() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("store");
    let storage = FileStorage::new(&dir).unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        | 1;
    let seed = u64::from(seed);
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let started = Instant::now();
    let (mut iterations, mut mid_store_kills) = (0u64, 0u64);
    // Until some child has stored a record, there is none: the first children may all be
    // killed before their first store.
    let mut ever_stored = false;
    // Hundreds of kills, bounded in time on a slow machine.
    while iterations < 300 && started.elapsed() < Duration::from_secs(40) {
        iterations += 1;
        let start = iterations * 1_000_000;
        let mut child = spawn_child(
            "crash_child",
            &[
                (CHILD_DIR, dir.display().to_string()),
                (CHILD_START, start.to_string()),
            ],
        );
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Let it report 0 to 3 stores, then kill it after a random few microseconds: before
        // its first store, between two, or in the middle of one.
        let wanted = rng.below(4);
        let mut acknowledged = None;
        while acknowledged.map_or(0, |n: u64| n - start + 1) < wanted {
            let line = lines.next().unwrap().unwrap();
            // The test harness's own lines come first.
            if let Some(n) = line.strip_prefix("stored ") {
                acknowledged = Some(n.parse().unwrap());
            }
        }
        let spin = Duration::from_micros(rng.below(3000));
        let spin_start = Instant::now();
        while spin_start.elapsed() < spin {
            std::hint::spin_loop();
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let on_disk = futures::executor::block_on(storage.load(KEY)).unwrap();
        match (on_disk, acknowledged) {
            (None, None) => assert!(!ever_stored, "the record vanished"),
            (None, Some(n)) => panic!("store {n} returned, but no record is on disk"),
            (Some(record), acknowledged) => {
                ever_stored = true;
                // Whole (checked by `number`), and never older than a store that returned.
                let n = number(&record);
                if let Some(acknowledged) = acknowledged {
                    assert!(
                        n >= acknowledged,
                        "store {acknowledged} returned, yet {n} is on disk"
                    );
                }
                if n >= start && acknowledged.is_none_or(|a| n > a) {
                    mid_store_kills += 1;
                }
            }
        }
    }
    eprintln!(
        "{iterations} kills in {:?}; {mid_store_kills} landed after a store the child had not reported",
        started.elapsed()
    );
    assert!(
        iterations >= 100,
        "only {iterations} kills in the time bound"
    );
}
