//! Files and links planted by someone else: the directory's symlink re-pointed after `new`, a
//! record or lock file of another user, a symlink or a non-file in a record's place. None of
//! them is ever read, written through or locked as ours.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt, chown, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;

use credkit_core::{ErrorKind, LeaseOptions, Storage, SystemClock};
use credkit_storage_file::FileStorage;
use futures::executor::block_on;
use support::{number, record};

/// Another user's id, for files chowned to them.
const OTHER_UID: u32 = 65534;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Record `n` as stored.
fn json(n: u64) -> Vec<u8> {
    record(n).to_json().unwrap().to_vec()
}

/// Writes record `n` at `path`, mode 0600.
fn plant_record(path: &Path, n: u64) {
    std::fs::write(path, json(n)).unwrap();
    set_mode(path, 0o600);
}

/// A private directory at `path`.
fn private_dir(path: &Path) -> PathBuf {
    std::fs::create_dir(path).unwrap();
    set_mode(path, 0o700);
    path.to_owned()
}

/// Points the symlink `link` at `target`, atomically (as an attacker would, between two calls).
fn repoint(link: &Path, target: &Path) {
    let fresh = link.with_extension("new");
    symlink(target, &fresh).unwrap();
    std::fs::rename(&fresh, link).unwrap();
}

/// The storage opened through `<temp>/link -> <temp>/victim`, holding record 1 under `user`;
/// then `link` re-pointed at `<temp>/attacker`, which holds record 666 under the same name
/// (owned by `attacker_uid` when given). Returns the storage, the victim and attacker dirs.
fn swapped_after_new(temp: &Path, attacker_uid: Option<u32>) -> (FileStorage, PathBuf, PathBuf) {
    let victim = private_dir(&temp.join("victim"));
    let attacker = private_dir(&temp.join("attacker"));
    let link = temp.join("link");
    symlink(&victim, &link).unwrap();
    let storage = FileStorage::new(&link).unwrap();
    block_on(storage.store("user", &record(1))).unwrap();

    let name = storage.record_path("user").file_name().unwrap().to_owned();
    let planted = attacker.join(&name);
    plant_record(&planted, 666);
    if let Some(uid) = attacker_uid {
        chown(&planted, Some(uid), Some(uid)).unwrap();
        chown(&attacker, Some(uid), Some(uid)).unwrap();
    }
    repoint(&link, &attacker);
    // The path now leads to the attacker's record.
    assert_eq!(
        std::fs::read(storage.record_path("user")).unwrap(),
        json(666)
    );
    (storage, victim, attacker)
}

/// Everything the storage does after the swap happens in the directory it opened.
fn assert_stays_in_the_opened_directory(storage: &FileStorage, victim: &Path, attacker: &Path) {
    let name = storage.record_path("user").file_name().unwrap().to_owned();
    let lock = storage.lock_path("user").file_name().unwrap().to_owned();
    let loaded = block_on(storage.load("user")).unwrap().unwrap();
    assert_eq!(number(&loaded), 1, "the attacker's record was loaded");

    block_on(storage.store("user", &record(2))).unwrap();
    assert_eq!(
        std::fs::read(attacker.join(&name)).unwrap(),
        json(666),
        "the store went to the attacker's directory"
    );
    assert_eq!(number(&block_on(storage.load("user")).unwrap().unwrap()), 2);

    let options = LeaseOptions::new(Duration::ZERO, SystemClock);
    let lease = block_on(storage.lease("user", &options)).unwrap();
    assert!(lease.is_some());
    assert!(victim.join(&lock).exists());
    assert!(
        !attacker.join(&lock).exists(),
        "the lock file is the attacker's"
    );
    drop(lease);

    block_on(storage.remove("user")).unwrap();
    assert!(!victim.join(&name).exists());
    assert!(
        attacker.join(&name).exists(),
        "the attacker's record was removed"
    );
    assert!(block_on(storage.load("user")).unwrap().is_none());
}

#[test]
fn a_directory_symlink_repointed_after_new_changes_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let (storage, victim, attacker) = swapped_after_new(temp.path(), None);
    assert_stays_in_the_opened_directory(&storage, &victim, &attacker);
}

#[test]
fn a_directory_symlink_repointed_at_another_users_records_changes_nothing() {
    if !is_root() {
        eprintln!(
            "SKIPPED a_directory_symlink_repointed_at_another_users_records_changes_nothing: \
             only root can give files to another user"
        );
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let (storage, victim, attacker) = swapped_after_new(temp.path(), Some(OTHER_UID));
    assert_stays_in_the_opened_directory(&storage, &victim, &attacker);
}

fn fresh_storage() -> (tempfile::TempDir, FileStorage) {
    let temp = tempfile::tempdir().unwrap();
    let storage = FileStorage::new(temp.path().join("store")).unwrap();
    (temp, storage)
}

/// A permanent storage error whose message names `path` and holds every one of `words`.
fn assert_refused(err: &credkit_core::Error, path: &Path, words: &[&str]) {
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    assert!(!err.is_transient(), "{err}");
    let shown = err.to_string();
    assert!(shown.contains(&path.display().to_string()), "{shown}");
    for word in words {
        assert!(shown.contains(word), "{word:?} missing: {shown}");
    }
}

#[test]
fn a_record_of_another_user_is_refused_and_replaced_by_the_next_store() {
    if !is_root() {
        eprintln!(
            "SKIPPED a_record_of_another_user_is_refused_and_replaced_by_the_next_store: \
             only root can give a file to another user"
        );
        return;
    }
    let (_temp, storage) = fresh_storage();
    let path = storage.record_path("user");
    plant_record(&path, 666);
    chown(&path, Some(OTHER_UID), Some(OTHER_UID)).unwrap();
    let err = block_on(storage.load("user")).unwrap_err();
    assert_refused(&err, &path, &["belongs to user id 65534", "remove it"]);
    assert!(!format!("{err:?}").contains("at-666"), "{err:?}");
    // Permanent: Credentials answer it by storing over it, which replaces it with ours.
    block_on(storage.store("user", &record(1))).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().uid(), 0);
    assert_eq!(number(&block_on(storage.load("user")).unwrap().unwrap()), 1);
}

#[test]
fn a_lock_file_of_another_user_is_refused() {
    if !is_root() {
        eprintln!(
            "SKIPPED a_lock_file_of_another_user_is_refused: only root can give a file to \
             another user"
        );
        return;
    }
    let (_temp, storage) = fresh_storage();
    let path = storage.lock_path("user");
    std::fs::write(&path, b"").unwrap();
    set_mode(&path, 0o600);
    chown(&path, Some(OTHER_UID), Some(OTHER_UID)).unwrap();
    let options = LeaseOptions::new(Duration::ZERO, SystemClock);
    let err = block_on(storage.lease("user", &options)).unwrap_err();
    assert_refused(&err, &path, &["belongs to user id 65534", "remove it"]);
}

#[test]
fn a_symlink_in_place_of_a_record_is_refused_and_never_written_through() {
    let (temp, storage) = fresh_storage();
    // A good record of ours, outside the directory: a link to it is still not a record.
    let elsewhere = temp.path().join("elsewhere.json");
    plant_record(&elsewhere, 666);
    let path = storage.record_path("user");
    symlink(&elsewhere, &path).unwrap();
    let err = block_on(storage.load("user")).unwrap_err();
    assert_refused(&err, &path, &["symbolic link", "remove it"]);
    // A store replaces the link itself; what it pointed at is untouched.
    block_on(storage.store("user", &record(1))).unwrap();
    assert!(std::fs::symlink_metadata(&path).unwrap().is_file());
    assert_eq!(std::fs::read(&elsewhere).unwrap(), json(666));
    assert_eq!(number(&block_on(storage.load("user")).unwrap().unwrap()), 1);
}

#[test]
fn a_symlink_in_place_of_a_lock_file_is_refused_and_never_followed() {
    let (temp, storage) = fresh_storage();
    let elsewhere = temp.path().join("elsewhere.lock");
    let path = storage.lock_path("user");
    symlink(&elsewhere, &path).unwrap();
    let options = LeaseOptions::new(Duration::ZERO, SystemClock);
    let err = block_on(storage.lease("user", &options)).unwrap_err();
    assert_refused(&err, &path, &["symbolic link", "remove it"]);
    assert!(!elsewhere.exists(), "the lock was created through the link");
}

#[test]
fn a_directory_in_place_of_a_record_is_refused_for_good() {
    let (_temp, storage) = fresh_storage();
    let path = storage.record_path("user");
    private_dir(&path);
    let err = block_on(storage.load("user")).unwrap_err();
    assert_refused(&err, &path, &["not a regular file", "remove it"]);
}

#[test]
fn a_fifo_in_place_of_a_record_is_refused_without_blocking() {
    let (_temp, storage) = fresh_storage();
    let path = storage.record_path("user");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &path,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    // Opening a FIFO for reading blocks until a writer comes, unless the store avoids it.
    let err = block_on(storage.load("user")).unwrap_err();
    assert_refused(&err, &path, &["not a regular file", "remove it"]);
}

#[test]
fn a_directory_in_place_of_a_lock_file_is_refused_for_good() {
    let (_temp, storage) = fresh_storage();
    let path = storage.lock_path("user");
    private_dir(&path);
    let options = LeaseOptions::new(Duration::ZERO, SystemClock);
    let err = block_on(storage.lease("user", &options)).unwrap_err();
    assert_refused(
        &err,
        &path,
        &["is a directory, not a regular file", "remove it"],
    );
}

#[test]
fn a_socket_in_place_of_a_record_is_refused_for_good() {
    let (_temp, storage) = fresh_storage();
    let path = storage.record_path("user");
    // A socket cannot be opened as a file at all: the refusal says what is there instead.
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let err = block_on(storage.load("user")).unwrap_err();
    assert_refused(
        &err,
        &path,
        &["is something else, not a regular file", "remove it"],
    );
}
