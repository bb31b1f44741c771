//! Behaviour that mutation testing found unpinned: each test here fails for a mutant that the
//! rest of the suite let through (see `.cargo/mutants.toml` and CONTRIBUTING.md).
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod support;

use std::fs::{File, FileTimes};
use std::time::{Duration, SystemTime};

use credkit_core::{ErrorKind, LeaseOptions, Storage, SystemClock};
use credkit_storage_file::FileStorage;
use futures::executor::block_on;
use support::record;

fn fresh_storage() -> (tempfile::TempDir, FileStorage) {
    let temp = tempfile::tempdir().unwrap();
    let storage = FileStorage::new(temp.path().join("store")).unwrap();
    (temp, storage)
}

#[test]
fn temporary_files_of_dead_writers_are_swept_and_others_kept() {
    let (_temp, storage) = fresh_storage();
    block_on(storage.store("user", &record(1))).unwrap();
    let dir = storage.dir().to_owned();
    let stem = storage
        .record_path("user")
        .file_stem()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let make = |name: &str, old: bool| {
        let path = dir.join(name);
        let file = File::create(&path).unwrap();
        if old {
            file.set_times(FileTimes::new().set_modified(an_hour_ago))
                .unwrap();
        }
        path
    };
    let abandoned = make(&format!(".{stem}.1.2.tmp"), true);
    let in_progress = make(&format!(".{stem}.3.4.tmp"), false);
    let other_stem = make(".someone-else.1.2.tmp", true);
    let not_temp = make(&format!(".{stem}.1.2.bak"), true);
    block_on(storage.store("user", &record(2))).unwrap();
    assert!(
        !abandoned.exists(),
        "an old temporary file of this record is swept"
    );
    assert!(in_progress.exists(), "a recent one may be another writer's");
    assert!(
        other_stem.exists() && not_temp.exists(),
        "other files are not ours"
    );
}

#[test]
fn a_record_path_that_cannot_be_opened_is_an_error_not_an_absent_record() {
    let (_temp, storage) = fresh_storage();
    block_on(storage.store("user", &record(1))).unwrap();
    let path = storage.record_path("user");
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(&path, &path).unwrap(); // a loop
    assert!(block_on(storage.load("user")).is_err());
}

#[test]
fn removing_what_is_not_a_file_is_an_error() {
    let (_temp, storage) = fresh_storage();
    block_on(storage.store("other", &record(1))).unwrap();
    std::fs::create_dir(storage.record_path("user")).unwrap();
    assert!(block_on(storage.remove("user")).is_err());
    assert!(block_on(storage.remove("never-stored")).is_ok());
}

#[test]
fn the_user_cache_folder_ends_with_the_app_name() {
    let dir = FileStorage::user_cache_dir("credkit-test-app");
    // Linux has one wherever `HOME` is set ($XDG_CACHE_HOME, or ~/.cache).
    if cfg!(target_os = "linux") && std::env::var_os("HOME").is_some() {
        assert!(dir.is_some());
    }
    if let Some(dir) = dir {
        assert!(dir.ends_with("credkit-test-app"), "{}", dir.display());
        assert!(dir.is_absolute(), "{}", dir.display());
    }
}

#[test]
fn a_file_larger_than_any_record_is_refused_unread() {
    let (_temp, storage) = fresh_storage();
    block_on(storage.store("user", &record(1))).unwrap();
    let path = storage.record_path("user");
    // A valid record, padded with white space to just over 1 MiB.
    let mut json = record(1).to_json().unwrap().to_vec();
    json.resize((1 << 20) + 1, b' ');
    std::fs::write(&path, &json).unwrap();
    let err = block_on(storage.load("user")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient(), "{err:?}");
    assert!(err.to_string().contains("larger than 1 MiB"), "{err}");
    // At the limit it is still a record.
    json.truncate(1 << 20);
    std::fs::write(&path, &json).unwrap();
    assert!(block_on(storage.load("user")).unwrap().is_some());
}

#[test]
fn a_directory_path_that_cannot_be_resolved_reports_why() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("loop");
    std::os::unix::fs::symlink(&dir, &dir).unwrap();
    let err = FileStorage::new(&dir).unwrap_err();
    // The cause is the symlink loop, not a failed attempt to create the directory.
    let cause = std::iter::successors(std::error::Error::source(&err), |e| e.source())
        .find_map(|source| source.downcast_ref::<std::io::Error>())
        .unwrap();
    assert_eq!(
        cause.raw_os_error(),
        Some(rustix::io::Errno::LOOP.raw_os_error()),
        "{cause}"
    );
}

#[test]
fn a_lease_shows_its_lock_file() {
    let (_temp, storage) = fresh_storage();
    let options = LeaseOptions::new(Duration::ZERO, SystemClock);
    let lease = block_on(storage.lease("user", &options)).unwrap().unwrap();
    let debug = format!("{lease:?}");
    assert!(debug.contains("FileLease"), "{debug}");
    assert!(
        debug.contains(&*storage.lock_path("user").to_string_lossy()),
        "{debug}"
    );
}

#[test]
fn the_storage_shows_its_directory_and_poll_interval() {
    let temp = tempfile::tempdir().unwrap();
    let storage = FileStorage::builder(temp.path().join("store"))
        .with_lease_poll_interval(Duration::from_millis(3))
        .build()
        .unwrap();
    let debug = format!("{storage:?}");
    assert!(debug.starts_with("FileStorage"), "{debug}");
    assert!(debug.contains(&*storage.dir().to_string_lossy()), "{debug}");
    assert!(debug.contains("3ms"), "{debug}");
}

#[test]
fn a_lock_file_that_cannot_be_opened_is_a_transient_error_not_a_refusal() {
    let (_temp, storage) = fresh_storage();
    let path = storage.lock_path("user");
    std::fs::write(&path, b"").unwrap();
    // A regular file that cannot be opened for writing: by its mode, or for root (whom modes
    // do not stop) with the immutable attribute.
    let root = rustix::process::geteuid().is_root();
    let chattr = |flag: &str| {
        std::process::Command::new("chattr")
            .arg(flag)
            .arg(&path)
            .status()
            .is_ok_and(|s| s.success())
    };
    if root && !chattr("+i") {
        eprintln!(
            "SKIPPED a_lock_file_that_cannot_be_opened_is_a_transient_error_not_a_refusal: \
             no way to make a file unwritable for root (no chattr)"
        );
        return;
    }
    if !root {
        let read_only =
            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o400);
        std::fs::set_permissions(&path, read_only).unwrap();
    }
    let options = LeaseOptions::new(Duration::ZERO, SystemClock);
    let taken = block_on(storage.lease("user", &options));
    if root {
        chattr("-i");
    }
    let err = taken.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.is_transient(), "{err}");
    let shown = err.to_string();
    assert!(shown.contains("opening the refresh lock"), "{shown}");
    assert!(!shown.contains("not a regular file"), "{shown}");
}
