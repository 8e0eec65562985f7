//! The build step around a run (keycloak-behaviour §14): `kc.sh build`, the auto-build of a
//! `start` whose build-time options differ from the persisted ones, and the checks of
//! `start --optimized`. Decisions come from [`super::build`]; this module prints, waits and
//! writes the persisted options.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::build::{
    build_done_lines, build_start_line, differing, differing_error, explicit_build,
    first_startup_error, next_time_lines, requires_augmentation, runtime_ignored_warning,
};
use super::config::{ContainerConfig, Mode};
use super::log::{err, log_line, out, MORE_DETAILS};
use super::{persisted, StopSignal};

/// How a step ended: go on with the start, or exit with this code.
pub(super) type Step = Result<(), u8>;

fn home(env: &HashMap<String, String>) -> PathBuf {
    persisted::home(env).unwrap_or_else(|| PathBuf::from("/opt/keycloak"))
}

fn given_map(config: &ContainerConfig) -> BTreeMap<String, String> {
    config.given_build.iter().cloned().collect()
}

/// Keycloak reads the persisted options before anything else; an unreadable jar fails the run.
fn read(home: &Path) -> Result<BTreeMap<String, String>, u8> {
    persisted::read(home).map_err(|e| {
        err(&format!("ERROR: Failed to load persisted properties: {e}"));
        1
    })
}

/// The augmentation itself: spends `config.augment`, then persists `options`.
async fn augment(
    config: &ContainerConfig,
    home: &Path,
    options: &BTreeMap<String, String>,
    stop: &mut StopSignal,
) -> Step {
    out(build_start_line());
    if !stop.pause(config.augment).await {
        return Err(0);
    }
    out(&log_line(
        "INFO",
        "io.quarkus.deployment.QuarkusAugmentor",
        &format!(
            "Quarkus augmentation completed in {}ms",
            config.augment.as_millis()
        ),
    ));
    if let Err(e) = persisted::write(home, options) {
        err("ERROR: Failed to update server configuration.");
        err(&format!("ERROR: {e}"));
        err(MORE_DETAILS);
        return Err(1);
    }
    build_done_lines().iter().for_each(|l| out(l));
    Ok(())
}

/// `kc.sh build`: warns about run-time options in the environment, augments, persists the
/// given build-time options with the optimized marker. Returns the exit code.
pub(super) async fn build(
    config: &ContainerConfig,
    env: &HashMap<String, String>,
    stop: &mut StopSignal,
) -> u8 {
    if !config.runtime_env.is_empty() {
        // Keycloak's format string ends in a newline of its own: an empty line follows.
        out(&runtime_ignored_warning(&config.runtime_env));
        out("");
    }
    match augment(
        config,
        &home(env),
        &explicit_build(&given_map(config)),
        stop,
    )
    .await
    {
        Ok(()) => 0,
        Err(code) => code,
    }
}

/// Before `start`: with `--optimized`, refuse a missing build or differing build-time values
/// and take the persisted values of the options not given; without it, re-augment when the
/// given build-time options differ from the persisted ones. `start-dev` is left alone.
pub(super) async fn before_start(
    config: &mut ContainerConfig,
    env: &HashMap<String, String>,
    stop: &mut StopSignal,
) -> Step {
    let home = home(env);
    match config.mode {
        Mode::Start { optimized: true } => {
            let persisted = read(&home)?;
            if persisted.is_empty() {
                err(&first_startup_error());
                return Err(2);
            }
            let keys = differing(&persisted, &config.given_build);
            if !keys.is_empty() {
                err(&differing_error(&keys));
                err("");
                return Err(2);
            }
            config.with_persisted(&persisted);
            Ok(())
        }
        Mode::Start { optimized: false } => {
            let persisted = read(&home)?;
            let given = given_map(config);
            if !requires_augmentation(&persisted, &given) {
                return Ok(());
            }
            out("Changes detected in configuration. Updating the server image.");
            augment(config, &home, &given, stop).await?;
            next_time_lines("start", &config.runtime_cli)
                .iter()
                .for_each(|l| out(l));
            Ok(())
        }
        Mode::StartDev | Mode::Build => Ok(()),
    }
}
