//! `iamstack logs`, the decisions: which services, `--since` as a Unix time, and the two
//! containers' lines in time order with a service prefix. Pure; the command streams.

use crate::docker::LogLine;
use crate::names::Role;

/// The services to show: the one named, else both.
pub fn services(only: Option<Role>) -> Vec<Role> {
    match only {
        Some(role) => vec![role],
        None => vec![Role::Postgres, Role::Keycloak],
    }
}

/// `--since`: a duration back from `now` (`90s`, `10m`, `2h`, `1d`) or a Unix time in
/// seconds; `None` when it is neither.
pub fn since_unix(arg: &str, now: i64) -> Option<i64> {
    let arg = arg.trim();
    if let Ok(secs) = arg.parse::<i64>() {
        return Some(secs);
    }
    let (number, unit) = arg.split_at(arg.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = number.parse().ok()?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return None,
    };
    Some(now - secs)
}

/// One output line: `keycloak | text`, with the engine's timestamp first when asked. The
/// prefix is padded so both services' text lines up.
pub fn format_line(role: Role, line: &LogLine, timestamps: bool) -> String {
    let service = format!("{:<8}", role.as_str());
    if timestamps && !line.timestamp.is_empty() {
        format!("{} {service} | {}", line.timestamp, line.text)
    } else {
        format!("{service} | {}", line.text)
    }
}

/// Both services' lines in time order (the engine's RFC 3339 UTC timestamps sort as text; the
/// sort is stable, so lines with the same timestamp keep their service's order).
pub fn merge(per_service: Vec<(Role, Vec<LogLine>)>) -> Vec<(Role, LogLine)> {
    let mut all: Vec<(Role, LogLine)> = per_service
        .into_iter()
        .flat_map(|(role, lines)| lines.into_iter().map(move |l| (role, l)))
        .collect();
    all.sort_by(|a, b| a.1.timestamp.cmp(&b.1.timestamp));
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::parse_timestamped;

    #[test]
    fn lines_of_both_services_interleave_by_time() {
        let pg = vec![
            parse_timestamped("2026-11-30T10:00:00.100000000Z database system is ready"),
            parse_timestamped("2026-11-30T10:00:03.000000000Z checkpoint starting"),
        ];
        let kc = vec![parse_timestamped(
            "2026-11-30T10:00:01.500000000Z Listening on: http://0.0.0.0:8080",
        )];
        let merged: Vec<String> = merge(vec![(Role::Postgres, pg), (Role::Keycloak, kc)])
            .iter()
            .map(|(role, l)| format_line(*role, l, false))
            .collect();
        assert_eq!(
            merged,
            [
                "postgres | database system is ready",
                "keycloak | Listening on: http://0.0.0.0:8080",
                "postgres | checkpoint starting",
            ]
        );
    }

    #[test]
    fn a_line_keeps_its_timestamp_only_when_asked() {
        let l = parse_timestamped("2026-11-30T10:00:00.1Z \u{1b}[0mhello\r");
        assert_eq!(l.text, "hello");
        assert_eq!(
            format_line(Role::Keycloak, &l, true),
            "2026-11-30T10:00:00.1Z keycloak | hello"
        );
    }

    #[test]
    fn since_takes_durations_back_from_now_or_a_unix_time() {
        assert_eq!(since_unix("10m", 10_000), Some(9_400));
        assert_eq!(since_unix("2h", 10_000), Some(2_800));
        assert_eq!(since_unix("1700000000", 0), Some(1_700_000_000));
        assert_eq!(since_unix("ten minutes", 0), None);
        assert_eq!(since_unix("5w", 0), None);
    }
}
