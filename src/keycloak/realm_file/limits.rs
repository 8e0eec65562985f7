//! What a realm file may hold, so that a broken or hostile file is refused with a clear message
//! (exit 7) instead of exhausting memory, time or the stack (README "Validation").
//!
//! The text is turned into a document by a visitor of our own rather than `serde_yaml::Value`'s
//! or `serde_json::Value`'s, because those cannot refuse what we need refused:
//! - YAML aliases: serde_yaml limits only the number of alias *jumps* (100 per event), not what
//!   they replay, so a 28 kB file of 2,000 aliases to a 2,000-item list expands to 4 million
//!   values (400 MB). The visitor charges every value it builds against a budget proportional
//!   to the file's size, before allocating it.
//! - duplicate keys: serde_json keeps the last silently; both formats refuse them here, at the key.
//! - nesting: the libraries stop at 128 levels ("recursion limit exceeded"); we stop earlier,
//!   with a message that says so, leaving stack for the recursive passes that follow (merges,
//!   substitution, the schema check), also on a test thread's 2 MiB stack.
//! - YAML tags (`!foo`): nothing in a RealmRepresentation is tagged.

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, Visitor};

use super::position::{duplicate_line, second_document_line};

/// The largest realm file read (checked from its length before reading it): a realm export
/// with thousands of users is a few MB, so this is generous, yet keeps a mistaken path (a disk
/// image, a log) from being read into memory.
pub const MAX_REALM_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// The deepest nesting of lists and mappings. A Keycloak realm export nests fewer than 10
/// levels; serde_json and serde_yaml would stop at 128.
pub const MAX_NESTING_DEPTH: usize = 64;

/// YAML aliases may expand a document to at most this many times its file's size (counted as
/// each value's text plus one per value; a file without aliases stays under twice its size)...
pub const ALIAS_EXPANSION_FACTOR: usize = 4;
/// ...or this size for a small file.
pub const MIN_EXPANSION_BUDGET: usize = 1024 * 1024;

/// Why a text could not be turned into a document: the message and the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub line: Option<usize>,
}

/// Binary data: a control character the format does not allow unescaped (YAML: any but tab,
/// line ends and NEL; JSON: those below U+0020 but tab and line ends). Found here for its line
/// (libyaml tells only a byte offset on line 1).
fn control_character(text: &str, json: bool) -> Result<(), Refusal> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r')
            || if json {
                c >= ' '
            } else {
                c == '\u{85}' || !c.is_control()
            }
    };
    match text.char_indices().find(|(_, c)| !allowed(*c)) {
        None => Ok(()),
        Some((at, c)) => Err(Refusal {
            message: format!(
                "control character U+{:04X} (binary data?): a realm file must be text; write it \
                 escaped in a double-quoted string (`\\0`, `\\u0000`) if it is meant",
                c as u32
            ),
            line: Some(1 + text[..at].matches('\n').count()),
        }),
    }
}

/// Parse YAML (one document) within the limits. Merge keys are left to the caller.
pub fn yaml_from_str(text: &str) -> Result<serde_yaml::Value, Refusal> {
    control_character(text, false)?;
    let budget = text
        .len()
        .saturating_mul(ALIAS_EXPANSION_FACTOR)
        .max(MIN_EXPANSION_BUDGET);
    let state = State::new(budget);
    let de = serde_yaml::Deserializer::from_str(text);
    Seed::<serde_yaml::Value>::root(&state)
        .deserialize(de)
        .map_err(|e| {
            let line = e.location().map(|l| l.line());
            match state.refusal.take() {
                // serde_yaml places an error in a mapping at the mapping's start.
                Some(message) => match (state.duplicate.take(), e.location()) {
                    (Some(key), Some(at)) => Refusal {
                        message,
                        line: duplicate_line(text, at.line(), at.column(), &key).or(line),
                    },
                    _ => Refusal { message, line },
                },
                None if e.to_string().contains("more than one document") => Refusal {
                    message: "holds more than one YAML document (`---`): put one realm in \
                              each file"
                        .to_string(),
                    line: second_document_line(text),
                },
                // serde_yaml's own alias limit (100 alias uses per event of the file), which a
                // deeply layered "billion laughs" reaches before our budget.
                None if e.to_string().contains("repetition limit exceeded") => Refusal {
                    message: "YAML aliases are used too many times (more than 100 times the \
                              file's number of values): refused as an alias bomb"
                        .to_string(),
                    line,
                },
                None => Refusal {
                    message: format!("not valid YAML: {e}"),
                    line,
                },
            }
        })
}

/// Parse JSON within the limits (there are no aliases: the budget is not needed).
pub fn json_from_str(text: &str) -> Result<serde_json::Value, Refusal> {
    control_character(text, true)?;
    let state = State::new(usize::MAX);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Seed::<serde_json::Value>::root(&state)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    value.map_err(|e| Refusal {
        message: match state.refusal.take() {
            Some(message) => message,
            None => format!("not valid JSON: {e}"),
        },
        line: Some(e.line()),
    })
}

/// Shared by every level of one parse: what is left of the budget, and our own refusal (so its
/// message is not presented as a syntax error).
struct State {
    budget: Cell<usize>,
    limit: usize,
    refusal: RefCell<Option<String>>,
    /// The key refused as a duplicate, to find its line.
    duplicate: RefCell<Option<String>>,
}

impl State {
    fn new(limit: usize) -> State {
        State {
            budget: Cell::new(limit),
            limit,
            refusal: RefCell::new(None),
            duplicate: RefCell::new(None),
        }
    }

    fn refuse<E: de::Error>(&self, message: String) -> E {
        let err = E::custom(&message);
        *self.refusal.borrow_mut() = Some(message);
        err
    }

    /// Charge one value of `text_len` bytes, before it is built.
    fn charge<E: de::Error>(&self, text_len: usize) -> Result<(), E> {
        let cost = text_len.saturating_add(1);
        match self.budget.get().checked_sub(cost) {
            Some(left) => {
                self.budget.set(left);
                Ok(())
            }
            None => Err(self.refuse(format!(
                "YAML aliases expand the document beyond {} bytes ({ALIAS_EXPANSION_FACTOR} times \
                 the file's size, at least 1 MiB): refused as an alias bomb",
                self.limit
            ))),
        }
    }
}

/// The document types built: serde_yaml's (merge keys are resolved on it) and serde_json's.
trait Tree: Sized {
    type Map;
    fn null() -> Self;
    fn boolean(b: bool) -> Self;
    fn int(i: i64) -> Self;
    fn uint(u: u64) -> Self;
    fn float(f: f64) -> Self;
    fn string(s: String) -> Self;
    fn seq(items: Vec<Self>) -> Self;
    fn new_map() -> Self::Map;
    fn has_key(map: &Self::Map, key: &Self) -> bool;
    fn insert(map: &mut Self::Map, key: Self, value: Self);
    fn map(map: Self::Map) -> Self;
}

impl Tree for serde_yaml::Value {
    type Map = serde_yaml::Mapping;
    fn null() -> Self {
        Self::Null
    }
    fn boolean(b: bool) -> Self {
        Self::Bool(b)
    }
    fn int(i: i64) -> Self {
        Self::Number(i.into())
    }
    fn uint(u: u64) -> Self {
        Self::Number(u.into())
    }
    fn float(f: f64) -> Self {
        Self::Number(f.into())
    }
    fn string(s: String) -> Self {
        Self::String(s)
    }
    fn seq(items: Vec<Self>) -> Self {
        Self::Sequence(items)
    }
    fn new_map() -> Self::Map {
        serde_yaml::Mapping::new()
    }
    fn has_key(map: &Self::Map, key: &Self) -> bool {
        map.contains_key(key)
    }
    fn insert(map: &mut Self::Map, key: Self, value: Self) {
        map.insert(key, value);
    }
    fn map(map: Self::Map) -> Self {
        Self::Mapping(map)
    }
}

impl Tree for serde_json::Value {
    type Map = serde_json::Map<String, serde_json::Value>;
    fn null() -> Self {
        Self::Null
    }
    fn boolean(b: bool) -> Self {
        Self::Bool(b)
    }
    fn int(i: i64) -> Self {
        Self::from(i)
    }
    fn uint(u: u64) -> Self {
        Self::from(u)
    }
    fn float(f: f64) -> Self {
        serde_json::Number::from_f64(f).map_or(Self::Null, Self::Number)
    }
    fn string(s: String) -> Self {
        Self::String(s)
    }
    fn seq(items: Vec<Self>) -> Self {
        Self::Array(items)
    }
    fn new_map() -> Self::Map {
        serde_json::Map::new()
    }
    fn has_key(map: &Self::Map, key: &Self) -> bool {
        key.as_str().is_some_and(|k| map.contains_key(k))
    }
    fn insert(map: &mut Self::Map, key: Self, value: Self) {
        let key = match key {
            Self::String(s) => s,
            other => other.to_string(),
        };
        map.insert(key, value);
    }
    fn map(map: Self::Map) -> Self {
        Self::Object(map)
    }
}

/// How a key is named in the duplicate-key message.
fn key_text<T: fmt::Debug>(key: &T) -> String {
    let debug = format!("{key:?}");
    // `String("realm")` -> `realm`: both Values print a string key so.
    debug
        .strip_prefix("String(\"")
        .and_then(|s| s.strip_suffix("\")"))
        .map_or(debug.clone(), str::to_string)
}

/// One value at `depth` (the root is at 0).
struct Seed<'s, T> {
    state: &'s State,
    depth: usize,
    _tree: std::marker::PhantomData<T>,
}

impl<'s, T> Seed<'s, T> {
    fn root(state: &'s State) -> Self {
        Seed {
            state,
            depth: 0,
            _tree: std::marker::PhantomData,
        }
    }

    fn child(&self) -> Self {
        Seed {
            state: self.state,
            depth: self.depth + 1,
            _tree: std::marker::PhantomData,
        }
    }

    /// Entering a list or mapping: one level deeper.
    fn enter<E: de::Error>(&self) -> Result<(), E> {
        if self.depth >= MAX_NESTING_DEPTH {
            return Err(self.state.refuse(format!(
                "nested deeper than {MAX_NESTING_DEPTH} levels of lists and mappings"
            )));
        }
        self.state.charge(0)
    }
}

impl<'de, T: Tree + fmt::Debug> DeserializeSeed<'de> for Seed<'_, T> {
    type Value = T;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Tree + fmt::Debug> Visitor<'de> for Seed<'_, T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<T, E> {
        self.state.charge(0)?;
        Ok(T::boolean(b))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<T, E> {
        self.state.charge(0)?;
        Ok(T::int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<T, E> {
        self.state.charge(0)?;
        Ok(T::uint(u))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<T, E> {
        self.state.charge(0)?;
        Ok(T::float(f))
    }
    fn visit_i128<E: de::Error>(self, i: i128) -> Result<T, E> {
        Err(self
            .state
            .refuse(format!("integer {i} does not fit in 64 bits")))
    }
    fn visit_u128<E: de::Error>(self, u: u128) -> Result<T, E> {
        Err(self
            .state
            .refuse(format!("integer {u} does not fit in 64 bits")))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        self.state.charge(s.len())?;
        Ok(T::string(s.to_owned()))
    }
    fn visit_string<E: de::Error>(self, s: String) -> Result<T, E> {
        self.state.charge(s.len())?;
        Ok(T::string(s))
    }
    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        self.state.charge(0)?;
        Ok(T::null())
    }
    fn visit_none<E: de::Error>(self) -> Result<T, E> {
        self.visit_unit()
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<T, A::Error> {
        self.enter()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self.child())? {
            items.push(item);
        }
        Ok(T::seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<T, A::Error> {
        self.enter()?;
        let mut map = T::new_map();
        while let Some(key) = access.next_key_seed(self.child())? {
            // Refused at the key, so the error's position is the second occurrence.
            if T::has_key(&map, &key) {
                let key = key_text(&key);
                let err = self.state.refuse(format!(
                    "duplicate key `{key}`: each key may appear once in a mapping"
                ));
                *self.state.duplicate.borrow_mut() = Some(key);
                return Err(err);
            }
            let value = access.next_value_seed(self.child())?;
            T::insert(&mut map, key, value);
        }
        Ok(T::map(map))
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<T, A::Error> {
        // serde_yaml presents a tagged value (`!foo x`) as an enum variant named by its tag.
        let (tag, _contents): (String, _) = data.variant()?;
        Err(self.state.refuse(format!(
            "YAML tags are not supported (found `!{}`)",
            tag.trim_start_matches('!')
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> (String, String) {
        let json = "[".repeat(levels) + &"]".repeat(levels);
        (format!("a: {json}\n"), json)
    }

    #[test]
    fn nesting_is_refused_just_past_the_limit_in_both_formats() {
        let (yaml, json) = nested(MAX_NESTING_DEPTH - 1); // plus the root mapping (YAML)
        yaml_from_str(&yaml).unwrap();
        json_from_str(&json).unwrap();
        let (yaml, _) = nested(MAX_NESTING_DEPTH);
        let (_, json) = nested(MAX_NESTING_DEPTH + 1);
        for refusal in [
            yaml_from_str(&yaml).unwrap_err(),
            json_from_str(&json).unwrap_err(),
        ] {
            assert_eq!(
                refusal.message,
                "nested deeper than 64 levels of lists and mappings"
            );
            assert_eq!(refusal.line, Some(1));
        }
    }

    #[test]
    fn alias_expansion_is_charged_before_it_is_built() {
        // 40 x 40 uses of a 1,000-byte string: 1.6 MB from a 1.5 kB file.
        let uses = |name: &str| vec![format!("*{name}"); 40].join(", ");
        let bomb = format!(
            "a: &a {}\nb: &b [{}]\nc: [{}]\n",
            "x".repeat(1000),
            uses("a"),
            uses("b")
        );
        let refusal = yaml_from_str(&bomb).unwrap_err();
        assert!(refusal.message.contains("alias bomb"), "{refusal:?}");
        // The same with 20 x 20 uses (400 kB) is within the 1 MiB floor.
        let fine = bomb.replace(&uses("a"), &vec!["*a"; 20].join(", "));
        let fine = fine.replace(&uses("b"), &vec!["*b"; 20].join(", "));
        let doc = yaml_from_str(&fine).unwrap();
        assert_eq!(doc["c"][19][19].as_str().map(str::len), Some(1000));
    }

    #[test]
    fn a_document_without_aliases_stays_within_its_budget() {
        // The densest values per byte: one-character keys with implicit nulls, `\L` escapes
        // (2 bytes of text, 3 of value).
        let dense = format!(
            "{{{}}}",
            (0..5000)
                .map(|i| format!("{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        yaml_from_str(&dense).unwrap();
        let escapes = format!("\"{}\"", "\\L".repeat(1_000_000));
        assert_eq!(
            yaml_from_str(&escapes).unwrap().as_str().map(str::len),
            Some(3_000_000)
        );
    }

    #[test]
    fn control_characters_are_refused_where_the_format_refuses_them() {
        let refusal = yaml_from_str("a: 1\nb: \u{7f}\n").unwrap_err();
        assert!(
            refusal.message.starts_with("control character U+007F"),
            "{refusal:?}"
        );
        assert_eq!(refusal.line, Some(2));
        // JSON allows DEL and C1 characters in strings as they are.
        assert_eq!(json_from_str("\"a\u{7f}\u{9f}\"").unwrap(), "a\u{7f}\u{9f}");
        assert_eq!(json_from_str("\n\"\u{1}\"").unwrap_err().line, Some(2));
    }

    #[test]
    fn duplicate_keys_are_refused_at_the_second_one_in_both_formats() {
        let yaml = yaml_from_str("a: 1\nb: 2\na: 3\n").unwrap_err();
        let json = json_from_str("{\"a\": 1,\n \"a\": 2}").unwrap_err();
        for (refusal, line) in [(yaml, 3), (json, 2)] {
            assert!(
                refusal.message.starts_with("duplicate key `a`"),
                "{refusal:?}"
            );
            assert_eq!(refusal.line, Some(line));
        }
    }
}
