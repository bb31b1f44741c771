//! Public keys: parsed from a JWK set, from a `kid → PEM` map (X.509 certificates or public
//! keys), or given one by one; each usable only with the algorithm of its family.

use std::collections::HashMap;
use std::fmt;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{AlgorithmFamily, DecodingKey};
use serde::Deserialize as _;
use serde_json::Value;

use crate::Algorithm;

/// A public key and what it may verify.
#[derive(Clone)]
pub(crate) struct Key {
    decoding: DecodingKey,
    /// The one algorithm this key serves: its family's (RS256 for RSA, ES256 for P-256).
    algorithm: Algorithm,
}

impl Key {
    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    pub(crate) fn serves(&self, algorithm: Algorithm) -> bool {
        self.algorithm == algorithm
    }

    /// A key from one member of a JWK set, or why it is not usable. Keys for encryption, of
    /// another type or curve, or restricted to another algorithm are not usable.
    pub(crate) fn from_jwk(jwk: &Jwk) -> Result<Self, &'static str> {
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
        ) {
            return Err("the key is not for signatures");
        }
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                Algorithm::ES256
            }
            _ => return Err("the key is neither RSA nor P-256"),
        };
        match jwk.common.key_algorithm {
            None => {}
            Some(KeyAlgorithm::RS256) if algorithm == Algorithm::RS256 => {}
            Some(KeyAlgorithm::ES256) if algorithm == Algorithm::ES256 => {}
            Some(_) => return Err("the key is restricted to another algorithm"),
        }
        let decoding =
            DecodingKey::from_jwk(jwk).map_err(|_| "the key's parameters are not valid")?;
        Ok(Self {
            decoding,
            algorithm,
        })
    }

    /// A key from PEM text: an X.509 certificate (`CERTIFICATE`, as Google's v1 certificate
    /// endpoint serves them) or a public key (`PUBLIC KEY`, `RSA PUBLIC KEY`), RSA or P-256.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, &'static str> {
        let bytes = pem.as_bytes();
        if let Ok(decoding) = DecodingKey::from_rsa_pem(bytes) {
            return Ok(Self {
                decoding,
                algorithm: Algorithm::RS256,
            });
        }
        match DecodingKey::from_ec_pem(bytes) {
            Ok(decoding) if decoding.family() == AlgorithmFamily::Ec => Ok(Self {
                decoding,
                algorithm: Algorithm::ES256,
            }),
            _ => Err("not a PEM certificate or public key of RSA or P-256"),
        }
    }
}

/// Keys by key ID, plus keys without one.
#[derive(Clone, Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Key>,
    unnamed: Vec<Key>,
}

/// What a key set holds for a token's `kid` and `alg`.
pub(crate) enum Selection<'a> {
    /// The keys to try (one for a `kid`; every key of the algorithm for a token without one).
    Keys(Vec<&'a Key>),
    /// A key has the `kid` but serves another algorithm.
    Mismatch,
    /// No key has the `kid` (or, without a `kid`, no key serves the algorithm).
    Unknown,
}

impl KeySet {
    pub(crate) fn is_empty(&self) -> bool {
        self.by_kid.is_empty() && self.unnamed.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.by_kid.len() + self.unnamed.len()
    }

    pub(crate) fn insert(&mut self, kid: Option<String>, key: Key) {
        match kid {
            Some(kid) => {
                self.by_kid.insert(kid, key);
            }
            None => self.unnamed.push(key),
        }
    }

    pub(crate) fn extend(&mut self, other: KeySet) {
        self.by_kid.extend(other.by_kid);
        self.unnamed.extend(other.unnamed);
    }

    pub(crate) fn select(&self, kid: Option<&str>, algorithm: Algorithm) -> Selection<'_> {
        if let Some(kid) = kid {
            return match self.by_kid.get(kid) {
                Some(key) if key.serves(algorithm) => Selection::Keys(vec![key]),
                Some(_) => Selection::Mismatch,
                None => Selection::Unknown,
            };
        }
        let keys: Vec<&Key> = self
            .by_kid
            .values()
            .chain(&self.unnamed)
            .filter(|key| key.serves(algorithm))
            .collect();
        if keys.is_empty() {
            Selection::Unknown
        } else {
            Selection::Keys(keys)
        }
    }

    /// Parses a keys document, as Google's endpoints serve them: an object with `keys` is a
    /// JWK set (v3 certs, IAP's `public_key-jwk`); any other object maps key IDs to PEM
    /// certificates or public keys (v1 certs, IAP's `public_key`). Members that are not usable
    /// keys are skipped; a document without a single usable key is an error.
    pub(crate) fn parse(body: &[u8]) -> Result<Self, &'static str> {
        let Ok(Value::Object(document)) = serde_json::from_slice::<Value>(body) else {
            return Err("the keys document is not a JSON object");
        };
        let set = match document.get("keys") {
            Some(Value::Array(keys)) => Self::from_jwk_values(keys),
            Some(_) => return Err("the keys document's \"keys\" is not an array"),
            None => {
                let mut set = Self::default();
                for (kid, pem) in &document {
                    if let Some(key) = pem.as_str().and_then(|pem| Key::from_pem(pem).ok()) {
                        set.insert(Some(kid.clone()), key);
                    }
                }
                set
            }
        };
        if set.is_empty() {
            return Err("the keys document holds no usable RSA or P-256 key");
        }
        Ok(set)
    }

    fn from_jwk_values(keys: &[Value]) -> Self {
        let mut set = Self::default();
        for value in keys {
            let Ok(jwk) = Jwk::deserialize(value) else {
                continue;
            };
            if let Ok(key) = Key::from_jwk(&jwk) {
                set.insert(jwk.common.key_id.clone(), key);
            }
        }
        set
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<&str> = self.by_kid.keys().map(String::as_str).collect();
        kids.sort_unstable();
        f.debug_struct("KeySet")
            .field("kids", &kids)
            .field("unnamed", &self.unnamed.len())
            .finish()
    }
}
