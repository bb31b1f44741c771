//! Reading a credentials file (an `authorized_user` file, a service-account key, a file ADC
//! found) as JSON: bounded, with the reference's error texts, its secrets wiped after use.

use std::io::{self, Read as _};
use std::ops::Deref;
use std::path::Path;

use serde_json::Value;
use zeroize::Zeroizing;

use crate::BuildError;

/// The largest credentials file read: 1 MiB, far more than any real one.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// The JSON of a credentials file; every string in it is wiped when it is dropped.
///
/// Its `Debug` shows no value.
pub struct WipedJson(Value);

impl WipedJson {
    /// Wraps `value`, to be wiped on drop.
    pub fn new(value: Value) -> Self {
        Self(value)
    }
}

impl Deref for WipedJson {
    type Target = Value;

    fn deref(&self) -> &Value {
        &self.0
    }
}

impl Drop for WipedJson {
    fn drop(&mut self) {
        crate::oauth::zeroize_json(&mut self.0);
    }
}

impl std::fmt::Debug for WipedJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WipedJson(..)")
    }
}

/// The JSON of the credentials file at `path`: at most [`MAX_FILE_BYTES`], the bytes read
/// wiped after parsing, the value wiped when dropped.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// use credkit_core::credentials_file::read_json;
///
/// let path = dir.path().join("adc.json");
/// std::fs::write(&path, r#"{"type": "authorized_user"}"#)?;
/// assert_eq!(read_json(&path)?["type"], "authorized_user");
///
/// let missing = dir.path().join("missing.json");
/// let err = read_json(&missing).unwrap_err();
/// assert_eq!(err.to_string(), format!("File {} was not found.", missing.display()));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// A [`BuildError`] with the reference's texts, naming the file and never quoting it:
/// - loading: "File … was not found.", "File … could not be read (…)", or larger than
///   [`MAX_FILE_BYTES`];
/// - parsing: "File … is not a valid json file. (line …, column …)".
pub fn read_json(path: &Path) -> Result<WipedJson, BuildError> {
    let file = std::fs::File::open(path).map_err(|err| unreadable(path, err))?;
    // Sized from the file's length (one byte more to see the end), so the buffer does not grow
    // while reading and leave an unwiped copy of the secrets behind.
    let size = file.metadata().map_or(0, |m| m.len()).min(MAX_FILE_BYTES);
    let mut bytes = Zeroizing::new(Vec::with_capacity(
        usize::try_from(size).unwrap_or_default() + 1,
    ));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| unreadable(path, err))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(BuildError::loading(format!(
            "File {} is larger than 1 MiB; it is not a credentials file",
            path.display()
        )));
    }
    // Only the position is named: serde's message may quote the file.
    let value = serde_json::from_slice(&bytes).map_err(|err| {
        BuildError::parsing(format!(
            "File {} is not a valid json file. (line {}, column {})",
            path.display(),
            err.line(),
            err.column()
        ))
    })?;
    Ok(WipedJson(value))
}

/// A file that could not be opened or read: the reference's "File ... was not found." when it
/// does not exist.
fn unreadable(path: &Path, source: io::Error) -> BuildError {
    let shown = path.display();
    let message = match source.kind() {
        io::ErrorKind::NotFound => format!("File {shown} was not found."),
        _ => format!("File {shown} could not be read ({})", source.kind()),
    };
    BuildError::loading(message).with_source(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_at_one_mib_and_never_quoting_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let exact = dir.path().join("exact.json");
        // A JSON string of exactly MAX_FILE_BYTES bytes is read; one byte more is not.
        let body = format!(
            "\"{}\"",
            "a".repeat(usize::try_from(MAX_FILE_BYTES).unwrap() - 2)
        );
        std::fs::write(&exact, &body).unwrap();
        assert!(read_json(&exact).unwrap().is_string());
        let over = dir.path().join("over.json");
        std::fs::write(&over, format!("{body} ")).unwrap();
        let err = read_json(&over).unwrap_err();
        assert!(err.is_loading());
        assert!(err.to_string().contains("larger than 1 MiB"), "{err}");

        let broken = dir.path().join("broken.json");
        std::fs::write(&broken, "{\"secret\": \"s3cr3t\"").unwrap();
        let err = read_json(&broken).unwrap_err();
        assert!(err.is_parsing());
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(err.to_string().ends_with("(line 1, column 19)"), "{err}");

        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        let err = read_json(&folder).unwrap_err();
        assert!(err.is_loading());
        assert!(err.to_string().contains("could not be read"), "{err}");
        assert_eq!(
            format!("{:?}", WipedJson::new(Value::Null)),
            "WipedJson(..)"
        );

        let missing = dir.path().join("missing.json");
        let err = read_json(&missing).unwrap_err();
        assert!(err.is_loading());
        assert_eq!(
            err.to_string(),
            format!("File {} was not found.", missing.display())
        );
    }
}
