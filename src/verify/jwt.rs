//! Token verification with `jsonwebtoken`: RS256 signature with the realm key named by the
//! token's `kid` in the JWKS, then `iss`, `aud`, `exp` and `nonce` for ID tokens
//! ([`verify_id_token`]), `iss` and `exp` for any token (`token --decode`, [`verified_parts`]).

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;

/// What the token must say.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The nonce sent with the authorization request (none for direct grants).
    pub nonce: Option<&'a str>,
}

/// Seconds of clock skew tolerated on `exp`.
const LEEWAY_SECONDS: u64 = 30;

/// The realm key that signed `token`: its header must say RS256 and name a `sig` key of the
/// JWKS by `kid`. The key id and the decoding key.
fn signing_key(token: &str, jwks: &Value) -> Result<(String, DecodingKey), String> {
    let header = decode_header(token).map_err(|e| format!("not a JWT ({e})"))?;
    if header.alg != Algorithm::RS256 {
        return Err(format!(
            "signed with {:?}, expected RS256 (the realm's default signature algorithm)",
            header.alg
        ));
    }
    let kid = header
        .kid
        .ok_or_else(|| "the token header has no `kid`".to_string())?;
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| "the JWKS has no `keys` array".to_string())?;
    let key = keys
        .iter()
        .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid.as_str()))
        .ok_or_else(|| {
            let kids: Vec<&str> = keys
                .iter()
                .filter_map(|k| k.get("kid").and_then(Value::as_str))
                .collect();
            format!(
                "key `{kid}` is not in the JWKS (it has: {})",
                kids.join(", ")
            )
        })?;
    if let Some(usage) = key.get("use").and_then(Value::as_str) {
        if usage != "sig" {
            return Err(format!(
                "key `{kid}` in the JWKS is for `{usage}`, not for signatures"
            ));
        }
    }
    let jwk: Jwk = serde_json::from_value(key.clone())
        .map_err(|e| format!("key `{kid}` in the JWKS is not a usable JWK ({e})"))?;
    let decoding_key = DecodingKey::from_jwk(&jwk)
        .map_err(|e| format!("key `{kid}` in the JWKS is not a usable RSA key ({e})"))?;
    Ok((kid, decoding_key))
}

/// Any token of the realm (access, ID, refresh-less): its header and claims once the RS256
/// signature verifies with the JWKS key named by `kid`, `iss` is `issuer` and it has not
/// expired. No audience check: an access token's `aud` is whatever Keycloak's mappers made.
pub fn verified_parts(token: &str, jwks: &Value, issuer: &str) -> Result<(Value, Value), String> {
    let (kid, key) = signing_key(token, jwks)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECONDS;
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss"]);
    let data = decode::<Value>(token, &key, &validation).map_err(|e| match e.kind() {
        ErrorKind::InvalidSignature => {
            format!("the signature does not verify with key `{kid}` from the JWKS")
        }
        ErrorKind::InvalidIssuer => format!("iss is not \"{issuer}\""),
        ErrorKind::ExpiredSignature => "expired".to_string(),
        other => format!("rejected: {other:?}"),
    })?;
    let header = serde_json::to_value(&data.header).unwrap_or(Value::Null);
    Ok((header, data.claims))
}

/// Verify an ID token; on success, the key id that signed it.
pub fn verify_id_token(
    token: &str,
    jwks: &Value,
    expected: Expected<'_>,
) -> Result<String, String> {
    let (kid, decoding_key) = signing_key(token, jwks)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = LEEWAY_SECONDS;
    validation.set_issuer(&[expected.issuer]);
    validation.set_audience(&[expected.client_id]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);

    let claims = match decode::<Value>(token, &decoding_key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            let seen = unverified_claims(token);
            let claim = |name: &str| {
                seen.as_ref()
                    .and_then(|c| c.get(name))
                    .map(Value::to_string)
                    .unwrap_or_else(|| "(absent)".into())
            };
            return Err(match e.kind() {
                ErrorKind::InvalidSignature => {
                    format!("the signature does not verify with key `{kid}` from the JWKS")
                }
                ErrorKind::InvalidIssuer => {
                    format!("iss is {}, expected \"{}\"", claim("iss"), expected.issuer)
                }
                ErrorKind::InvalidAudience => format!(
                    "aud is {}, which does not contain \"{}\"",
                    claim("aud"),
                    expected.client_id
                ),
                ErrorKind::ExpiredSignature => format!("expired (exp {})", claim("exp")),
                ErrorKind::MissingRequiredClaim(c) => format!("the `{c}` claim is missing"),
                other => format!("rejected: {other:?}"),
            });
        }
    };
    if let Some(nonce) = expected.nonce {
        match claims.get("nonce").and_then(Value::as_str) {
            Some(n) if n == nonce => {}
            Some(n) => {
                return Err(format!(
                    "nonce is \"{n}\", not the one sent with the authorization request"
                ))
            }
            None => return Err("the `nonce` claim is missing".into()),
        }
    }
    if let Some(typ) = claims.get("typ").and_then(Value::as_str) {
        if typ != "ID" {
            return Err(format!(
                "typ is \"{typ}\", not \"ID\": this is not an ID token"
            ));
        }
    }
    Ok(kid)
}

/// The claims without any check, only to quote them in an explanation.
fn unverified_claims(token: &str) -> Option<Value> {
    jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .ok()
        .map(|d| d.claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, get_current_timestamp, EncodingKey, Header};
    use serde_json::json;

    const KEY_PEM: &str = include_str!("testdata/test-signing-key.pem");
    const KEY_N: &str = include_str!("testdata/test-signing-key.n");
    const ISS: &str = "http://localhost:8080/realms/testing";

    fn jwks() -> Value {
        json!({"keys": [
            {"kid": "enc-key", "kty": "RSA", "alg": "RSA-OAEP", "use": "enc", "n": KEY_N, "e": "AQAB"},
            {"kid": "sig-key", "kty": "RSA", "alg": "RS256", "use": "sig", "n": KEY_N, "e": "AQAB"}
        ]})
    }

    fn sign(kid: &str, claims: Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        let key = EncodingKey::from_rsa_pem(KEY_PEM.as_bytes()).expect("test key");
        encode(&header, &claims, &key).expect("sign")
    }

    fn claims() -> Value {
        let now = get_current_timestamp();
        json!({"exp": now + 300, "iat": now, "iss": ISS, "aud": "test-client", "sub": "u-1",
               "typ": "ID", "azp": "test-client", "nonce": "n-1"})
    }

    fn expected(nonce: Option<&'static str>) -> Expected<'static> {
        Expected {
            issuer: ISS,
            client_id: "test-client",
            nonce,
        }
    }

    #[test]
    fn a_good_token_verifies() {
        let token = sign("sig-key", claims());
        assert_eq!(
            verify_id_token(&token, &jwks(), expected(Some("n-1"))),
            Ok("sig-key".into())
        );
        assert!(verify_id_token(&token, &jwks(), expected(None)).is_ok());
    }

    #[test]
    fn each_wrong_claim_is_named() {
        let mut c = claims();
        c["iss"] = json!("http://keycloak:8080/realms/testing");
        let err = verify_id_token(&sign("sig-key", c), &jwks(), expected(None)).unwrap_err();
        assert!(err.starts_with("iss is \"http://keycloak:8080"), "{err}");

        let mut c = claims();
        c["aud"] = json!(["account"]);
        let err = verify_id_token(&sign("sig-key", c), &jwks(), expected(None)).unwrap_err();
        assert!(err.starts_with("aud is"), "{err}");

        let mut c = claims();
        c["exp"] = json!(get_current_timestamp() - 3600);
        let err = verify_id_token(&sign("sig-key", c), &jwks(), expected(None)).unwrap_err();
        assert!(err.starts_with("expired"), "{err}");

        let err = verify_id_token(&sign("sig-key", claims()), &jwks(), expected(Some("other")))
            .unwrap_err();
        assert!(err.starts_with("nonce is \"n-1\""), "{err}");

        let mut c = claims();
        c["typ"] = json!("Bearer");
        let err = verify_id_token(&sign("sig-key", c), &jwks(), expected(None)).unwrap_err();
        assert!(err.contains("not an ID token"), "{err}");
    }

    #[test]
    fn the_key_must_be_in_the_jwks_and_for_signatures() {
        let err = verify_id_token(&sign("rotated", claims()), &jwks(), expected(None)).unwrap_err();
        assert!(err.contains("not in the JWKS"), "{err}");
        assert!(err.contains("sig-key"), "{err}");
        let err = verify_id_token(&sign("enc-key", claims()), &jwks(), expected(None)).unwrap_err();
        assert!(err.contains("not for signatures"), "{err}");
    }

    #[test]
    fn a_tampered_or_foreign_token_is_rejected() {
        let token = sign("sig-key", claims());
        // Swap in another payload, keep the signature.
        let other = sign("sig-key", {
            let mut c = claims();
            c["sub"] = json!("someone-else");
            c
        });
        let parts: Vec<&str> = token.split('.').collect();
        let other_parts: Vec<&str> = other.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], other_parts[1], parts[2]);
        let err = verify_id_token(&forged, &jwks(), expected(None)).unwrap_err();
        assert!(err.contains("signature does not verify"), "{err}");

        let hs = encode(
            &Header {
                kid: Some("sig-key".into()),
                ..Header::new(Algorithm::HS256)
            },
            &claims(),
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        let err = verify_id_token(&hs, &jwks(), expected(None)).unwrap_err();
        assert!(err.contains("expected RS256"), "{err}");
        assert!(verify_id_token("garbage", &jwks(), expected(None))
            .unwrap_err()
            .starts_with("not a JWT"));
    }
}
