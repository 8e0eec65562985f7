//! Build-time options and the decisions Keycloak 26.2 takes on them (keycloak-behaviour §14):
//! which options are build-time, what `kc.sh build` and an auto-build persist, when `start`
//! re-augments, and when `start --optimized` refuses the values it is given. All pure.

use std::collections::BTreeMap;

/// Keycloak 26.2's build-time options (`.buildTime(true)` in `quarkus/config-api/.../*Options.java`),
/// in the order Keycloak lists their categories. The double accepts all of them; it acts only on
/// `db` and `health-enabled`.
pub const BUILD_TIME_OPTIONS: &[&str] = &[
    "db",
    "db-driver",
    "db-dialect",
    "transaction-xa-enabled",
    "features",
    "features-disabled",
    "http-relative-path",
    "http-management-relative-path",
    "https-management-client-auth",
    "legacy-observability-interface",
    "health-enabled",
    "metrics-enabled",
    "event-metrics-user-enabled",
    "tracing-enabled",
    "tracing-jdbc-enabled",
    "vault",
    "fips-mode",
];

/// Key of the marker an explicit `kc.sh build` adds (`Configuration.markAsOptimized`); the
/// auto-build does not write it, and the re-augmentation check ignores it.
pub const OPTIMIZED_KEY: &str = "kc.optimized";

/// Whether `option` (CLI form without `--`) is build-time: a listed option, or an SPI option
/// ending in `-provider`, `-enabled` or `-provider-default` (`PropertyMappers#isSpiBuildTimeProperty`).
pub fn is_build_time(option: &str) -> bool {
    BUILD_TIME_OPTIONS.contains(&option)
        || (option.starts_with("spi-")
            && ["-provider", "-enabled", "-provider-default"]
                .iter()
                .any(|s| option.ends_with(s)))
}

/// `db-url` -> `KC_DB_URL`.
pub fn env_name(option: &str) -> String {
    format!("KC_{}", option.to_uppercase().replace('-', "_"))
}

/// `KC_SPI_EVENTS_LISTENER_PROVIDER` -> `spi-events-listener-provider` (Keycloak lower-cases the
/// variable and turns `_` into `-`).
pub fn spi_option_from_env(var: &str) -> Option<String> {
    let rest = var.strip_prefix("KC_SPI_")?;
    Some(format!("spi-{}", rest.to_lowercase().replace('_', "-")))
}

/// The persisted key of an option: `kc.<option>`.
pub fn key(option: &str) -> String {
    format!("kc.{option}")
}

/// What `kc.sh build` persists: the given build-time options plus the optimized marker.
pub fn explicit_build(given: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut persisted = given.clone();
    persisted.insert(OPTIMIZED_KEY.to_owned(), "true".to_owned());
    persisted
}

/// `Picocli#requiresReAugmentation`: no persisted build (nothing persisted at all) needs one;
/// otherwise everything but the optimized marker must equal what is given now.
pub fn requires_augmentation(
    persisted: &BTreeMap<String, String>,
    given: &BTreeMap<String, String>,
) -> bool {
    if persisted.is_empty() {
        return true;
    }
    let mut current = given.clone();
    match persisted.get(OPTIMIZED_KEY) {
        Some(v) => current.insert(OPTIMIZED_KEY.to_owned(), v.clone()),
        None => current.remove(OPTIMIZED_KEY),
    };
    &current != persisted
}

/// `start --optimized`: the given build-time options whose value is not the persisted one, in
/// the order given (`Picocli#validateConfig`, `ignoredBuildTime`). Unset options keep the
/// persisted value and never differ.
pub fn differing(persisted: &BTreeMap<String, String>, given: &[(String, String)]) -> Vec<String> {
    given
        .iter()
        .filter(|(k, v)| persisted.get(k) != Some(v))
        .map(|(k, _)| k.clone())
        .collect()
}

/// `Messages#optimizedUsedForFirstStartup`.
pub fn first_startup_error() -> String {
    "ERROR: The '--optimized' flag was used for first ever server start. Please don't use this flag for the first startup or use 'kc.sh build' to build the server first.".to_owned()
}

/// The error `start --optimized` ends with when a given build-time value differs.
pub fn differing_error(keys: &[String]) -> String {
    format!(
        "ERROR: The following build time options have values that differ from what is persisted - the new values will NOT be used until another build is run: {}",
        keys.join(", ")
    )
}

/// The warning `kc.sh build` prints for run-time options set in the environment.
pub fn runtime_ignored_warning(keys: &[String]) -> String {
    format!(
        "WARNING: The following run time options were found, but will be ignored during build time: {}",
        keys.join(", ")
    )
}

/// `Build#run`'s lines before the augmentation.
pub fn build_start_line() -> &'static str {
    "Updating the configuration and installing your custom providers, if any. Please wait."
}

/// `Build#run`'s lines after a successful augmentation.
pub fn build_done_lines() -> Vec<String> {
    vec![
        "Server configuration updated and persisted. Run the following command to review the configuration:".to_owned(),
        String::new(),
        "\tkc.sh show-config".to_owned(),
        String::new(),
    ]
}

/// `Picocli#runReAugmentation`'s hint after an auto-build: the command and its run-time CLI
/// options (secrets masked), then `--optimized`.
pub fn next_time_lines(command: &str, runtime_cli: &[String]) -> Vec<String> {
    let mut parts = vec!["kc.sh".to_owned(), command.to_owned()];
    parts.extend(runtime_cli.iter().map(|a| mask(a)));
    parts.push("--optimized".to_owned());
    vec![
        "Next time you run the server, just run:".to_owned(),
        String::new(),
        format!("\t{}", parts.join(" ")),
        String::new(),
    ]
}

/// `PropertyMappers#maskValue` for the CLI hint: values of password-like options become stars.
fn mask(arg: &str) -> String {
    match arg.split_once('=') {
        Some((k, _)) if k.contains("password") || k.contains("secret") => format!("{k}=*******"),
        _ => arg.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn build_time_options_are_the_listed_ones_and_spi_provider_switches() {
        for o in [
            "db",
            "health-enabled",
            "metrics-enabled",
            "features",
            "http-relative-path",
        ] {
            assert!(is_build_time(o), "{o}");
        }
        // cache became a run-time option before 26.x; connection settings were never build-time.
        for o in [
            "cache",
            "db-url",
            "db-password",
            "hostname",
            "http-enabled",
            "spi-x-y-z",
        ] {
            assert!(!is_build_time(o), "{o}");
        }
        assert!(is_build_time("spi-events-listener-provider"));
        assert!(is_build_time("spi-user-cache-default-enabled"));
        assert!(is_build_time("spi-hostname-provider-default"));
        assert_eq!(
            spi_option_from_env("KC_SPI_EVENTS_LISTENER_PROVIDER").as_deref(),
            Some("spi-events-listener-provider")
        );
        assert_eq!(env_name("health-enabled"), "KC_HEALTH_ENABLED");
    }

    #[test]
    fn no_persisted_build_always_augments() {
        assert!(requires_augmentation(&map(&[]), &map(&[])));
        assert!(requires_augmentation(
            &map(&[]),
            &map(&[("kc.db", "postgres")])
        ));
    }

    #[test]
    fn the_same_options_do_not_augment_again_whatever_the_optimized_marker() {
        let given = map(&[("kc.db", "postgres"), ("kc.health-enabled", "true")]);
        assert!(!requires_augmentation(&given, &given));
        assert!(!requires_augmentation(&explicit_build(&given), &given));
    }

    #[test]
    fn a_changed_added_or_removed_option_augments() {
        let persisted = map(&[("kc.db", "postgres"), ("kc.health-enabled", "true")]);
        let changed = map(&[("kc.db", "postgres"), ("kc.health-enabled", "false")]);
        let removed = map(&[("kc.db", "postgres")]);
        let mut added = persisted.clone();
        added.insert("kc.metrics-enabled".into(), "true".into());
        for given in [changed, removed, added] {
            assert!(requires_augmentation(&persisted, &given), "{given:?}");
        }
    }

    #[test]
    fn optimized_start_names_only_the_given_values_that_differ() {
        let persisted = explicit_build(&map(&[
            ("kc.db", "postgres"),
            ("kc.health-enabled", "true"),
        ]));
        let given = vec![
            ("kc.db".to_owned(), "dev-file".to_owned()),
            ("kc.health-enabled".to_owned(), "true".to_owned()),
            ("kc.metrics-enabled".to_owned(), "true".to_owned()),
        ];
        let keys = differing(&persisted, &given);
        assert_eq!(keys, ["kc.db", "kc.metrics-enabled"]);
        assert!(differing_error(&keys).ends_with(": kc.db, kc.metrics-enabled"));
        assert!(
            differing(&persisted, &[]).is_empty(),
            "unset options keep the persisted value"
        );
    }

    #[test]
    fn the_next_time_hint_masks_secrets_and_ends_with_optimized() {
        let lines = next_time_lines(
            "start",
            &["--db-password=s3cret".into(), "--http-port=0".into()],
        );
        assert_eq!(
            lines[2],
            "\tkc.sh start --db-password=******* --http-port=0 --optimized"
        );
        assert_eq!(
            next_time_lines("start", &[])[2],
            "\tkc.sh start --optimized"
        );
    }
}
