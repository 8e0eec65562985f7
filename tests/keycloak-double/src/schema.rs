//! Known JSON fields of Keycloak 26.2's representations, and a scanner that rejects unknown ones
//! the way Keycloak's Jackson mapper does: the first unknown field in document order fails the
//! whole request with `Invalid json representation for <Class>. Unrecognized field "<name>" at
//! line <l> column <c>.` (keycloak-behaviour §6).
//!
//! Field lists were read from Keycloak's `core/src/main/java/org/keycloak/representations/idm/*.java`
//! (jakarta-era versions that carry the 26.x-only fields: `adminPermissionsEnabled`, `type`,
//! `alwaysDisplayInConsole`, `userProfileMetadata`, ...). Nested objects that the double does not
//! model (roles, groups, protocol mappers, ...) are accepted as any JSON.
//!
//! The column follows Jackson's parser position when it meets the unknown property: just after the
//! value's first token (after the opening quote of a string, after `{` or `[`, after a whole
//! number or literal). Lines and columns are 1-based and count bytes.

/// What a JSON value is expected to be.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// Anything (not modelled by the double).
    Any,
    /// An object with a known set of fields (a Java representation class).
    Object(&'static Class),
    /// A list whose items have the given shape.
    ListOf(&'static Shape),
}

/// A representation class: its simple name and its JSON fields.
#[derive(Debug)]
pub struct Class {
    pub name: &'static str,
    pub fields: &'static [(&'static str, Shape)],
}

const ANY: Shape = Shape::Any;

pub static CREDENTIAL: Class = Class {
    name: "CredentialRepresentation",
    fields: &[
        ("id", ANY),
        ("type", ANY),
        ("userLabel", ANY),
        ("createdDate", ANY),
        ("secretData", ANY),
        ("credentialData", ANY),
        ("priority", ANY),
        ("value", ANY),
        ("temporary", ANY),
        // deprecated but still part of the class in 26.x
        ("device", ANY),
        ("hashedSaltedValue", ANY),
        ("salt", ANY),
        ("hashIterations", ANY),
        ("counter", ANY),
        ("algorithm", ANY),
        ("digits", ANY),
        ("period", ANY),
        ("config", ANY),
    ],
};

static CREDENTIAL_SHAPE: Shape = Shape::Object(&CREDENTIAL);

pub static USER: Class = Class {
    name: "UserRepresentation",
    fields: &[
        // AbstractUserRepresentation
        ("id", ANY),
        ("username", ANY),
        ("firstName", ANY),
        ("lastName", ANY),
        ("email", ANY),
        ("emailVerified", ANY),
        ("attributes", ANY),
        ("userProfileMetadata", ANY),
        ("enabled", ANY),
        // UserRepresentation
        ("self", ANY),
        ("origin", ANY),
        ("createdTimestamp", ANY),
        ("totp", ANY),
        ("federationLink", ANY),
        ("serviceAccountClientId", ANY),
        ("credentials", Shape::ListOf(&CREDENTIAL_SHAPE)),
        ("disableableCredentialTypes", ANY),
        ("requiredActions", ANY),
        ("federatedIdentities", ANY),
        ("realmRoles", ANY),
        ("clientRoles", ANY),
        ("clientConsents", ANY),
        ("notBefore", ANY),
        ("applicationRoles", ANY),
        ("socialLinks", ANY),
        ("groups", ANY),
        ("access", ANY),
    ],
};

static USER_SHAPE: Shape = Shape::Object(&USER);

pub static CLIENT: Class = Class {
    name: "ClientRepresentation",
    fields: &[
        ("id", ANY),
        ("clientId", ANY),
        ("name", ANY),
        ("description", ANY),
        ("type", ANY),
        ("rootUrl", ANY),
        ("adminUrl", ANY),
        ("baseUrl", ANY),
        ("surrogateAuthRequired", ANY),
        ("enabled", ANY),
        ("alwaysDisplayInConsole", ANY),
        ("clientAuthenticatorType", ANY),
        ("secret", ANY),
        ("registrationAccessToken", ANY),
        ("defaultRoles", ANY),
        ("redirectUris", ANY),
        ("webOrigins", ANY),
        ("notBefore", ANY),
        ("bearerOnly", ANY),
        ("consentRequired", ANY),
        ("standardFlowEnabled", ANY),
        ("implicitFlowEnabled", ANY),
        ("directAccessGrantsEnabled", ANY),
        ("serviceAccountsEnabled", ANY),
        ("authorizationServicesEnabled", ANY),
        ("directGrantsOnly", ANY),
        ("publicClient", ANY),
        ("frontchannelLogout", ANY),
        ("protocol", ANY),
        ("attributes", ANY),
        ("authenticationFlowBindingOverrides", ANY),
        ("fullScopeAllowed", ANY),
        ("nodeReRegistrationTimeout", ANY),
        ("registeredNodes", ANY),
        ("protocolMappers", ANY),
        ("clientTemplate", ANY),
        ("useTemplateConfig", ANY),
        ("useTemplateScope", ANY),
        ("useTemplateMappers", ANY),
        ("defaultClientScopes", ANY),
        ("optionalClientScopes", ANY),
        ("authorizationSettings", ANY),
        ("access", ANY),
        ("origin", ANY),
    ],
};

static CLIENT_SHAPE: Shape = Shape::Object(&CLIENT);

/// RealmRepresentation's fields that hold nested collections; the rest are realm settings.
pub const REALM_COLLECTIONS: &[&str] = &[
    "roles",
    "groups",
    "defaultRoles",
    "defaultRole",
    "defaultGroups",
    "users",
    "federatedUsers",
    "scopeMappings",
    "clientScopeMappings",
    "clients",
    "clientScopes",
    "userFederationProviders",
    "userFederationMappers",
    "identityProviders",
    "identityProviderMappers",
    "protocolMappers",
    "components",
    "authenticationFlows",
    "authenticatorConfig",
    "requiredActions",
    "organizations",
    "applications",
    "oauthClients",
    "clientTemplates",
    "applicationScopeMappings",
    "socialProviders",
    "clientProfiles",
    "clientPolicies",
    "localizationTexts",
];

pub static REALM: Class = Class {
    name: "RealmRepresentation",
    fields: &[
        ("id", ANY),
        ("realm", ANY),
        ("displayName", ANY),
        ("displayNameHtml", ANY),
        ("notBefore", ANY),
        ("defaultSignatureAlgorithm", ANY),
        ("revokeRefreshToken", ANY),
        ("refreshTokenMaxReuse", ANY),
        ("accessTokenLifespan", ANY),
        ("accessTokenLifespanForImplicitFlow", ANY),
        ("ssoSessionIdleTimeout", ANY),
        ("ssoSessionMaxLifespan", ANY),
        ("ssoSessionIdleTimeoutRememberMe", ANY),
        ("ssoSessionMaxLifespanRememberMe", ANY),
        ("offlineSessionIdleTimeout", ANY),
        ("offlineSessionMaxLifespanEnabled", ANY),
        ("offlineSessionMaxLifespan", ANY),
        ("clientSessionIdleTimeout", ANY),
        ("clientSessionMaxLifespan", ANY),
        ("clientOfflineSessionIdleTimeout", ANY),
        ("clientOfflineSessionMaxLifespan", ANY),
        ("accessCodeLifespan", ANY),
        ("accessCodeLifespanUserAction", ANY),
        ("accessCodeLifespanLogin", ANY),
        ("actionTokenGeneratedByAdminLifespan", ANY),
        ("actionTokenGeneratedByUserLifespan", ANY),
        ("oauth2DeviceCodeLifespan", ANY),
        ("oauth2DevicePollingInterval", ANY),
        ("enabled", ANY),
        ("sslRequired", ANY),
        ("passwordCredentialGrantAllowed", ANY),
        ("registrationAllowed", ANY),
        ("registrationEmailAsUsername", ANY),
        ("rememberMe", ANY),
        ("verifyEmail", ANY),
        ("loginWithEmailAllowed", ANY),
        ("duplicateEmailsAllowed", ANY),
        ("resetPasswordAllowed", ANY),
        ("editUsernameAllowed", ANY),
        ("userCacheEnabled", ANY),
        ("realmCacheEnabled", ANY),
        ("bruteForceProtected", ANY),
        ("permanentLockout", ANY),
        ("maxTemporaryLockouts", ANY),
        ("bruteForceStrategy", ANY),
        ("maxFailureWaitSeconds", ANY),
        ("minimumQuickLoginWaitSeconds", ANY),
        ("waitIncrementSeconds", ANY),
        ("quickLoginCheckMilliSeconds", ANY),
        ("maxDeltaTimeSeconds", ANY),
        ("failureFactor", ANY),
        ("privateKey", ANY),
        ("publicKey", ANY),
        ("certificate", ANY),
        ("codeSecret", ANY),
        ("roles", ANY),
        ("groups", ANY),
        ("defaultRoles", ANY),
        ("defaultRole", ANY),
        ("defaultGroups", ANY),
        ("requiredCredentials", ANY),
        ("passwordPolicy", ANY),
        ("otpPolicyType", ANY),
        ("otpPolicyAlgorithm", ANY),
        ("otpPolicyInitialCounter", ANY),
        ("otpPolicyDigits", ANY),
        ("otpPolicyLookAheadWindow", ANY),
        ("otpPolicyPeriod", ANY),
        ("otpPolicyCodeReusable", ANY),
        ("otpSupportedApplications", ANY),
        ("localizationTexts", ANY),
        ("webAuthnPolicyRpEntityName", ANY),
        ("webAuthnPolicySignatureAlgorithms", ANY),
        ("webAuthnPolicyRpId", ANY),
        ("webAuthnPolicyAttestationConveyancePreference", ANY),
        ("webAuthnPolicyAuthenticatorAttachment", ANY),
        ("webAuthnPolicyRequireResidentKey", ANY),
        ("webAuthnPolicyUserVerificationRequirement", ANY),
        ("webAuthnPolicyCreateTimeout", ANY),
        ("webAuthnPolicyAvoidSameAuthenticatorRegister", ANY),
        ("webAuthnPolicyAcceptableAaguids", ANY),
        ("webAuthnPolicyExtraOrigins", ANY),
        ("webAuthnPolicyPasswordlessRpEntityName", ANY),
        ("webAuthnPolicyPasswordlessSignatureAlgorithms", ANY),
        ("webAuthnPolicyPasswordlessRpId", ANY),
        (
            "webAuthnPolicyPasswordlessAttestationConveyancePreference",
            ANY,
        ),
        ("webAuthnPolicyPasswordlessAuthenticatorAttachment", ANY),
        ("webAuthnPolicyPasswordlessRequireResidentKey", ANY),
        ("webAuthnPolicyPasswordlessUserVerificationRequirement", ANY),
        ("webAuthnPolicyPasswordlessCreateTimeout", ANY),
        (
            "webAuthnPolicyPasswordlessAvoidSameAuthenticatorRegister",
            ANY,
        ),
        ("webAuthnPolicyPasswordlessAcceptableAaguids", ANY),
        ("webAuthnPolicyPasswordlessExtraOrigins", ANY),
        ("clientProfiles", ANY),
        ("clientPolicies", ANY),
        ("users", Shape::ListOf(&USER_SHAPE)),
        ("federatedUsers", Shape::ListOf(&USER_SHAPE)),
        ("scopeMappings", ANY),
        ("clientScopeMappings", ANY),
        ("clients", Shape::ListOf(&CLIENT_SHAPE)),
        ("clientScopes", ANY),
        ("defaultDefaultClientScopes", ANY),
        ("defaultOptionalClientScopes", ANY),
        ("browserSecurityHeaders", ANY),
        ("smtpServer", ANY),
        ("userFederationProviders", ANY),
        ("userFederationMappers", ANY),
        ("loginTheme", ANY),
        ("accountTheme", ANY),
        ("adminTheme", ANY),
        ("emailTheme", ANY),
        ("eventsEnabled", ANY),
        ("eventsExpiration", ANY),
        ("eventsListeners", ANY),
        ("enabledEventTypes", ANY),
        ("adminEventsEnabled", ANY),
        ("adminEventsDetailsEnabled", ANY),
        ("identityProviders", ANY),
        ("identityProviderMappers", ANY),
        ("protocolMappers", ANY),
        ("components", ANY),
        ("internationalizationEnabled", ANY),
        ("supportedLocales", ANY),
        ("defaultLocale", ANY),
        ("authenticationFlows", ANY),
        ("authenticatorConfig", ANY),
        ("requiredActions", ANY),
        ("browserFlow", ANY),
        ("registrationFlow", ANY),
        ("directGrantFlow", ANY),
        ("resetCredentialsFlow", ANY),
        ("clientAuthenticationFlow", ANY),
        ("dockerAuthenticationFlow", ANY),
        ("firstBrokerLoginFlow", ANY),
        ("attributes", ANY),
        ("keycloakVersion", ANY),
        ("userManagedAccessAllowed", ANY),
        ("organizationsEnabled", ANY),
        ("organizations", ANY),
        ("oid4VciEnabled", ANY),
        ("adminPermissionsEnabled", ANY),
        ("social", ANY),
        ("updateProfileOnInitialSocialLogin", ANY),
        ("socialProviders", ANY),
        ("applicationScopeMappings", ANY),
        ("applications", ANY),
        ("oauthClients", ANY),
        ("clientTemplates", ANY),
        // @JsonIgnore'd getter: Jackson skips it silently instead of failing.
        ("identityFederationEnabled", ANY),
    ],
};

impl Class {
    pub fn knows(&self, field: &str) -> bool {
        self.fields.iter().any(|(name, _)| *name == field)
    }

    fn shape_of(&self, field: &str) -> Option<Shape> {
        self.fields
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, shape)| *shape)
    }
}

/// The first unknown field found, with Jackson's location.
#[derive(Debug, PartialEq, Eq)]
pub struct Unrecognized {
    pub class: &'static str,
    pub field: String,
    pub line: usize,
    pub column: usize,
}

impl Unrecognized {
    /// Keycloak's message (KcUnrecognizedPropertyExceptionHandler).
    pub fn message(&self) -> String {
        format!(
            "Invalid json representation for {}. Unrecognized field \"{}\" at line {} column {}.",
            self.class, self.field, self.line, self.column
        )
    }
}

/// Scans `body` (already known to be valid JSON) against `class`; returns the first unknown field.
pub fn find_unrecognized(body: &[u8], class: &'static Class) -> Option<Unrecognized> {
    let mut scanner = Scanner {
        bytes: body,
        pos: 0,
        line: 1,
        line_start: 0,
    };
    scanner.skip_ws();
    scanner.value(Shape::Object(class)).err()
}

struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
}

/// `Err` carries the first unknown field; malformed input just ends the scan (`Ok`).
type Scan = Result<(), Unrecognized>;

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                _ => break,
            }
        }
    }

    /// Reads a string starting at the opening quote; returns its (unescaped enough) content.
    fn string(&mut self) -> String {
        let start = self.pos + 1;
        self.pos += 1;
        while let Some(b) = self.peek() {
            match b {
                b'\\' => self.pos += 2,
                b'"' => break,
                _ => self.pos += 1,
            }
        }
        let raw = &self.bytes[start.min(self.bytes.len())..self.pos.min(self.bytes.len())];
        self.pos += 1;
        let text = String::from_utf8_lossy(raw).into_owned();
        serde_json::from_str::<String>(&format!("\"{text}\"")).unwrap_or(text)
    }

    /// Where Jackson's parser stands once it has read the first token of the value at `pos`.
    fn location_after_value_token(&self) -> (usize, usize) {
        let mut p = self.pos;
        match self.bytes.get(p) {
            Some(b'"') | Some(b'{') | Some(b'[') => p += 1,
            Some(_) => {
                while let Some(b) = self.bytes.get(p) {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    p += 1;
                }
            }
            None => {}
        }
        (self.line, p - self.line_start + 1)
    }

    fn value(&mut self, shape: Shape) -> Scan {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.object(shape),
            Some(b'[') => self.array(shape),
            Some(b'"') => {
                self.string();
                Ok(())
            }
            Some(_) => {
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.pos += 1;
                }
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn object(&mut self, shape: Shape) -> Scan {
        let class = match shape {
            Shape::Object(class) => Some(class),
            _ => None,
        };
        self.pos += 1; // '{'
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b',') => {
                    self.pos += 1;
                    continue;
                }
                Some(b'"') => {}
                _ => return Ok(()),
            }
            let key = self.string();
            self.skip_ws();
            if self.peek() == Some(b':') {
                self.pos += 1;
            }
            self.skip_ws();
            let child = match class {
                Some(class) => match class.shape_of(&key) {
                    Some(child) => child,
                    None => {
                        let (line, column) = self.location_after_value_token();
                        return Err(Unrecognized {
                            class: class.name,
                            field: key,
                            line,
                            column,
                        });
                    }
                },
                None => Shape::Any,
            };
            self.value(child)?;
        }
    }

    fn array(&mut self, shape: Shape) -> Scan {
        let item = match shape {
            Shape::ListOf(item) => *item,
            _ => Shape::Any,
        };
        self.pos += 1; // '['
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b',') => {
                    self.pos += 1;
                }
                None => return Ok(()),
                _ => self.value(item)?,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_top_level_field_is_reported_with_jacksons_location() {
        // docs/keycloak-behaviour.md §6 example: `{"wrong":"payload"}` -> line 1 column 11.
        let found = find_unrecognized(br#"{"wrong":"payload"}"#, &USER).expect("unknown field");
        assert_eq!(
            found.message(),
            "Invalid json representation for UserRepresentation. Unrecognized field \"wrong\" at line 1 column 11."
        );
    }

    #[test]
    fn location_counts_lines_and_follows_numbers_and_literals() {
        let body = b"{\n  \"username\": \"a\",\n  \"nope\": 42\n}";
        let found = find_unrecognized(body, &USER).expect("unknown field");
        assert_eq!((found.line, found.column), (3, 13));
        let body = br#"{"enabled":true,"x":false}"#;
        let found = find_unrecognized(body, &USER).expect("unknown field");
        assert_eq!((found.field.as_str(), found.column), ("x", 26));
    }

    #[test]
    fn nested_unknown_field_names_the_nested_class() {
        let body = br#"{"realm":"r","users":[{"username":"u","credentials":[{"type":"password","valu":"x"}]}]}"#;
        let found = find_unrecognized(body, &REALM).expect("unknown field");
        assert_eq!(found.class, "CredentialRepresentation");
        assert_eq!(found.field, "valu");
        let body = br#"{"realm":"r","clients":[{"clientId":"c","pkce":true}]}"#;
        let found = find_unrecognized(body, &REALM).expect("unknown field");
        assert_eq!(
            (found.class, found.field.as_str()),
            ("ClientRepresentation", "pkce")
        );
    }

    #[test]
    fn known_fields_and_free_form_maps_pass() {
        let body = br#"{"clientId":"c","attributes":{"anything":"goes"},"protocolMappers":[{"x":1}],"redirectUris":["a"]}"#;
        assert_eq!(find_unrecognized(body, &CLIENT), None);
        let body = br#"{"realm":"r","enabled":true,"displayName":"R","smtpServer":{"host":"h"}}"#;
        assert_eq!(find_unrecognized(body, &REALM), None);
    }
}
