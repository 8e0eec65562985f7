//! Which tokens the realm's endpoints accept: access tokens (userinfo, introspection,
//! revocation) and refresh tokens (introspection, revocation, back-channel logout).

use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

use crate::model::{Realm, User};
use crate::token::{active_session, decode_claims, issuer, peek_claims};

/// Why a token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenProblem {
    /// Bad signature, type, issuer, or expired/revoked.
    Invalid,
    /// No live session holding the client.
    NoSession,
    UserDisabled,
}

/// A verified access token: its claims and the user it speaks for.
pub struct Bearer {
    pub claims: Map<String, Value>,
    pub user: User,
}

/// Access-token checks of userinfo and introspection: signature, `typ`, `iss` of this request,
/// expiry, revocation, then the session (or, for a transient service-account token, the
/// service account of a client that still has service accounts on).
pub fn verify_bearer(
    realm: &Realm,
    token: &str,
    base: &str,
    now: u64,
) -> Result<Bearer, TokenProblem> {
    let keys = realm.keys.as_ref().ok_or(TokenProblem::Invalid)?;
    let key = DecodingKey::from_rsa_pem(keys.rsa_public_pem.as_bytes())
        .map_err(|_| TokenProblem::Invalid)?;
    let claims = decode_claims(token, &key, Algorithm::RS256).ok_or(TokenProblem::Invalid)?;
    let s = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    if s("typ") != "Bearer" || s("iss") != issuer(base, &realm.name) || exp <= now {
        return Err(TokenProblem::Invalid);
    }
    if realm.revoked_tokens.contains_key(&s("jti")) {
        return Err(TokenProblem::Invalid);
    }
    let azp = s("azp");
    let user = match claims.get("sid").and_then(Value::as_str) {
        Some(sid) => {
            let session = active_session(realm, sid, now).ok_or(TokenProblem::NoSession)?;
            if !session.clients.iter().any(|c| c == &azp) {
                return Err(TokenProblem::NoSession);
            }
            realm
                .user_by_id(&session.user_id)
                .cloned()
                .ok_or(TokenProblem::NoSession)?
        }
        None => {
            let client = realm
                .client_by_client_id(&azp)
                .filter(|c| c.enabled() && c.service_accounts_enabled())
                .ok_or(TokenProblem::NoSession)?;
            realm
                .service_account_of(&client.id)
                .filter(|u| u.id == s("sub"))
                .cloned()
                .ok_or(TokenProblem::NoSession)?
        }
    };
    if !user.enabled {
        return Err(TokenProblem::UserDisabled);
    }
    Ok(Bearer { claims, user })
}

/// Claims of a valid refresh token of this realm (HS512), if its session is alive.
pub fn verify_refresh(
    realm: &Realm,
    token: &str,
    base: &str,
    now: u64,
) -> Option<Map<String, Value>> {
    let keys = realm.keys.as_ref()?;
    let claims = decode_claims(
        token,
        &DecodingKey::from_secret(&keys.hmac_secret_bytes()),
        Algorithm::HS512,
    )?;
    let exp = claims.get("exp")?.as_u64()?;
    if exp <= now
        || claims.get("typ")?.as_str()? != "Refresh"
        || claims.get("iss")?.as_str()? != issuer(base, &realm.name)
    {
        return None;
    }
    let session = active_session(realm, claims.get("sid")?.as_str()?, now)?;
    let azp = claims.get("azp")?.as_str()?;
    session.clients.iter().any(|c| c == azp).then_some(claims)
}

/// Token claims without verification, for tests and diagnostics.
pub fn claims_of(token: &str) -> Option<Map<String, Value>> {
    peek_claims(token)
}
