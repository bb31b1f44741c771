//! The credential directory, opened once: every later file operation goes through the open
//! handle (`openat`, `renameat`, `unlinkat`, `fsync` of the handle on Unix), so re-pointing a
//! symlink on the directory's path after [`Dir::open`] changes nothing. Files are opened without
//! following a symlink in their place. Windows has no such handles in `std`: it works by path,
//! as before.

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

#[cfg(unix)]
mod imp {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    use rustix::fs::{AtFlags, FileType, Mode, OFlags};

    use super::{DIRECTORY, Dir, File, OTHER, Open, Path, Result, SYMLINK, error, io};

    impl Dir {
        /// Opens the directory at `path`, following a symlink there this once: what counts is
        /// the directory opened, which `check` then inspects through the handle.
        pub(super) fn open_existing(path: &Path) -> io::Result<Self> {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let fd = File::from(rustix::fs::open(path, flags, Mode::empty())?);
            Ok(Self {
                path: path.to_owned(),
                fd,
            })
        }

        /// Checks that the directory opened (`fstat` of the handle) is one, owned by this user
        /// and closed to others.
        pub(super) fn check(&self) -> Result<()> {
            let meta = self
                .fd
                .metadata()
                .map_err(|err| error::directory(&self.path, err))?;
            if !meta.is_dir() {
                return Err(error::not_a_directory(&self.path));
            }
            let me = rustix::process::geteuid().as_raw();
            if meta.uid() != me {
                return Err(error::foreign_owner(&self.path, meta.uid(), me));
            }
            if meta.mode() & 0o077 != 0 {
                return Err(error::too_open(&self.path, meta.mode(), 0o700));
            }
            Ok(())
        }

        /// Opens `name` in the directory, never through a symlink in its place (that fails,
        /// `ELOOP`), and never blocking on a FIFO there.
        pub(crate) fn open_file(&self, name: &str, how: Open) -> io::Result<File> {
            let flags = OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let flags = match how {
                Open::Read => flags | OFlags::RDONLY | OFlags::NONBLOCK,
                Open::CreateNew => flags | OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
                Open::Lock => flags | OFlags::RDWR | OFlags::CREATE | OFlags::NONBLOCK,
            };
            let mode = Mode::RUSR | Mode::WUSR;
            Ok(File::from(rustix::fs::openat(&self.fd, name, flags, mode)?))
        }

        /// What is at `name` when it is not a regular file (`"a symbolic link"`, ...), without
        /// following a symlink; `None` for a regular file, or nothing.
        pub(crate) fn odd_entry(&self, name: &str) -> Option<&'static str> {
            let stat = rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::RegularFile => None,
                FileType::Symlink => Some(SYMLINK),
                FileType::Directory => Some(DIRECTORY),
                _ => Some(OTHER),
            }
        }

        /// Renames `from` to `to`, both in the directory, replacing `to`.
        pub(crate) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            Ok(rustix::fs::renameat(&self.fd, from, &self.fd, to)?)
        }

        /// Removes the file (or symlink) `name`; a directory there is an error.
        pub(crate) fn remove(&self, name: &str) -> io::Result<()> {
            Ok(rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())?)
        }

        /// Flushes the directory's entries (a rename, a removal) to disk.
        pub(crate) fn sync(&self) -> io::Result<()> {
            self.fd.sync_all()
        }

        /// The names in the directory that are UTF-8.
        pub(crate) fn names(&self) -> io::Result<Vec<String>> {
            let mut names = Vec::new();
            for entry in rustix::fs::Dir::read_from(&self.fd)? {
                if let Ok(name) = entry?.file_name().to_str() {
                    names.push(name.to_owned());
                }
            }
            Ok(names)
        }
    }

    /// Checks that an opened record or lock file is a regular file, owned by this user and
    /// closed to others. The checks read the open file (`fstat`), not its path again.
    pub(crate) fn check_private_file(file: &File, path: &Path, what: &str) -> Result<()> {
        let meta = file
            .metadata()
            .map_err(|err| error::io("reading", path, err))?;
        let kind = meta.file_type();
        if !kind.is_file() {
            // A symlink never gets here (it is not followed), nor a socket (it cannot be
            // opened): see `odd_entry`.
            let found = if kind.is_dir() {
                DIRECTORY
            } else if kind.is_fifo() {
                "a FIFO"
            } else {
                OTHER
            };
            return Err(error::not_a_file(what, path, found));
        }
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me {
            return Err(error::foreign_file(what, path, meta.uid(), me));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(error::too_open(path, meta.mode(), 0o600));
        }
        Ok(())
    }
}

// The same signatures as on Unix, where these checks and the flush can fail.
#[cfg(not(unix))]
#[allow(clippy::unused_self, clippy::unnecessary_wraps)]
mod imp {
    use std::fs::{self, OpenOptions};

    use super::{DIRECTORY, Dir, File, OTHER, Open, Path, Result, SYMLINK, io};

    impl Dir {
        pub(super) fn open_existing(path: &Path) -> io::Result<Self> {
            if fs::metadata(path)?.is_dir() {
                Ok(Self {
                    path: path.to_owned(),
                })
            } else {
                Err(io::Error::other("not a directory"))
            }
        }

        /// Windows: the directory inherits the ACL of its parent (the user's profile, private
        /// to them by default); there is no mode to check.
        pub(super) fn check(&self) -> Result<()> {
            Ok(())
        }

        pub(crate) fn open_file(&self, name: &str, how: Open) -> io::Result<File> {
            let mut options = OpenOptions::new();
            match how {
                Open::Read => options.read(true),
                Open::CreateNew => options.write(true).create_new(true),
                Open::Lock => options.read(true).write(true).create(true).truncate(false),
            };
            options.open(self.join(name))
        }

        pub(crate) fn odd_entry(&self, name: &str) -> Option<&'static str> {
            let meta = fs::symlink_metadata(self.join(name)).ok()?;
            if meta.is_file() {
                None
            } else if meta.is_symlink() {
                Some(SYMLINK)
            } else if meta.is_dir() {
                Some(DIRECTORY)
            } else {
                Some(OTHER)
            }
        }

        pub(crate) fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            fs::rename(self.join(from), self.join(to))
        }

        pub(crate) fn remove(&self, name: &str) -> io::Result<()> {
            fs::remove_file(self.join(name))
        }

        /// Windows cannot open a directory as a file to flush it; NTFS journals the rename.
        pub(crate) fn sync(&self) -> io::Result<()> {
            Ok(())
        }

        pub(crate) fn names(&self) -> io::Result<Vec<String>> {
            let mut names = Vec::new();
            for entry in fs::read_dir(&self.path)? {
                if let Ok(name) = entry?.file_name().into_string() {
                    names.push(name);
                }
            }
            Ok(names)
        }
    }

    /// Windows has no file modes or owners to check here.
    pub(crate) fn check_private_file(_file: &File, _path: &Path, _what: &str) -> Result<()> {
        Ok(())
    }
}

pub(crate) use imp::check_private_file;
