//! A realm's key material (RS256 signing, RSA-OAEP encryption, HS512), generated on first use.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{random_token, uuid};

/// A realm's key material: an RSA 2048 key for RS256 and an HMAC secret for HS512 refresh tokens.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RealmKeys {
    pub rsa_kid: String,
    /// PKCS#1 PEM private key.
    pub rsa_private_pem: String,
    /// PKCS#1 PEM public key.
    pub rsa_public_pem: String,
    /// JWK `n` and `e` (base64url, no padding).
    pub rsa_n: String,
    pub rsa_e: String,
    pub hmac_kid: String,
    /// Raw HMAC secret, base64 (standard).
    pub hmac_secret: String,
    /// The realm's second RSA key, for encryption (`rsa-enc-generated`, alg RSA-OAEP): only its
    /// public part is published in the JWKS, as Keycloak does.
    #[serde(default)]
    pub rsa_enc: Option<RsaPublicJwk>,
}

/// The public half of an RSA key, as JWK parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RsaPublicJwk {
    pub kid: String,
    pub n: String,
    pub e: String,
}

impl RealmKeys {
    /// Generates fresh keys (slow: an RSA 2048 key; call it off the async runtime's hot path).
    pub fn generate() -> anyhow::Result<Self> {
        use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey, LineEnding};
        use rsa::traits::PublicKeyParts;
        let mut rng = rand08_compat::rng();
        let private = rsa::RsaPrivateKey::new(&mut rng, 2048)?;
        let public = private.to_public_key();
        let mut secret = [0u8; 64];
        rand::rng().fill(&mut secret[..]);
        let enc = rsa::RsaPrivateKey::new(&mut rng, 2048)?.to_public_key();
        Ok(Self {
            rsa_enc: Some(RsaPublicJwk {
                kid: random_token(43),
                n: URL_SAFE_NO_PAD.encode(enc.n().to_bytes_be()),
                e: URL_SAFE_NO_PAD.encode(enc.e().to_bytes_be()),
            }),
            rsa_kid: random_token(43),
            rsa_private_pem: private.to_pkcs1_pem(LineEnding::LF)?.to_string(),
            rsa_public_pem: public.to_pkcs1_pem(LineEnding::LF)?,
            rsa_n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            rsa_e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
            hmac_kid: uuid(),
            hmac_secret: STANDARD.encode(secret),
        })
    }

    /// The public key as base64 DER (SubjectPublicKeyInfo), as `GET /realms/{realm}` shows it.
    pub fn public_key_spki_b64(&self) -> String {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::pkcs8::EncodePublicKey;
        rsa::RsaPublicKey::from_pkcs1_pem(&self.rsa_public_pem)
            .ok()
            .and_then(|k| k.to_public_key_der().ok())
            .map(|der| STANDARD.encode(der.as_bytes()))
            .unwrap_or_default()
    }

    pub fn hmac_secret_bytes(&self) -> Vec<u8> {
        STANDARD.decode(&self.hmac_secret).unwrap_or_default()
    }
}

/// rsa 0.9 wants a rand_core 0.6 RNG; rand 0.9's is rand_core 0.9. Bridge with OS randomness.
mod rand08_compat {
    pub struct OsRng06;
    impl rsa::rand_core::RngCore for OsRng06 {
        fn next_u32(&mut self) -> u32 {
            rand::random()
        }
        fn next_u64(&mut self) -> u64 {
            rand::random()
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            rand::Rng::fill(&mut rand::rng(), dest)
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rsa::rand_core::CryptoRng for OsRng06 {}
    pub fn rng() -> OsRng06 {
        OsRng06
    }
}
