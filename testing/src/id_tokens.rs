//! `TestIdTokenIssuer`: ID tokens signed with per-run keys, and the documents that publish the
//! keys; `FakeKeyServer` serves those documents over HTTP.

use std::fmt::{self, Write as _};
use std::io;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use time::OffsetDateTime;

mod server;

pub use server::{FakeKeyServer, KeyServerFault};

/// The issuer [`TestIdTokenIssuer::google_claims`] writes.
pub const TEST_ID_TOKEN_ISSUER: &str = "https://accounts.google.com";

/// The email [`TestIdTokenIssuer::google_claims`] writes.
pub const TEST_ID_TOKEN_EMAIL: &str = "robot@credkit-test.iam.gserviceaccount.com";

/// The subject [`TestIdTokenIssuer::google_claims`] writes.
pub const TEST_ID_TOKEN_SUBJECT: &str = "104981334543210987654";

/// An issuer of ID tokens for tests: an RSA-2048 key (RS256, as Google signs its ID tokens) and
/// a P-256 key (ES256, as IAP signs its headers), both generated per run with random key IDs;
/// the tokens they sign, and the documents that publish their public keys (a JWK set, and
/// `kid → PEM` maps of self-signed certificates or public keys, as Google's v3 and v1 and IAP's
/// endpoints serve them).
///
/// Cheap to clone (the keys are shared).
///
/// # Examples
///
/// ```
/// use credkit_testing::TestIdTokenIssuer;
///
/// let issuer = TestIdTokenIssuer::generate()?;
/// let now = time::OffsetDateTime::now_utc();
/// let token = issuer.mint(&TestIdTokenIssuer::google_claims("https://svc.example", now));
/// assert_eq!(token.split('.').count(), 3);
/// let jwks: serde_json::Value = serde_json::from_str(&issuer.jwk_set_json())?;
/// assert_eq!(jwks["keys"][0]["kid"], issuer.rsa_kid());
/// assert_eq!(jwks["keys"][1]["kid"], issuer.ec_kid());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TestIdTokenIssuer {
    keys: Arc<Keys>,
}

struct Keys {
    rsa: RsaKeyPair,
    rsa_kid: String,
    rsa_certificate: String,
    rsa_public_pem: String,
    ec: EcdsaKeyPair,
    ec_kid: String,
    ec_certificate: String,
    ec_public_pem: String,
    jwks: Value,
}

impl TestIdTokenIssuer {
    /// Generates the two key pairs, their key IDs and self-signed certificates.
    ///
    /// # Errors
    ///
    /// When the crypto library fails to generate or encode a key (it does not).
    pub fn generate() -> io::Result<Self> {
        let failed = |what: &str| io::Error::other(format!("TestIdTokenIssuer: {what} failed"));
        let random = SystemRandom::new();
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| failed("an RSA key"))?;
        let rsa_pkcs8 = rsa.as_der().map_err(|_| failed("encoding the RSA key"))?;
        let ec_pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random)
            .map_err(|_| failed("a P-256 key"))?;
        let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec_pkcs8.as_ref())
            .map_err(|_| failed("reading the P-256 key"))?;
        let rsa_certificate = self_signed(rsa_pkcs8.as_ref(), &rcgen::PKCS_RSA_SHA256)
            .map_err(|_| failed("the RSA certificate"))?;
        let ec_certificate = self_signed(ec_pkcs8.as_ref(), &rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|_| failed("the P-256 certificate"))?;
        let rsa_spki = rsa
            .public_key()
            .as_der()
            .map_err(|_| failed("encoding the RSA public key"))?;
        let ec_spki = ec
            .public_key()
            .as_der()
            .map_err(|_| failed("encoding the P-256 public key"))?;
        let rsa_kid = random_kid(&random)?;
        let ec_kid = random_kid(&random)?;
        let components = RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public_key());
        let point = ec.public_key().as_ref();
        let (x, y) = point
            .get(1..)
            .map(|xy| xy.split_at(xy.len() / 2))
            .ok_or_else(|| failed("reading the P-256 point"))?;
        let jwks = json!({"keys": [
            {
                "kty": "RSA", "alg": "RS256", "use": "sig", "kid": rsa_kid,
                "n": URL_SAFE_NO_PAD.encode(&components.n),
                "e": URL_SAFE_NO_PAD.encode(&components.e),
            },
            {
                "kty": "EC", "alg": "ES256", "use": "sig", "crv": "P-256", "kid": ec_kid,
                "x": URL_SAFE_NO_PAD.encode(x),
                "y": URL_SAFE_NO_PAD.encode(y),
            },
        ]});
        Ok(Self {
            keys: Arc::new(Keys {
                rsa_public_pem: pem::encode(&pem::Pem::new("PUBLIC KEY", rsa_spki.as_ref())),
                ec_public_pem: pem::encode(&pem::Pem::new("PUBLIC KEY", ec_spki.as_ref())),
                rsa,
                rsa_kid,
                rsa_certificate,
                ec,
                ec_kid,
                ec_certificate,
                jwks,
            }),
        })
    }

    /// The RSA key's ID (the `kid` of RS256 tokens).
    pub fn rsa_kid(&self) -> &str {
        &self.keys.rsa_kid
    }

    /// The P-256 key's ID (the `kid` of ES256 tokens).
    pub fn ec_kid(&self) -> &str {
        &self.keys.ec_kid
    }

    /// Claims as Google writes them in a service account's or the metadata server's ID token
    /// for `audience`, issued at `now` for an hour: `iss` [`TEST_ID_TOKEN_ISSUER`], `aud`,
    /// `azp`, `sub` [`TEST_ID_TOKEN_SUBJECT`], `email` [`TEST_ID_TOKEN_EMAIL`],
    /// `email_verified`, `iat`, `exp`. Change or remove members to test what rejects them.
    pub fn google_claims(audience: &str, now: OffsetDateTime) -> Value {
        let iat = now.unix_timestamp();
        json!({
            "iss": TEST_ID_TOKEN_ISSUER,
            "aud": audience,
            "azp": TEST_ID_TOKEN_EMAIL,
            "sub": TEST_ID_TOKEN_SUBJECT,
            "email": TEST_ID_TOKEN_EMAIL,
            "email_verified": true,
            "iat": iat,
            "exp": iat + 3600,
        })
    }

    /// An RS256 token of `claims`, header `{"alg":"RS256","kid":<rsa_kid>,"typ":"JWT"}`: an ID
    /// token as Google signs them.
    pub fn mint(&self, claims: &Value) -> String {
        self.sign_rs256(
            &json!({"alg": "RS256", "kid": self.keys.rsa_kid, "typ": "JWT"}),
            claims,
        )
    }

    /// An ES256 token of `claims`, header `{"alg":"ES256","kid":<ec_kid>,"typ":"JWT"}`.
    pub fn mint_es256(&self, claims: &Value) -> String {
        self.sign_es256(
            &json!({"alg": "ES256", "kid": self.keys.ec_kid, "typ": "JWT"}),
            claims,
        )
    }

    /// `header.claims` signed with the RSA key (RSASSA-PKCS1-v1_5, SHA-256), whatever the
    /// header says: to test headers with another `kid`, `alg` or members.
    ///
    /// # Panics
    ///
    /// If the crypto library fails to sign (it does not).
    pub fn sign_rs256(&self, header: &Value, claims: &Value) -> String {
        let mut jwt = signing_input(header, claims);
        let mut signature = vec![0; self.keys.rsa.public_modulus_len()];
        #[allow(clippy::expect_used)] // a test helper: a signing failure is a failed test
        self.keys
            .rsa
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                jwt.as_bytes(),
                &mut signature,
            )
            .expect("signing with a generated RSA key");
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut jwt);
        jwt
    }

    /// `header.claims` signed with the P-256 key (ECDSA, SHA-256, `r‖s` as JWS wants it),
    /// whatever the header says.
    ///
    /// # Panics
    ///
    /// If the crypto library fails to sign (it does not).
    pub fn sign_es256(&self, header: &Value, claims: &Value) -> String {
        let mut jwt = signing_input(header, claims);
        #[allow(clippy::expect_used)] // a test helper: a signing failure is a failed test
        let signature = self
            .keys
            .ec
            .sign(&SystemRandom::new(), jwt.as_bytes())
            .expect("signing with a generated P-256 key");
        jwt.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut jwt);
        jwt
    }

    /// The JWK set of both public keys (`{"keys": [RSA, EC]}`), as Google's v3 certificate
    /// endpoint and IAP's `public_key-jwk` serve them.
    pub fn jwk_set(&self) -> &Value {
        &self.keys.jwks
    }

    /// [`jwk_set`](Self::jwk_set) as JSON text.
    pub fn jwk_set_json(&self) -> String {
        self.keys.jwks.to_string()
    }

    /// Key IDs and self-signed X.509 certificates (PEM) of both keys, as Google's v1
    /// certificate endpoint serves them.
    pub fn pem_certificates(&self) -> Vec<(String, String)> {
        vec![
            (self.keys.rsa_kid.clone(), self.keys.rsa_certificate.clone()),
            (self.keys.ec_kid.clone(), self.keys.ec_certificate.clone()),
        ]
    }

    /// [`pem_certificates`](Self::pem_certificates) as a JSON object, the v1 endpoint's body.
    pub fn pem_certificates_json(&self) -> String {
        pem_map(&self.pem_certificates())
    }

    /// Key IDs and public keys (PEM `PUBLIC KEY`) of both keys, as IAP's `public_key` serves
    /// them.
    pub fn pem_public_keys(&self) -> Vec<(String, String)> {
        vec![
            (self.keys.rsa_kid.clone(), self.keys.rsa_public_pem.clone()),
            (self.keys.ec_kid.clone(), self.keys.ec_public_pem.clone()),
        ]
    }

    /// [`pem_public_keys`](Self::pem_public_keys) as a JSON object.
    pub fn pem_public_keys_json(&self) -> String {
        pem_map(&self.pem_public_keys())
    }
}

fn signing_input(header: &Value, claims: &Value) -> String {
    let mut jwt = URL_SAFE_NO_PAD.encode(header.to_string());
    jwt.push('.');
    URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut jwt);
    jwt
}

fn pem_map(pairs: &[(String, String)]) -> String {
    Value::Object(
        pairs
            .iter()
            .map(|(kid, pem)| (kid.clone(), Value::String(pem.clone())))
            .collect(),
    )
    .to_string()
}

fn self_signed(
    pkcs8: &[u8],
    algorithm: &'static rcgen::SignatureAlgorithm,
) -> Result<String, rcgen::Error> {
    let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8));
    let key = rcgen::KeyPair::from_pem_and_sign_algo(&pem, algorithm)?;
    let params = rcgen::CertificateParams::new(vec!["credkit-test.example".to_owned()])?;
    Ok(params.self_signed(&key)?.pem())
}

fn random_kid(random: &SystemRandom) -> io::Result<String> {
    let mut id = [0u8; 20];
    random
        .fill(&mut id)
        .map_err(|_| io::Error::other("TestIdTokenIssuer: drawing a key ID failed"))?;
    Ok(id.iter().fold(String::with_capacity(40), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    }))
}

impl fmt::Debug for TestIdTokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestIdTokenIssuer")
            .field("rsa_kid", &self.keys.rsa_kid)
            .field("ec_kid", &self.keys.ec_kid)
            .finish_non_exhaustive()
    }
}
