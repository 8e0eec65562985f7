//! Reading tokens: signature and claims checks, and the admin API's bearer verification.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::model::{User, MASTER};

use super::{active_session, issuer};

/// Verifies a signature and returns the claims (expiry is checked by callers against the
/// double's clock, not the system clock).
pub fn decode_claims(token: &str, key: &DecodingKey, alg: Algorithm) -> Option<Map<String, Value>> {
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
        .ok()
        .map(|data| data.claims)
}

/// Reads a JWT's claims without verifying it (to find the realm from `iss`).
pub fn peek_claims(token: &str) -> Option<Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let raw = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&raw).ok()
}

/// Who a valid bearer token speaks for.
#[derive(Clone, Debug)]
pub struct TokenSubject {
    pub realm: String,
    pub user: User,
    pub client_id: String,
    pub claims: Map<String, Value>,
}

/// Checks an access token the way Keycloak's bearer authentication does: signature by the
/// realm key, not expired, issuer equal to the issuer of *this* request, a live session.
pub fn verify_access_token(
    state: &crate::model::State,
    token: &str,
    base: &str,
    now: u64,
) -> Option<TokenSubject> {
    let unverified = peek_claims(token)?;
    let iss = unverified.get("iss")?.as_str()?;
    let realm_name = iss.rsplit_once("/realms/")?.1;
    let realm = state.realm(realm_name)?;
    let keys = realm.keys.as_ref()?;
    let key = DecodingKey::from_rsa_pem(keys.rsa_public_pem.as_bytes()).ok()?;
    let claims = decode_claims(token, &key, Algorithm::RS256)?;
    let exp = claims.get("exp")?.as_u64()?;
    if exp <= now
        || claims.get("typ")?.as_str()? != "Bearer"
        || claims.get("iss")?.as_str()? != issuer(base, &realm.name)
    {
        return None;
    }
    let jti = claims.get("jti").and_then(Value::as_str).unwrap_or("");
    if realm.revoked_tokens.contains_key(jti) {
        return None;
    }
    let sid = claims.get("sid")?.as_str()?;
    let session = active_session(realm, sid, now)?;
    let azp = claims.get("azp")?.as_str()?;
    if !session.clients.iter().any(|c| c == azp) {
        return None;
    }
    let user = realm.user_by_id(&session.user_id).filter(|u| u.enabled)?;
    Some(TokenSubject {
        realm: realm.name.clone(),
        user: user.clone(),
        client_id: claims.get("azp")?.as_str()?.to_owned(),
        claims,
    })
}

/// Whether the subject may use the admin API: the master realm's `admin` role.
pub fn is_master_admin(subject: &TokenSubject) -> bool {
    subject.realm == MASTER && subject.user.is_admin()
}
