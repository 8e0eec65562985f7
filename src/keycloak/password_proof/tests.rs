use super::*;

fn stamp(id: &str, created: i64) -> CredentialStamp {
    CredentialStamp {
        id: id.into(),
        created,
    }
}

#[test]
fn a_ledger_entry_proves_only_the_same_password_on_the_same_credential() {
    let mut l = Ledger::default();
    l.record("k".into(), "s3cret", stamp("c1", 100));
    assert!(l.proves("k", "s3cret", &stamp("c1", 100)));
    assert!(
        !l.proves("k", "other", &stamp("c1", 100)),
        "another password"
    );
    assert!(!l.proves("k", "s3cret", &stamp("c1", 101)), "reset since");
    assert!(
        !l.proves("k", "s3cret", &stamp("c2", 100)),
        "a new credential"
    );
    assert!(!l.proves("other-user", "s3cret", &stamp("c1", 100)));
}

#[test]
fn the_ledger_holds_no_password_and_survives_a_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state").join(FILE_NAME);
    let proof = PasswordProof::with_ledger(path.clone(), false);
    proof.record("k".into(), "s3cret-value", stamp("c1", 7));
    proof.save().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("s3cret-value"), "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
    }
    let again = PasswordProof::with_ledger(path, false);
    assert!(again.proves("k", "s3cret-value", &stamp("c1", 7)));
    let checking = PasswordProof::with_ledger(dir.path().join("state").join(FILE_NAME), true);
    assert!(
        !checking.proves("k", "s3cret-value", &stamp("c1", 7)),
        "--verify-passwords"
    );
}

#[test]
fn the_password_credential_is_found_among_others() {
    let creds = serde_json::json!([
        {"id": "o", "type": "otp", "createdDate": 1},
        {"id": "p", "type": "password", "createdDate": 2, "userLabel": "My password"}
    ]);
    assert_eq!(
        CredentialStamp::of_password(creds.as_array().unwrap()),
        Some(stamp("p", 2))
    );
}
