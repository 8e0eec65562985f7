//! Property tests of the realm file's `${VAR}` substitution and of parsing: whatever the text,
//! the result is a value or an error naming the file, never a panic (issue 12 item 8). Case
//! counts stay modest so the suite stays quick.

use iamstack::keycloak::realm_file::{RealmFileError, BUILTIN_REALM};
use iamstack::keycloak::{load_realm_files_with, parse_realm_file, subst::substitute};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

/// Text rich in what substitution reacts to: `$`, braces, `:-`, names of both cases.
fn reference_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            Just("$".to_string()),
            Just("${".to_string()),
            Just("}".to_string()),
            Just(":-".to_string()),
            Just("$$".to_string()),
            "[A-Z_][A-Z0-9_]{0,3}",
            "[a-z][a-z_.-]{0,3}",
            any::<String>(),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// Variables `A`..`C` are set (one of them empty), the rest unset.
fn lookup(name: &str) -> Option<String> {
    match name {
        "A" => Some("alpha".into()),
        "B" => Some("${A} $${ $".into()),
        "C" => Some(String::new()),
        _ => None,
    }
}

/// Errors a user can see name the file: every content problem is `Invalid` with its origin.
fn assert_names_the_file(err: &RealmFileError, origin: &str) {
    match err {
        RealmFileError::Invalid { origin: o, .. } => assert_eq!(o, origin),
        other => panic!("unexpected error kind: {other}"),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn substitute_never_panics(s in reference_soup()) {
        let _ = substitute(&s, &lookup);
    }

    #[test]
    fn substitute_never_panics_on_any_string(s in any::<String>()) {
        let _ = substitute(&s, &lookup);
    }

    #[test]
    fn escaping_every_reference_gives_the_text_back(s in reference_soup()) {
        let escaped = s.replace("${", "$${");
        prop_assert_eq!(substitute(&escaped, &|_| None).unwrap(), s);
    }

    #[test]
    fn text_without_a_dollar_is_unchanged(s in "[^$]*") {
        prop_assert_eq!(substitute(&s, &lookup).unwrap(), s);
    }

    #[test]
    fn a_value_is_inserted_verbatim_never_rescanned(
        value in any::<String>(),
        before in "[^$]{0,8}",
        after in "[^$]{0,8}",
    ) {
        let v = value.clone();
        let lookup = move |name: &str| (name == "X").then(|| v.clone());
        let text = format!("{before}${{X}}{after}");
        prop_assert_eq!(substitute(&text, &lookup).unwrap(), format!("{before}{value}{after}"));
        // A default is used only when the value is empty.
        let with_default = substitute("${X:-d}", &lookup).unwrap();
        prop_assert_eq!(with_default, if value.is_empty() { "d".to_string() } else { value });
    }

    #[test]
    fn parsing_any_text_never_panics(text in any::<String>(), json in any::<bool>()) {
        if let Err(err) = parse_realm_file(&text, "p.yaml", json, &lookup) {
            assert_names_the_file(&err, "p.yaml");
        }
    }

    #[test]
    fn parsing_yaml_like_text_never_panics(
        text in "([a-zA-Z0-9 :,\\[\\]{}&*!<>|#'\"$-]|\n|\t|---){0,120}",
        json in any::<bool>(),
    ) {
        if let Err(err) = parse_realm_file(&text, "p.yaml", json, &lookup) {
            assert_names_the_file(&err, "p.yaml");
        }
    }

    #[test]
    fn a_damaged_realm_file_never_panics(at in 0usize..2000, insert in "[\\[\\]{}&*!:\\-\n \"$]{1,4}") {
        let mut text = BUILTIN_REALM.to_string();
        let at = (0..=at.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        text.insert_str(at, &insert);
        if let Err(err) = parse_realm_file(&text, "p.yaml", false, &lookup) {
            assert_names_the_file(&err, "p.yaml");
        }
    }

    #[test]
    fn loading_any_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let dir = tempfile::tempdir().unwrap();
        for name in ["r.yaml", "r.json"] {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            if let Err(err) = load_realm_files_with(std::slice::from_ref(&path), &lookup) {
                assert_names_the_file(&err, &path.display().to_string());
            }
        }
    }
}
