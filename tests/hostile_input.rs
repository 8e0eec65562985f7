//! Hostile and malformed input (issue 12 item 8): every file under tests/data/hostile/ is either
//! accepted with its right meaning or refused with exit 7, naming the file and the line where
//! there is one; never a panic, a hang or unbounded memory. Each realm file (*.yaml, *.json) goes
//! through the loader the commands use, each env file (*.env) through `--env-file`'s.
//! The YAML and env files say what they test in their first line; the table says it for those
//! that cannot hold a comment (JSON, binary, empty).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use iamstack::config::EnvFile;
use iamstack::error::{exit_code, Kind};
use iamstack::keycloak::load_realm_files_with;
use iamstack::keycloak::realm_file::{RealmFile, RealmFileError, MAX_REALM_FILE_BYTES};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hostile");

/// What a user sees: the loaded value (checked) or an error naming file and line.
enum Expect<T> {
    Ok(fn(&T)),
    /// A substring of the message, and the line when there is one.
    Err(&'static str, Option<usize>),
}
use Expect::{Err as Refused, Ok as Accepted};

/// The variables the realm files reference.
fn lookup(name: &str) -> Option<String> {
    Some(match name {
        "HOSTILE_NAME" => "named".into(),
        "HOSTILE_UNICODE" => "pässwörd ✓ 日本".into(),
        "HOSTILE_YAML" => "a: b\n- [c, {d: e}]  # not a comment\n---\n*alias &anchor !tag".into(),
        _ => return None,
    })
}

fn display_name(r: &RealmFile) -> &str {
    r.display_name().unwrap_or_default()
}

#[rustfmt::skip]
fn realm_cases() -> Vec<(&'static str, Expect<RealmFile>)> {
    vec![
        ("wrong-type-boolean.yaml", Refused("`clients[0].publicClient`: expected true or false", Some(5))),
        ("wrong-type-list.yaml", Refused("field `clients`", Some(3))),
        ("wrong-type-realm-name.yaml", Refused("field `realm`", Some(2))),
        // JSON: a number field given words.
        ("wrong-type-number.json", Refused("field `accessTokenLifespan`", Some(3))),
        ("big-integer.yaml", Refused("integer 99999999999999999999999 does not fit in 64 bits", Some(3))),
        ("duplicate-key.yaml", Refused("duplicate key `realm`", Some(4))),
        ("duplicate-key-nested.yaml", Refused("duplicate key `secret`", Some(7))),
        ("duplicate-key-flow.yaml", Refused("duplicate key `a`", Some(3))),
        // JSON: `realm` twice; serde_json alone would keep the last silently.
        ("duplicate-key.json", Refused("duplicate key `realm`", Some(4))),
        ("billion-laughs.yaml", Refused("refused as an alias bomb", None)),
        // Placed at the anchored value, whose copies overflow.
        ("alias-expansion.yaml", Refused("YAML aliases expand the document beyond 1048576 bytes", Some(4))),
        ("anchors-and-merges.yaml", Accepted(|r| {
            let other = r.client("other").unwrap();
            assert!(!other.is_confidential(), "the key beside `<<` wins");
            assert_eq!(other.web_origins(), vec!["http://localhost:5000"]);
            assert!(r.client("base").unwrap().is_confidential());
            assert_eq!(r.client("third").unwrap().redirect_uris(), vec!["http://localhost:5000/*"]);
            assert!(!r.client("other").unwrap().fields().contains_key("<<"));
        })),
        ("merge-not-a-mapping.yaml", Refused("merging", None)),
        ("deep-nesting.yaml", Refused("nested deeper than 64 levels", Some(4))),
        // JSON: 5,000 levels of lists.
        ("deep-nesting.json", Refused("nested deeper than 64 levels", Some(2))),
        ("nul-byte.yaml", Refused("control character U+0000 (binary data?)", Some(3))),
        // JSON: a raw NUL inside a string.
        ("nul-byte.json", Refused("control character U+0000", Some(3))),
        ("nul-escape.yaml", Accepted(|r| assert_eq!(display_name(r), "a\0b"))),
        // Binary: a PNG header.
        ("binary.yaml", Refused("not UTF-8 text (byte 0x89 at offset 0)", Some(1))),
        ("invalid-utf8.yaml", Refused("not UTF-8 text (byte 0xe9", Some(3))),
        // JSON in UTF-16 with its byte-order mark.
        ("utf16.json", Refused("UTF-16", Some(1))),
        ("bom.yaml", Accepted(|r| assert_eq!(display_name(r), "With BOM"))),
        // JSON with a UTF-8 byte-order mark: accepted.
        ("bom.json", Accepted(|r| assert_eq!(display_name(r), "With BOM"))),
        ("crlf.yaml", Accepted(|r| {
            assert_eq!(display_name(r), "Windows");
            assert_eq!(r.client("app").unwrap().redirect_uris(), vec!["http://localhost/*"]);
        })),
        // JSON with a trailing comma: refused, at the closing brace.
        ("trailing-comma.json", Refused("not valid JSON: trailing comma", Some(4))),
        // An empty file (0 bytes): not a realm.
        ("empty.yaml", Refused("expected a mapping with a `realm` name", None)),
        ("empty.json", Refused("not valid JSON: EOF while parsing a value", Some(1))),
        ("comment-only.yaml", Refused("expected a mapping with a `realm` name", None)),
        ("top-level-list.yaml", Refused("expected a mapping with a `realm` name", None)),
        // JSON: a string where the realm mapping is expected.
        ("top-level-scalar.json", Refused("expected a mapping with a `realm` name", None)),
        ("multiple-documents.yaml", Refused("more than one YAML document", Some(4))),
        ("leading-document-marker.yaml", Accepted(|r| assert_eq!(r.name(), "hostile"))),
        ("tag.yaml", Refused("YAML tags are not supported (found `!secret`)", Some(3))),
        ("core-tag.yaml", Accepted(|r| assert_eq!(display_name(r), "123"))),
        ("complex-key.yaml", Refused("field `attributes`: mapping keys must be strings, found a list", Some(3))),
        ("null-key.yaml", Refused("mapping keys must be strings, found null", None)),
        ("number-key.yaml", Accepted(|r| {
            assert_eq!(r.fields()["attributes"]["1"], "one");
            assert_eq!(r.fields()["attributes"]["true"], "yes");
        })),
        ("unclosed-flow.yaml", Refused("not valid YAML", Some(4))),
        ("subst-unterminated.yaml", Refused("malformed variable reference `${HOSTILE_NAME`", Some(3))),
        ("subst-empty-name.yaml", Refused("malformed variable reference `${}`", Some(3))),
        ("subst-empty-default.yaml", Accepted(|r| assert_eq!(display_name(r), "[]"))),
        ("subst-default-with-separator.yaml", Accepted(|r| assert_eq!(display_name(r), "x:-y"))),
        ("subst-nested.yaml", Refused("a default cannot hold another reference", Some(3))),
        ("subst-escapes.yaml", Accepted(|r| {
            assert_eq!(display_name(r), "${HOSTILE_NAME} costs $$5 $");
            assert_eq!(r.fields()["attributes"]["end"], "trailing$");
        })),
        ("subst-keycloak-refs.yaml", Accepted(|r| {
            assert_eq!(display_name(r), "${client_account}");
            let app = r.client("app").unwrap();
            assert_eq!(app.name(), Some("${role_default-roles}"));
            assert_eq!(app.secret(), Some("${vault.app_secret}"));
        })),
        ("subst-unicode.yaml", Accepted(|r| assert_eq!(display_name(r), "Ünïcödé pässwörd ✓ 日本 🔑"))),
        ("subst-yaml-syntax.yaml", Accepted(|r| {
            assert_eq!(Some(display_name(r)), lookup("HOSTILE_YAML").as_deref());
            assert_eq!(r.fields().len(), 3, "realm, displayName, enabled: {:?}", r.fields());
        })),
        ("subst-undefined.yaml", Refused("environment variable `HOSTILE_UNDEFINED` is not set", Some(5))),
        ("subst-bad-name.yaml", Refused("malformed variable reference `${1X}`", Some(3))),
    ]
}

#[rustfmt::skip]
fn env_cases() -> Vec<(&'static str, Expect<EnvFile>)> {
    vec![
        ("crlf.env", Accepted(|f| {
            assert_eq!(f.get("KEYCLOAK_PASSWORD"), Some("windows"));
            assert_eq!(f.get("POSTGRES_PASSWORD"), Some("quoted"));
        })),
        ("bom.env", Accepted(|f| assert_eq!(f.get("KEYCLOAK_PASSWORD"), Some("with-bom")))),
        ("duplicate.env", Accepted(|f| assert_eq!(f.get("KEYCLOAK_PASSWORD"), Some("second")))),
        ("quotes.env", Accepted(|f| {
            for (key, value) in [
                ("DOUBLE", "double quoted"),
                ("SINGLE", "single $HOME"),
                ("UNBALANCED", "\"open"),
                ("EMPTY", ""),
                ("INNER", "it's \"fine\""),
                ("TRAILING", "\"a\" # not a comment"),
                ("SPACED", "padded"),
                ("EXPORTED", "yes"),
                ("EQUALS", "a=b=c"),
            ] {
                assert_eq!(f.get(key), Some(value), "{key}");
            }
            assert_eq!(f.vars.len(), 9, "{:?}", f.vars);
        })),
        ("no-equals.env", Refused("expected KEY=value, found `just some words`", Some(3))),
        ("empty-key.env", Refused("no variable name before `=`", Some(2))),
        ("key-with-space.env", Refused("`MY KEY` is not a variable name", Some(2))),
        ("nul.env", Refused("control character U+0000", Some(2))),
        ("bare-cr.env", Refused("control character U+000D", Some(1))),
        ("invalid-utf8.env", Refused("not UTF-8 text (byte 0xe9)", Some(2))),
        // Binary: every byte value once.
        ("binary.env", Refused("not UTF-8 text (byte 0x80)", Some(2))),
        // An empty file: no variables.
        ("empty.env", Accepted(|f| assert!(f.vars.is_empty()))),
    ]
}

/// Run `f` on a thread of the test's stack size; a hang fails the test instead of stalling it.
fn within_limits<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()));
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{what}: no answer ({e}): a hang or a panic"))
}

/// Every case is run, and every failing one reported.
fn each_case<T>(cases: Vec<(&'static str, Expect<T>)>, run: impl Fn(&'static str, Expect<T>)) {
    let failed: Vec<&str> = cases
        .into_iter()
        .filter_map(|(name, expect)| {
            let run = std::panic::AssertUnwindSafe(|| run(name, expect));
            std::panic::catch_unwind(run).is_err().then_some(name)
        })
        .collect();
    assert!(failed.is_empty(), "failed: {failed:?}");
}

/// `file:line:` or `file:` in the message, and the line in the error.
fn assert_refusal(what: &str, message: &str, line: Option<usize>, found: &str, at: Option<usize>) {
    assert!(
        found.contains(message),
        "{what}: `{message}` not in: {found}"
    );
    assert_eq!(at, line, "{what}: line in: {found}");
    let place = match line {
        Some(l) => format!("{what}:{l}"),
        None => what.to_string(),
    };
    assert!(found.contains(&place), "{what}: `{place}` not in: {found}");
}

#[test]
fn every_hostile_realm_file_is_accepted_with_its_meaning_or_refused_with_exit_7() {
    each_case(realm_cases(), |name, expect| {
        let path = Path::new(DIR).join(name);
        let shown = path.display().to_string();
        let result = within_limits(name, move || load_realm_files_with(&[path], &lookup));
        match (expect, result) {
            (Accepted(check), Ok(realms)) => check(&realms[0]),
            (Refused(message, line), Err(err)) => {
                assert!(
                    matches!(err, RealmFileError::Invalid { .. }),
                    "{name}: {err:?}"
                );
                assert_eq!(err.kind(), Kind::InvalidConfig, "{name}");
                assert_refusal(&shown, message, line, &err.to_string(), err.line());
                assert_eq!(exit_code(&anyhow::Error::new(err)), 7, "{name}");
            }
            (Accepted(_), Err(err)) => panic!("{name}: refused: {err}"),
            (Refused(..), Ok(_)) => panic!("{name}: accepted, expected a refusal"),
        }
    });
}

#[test]
fn every_hostile_env_file_is_accepted_with_its_meaning_or_refused_with_exit_7() {
    each_case(env_cases(), |name, expect| {
        let path = Path::new(DIR).join(name);
        let shown = path.display().to_string();
        let result = within_limits(name, move || EnvFile::load(&path));
        match (expect, result) {
            (Accepted(check), Ok(file)) => check(&file),
            (Refused(message, line), Err(err)) => {
                assert_eq!(err.kind(), Kind::InvalidConfig, "{name}");
                let found = err.to_string();
                // Env file errors carry their line in the message only: `file:line: ...`.
                let at = line.filter(|l| found.starts_with(&format!("{shown}:{l}:")));
                assert_refusal(&shown, message, line, &found, at);
                assert_eq!(exit_code(&anyhow::Error::new(err)), 7, "{name}");
            }
            (Accepted(_), Err(err)) => panic!("{name}: refused: {err}"),
            (Refused(..), Ok(f)) => panic!("{name}: accepted ({:?}), expected a refusal", f.vars),
        }
    });
}

#[test]
fn the_corpus_and_the_table_agree() {
    let mut listed: Vec<&str> = realm_cases().iter().map(|(n, _)| *n).collect();
    listed.extend(env_cases().iter().map(|(n, _)| *n));
    let mut on_disk: Vec<String> = std::fs::read_dir(DIR)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every corpus file has one row, every row one file"
    );
    assert!(listed.len() >= 30);
    // YAML and env files that are text say what they test in their first line.
    for name in on_disk.iter().filter(|n| !n.ends_with(".json")) {
        let Ok(text) = std::fs::read_to_string(Path::new(DIR).join(name)) else {
            continue; // not UTF-8: the table says it
        };
        let text = text.trim_start_matches('\u{feff}');
        assert!(
            text.is_empty() || text.starts_with("# "),
            "{name}: no comment first"
        );
    }
}

/// A file over the limit is refused from its length, before it is read: a sparse file costs
/// no disk and no memory.
#[test]
fn files_over_the_size_limits_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let realm = dir.path().join("huge.yaml");
    std::fs::File::create(&realm)
        .unwrap()
        .set_len(MAX_REALM_FILE_BYTES + 1)
        .unwrap();
    let err = load_realm_files_with(&[realm], &lookup).unwrap_err();
    assert!(
        err.to_string()
            .contains("a realm file may be at most 32 MiB"),
        "{err}"
    );
    assert_eq!(exit_code(&anyhow::Error::new(err)), 7);

    let env = dir.path().join("huge.env");
    std::fs::File::create(&env)
        .unwrap()
        .set_len(EnvFile::MAX_BYTES + 1)
        .unwrap();
    let err = EnvFile::load(&env).unwrap_err();
    assert!(err.to_string().contains("larger than 1024 KiB"), "{err}");
    assert_eq!(exit_code(&anyhow::Error::new(err)), 7);
}

/// A device has no length: reading stops at the limit.
#[cfg(unix)]
#[test]
fn an_endless_file_is_read_only_up_to_the_limit() {
    let err = EnvFile::load(Path::new("/dev/zero")).unwrap_err();
    assert!(err.to_string().contains("larger than 1024 KiB"), "{err}");
}

/// Huge strings within the limit are legitimate (a realm with a large theme text, say): kept
/// whole, also through substitution.
#[test]
fn a_huge_string_within_the_limit_is_accepted_whole() {
    let dir = tempfile::tempdir().unwrap();
    let big = "é".repeat(2 * 1024 * 1024); // 4 MiB of text
    for (name, text) in [
        (
            "big.yaml",
            format!("realm: big\ndisplayName: \"${{HOSTILE_NAME}} {big}\"\n"),
        ),
        (
            "big.json",
            format!("{{\"realm\": \"big\", \"displayName\": \"{big}\"}}"),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let realms = within_limits(name, move || load_realm_files_with(&[path], &lookup)).unwrap();
        assert!(realms[0].display_name().unwrap().ends_with(&big), "{name}");
    }
}

/// Through the built binary: refused with exit 7 before any request (nothing listens on port
/// 9: a request would fail with another code), the file and line on stderr.
#[test]
fn the_binary_refuses_hostile_files_before_any_request() {
    let realm = PathBuf::from(DIR).join("duplicate-key-nested.yaml");
    let env = PathBuf::from(DIR).join("nul.env");
    let valid = PathBuf::from(DIR).join("bom.yaml");
    for (realm, env, place) in [
        (&realm, None, format!("{}:7", realm.display())),
        (&valid, Some(&env), format!("{}:2", env.display())),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iamstack"));
        cmd.args([
            "apply",
            "--dry-run",
            "--keycloak-url",
            "http://127.0.0.1:9",
            "--realm",
        ])
        .arg(realm)
        .env("NO_COLOR", "1");
        if let Some(env) = env {
            cmd.arg("--env-file").arg(env);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(7), "{stderr}");
        assert!(stderr.contains(&place), "`{place}` not in: {stderr}");
    }
}
