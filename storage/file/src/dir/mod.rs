//! The credential directory, opened once: every later file operation goes through the open
//! handle (`openat`, `renameat`, `unlinkat`, `fsync` of the handle on Unix), so re-pointing a
//! symlink on the directory's path after [`Dir::open`] changes nothing. Files are opened without
//! following a symlink in their place (`unix.rs`). Windows has no such handles in `std`: it
//! works by path, as before (`other.rs`).

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use credkit_core::Result;

use crate::error;

/// How a file in the directory is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Open {
    /// Read-only; a missing file is `NotFound`.
    Read,
    /// Write-only, created by this call (fails if the name exists), mode 0600.
    CreateNew,
    /// Read-write, created (mode 0600) if missing: a lock file.
    Lock,
}

/// The opened credential directory, and the path it was opened by (for messages only).
#[derive(Debug)]
pub(crate) struct Dir {
    path: PathBuf,
    /// The open directory (`O_DIRECTORY`), which every operation goes through.
    #[cfg(unix)]
    fd: File,
}

impl Dir {
    /// The path the directory was opened by. It may lead elsewhere by now.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// `<path>/<name>`, for messages.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Opens `path` as the credential directory, creating it (and its parents) if missing,
    /// private to this user; refuses a path that is not a directory.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let opened = match Self::open_existing(path) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                create_private_dir(path).and_then(|()| Self::open_existing(path))
            }
            opened => opened,
        };
        let dir = opened.map_err(|err| {
            if fs::metadata(path).is_ok_and(|meta| !meta.is_dir()) {
                error::not_a_directory(path)
            } else {
                error::directory(path, err)
            }
        })?;
        dir.check()?;
        Ok(dir)
    }
}

/// What is found in place of a file, in words: a symbolic link.
const SYMLINK: &str = "a symbolic link";
/// A directory.
const DIRECTORY: &str = "a directory";
/// Anything else that is not a regular file.
const OTHER: &str = "something else";

/// Creates `dir` and its parents: mode 0700 on Unix; on Windows a new folder inherits its
/// parent's ACL (the user's profile is private to the user).
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(not(unix))]
mod other;
#[cfg(unix)]
mod unix;

#[cfg(not(unix))]
pub(crate) use other::check_private_file;
#[cfg(unix)]
pub(crate) use unix::check_private_file;
