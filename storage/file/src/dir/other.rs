//! Other platforms (Windows): `std` has no directory handles, so the directory is used by its
//! path, as before; there are no modes or owners to check (a new folder inherits its parent's
//! ACL, the user's profile by default, private to the user).
//!
//! The same signatures as on Unix, where these checks and the flush can fail.
#![allow(clippy::unused_self, clippy::unnecessary_wraps)]

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
