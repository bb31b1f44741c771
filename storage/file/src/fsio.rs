//! The blocking file work, run on the blocking pool by `store.rs`: the directory's setup and
//! checks, reads that retry a torn or unparsable record, atomic writes, and the lock file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use credkit_core::{CredentialRecord, Result};
use zeroize::Zeroizing;

use crate::error;

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

/// Creates `dir` (and its parents) if missing, private to this user, and checks that it is a
/// directory, owned by this user and closed to others.
pub(crate) fn prepare_dir(dir: &Path) -> Result<()> {
    match fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => return Err(error::not_a_directory(dir)),
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            create_private_dir(dir).map_err(|err| error::directory(dir, err))?;
        }
        Err(err) => return Err(error::directory(dir, err)),
    }
    check_dir(dir)
}

/// Creates `dir` and its parents: mode 0700 on Unix; on Windows a new folder inherits its
/// parent's ACL (the user's profile is private to the user).
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(unix)]
fn check_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir).map_err(|err| error::directory(dir, err))?;
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(error::foreign_owner(dir, meta.uid(), me));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(error::too_open(dir, meta.mode(), 0o700));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_dir(_dir: &Path) -> Result<()> {
    // Windows: the directory inherits the ACL of its parent (the user's profile, private to
    // them by default); there is no mode to check.
    Ok(())
}

/// Reads the record at `path`: `None` if there is none. A record that does not parse is read
/// again, a few times, before it is reported as malformed.
pub(crate) fn read(path: &Path) -> Result<Option<CredentialRecord>> {
    read_with(path, |path| File::open(path))
}

/// [`read`], opening the file with `open` (the tests' way to tear the first read).
fn read_with(
    path: &Path,
    mut open: impl FnMut(&Path) -> io::Result<File>,
) -> Result<Option<CredentialRecord>> {
    let mut attempt = 1;
    loop {
        let file = match open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(error::io("reading", path, err)),
        };
        check_private_file(&file, path)?;
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

#[cfg(unix)]
fn check_private_file(file: &File, path: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = file
        .metadata()
        .map_err(|err| error::io("reading", path, err))?;
    if meta.mode() & 0o077 != 0 {
        return Err(error::too_open(path, meta.mode(), 0o600));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_file(_file: &File, _path: &Path) -> Result<()> {
    Ok(())
}

/// Replaces the record `<stem>.json` in `dir` with `bytes`, atomically: a temporary file in the
/// same directory, written and flushed to disk, renamed over the record, then the directory
/// flushed so the rename itself survives a power cut. On failure the temporary file is removed
/// and the old record is untouched.
pub(crate) fn write(dir: &Path, stem: &str, bytes: &[u8]) -> Result<()> {
    let record = record_path(dir, stem);
    let temp = dir.join(format!(
        ".{stem}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = write_temp(&temp, bytes)
        .and_then(|()| fs::rename(&temp, &record))
        .and_then(|()| sync_dir(dir));
    if let Err(err) = written {
        // Already renamed, or never created: nothing to remove either way.
        let _ = fs::remove_file(&temp);
        return Err(error::io("writing", &record, err));
    }
    sweep_abandoned_temps(dir, stem);
    Ok(())
}

fn write_temp(temp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(temp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Removes the record `<stem>.json` in `dir`; no record is not an error.
pub(crate) fn remove(dir: &Path, stem: &str) -> Result<()> {
    let record = record_path(dir, stem);
    match fs::remove_file(&record) {
        Ok(()) => sync_dir(dir).map_err(|err| error::io("removing", &record, err)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(error::io("removing", &record, err)),
    }
}

/// Flushes the directory entry changes (a rename, a removal) to disk.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Windows cannot open a directory as a file to flush it; NTFS journals the rename.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Removes temporary files of `stem` left by writers that died (older than
/// [`ABANDONED_TEMP_AGE`]). Best effort: a failure here costs nothing but disk space.
fn sweep_abandoned_temps(dir: &Path, stem: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{stem}.");
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with(&prefix) && Path::new(name).extension().is_some_and(|e| e == "tmp")) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age > ABANDONED_TEMP_AGE);
        if old {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Tries once to take the exclusive advisory lock on the lock file `<stem>.lock` (created if
/// missing, never removed): the open file holding it, or `None` if another holder has it.
pub(crate) fn try_lock(path: &Path) -> Result<Option<File>> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options
        .open(path)
        .map_err(|err| error::lock("opening", path, err))?;
    match fs4::FileExt::try_lock(&file) {
        Ok(()) => Ok(Some(file)),
        Err(fs4::TryLockError::WouldBlock) => Ok(None),
        Err(fs4::TryLockError::Error(err)) => Err(error::lock("taking", path, err)),
    }
}

/// Gives the lock back (closing the file would too).
pub(crate) fn unlock(file: &File, path: &Path) -> Result<()> {
    fs4::FileExt::unlock(file).map_err(|err| error::lock("releasing", path, err))
}

/// `<dir>/<stem>.json`.
pub(crate) fn record_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.json"))
}

/// `<dir>/<stem>.lock`.
pub(crate) fn lock_path(dir: &Path, stem: &str) -> PathBuf {
    dir.join(format!("{stem}.lock"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cell::Cell;

    use credkit_core::AccessToken;

    use super::*;

    /// A whole record and a torn one (the first half of it), each in its own private file.
    fn whole_and_torn(dir: &Path) -> (PathBuf, PathBuf) {
        let json = CredentialRecord::new()
            .with_access_token(&AccessToken::new("at-whole"))
            .to_json()
            .unwrap();
        let whole = dir.join("whole.json");
        let torn = dir.join("torn.json");
        write_temp(&whole, &json).unwrap();
        write_temp(&torn, &json[..json.len() / 2]).unwrap();
        (whole, torn)
    }

    #[test]
    fn a_torn_read_is_read_again() {
        let temp = tempfile::tempdir().unwrap();
        let (whole, torn) = whole_and_torn(temp.path());
        let opened = Cell::new(0);
        // The first open sees a writer half-way through, the next one its finished record.
        let record = read_with(&whole, |_| {
            opened.set(opened.get() + 1);
            File::open(if opened.get() == 1 { &torn } else { &whole })
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
        let err = read_with(&torn, |path| {
            opened.set(opened.get() + 1);
            File::open(path)
        })
        .unwrap_err();
        assert_eq!(opened.get(), READ_ATTEMPTS);
        assert!(err.to_string().contains("not a readable record"), "{err}");
    }
}
