//! `Refusal`: why a handed-in token was not used, as a type to match on.

use std::error::Error as StdError;
use std::fmt;

/// Why a token file (or variable) gave no token: the [`source`](StdError::source) of every
/// error of this crate's sources but "not set", so a caller can tell an expired token from a
/// missing file without reading messages.
///
/// ```
/// use credkit_access_token::{Refusal, TokenFileSource};
/// use credkit_core::TokenSource;
///
/// # futures::executor::block_on(async {
/// let dir = tempfile::tempdir()?;
/// let source = TokenFileSource::new(dir.path().join("token"));
/// let err = source.fetch_token().await.unwrap_err();
/// assert_eq!(Refusal::of(&err), Some(Refusal::Missing));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// There is no file at the path.
    Missing,
    /// The file could not be read: not a regular file (a directory, a FIFO), no permission.
    Unreadable,
    /// The file is larger than [`MAX_FILE_SIZE`](crate::MAX_FILE_SIZE).
    TooLarge,
    /// The file (or variable) holds nothing but white space, or a JSON document's
    /// `access_token` is empty. Transient: a writer that truncates the file before writing it
    /// leaves it empty for a moment.
    Empty,
    /// A byte that is not ASCII (or text that is not UTF-8).
    NotAscii,
    /// White space or a control character inside the token (a line break: more than one
    /// line), which would corrupt or inject an HTTP header.
    ControlCharacter,
    /// A JSON document (the text starts with `{`) that cannot be read: a syntax error, a
    /// truncated document, a member of the wrong type, a member given twice (`access_token`
    /// and `accessToken`).
    Malformed,
    /// A JSON document that ends too soon. Transient: a writer not done yet.
    Truncated,
    /// A JSON document without an `access_token` (or `accessToken`).
    NoToken,
    /// A JSON document whose expiry cannot be read: an `expiry` that is not RFC 3339, an
    /// `expires_in` that is not a number of seconds (or that has no file to count from).
    BadExpiry,
    /// The token's known expiry has passed: a new token must be supplied.
    Expired,
}

impl Refusal {
    /// The refusal behind `err`, when one of this crate's sources made it: `err`'s
    /// [`source`](StdError::source) chain is searched.
    pub fn of(err: &(dyn StdError + 'static)) -> Option<Self> {
        credkit_core::find_source::<Self>(err).copied()
    }

    /// Whether trying again soon may succeed: an empty or truncated file (a writer between
    /// its truncation and its write).
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Empty | Self::Truncated)
    }

    /// A short description, without the token or the file's content.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "no such file",
            Self::Unreadable => "the file cannot be read",
            Self::TooLarge => "the file is too large for a token",
            Self::Empty => "the token is empty",
            Self::NotAscii => "the token has a character that is not ASCII",
            Self::ControlCharacter => {
                "the token has white space or a control character inside (more than one line?)"
            }
            Self::Malformed => "the JSON document cannot be read",
            Self::Truncated => "the JSON document ends too soon",
            Self::NoToken => "the JSON document has no access_token",
            Self::BadExpiry => "the JSON document's expiry cannot be read",
            Self::Expired => "the token has expired",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl StdError for Refusal {}
