use std::io::{Read, Write};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::*;
use crate::snapshot::metadata::{rfc3339, ImageRecord};

fn meta() -> Metadata {
    let image = |name: &str| ImageRecord {
        image: name.into(),
        image_id: format!("sha256:{name}"),
        base_image: None,
        base_image_id: None,
    };
    Metadata {
        format: FORMAT_VERSION,
        iamstack_version: "0.1.0".into(),
        created_at: rfc3339(0),
        postgres: image("pg"),
        keycloak: image("kc"),
        admin_user: "admin".into(),
        admin_password_sha256: "00".into(),
        postgres_user: "keycloak".into(),
        postgres_db: "keycloak".into(),
        postgres_password_sha256: "11".into(),
        realm_files_sha256: Some("22".into()),
    }
}

/// A small tar as the engine hands out for PGDATA (the directory first, owners kept).
fn engine_tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o700);
    dir.set_uid(999);
    dir.set_size(0);
    builder.append_data(&mut dir, "data/", io::empty()).unwrap();
    for (path, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o600);
        header.set_uid(999);
        header.set_size(bytes.len() as u64);
        builder.append_data(&mut header, path, *bytes).unwrap();
    }
    builder.into_inner().unwrap()
}

fn snapshot_of(meta: &Metadata, engine: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    write_metadata_entry(&mut gz, meta).unwrap();
    gz.write_all(engine).unwrap();
    gz.finish().unwrap()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

#[test]
fn a_snapshot_round_trips_metadata_and_the_engines_bytes() {
    let long = format!("data/base/16384/{}", "x".repeat(150));
    let engine = engine_tar(&[
        ("data/PG_VERSION", b"17\n"),
        ("data/base/1/1259", &[7u8; 3000]),
        (&long, b"a name longer than ustar's 100 bytes"),
    ]);
    let file = snapshot_of(&meta(), &engine);

    let checked = check(&file[..]).unwrap();
    assert_eq!(checked.metadata, meta());
    assert_eq!(checked.entries, 4);
    assert_eq!(checked.data_bytes, 3 + 3000 + 36);

    // What goes back to the engine is exactly what it gave.
    let mut back = Vec::new();
    data_archive(&file[..])
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, engine);

    // And the whole file is one ordinary tar with the metadata first.
    let mut inflated = Vec::new();
    GzDecoder::new(&file[..])
        .read_to_end(&mut inflated)
        .unwrap();
    let mut archive = tar::Archive::new(&inflated[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names[0], METADATA_ENTRY);
    assert_eq!(names[1], "data/");
    assert_eq!(names[4], long);
}

#[test]
fn a_file_that_is_not_a_good_snapshot_says_why() {
    let good_engine = engine_tar(&[("data/PG_VERSION", b"17\n")]);
    let cause = |bytes: &[u8]| check(bytes).expect_err("refused");

    assert!(cause(b"hello, not gzip").contains("not a gzip'd tar"));

    let file = snapshot_of(&meta(), &good_engine);
    let truncated = cause(&file[..file.len() - 20]);
    assert!(
        truncated.contains("damaged") || truncated.contains("gzip"),
        "{truncated}"
    );

    let mut flipped = file.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    cause(&flipped);

    let other_first = gz(&engine_tar(&[("data/PG_VERSION", b"17\n")]));
    assert!(cause(&other_first).contains("not an iamstack snapshot"));

    let outside = snapshot_of(&meta(), &engine_tar(&[("etc/passwd", b"x")]));
    assert!(cause(&outside).contains("outside the data directory"));

    let no_version = snapshot_of(&meta(), &engine_tar(&[("data/base/1", b"x")]));
    assert!(cause(&no_version).contains("PG_VERSION"));

    let mut newer = meta();
    newer.format = FORMAT_VERSION + 1;
    let newer = cause(&snapshot_of(&newer, &good_engine));
    assert!(newer.contains("format 2"), "{newer}");
}

#[test]
fn only_relative_paths_below_data_count_as_inside() {
    assert!(under_data_dir(Path::new("data")));
    assert!(under_data_dir(Path::new("data/base/1")));
    assert!(!under_data_dir(Path::new("data/../etc")));
    assert!(!under_data_dir(Path::new("/data/x")));
    assert!(!under_data_dir(Path::new("database/x")));
}
