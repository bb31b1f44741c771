//! The Unix directory handle: `openat` and its family on the directory opened once, and the
//! checks of a file on its open descriptor (`fstat`).

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::{DIRECTORY, Dir, File, OTHER, Open, Path, Result, SYMLINK, error, io};

/// The directory: read-only (enough to list it, `openat` in it and `fsync` it), and never
/// inherited by a child process.
const DIRECTORY_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);

/// Every file: never opened through a symlink in its place, never inherited by a child.
const FILE_FLAGS: OFlags = OFlags::NOFOLLOW.union(OFlags::CLOEXEC);

/// A record: read-only, and a FIFO in its place does not block the open.
const READ_FLAGS: OFlags = FILE_FLAGS.union(OFlags::RDONLY).union(OFlags::NONBLOCK);

/// A temporary file: created by this open, or the open fails.
const CREATE_NEW_FLAGS: OFlags = FILE_FLAGS
    .union(OFlags::WRONLY)
    .union(OFlags::CREATE)
    .union(OFlags::EXCL);

/// A lock file: read-write (a lock needs no more), created if missing, never blocking on a FIFO.
const LOCK_FLAGS: OFlags = FILE_FLAGS
    .union(OFlags::RDWR)
    .union(OFlags::CREATE)
    .union(OFlags::NONBLOCK);

/// The mode of a file created: 0600.
const PRIVATE: Mode = Mode::RUSR.union(Mode::WUSR);

impl Dir {
    /// Opens the directory at `path`, following a symlink there this once: what counts is
    /// the directory opened, which `check` then inspects through the handle.
    pub(super) fn open_existing(path: &Path) -> io::Result<Self> {
        let fd = File::from(rustix::fs::open(path, DIRECTORY_FLAGS, Mode::empty())?);
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
        let flags = match how {
            Open::Read => READ_FLAGS,
            Open::CreateNew => CREATE_NEW_FLAGS,
            Open::Lock => LOCK_FLAGS,
        };
        Ok(File::from(rustix::fs::openat(
            &self.fd, name, flags, PRIVATE,
        )?))
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
