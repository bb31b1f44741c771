//! The blocking file work, run on the blocking pool by `store.rs`, all of it in the opened
//! directory ([`Dir`]): reads that refuse a file that is not a private regular file of this
//! user and retry a torn or unparsable record, atomic writes, and the lock file.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use credkit_core::{CredentialRecord, Result};
use zeroize::Zeroizing;

use crate::dir::{Dir, Open, check_private_file};
use crate::error;

/// What a record is called in messages.
const RECORD: &str = "credential record";

/// What a lock file is called in messages.
const LOCK: &str = "refresh lock";

/// How many times a record that does not parse is read before it is reported.
const READ_ATTEMPTS: u32 = 3;

/// The pause between two such reads: long enough for a writer on a filesystem without atomic
/// rename to finish, short enough to go unnoticed.
const READ_PAUSE: Duration = Duration::from_millis(5);

/// The largest file read as a record: 1 MiB.
const MAX_RECORD_BYTES: u64 = 1 << 20;

/// Temporary files older than this are left by a writer that died: removed by the next store.
const ABANDONED_TEMP_AGE: Duration = Duration::from_secs(600);

/// Makes each temporary file name of this process unique.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The directory's record file name of `stem`.
pub(crate) fn record_name(stem: &str) -> String {
    format!("{stem}.json")
}

/// The directory's lock file name of `stem`.
pub(crate) fn lock_name(stem: &str) -> String {
    format!("{stem}.lock")
}

/// What `dir` opened as `name` (`what` it is, for messages), refused unless a private regular
/// file of this user. An open that failed is `failed`'s error, unless what is in the file's
/// place explains it: a symlink there fails to open (`ELOOP`), and is reported as one.
fn checked(
    dir: &Dir,
    name: &str,
    what: &str,
    opened: io::Result<File>,
    failed: fn(&Path, io::Error) -> credkit_core::Error,
) -> Result<File> {
    let path = dir.join(name);
    let file = opened.map_err(|err| match dir.odd_entry(name) {
        Some(found) => error::not_a_file(what, &path, found),
        None => failed(&path, err),
    })?;
    check_private_file(&file, &path, what)?;
    Ok(file)
}

/// Reads the record `<stem>.json` in `dir`: `None` if there is none. A record that does not
/// parse is read again, a few times, before it is reported as malformed.
pub(crate) fn read(dir: &Dir, stem: &str) -> Result<Option<CredentialRecord>> {
    let name = record_name(stem);
    read_with(&dir.join(&name), || {
        match dir.open_file(&name, Open::Read) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            opened => checked(dir, &name, RECORD, opened, |path, err| {
                error::io("reading", path, err)
            })
            .map(Some),
        }
    })
}

/// [`read`], opening the file with `open` (the tests' way to tear the first read).
fn read_with(
    path: &Path,
    mut open: impl FnMut() -> Result<Option<File>>,
) -> Result<Option<CredentialRecord>> {
    let mut attempt = 1;
    loop {
        let Some(file) = open()? else {
            return Ok(None);
        };
        // Sized from the file's length (one byte more to see the end), so the buffer does not
        // grow while reading and leave an unwiped copy of the secrets behind. A record is a few
        // KiB at most: a larger file is not one, and is not read further than the cap.
        let size = file.metadata().map_or(0, |m| m.len()).min(MAX_RECORD_BYTES);
        let mut bytes = Zeroizing::new(Vec::with_capacity(
            usize::try_from(size).unwrap_or_default().saturating_add(1),
        ));
        file.take(MAX_RECORD_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|err| error::io("reading", path, err))?;
        if bytes.len() as u64 > MAX_RECORD_BYTES {
            return Err(error::too_large(path, MAX_RECORD_BYTES));
        }
        match CredentialRecord::from_json(&bytes) {
            Ok(record) => return Ok(Some(record)),
            Err(err) if attempt >= READ_ATTEMPTS => return Err(error::malformed(path, err)),
            Err(_) => {
                attempt += 1;
                // On the blocking pool, never on an executor thread.
                std::thread::sleep(READ_PAUSE);
            }
        }
    }
}

/// Replaces the record `<stem>.json` in `dir` with `bytes`, atomically: a temporary file in the
/// same directory, written and flushed to disk, renamed over the record, then the directory
/// flushed so the rename itself survives a power cut. On failure the temporary file is removed
/// and the old record is untouched.
pub(crate) fn write(dir: &Dir, stem: &str, bytes: &[u8]) -> Result<()> {
    let record = record_name(stem);
    let temp = format!(
        ".{stem}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let written = write_temp(dir, &temp, bytes)
        .and_then(|()| dir.rename(&temp, &record))
        .and_then(|()| dir.sync());
    if let Err(err) = written {
        // Already renamed, or never created: nothing to remove either way.
        let _ = dir.remove(&temp);
        return Err(error::io("writing", &dir.join(&record), err));
    }
    sweep_abandoned_temps(dir, stem);
    Ok(())
}

fn write_temp(dir: &Dir, temp: &str, bytes: &[u8]) -> io::Result<()> {
    let mut file = dir.open_file(temp, Open::CreateNew)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Removes the record `<stem>.json` in `dir`; no record is not an error.
pub(crate) fn remove(dir: &Dir, stem: &str) -> Result<()> {
    let record = record_name(stem);
    let removed = match dir.remove(&record) {
        Ok(()) => dir.sync(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(err),
    };
    removed.map_err(|err| error::io("removing", &dir.join(&record), err))
}

/// Removes temporary files of `stem` left by writers that died (older than
/// [`ABANDONED_TEMP_AGE`]). Best effort: a failure here costs nothing but disk space.
fn sweep_abandoned_temps(dir: &Dir, stem: &str) {
    let Ok(names) = dir.names() else {
        return;
    };
    let prefix = format!(".{stem}.");
    let now = SystemTime::now();
    for name in names {
        if !(name.starts_with(&prefix) && Path::new(&name).extension().is_some_and(|e| e == "tmp"))
        {
            continue;
        }
        // Opened (never through a symlink) only to read its age: a regular file only.
        let old = dir
            .open_file(&name, Open::Read)
            .and_then(|file| file.metadata())
            .ok()
            .filter(std::fs::Metadata::is_file)
            .and_then(|meta| meta.modified().ok())
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > ABANDONED_TEMP_AGE);
        if old {
            let _ = dir.remove(&name);
        }
    }
}

/// Tries once to take the exclusive advisory lock on the lock file `<stem>.lock` in `dir`
/// (created if missing, never removed; refused unless a private regular file of this user):
/// the open file holding it, or `None` if another holder has it.
pub(crate) fn try_lock(dir: &Dir, stem: &str) -> Result<Option<File>> {
    let name = lock_name(stem);
    let path = dir.join(&name);
    let opened = dir.open_file(&name, Open::Lock);
    let file = checked(dir, &name, LOCK, opened, |path, err| {
        error::lock("opening", path, err)
    })?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => Ok(Some(file)),
        Err(fs4::TryLockError::WouldBlock) => Ok(None),
        Err(fs4::TryLockError::Error(err)) => Err(error::lock("taking", &path, err)),
    }
}

/// Gives the lock back (closing the file would too).
pub(crate) fn unlock(file: &File, path: &Path) -> Result<()> {
    fs4::FileExt::unlock(file).map_err(|err| error::lock("releasing", path, err))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cell::Cell;
    use std::path::PathBuf;

    use credkit_core::AccessToken;

    use super::*;

    /// A whole record and a torn one (the first half of it), each in its own private file of
    /// the directory `dir` opens.
    fn whole_and_torn(dir: &Path) -> (PathBuf, PathBuf) {
        let json = CredentialRecord::new()
            .with_access_token(&AccessToken::new("at-whole"))
            .to_json()
            .unwrap();
        let dir = &dir.join("store");
        let opened = Dir::open(dir).unwrap();
        write_temp(&opened, "whole.json", &json).unwrap();
        write_temp(&opened, "torn.json", &json[..json.len() / 2]).unwrap();
        (dir.join("whole.json"), dir.join("torn.json"))
    }

    #[test]
    fn a_torn_read_is_read_again() {
        let temp = tempfile::tempdir().unwrap();
        let (whole, torn) = whole_and_torn(temp.path());
        let opened = Cell::new(0);
        // The first open sees a writer half-way through, the next one its finished record.
        let record = read_with(&whole, || {
            opened.set(opened.get() + 1);
            Ok(Some(
                File::open(if opened.get() == 1 { &torn } else { &whole }).unwrap(),
            ))
        })
        .unwrap()
        .unwrap();
        assert_eq!(opened.get(), 2);
        assert!(record.access_token().is_some());
    }

    #[test]
    fn a_record_torn_on_every_read_is_malformed_after_the_last_attempt() {
        let temp = tempfile::tempdir().unwrap();
        let (_, torn) = whole_and_torn(temp.path());
        let opened = Cell::new(0);
        let err = read_with(&torn, || {
            opened.set(opened.get() + 1);
            Ok(Some(File::open(&torn).unwrap()))
        })
        .unwrap_err();
        assert_eq!(opened.get(), READ_ATTEMPTS);
        assert!(err.to_string().contains("not a readable record"), "{err}");
    }
}
