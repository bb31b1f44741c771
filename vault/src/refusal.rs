//! Why the vault refused a call: the typed reason behind its errors.

use std::error::Error as StdError;
use std::fmt;

/// Why the vault refused a call, found behind its errors with [`Refusal::of`].
///
/// ```
/// use credkit_vault::Refusal;
///
/// let err = credkit_core::Error::new(credkit_core::ErrorKind::Configuration, "x")
///     .with_source(Refusal::UnknownUser);
/// assert_eq!(Refusal::of(&err), Some(Refusal::UnknownUser));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// The user's grant was revoked or expired (the token endpoint answered `invalid_grant`, in
    /// this process or another): no refresh is attempted until a new grant is inserted. The
    /// error also carries the OAuth error `invalid_grant`.
    ConsentNeeded,
    /// No grant is stored for the user: insert one after the user consents.
    UnknownUser,
    /// A newer grant is stored for the user than the one being inserted.
    NewerGrant,
    /// The user ID is empty, too long, or holds a control character.
    InvalidUserId,
}

impl Refusal {
    /// The refusal behind `err`, when the vault made it: `err`'s
    /// [`source`](StdError::source) chain is searched.
    pub fn of(err: &(dyn StdError + 'static)) -> Option<Self> {
        credkit_core::find_source::<Self>(err).copied()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ConsentNeeded => "the user's consent is needed",
            Self::UnknownUser => "no grant is stored for the user",
            Self::NewerGrant => "a newer grant is stored for the user",
            Self::InvalidUserId => "the user ID is not valid",
        })
    }
}

impl StdError for Refusal {}
