//! Bad input: a corrupt record, a record from a newer version, a lock left by a dead process,
//! permissions too open, a directory of another user, a read-only directory, a full disk.
//! Each gets a clear error or a recovery, and nothing is lost.
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::future::Future;
use std::time::Duration;

use credkit_core::{
    AccessToken, Credentials, ErrorKind, LeaseOptions, RefreshEvent, StaticSource, Storage,
    SystemClock,
};
use credkit_storage_file::FileStorage;
use support::{number, record};

fn block_on<F: Future>(future: F) -> F::Output {
    futures::executor::block_on(future)
}

fn fresh_storage() -> (tempfile::TempDir, FileStorage) {
    let temp = tempfile::tempdir().unwrap();
    let storage = FileStorage::new(temp.path().join("store")).unwrap();
    (temp, storage)
}

#[test]
fn a_corrupt_record_is_a_clear_permanent_error_and_credentials_replace_it() {
    let (_temp, storage) = fresh_storage();
    let path = storage.record_path("k");
    std::fs::write(&path, b"{\"access_token\": \"ya29.half-written").unwrap();
    #[cfg(unix)]
    set_mode(&path, 0o600);
    let err = block_on(storage.load("k")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(!err.is_transient(), "corrupt for good: {err}");
    let shown = err.to_string();
    assert!(shown.contains(&path.display().to_string()), "{shown}");
    assert!(shown.contains("remove it"), "{shown}");
    assert!(!format!("{err:?}").contains("ya29"), "{err:?}");

    // Credentials report it, hand out a token, and replace the record with a good one.
    let failures = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&failures);
    let token = AccessToken::new("ya29.new").with_lifetime(
        credkit_core::Clock::now(&SystemClock),
        Duration::from_secs(3600),
    );
    let credentials = Credentials::builder(StaticSource::new(token))
        .with_storage(storage.clone(), "k")
        .on_refresh(move |event| {
            if let RefreshEvent::StorageFailed { error, .. } = event {
                seen.lock().unwrap().push(error.kind());
            }
        })
        .build()
        .unwrap();
    block_on(credentials.access_token()).unwrap();
    // Reported (on the load at start and again under the lease), never fatal.
    let failures = failures.lock().unwrap().clone();
    assert!(!failures.is_empty());
    assert!(failures.iter().all(|kind| *kind == ErrorKind::Storage));
    let replaced = block_on(storage.load("k")).unwrap().unwrap();
    assert!(replaced.access_token().is_some());
}

#[test]
fn a_record_from_a_newer_version_loads_with_what_this_version_knows() {
    let (_temp, storage) = fresh_storage();
    std::fs::write(
        storage.record_path("k"),
        br#"{"version":42,"access_token":"at-5","refresh_token":"rt-5",
             "lease":{"holder":"x"},"generation":9,"provider":{"client_id":"c"}}"#,
    )
    .unwrap();
    #[cfg(unix)]
    set_mode(&storage.record_path("k"), 0o600);
    let loaded = block_on(storage.load("k")).unwrap().unwrap();
    assert_eq!(number(&loaded), 5);
    assert_eq!(loaded.provider_fields()["client_id"], "c");
}

#[cfg(unix)]
fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
mod unix {
    use std::io::{BufRead, BufReader, Read};
    use std::os::unix::fs::MetadataExt;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use super::support::spawn_child;
    use super::*;

    const HOLDER_DIR: &str = "CREDKIT_TEST_HOLDER_DIR";

    /// The child: takes the lease on `k`, says so, and waits for standard input to close (it
    /// is killed first). Does nothing when run as an ordinary test.
    #[test]
    fn lease_holder_child() {
        let Ok(dir) = std::env::var(HOLDER_DIR) else {
            return;
        };
        let storage = FileStorage::new(dir).unwrap();
        let options = LeaseOptions::new(Duration::from_secs(10), SystemClock);
        let lease = block_on(storage.lease("k", &options)).unwrap().unwrap();
        println!("holding");
        let _ = std::io::stdin().read(&mut [0u8; 1]);
        drop(lease);
    }

    #[test]
    fn a_lock_left_by_a_killed_process_is_free_at_once() {
        let (_temp, storage) = fresh_storage();
        let mut child = spawn_child(
            "unix::lease_holder_child",
            &[(HOLDER_DIR, storage.dir().display().to_string())],
        );
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        while lines.next().unwrap().unwrap() != "holding" {}
        let busy = block_on(storage.lease("k", &LeaseOptions::new(Duration::ZERO, SystemClock)));
        let err = busy.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(err.is_transient());
        assert!(err.to_string().contains(".lock"), "{err}");

        child.kill().unwrap();
        child.wait().unwrap();
        // The lock file is still there; its lock died with the process.
        assert!(storage.lock_path("k").exists());
        let lease = block_on(storage.lease("k", &LeaseOptions::new(Duration::ZERO, SystemClock)));
        assert!(lease.unwrap().is_some());
    }

    #[test]
    fn a_record_open_to_others_is_refused_with_the_fix_and_kept() {
        let (_temp, storage) = fresh_storage();
        block_on(storage.store("k", &record(1))).unwrap();
        let path = storage.record_path("k");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        set_mode(&path, 0o644);
        let err = block_on(storage.load("k")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        // Transient, so Credentials never overwrite a record that may hold the only copy of
        // a rotated refresh token.
        assert!(err.is_transient());
        assert!(err.to_string().contains("chmod 600"), "{err}");
        assert!(err.to_string().contains("644"), "{err}");
        set_mode(&path, 0o600);
        assert_eq!(number(&block_on(storage.load("k")).unwrap().unwrap()), 1);
    }

    #[test]
    fn a_directory_open_to_others_is_refused_and_a_new_one_is_private() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("a/b/store");
        let storage = FileStorage::new(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        drop(storage);
        set_mode(&dir, 0o755);
        let err = FileStorage::new(&dir).unwrap_err();
        assert!(err.is_loading(), "{err}");
        assert!(err.to_string().contains("chmod 700"), "{err}");
        let file = temp.path().join("file");
        std::fs::write(&file, b"").unwrap();
        let err = FileStorage::new(&file).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");
    }

    fn is_root() -> bool {
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }

    #[test]
    fn a_directory_of_another_user_is_refused() {
        if !is_root() {
            eprintln!("skipped: only root can give a directory to another user");
            return;
        }
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("theirs");
        std::fs::create_dir(&dir).unwrap();
        set_mode(&dir, 0o700);
        std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).unwrap();
        let err = FileStorage::new(&dir).unwrap_err();
        assert!(
            err.to_string().contains("belongs to user id 65534"),
            "{err}"
        );
    }

    /// Makes `dir` read-only for the length of the guard: by its mode, or for root (whom modes
    /// do not stop) with the immutable attribute.
    struct ReadOnly(PathBuf, bool);

    impl ReadOnly {
        fn new(dir: &Path) -> Option<Self> {
            if !is_root() {
                set_mode(dir, 0o500);
                return Some(Self(dir.to_owned(), false));
            }
            let ok = Command::new("chattr")
                .arg("+i")
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
            ok.then(|| Self(dir.to_owned(), true))
        }
    }

    impl Drop for ReadOnly {
        fn drop(&mut self) {
            if self.1 {
                let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
            } else {
                set_mode(&self.0, 0o700);
            }
        }
    }

    #[test]
    fn a_read_only_directory_is_a_transient_error_and_the_record_stays() {
        let (_temp, storage) = fresh_storage();
        block_on(storage.store("k", &record(1))).unwrap();
        let Some(guard) = ReadOnly::new(storage.dir()) else {
            eprintln!("skipped: no way to make a directory read-only for root (no chattr)");
            return;
        };
        let err = block_on(storage.store("k", &record(2))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(err.is_transient(), "{err}");
        assert!(
            err.to_string().contains("writing the credential record"),
            "{err}"
        );
        assert_eq!(number(&block_on(storage.load("k")).unwrap().unwrap()), 1);
        drop(guard);
        block_on(storage.store("k", &record(2))).unwrap();
        assert_eq!(number(&block_on(storage.load("k")).unwrap().unwrap()), 2);
    }

    /// A tiny tmpfs, mounted for the length of the guard (root only).
    struct TinyDisk(PathBuf);

    impl TinyDisk {
        fn mount(at: &Path) -> Option<Self> {
            std::fs::create_dir_all(at).ok()?;
            let ok = Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs"])
                .arg(at)
                .status()
                .is_ok_and(|s| s.success());
            ok.then(|| Self(at.to_owned()))
        }
    }

    impl Drop for TinyDisk {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }

    #[test]
    fn a_full_disk_is_a_transient_error_and_the_record_stays() {
        if !is_root() {
            eprintln!("skipped: a full disk is simulated with a tiny tmpfs, which needs root");
            return;
        }
        let temp = tempfile::tempdir().unwrap();
        let Some(disk) = TinyDisk::mount(&temp.path().join("disk")) else {
            eprintln!("skipped: tmpfs cannot be mounted here");
            return;
        };
        let storage = FileStorage::new(disk.0.join("store")).unwrap();
        block_on(storage.store("k", &record(1))).unwrap();
        // Fill the disk.
        let filler = disk.0.join("filler");
        let _ = std::fs::write(&filler, vec![0u8; 64 * 1024]);
        let big = record(2).with_provider_fields(
            [("padding".to_owned(), "x".repeat(3000).into())]
                .into_iter()
                .collect(),
        );
        let err = block_on(storage.store("k", &big)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Storage);
        assert!(err.is_transient(), "{err}");
        assert_eq!(number(&block_on(storage.load("k")).unwrap().unwrap()), 1);
        // No temporary file left behind.
        let leftovers = std::fs::read_dir(storage.dir())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
        std::fs::remove_file(&filler).unwrap();
        block_on(storage.store("k", &big)).unwrap();
        assert_eq!(number(&block_on(storage.load("k")).unwrap().unwrap()), 2);
        drop(storage);
        drop(disk);
    }
}
