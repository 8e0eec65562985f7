//! `${VAR}` / `${VAR:-default}` substitution in realm-file string values.
//!
//! Rules (README "Realm files"): `${NAME}` is the variable's value and an error when it is
//! not set; `${NAME:-default}` falls back to `default` when the variable is unset or empty;
//! `$${` is a literal `${`; a `$` not followed by `{` is literal (`test-user$123`). A reference
//! ends at the first `}`: a default cannot hold another reference (`${A:-${B}}` is refused).
//! Variable names are environment-variable names: capitals, digits and `_`. A reference that
//! starts with a lowercase letter is Keycloak's own and stays as written: realm exports carry
//! message keys such as `${client_account}` or `${role_default-roles}` (display texts Keycloak
//! translates) and vault references such as `${vault.smtp_password}`.
//! Substitution runs on parsed string values, never on raw text, so a value containing YAML
//! syntax (`#`, `: `, quotes) cannot change the file's structure.

/// Why a value could not be substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubstError {
    /// `${NAME}` without a default, and `NAME` is not set.
    Undefined { name: String },
    /// `${` without a closing `}`, or a name that is neither `[A-Z_][A-Z0-9_]*` nor one of
    /// Keycloak's own references (starting with a lowercase letter).
    Malformed { reference: String },
}

impl std::fmt::Display for SubstError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubstError::Undefined { name } => write!(
                f,
                "environment variable `{name}` is not set (set it, or give a default: `${{{name}:-value}}`)"
            ),
            SubstError::Malformed { reference } => {
                write!(
                    f,
                    "malformed variable reference `{reference}`: use `${{NAME}}` or \
                     `${{NAME:-default}}`, or `$${{` for a literal `${{`"
                )?;
                if reference[2..].contains("${") {
                    f.write_str(" (a default cannot hold another reference)")?;
                }
                Ok(())
            }
        }
    }
}

/// Substitute every reference in `input`, looking variables up with `lookup`.
pub fn substitute(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, SubstError> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            // `$${` -> literal `${`
            out.push_str("${");
            rest = escaped;
        } else if let Some(body_start) = after.strip_prefix('{') {
            let Some(end) = body_start.find('}') else {
                return Err(SubstError::Malformed {
                    reference: rest[pos..].to_string(),
                });
            };
            let body = &body_start[..end];
            let (name, default) = match body.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (body, None),
            };
            if is_keycloak_reference(body) {
                out.push_str(&rest[pos..pos + 2 + end + 1]);
                rest = &body_start[end + 1..];
                continue;
            }
            // `${A:-${B}}`: the reference ends at the first `}`, so a nested one would leave a
            // stray `}` and a literal `${B` behind; refused rather than half-substituted.
            if !valid_name(name) || body.contains("${") {
                return Err(SubstError::Malformed {
                    reference: format!("${{{body}}}"),
                });
            }
            let value = match (lookup(name), default) {
                (Some(v), Some(d)) if v.is_empty() => d.to_string(),
                (Some(v), _) => v,
                (None, Some(d)) => d.to_string(),
                (None, None) => {
                    return Err(SubstError::Undefined {
                        name: name.to_string(),
                    })
                }
            };
            out.push_str(&value);
            rest = &body_start[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// An environment variable's name: `[A-Z_][A-Z0-9_]*`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// Keycloak's own `${...}`: a message key (`client_account`, `role_default-roles`,
/// `profileScopeConsentText`) or a vault reference (`vault.smtp_password`).
fn is_keycloak_reference(body: &str) -> bool {
    body.starts_with(|c: char| c.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SECRET" => Some("s3cr$t".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn dollar_not_followed_by_brace_is_literal() {
        assert_eq!(substitute("test-user$123", &env).unwrap(), "test-user$123");
        assert_eq!(substitute("a$$b$", &env).unwrap(), "a$$b$");
    }

    #[test]
    fn variables_and_defaults() {
        assert_eq!(substitute("x-${SECRET}-y", &env).unwrap(), "x-s3cr$t-y");
        assert_eq!(substitute("${NOPE:-dflt}", &env).unwrap(), "dflt");
        assert_eq!(substitute("${EMPTY:-dflt}", &env).unwrap(), "dflt");
        assert_eq!(substitute("${EMPTY}", &env).unwrap(), "");
        assert_eq!(substitute("${SECRET:-dflt}", &env).unwrap(), "s3cr$t");
        assert_eq!(substitute("${NOPE:-}", &env).unwrap(), "");
    }

    #[test]
    fn substituted_values_are_not_rescanned() {
        let lookup = |_: &str| Some("${SECRET}".to_string());
        assert_eq!(substitute("${A}", &lookup).unwrap(), "${SECRET}");
    }

    #[test]
    fn double_dollar_brace_escapes() {
        assert_eq!(substitute("$${SECRET}", &env).unwrap(), "${SECRET}");
    }

    #[test]
    fn undefined_without_default_is_an_error() {
        assert_eq!(
            substitute("${NOPE}", &env),
            Err(SubstError::Undefined {
                name: "NOPE".into()
            })
        );
        let msg = substitute("${NOPE}", &env).unwrap_err().to_string();
        assert!(msg.contains("`NOPE` is not set"), "{msg}");
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(matches!(
            substitute("${UNTERMINATED", &env),
            Err(SubstError::Malformed { .. })
        ));
        assert!(matches!(
            substitute("${}", &env),
            Err(SubstError::Malformed { .. })
        ));
        assert!(matches!(
            substitute("${1A}", &env),
            Err(SubstError::Malformed { .. })
        ));
        assert!(matches!(
            substitute("${Camel}", &env),
            Err(SubstError::Malformed { .. })
        ));
        let nested = substitute("${NOPE:-${SECRET}}", &env).unwrap_err();
        assert_eq!(
            nested,
            SubstError::Malformed {
                reference: "${NOPE:-${SECRET}".into()
            }
        );
        assert!(nested.to_string().contains("cannot hold another reference"));
    }

    #[test]
    fn edge_cases_keep_their_meaning() {
        assert_eq!(substitute("${NOPE:-x:-y}", &env).unwrap(), "x:-y");
        assert_eq!(substitute("$", &env).unwrap(), "$");
        assert_eq!(substitute("$$${SECRET}", &env).unwrap(), "$${SECRET}");
        assert_eq!(substitute("${SECRET}}", &env).unwrap(), "s3cr$t}");
        assert_eq!(
            substitute("ünï ${NOPE:-cødé 🔑}", &env).unwrap(),
            "ünï cødé 🔑"
        );
    }

    #[test]
    fn keycloaks_own_references_in_a_realm_export_stay_as_written() {
        for own in [
            "${client_account}",
            "${role_default-roles}",
            "${profileScopeConsentText}",
            "${vault.smtp_password}",
        ] {
            assert_eq!(substitute(own, &env).unwrap(), own);
        }
        assert_eq!(
            substitute("${client_account} of ${SECRET}", &env).unwrap(),
            "${client_account} of s3cr$t"
        );
    }
}
