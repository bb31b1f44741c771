//! Public keys: parsed from a JWK set, from a `kid → PEM` map (X.509 certificates or public
//! keys), or given one by one; each usable only with the algorithm of its family.

use std::collections::HashMap;
use std::fmt;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
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
        // from_ec_pem accepts only EC keys; the family needs no second check.
        DecodingKey::from_ec_pem(bytes)
            .map(|decoding| Self {
                decoding,
                algorithm: Algorithm::ES256,
            })
            .map_err(|_| "not a PEM certificate or public key of RSA or P-256")
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

#[cfg(test)]
mod tests {
    use credkit_testing::TestIdTokenIssuer;
    use serde_json::json;

    use super::*;

    fn issuer() -> TestIdTokenIssuer {
        TestIdTokenIssuer::generate().unwrap()
    }

    fn jwk(value: &Value) -> Jwk {
        serde_json::from_value(value.clone()).unwrap()
    }

    #[test]
    fn jwks_members_are_kept_only_when_usable_for_signatures() {
        let issuer = issuer();
        let keys = issuer.jwk_set()["keys"].as_array().unwrap().clone();
        let (rsa, ec) = (keys[0].clone(), keys[1].clone());
        assert_eq!(
            Key::from_jwk(&jwk(&rsa)).unwrap().algorithm,
            Algorithm::RS256
        );
        assert_eq!(
            Key::from_jwk(&jwk(&ec)).unwrap().algorithm,
            Algorithm::ES256
        );
        let mut no_alg = rsa.clone();
        no_alg.as_object_mut().unwrap().remove("alg");
        no_alg.as_object_mut().unwrap().remove("use");
        assert!(Key::from_jwk(&jwk(&no_alg)).is_ok());
        let mut enc = rsa.clone();
        enc["use"] = json!("enc");
        assert_eq!(
            Key::from_jwk(&jwk(&enc)).err(),
            Some("the key is not for signatures")
        );
        let mut other_use = rsa.clone();
        other_use["use"] = json!("tls");
        assert!(Key::from_jwk(&jwk(&other_use)).is_err());
        let mut rs384 = rsa.clone();
        rs384["alg"] = json!("RS384");
        assert_eq!(
            Key::from_jwk(&jwk(&rs384)).err(),
            Some("the key is restricted to another algorithm")
        );
        let mut es_on_rsa = rsa.clone();
        es_on_rsa["alg"] = json!("ES256");
        assert!(Key::from_jwk(&jwk(&es_on_rsa)).is_err());
        let mut rs_on_ec = ec.clone();
        rs_on_ec["alg"] = json!("RS256");
        assert!(Key::from_jwk(&jwk(&rs_on_ec)).is_err());
        let mut p384 = ec.clone();
        p384["crv"] = json!("P-384");
        assert_eq!(
            Key::from_jwk(&jwk(&p384)).err(),
            Some("the key is neither RSA nor P-256")
        );
        let oct = json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"});
        assert!(Key::from_jwk(&jwk(&oct)).is_err());
        let mut bad_n = rsa.clone();
        bad_n["n"] = json!("!!!");
        assert_eq!(
            Key::from_jwk(&jwk(&bad_n)).err(),
            Some("the key's parameters are not valid")
        );
    }

    #[test]
    fn a_jwk_set_skips_what_it_cannot_use() {
        let issuer = issuer();
        let mut keys = issuer.jwk_set()["keys"].as_array().unwrap().clone();
        keys.push(json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}));
        keys.push(json!({"kty": "whatever", "kid": "x"}));
        keys.push(json!(17));
        let mut unnamed = keys[0].clone();
        unnamed.as_object_mut().unwrap().remove("kid");
        keys.push(unnamed);
        let set = KeySet::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!(set.by_kid.len(), 2);
        assert_eq!(set.unnamed.len(), 1);
        assert!(!set.is_empty());
        assert!(matches!(
            set.select(Some("hmac"), Algorithm::RS256),
            Selection::Unknown
        ));
        match set.select(None, Algorithm::RS256) {
            Selection::Keys(found) => assert_eq!(found.len(), 2),
            _ => panic!("no RS256 keys"),
        }
        match set.select(None, Algorithm::ES256) {
            Selection::Keys(found) => assert_eq!(found.len(), 1),
            _ => panic!("no ES256 keys"),
        }
        let shown = format!("{set:?}");
        assert!(
            shown.contains(issuer.rsa_kid()) && shown.contains("unnamed: 1"),
            "{shown}"
        );
    }

    #[test]
    fn pem_maps_skip_what_they_cannot_use() {
        let issuer = issuer();
        let mut map = serde_json::Map::new();
        for (kid, pem) in issuer.pem_certificates() {
            map.insert(kid, pem.into());
        }
        map.insert("number".into(), json!(1));
        map.insert(
            "garbage".into(),
            json!("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        );
        let set = KeySet::parse(Value::Object(map).to_string().as_bytes()).unwrap();
        assert_eq!(set.len(), 2);
        assert!(matches!(
            set.select(Some(issuer.rsa_kid()), Algorithm::RS256),
            Selection::Keys(_)
        ));
        assert!(matches!(
            set.select(Some(issuer.ec_kid()), Algorithm::ES256),
            Selection::Keys(_)
        ));
        assert!(matches!(
            set.select(Some(issuer.ec_kid()), Algorithm::RS256),
            Selection::Mismatch
        ));
        assert!(KeySet::parse(br#"{"a": "b"}"#).is_err());
        assert!(KeySet::default().is_empty());
        assert_eq!(KeySet::default().len(), 0);
    }
}
