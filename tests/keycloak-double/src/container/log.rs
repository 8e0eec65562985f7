//! Keycloak-like log lines: the startup lines, database failures, requests.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::server::RecordedRequest;

use super::config::{ContainerConfig, Mode};

pub(super) const MORE_DETAILS: &str = "For more details run the same command passing the '--verbose' option. Also you can use '--help' to see the details about the usage of the particular command.";

/// The start-time checks production mode makes (HTTPS material, then hostname).
pub fn startup_errors(config: &ContainerConfig) -> Option<Vec<String>> {
    let mode = config.mode.label();
    if !config.http_enabled {
        return Some(vec![
            format!("ERROR: Failed to start server in ({mode}) mode"),
            "ERROR: Key material not provided to setup HTTPS. Please configure your keys/certificates or start the server in development mode.".to_owned(),
            MORE_DETAILS.to_owned(),
        ]);
    }
    if config.hostname_strict && config.hostname.is_none() {
        return Some(vec![
            format!("ERROR: Failed to start server in ({mode}) mode"),
            "ERROR: Failed to start quarkus".to_owned(),
            "ERROR: hostname is not configured; either configure hostname, or set hostname-strict to false".to_owned(),
            MORE_DETAILS.to_owned(),
        ]);
    }
    None
}

/// What Keycloak logs when it cannot reach its database: one `ERROR:` line per message of the
/// exception chain (`causes`), as its `ExecutionExceptionHandler` prints them.
pub fn db_failure_lines(mode: Mode, causes: &[String]) -> Vec<String> {
    let mut lines = vec![
        format!("ERROR: Failed to start server in ({}) mode", mode.label()),
        "ERROR: Failed to obtain JDBC connection".to_owned(),
    ];
    lines.extend(causes.iter().map(|c| format!("ERROR: {c}")));
    lines.push(MORE_DETAILS.to_owned());
    lines
}

/// `2025-05-26 10:11:12,345` in UTC.
pub fn timestamp(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02},{:03}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms % 1000
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A Keycloak-style log line.
pub fn log_line(level: &str, category: &str, message: &str) -> String {
    format!(
        "{} {level:<5} [{category}] (main) {message}",
        timestamp(now_ms())
    )
}

/// The line logged for each request served.
pub fn request_line(r: &RecordedRequest) -> String {
    let target = match &r.query {
        Some(q) => format!("{}?{q}", r.path),
        None => r.path.clone(),
    };
    let remote = r
        .remote
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "-".into());
    format!(
        "{} INFO  [keycloak-double.access] (executor-thread-1) {remote} \"{} {target}\" {}",
        timestamp(now_ms()),
        r.method,
        r.status
    )
}

pub(super) fn out(line: &str) {
    println!("{line}");
}

pub(super) fn err(line: &str) {
    eprintln!("{line}");
}
