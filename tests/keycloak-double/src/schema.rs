//! Known JSON fields of Keycloak 26.2's representations, and a scanner that rejects unknown ones
//! the way Keycloak's Jackson mapper does: the first unknown field in document order fails the
//! whole request with `Invalid json representation for <Class>. Unrecognized field "<name>" at
//! line <l> column <c>.` (keycloak-behaviour §6).
//!
//! Field lists were read from Keycloak's `core/src/main/java/org/keycloak/representations/idm/*.java`
//! (jakarta-era versions that carry the 26.x-only fields: `adminPermissionsEnabled`, `type`,
//! `alwaysDisplayInConsole`, `userProfileMetadata`, ...). Nested objects that the double does not
//! model (protocol mappers, client scopes, ...) are accepted as any JSON.
//!
//! The column follows Jackson's parser position when it meets the unknown property: just after the
//! value's first token (after the opening quote of a string, after `{` or `[`, after a whole
//! number or literal). Lines and columns are 1-based and count bytes.

mod representations;

pub use representations::{
    CLIENT, COMPOSITES, CREDENTIAL, GROUP, REALM, REALM_COLLECTIONS, ROLE, ROLES, ROLE_SHAPE,
    UP_CONFIG, USER,
};

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
    find_unrecognized_in(body, Shape::Object(class))
}

/// [`find_unrecognized`] for a body of any shape (e.g. a list of representations).
pub fn find_unrecognized_in(body: &[u8], shape: Shape) -> Option<Unrecognized> {
    let mut scanner = Scanner {
        bytes: body,
        pos: 0,
        line: 1,
        line_start: 0,
    };
    scanner.skip_ws();
    scanner.value(shape).err()
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

    /// Every field of Keycloak 26.2's classes in the product's realm schema
    /// (`realm/realm.schema.json`, generated from those classes) is known here too, so the
    /// double never refuses a body that Keycloak 26.2 reads. (The double also knows a few older
    /// names the schema leaves out; the product refuses those before sending.)
    #[test]
    fn every_field_of_the_26_2_classes_is_known() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../realm/realm.schema.json");
        let text = std::fs::read_to_string(path).expect("the realm schema is in the repository");
        let schema: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        for class in [
            &CREDENTIAL,
            &USER,
            &CLIENT,
            &REALM,
            &ROLE,
            &GROUP,
            &ROLES,
            &COMPOSITES,
        ] {
            let props = schema["$defs"][class.name]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{} in the schema", class.name));
            let unknown: Vec<&String> = props.keys().filter(|f| !class.knows(f)).collect();
            assert!(unknown.is_empty(), "{}: {unknown:?}", class.name);
        }
    }
}
