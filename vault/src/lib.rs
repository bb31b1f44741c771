//! A credential vault for a service that acts for many users: each user's refresh token kept in
//! a shared [`Storage`](credkit_core::Storage) (encrypted at rest), served with the same hot path
//! as one `Credentials`, refreshed once per user per expiry across a fleet, and revocations
//! handled once.
#![doc(test(attr(deny(warnings))))]

mod sealed;

pub use sealed::{DataKey, KeyUnwrapper, Keyring, SealedCodec, SealedError, WrappedKey};
