//! Behaviour that mutation testing found unpinned: each test here fails for a mutant that the
//! rest of the suite let through (see `.cargo/mutants.toml` and CONTRIBUTING.md).
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

mod support;

use std::fs::{File, FileTimes};
use std::time::{Duration, SystemTime};

use credkit_core::Storage;
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
    if let Some(dir) = FileStorage::user_cache_dir("credkit-test-app") {
        assert!(dir.ends_with("credkit-test-app"), "{}", dir.display());
    }
}
