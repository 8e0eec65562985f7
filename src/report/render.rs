//! Pure renderings of events as text: the stdout blocks of results and the plain-mode lines.

use super::{Action, Event};

/// The stdout rendering of result events (human and plain modes), `None` for progress events.
pub fn stdout_block(event: &Event) -> Option<String> {
    match event {
        Event::StackReady {
            project,
            keycloak_url,
            admin_console_url,
            health_url,
            postgres_url,
            admin_user,
            admin_password,
            postgres_user,
            postgres_password,
            oidc,
            elapsed_ms,
        } => {
            let hidden = "(hidden: pass --show-secrets)";
            let oidc_lines: String = oidc
                .iter()
                .map(|v| format!("\n  {:<19} {}", v.key, v.value.as_deref().unwrap_or(hidden)))
                .collect();
            let admin_password = admin_password.as_deref().unwrap_or(hidden);
            let postgres_password = postgres_password.as_deref().unwrap_or(hidden);
            Some(format!(
                "\nStack `{project}` is ready ({}).\n  \
                 Keycloak        {keycloak_url}\n  \
                 Admin console   {admin_console_url}\n  \
                 Admin user      {admin_user}\n  \
                 Admin password  {admin_password}\n  \
                 Health          {health_url}\n  \
                 Postgres        {postgres_url}\n  \
                 Postgres user   {postgres_user}\n  \
                 Postgres pass   {postgres_password}{oidc_lines}",
                fmt_ms(*elapsed_ms)
            ))
        }
        Event::Service {
            service,
            container,
            state,
            ready,
            image,
            ports,
            detail,
        } => {
            let readiness = if *ready { "ready" } else { "not ready" };
            let ports = if ports.is_empty() {
                "-".to_string()
            } else {
                ports.join(", ")
            };
            let mut line = format!(
                "{service:<9} {container:<24} {state:<9} {readiness:<9} {:<28} {ports}",
                image.as_deref().unwrap_or("-")
            );
            if let Some(d) = detail {
                line.push_str(&format!("\n          {d}"));
            }
            Some(line)
        }
        _ => None,
    }
}

/// The plain-mode rendering of an event, or `None` for events too chatty for a log.
pub fn plain_line(event: &Event) -> Option<String> {
    Some(match event {
        Event::StepStarted { step } => format!("- {step} ..."),
        Event::StepProgress { step, message } => format!("  {step}: {message}"),
        Event::StepFinished {
            step,
            elapsed_ms,
            detail,
        } => match detail {
            Some(d) => format!("✓ {step} ({}) {d}", fmt_ms(*elapsed_ms)),
            None => format!("✓ {step} ({})", fmt_ms(*elapsed_ms)),
        },
        // The first line only: the whole error (e.g. a log tail) is printed once, at exit.
        Event::StepFailed {
            step,
            elapsed_ms,
            error,
        } => format!(
            "✗ {step} ({}) failed: {}",
            fmt_ms(*elapsed_ms),
            error.lines().next().unwrap_or_default()
        ),
        Event::Planned { step } => format!("  would run: {step}"),
        Event::Pull { .. } => return None,
        Event::Object {
            kind,
            name,
            action,
            changes,
        } => match action {
            Action::Updated => format!("  {kind} `{name}`: updated ({})", changes.join(", ")),
            Action::Created => format!("  {kind} `{name}`: created"),
            Action::Unchanged if changes.is_empty() => format!("  {kind} `{name}`: unchanged"),
            Action::Unchanged => format!("  {kind} `{name}`: unchanged ({})", changes.join(", ")),
            Action::Removed => format!("  {kind} `{name}`: removed"),
        },
        Event::Check(check) => {
            let mark = if check.passed { "PASS" } else { "FAIL" };
            let tail = check
                .detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            format!("{mark} {} ({}){tail}", check.name, fmt_ms(check.elapsed_ms))
        }
        Event::Warning { message } => format!("warning: {message}"),
        Event::StackReady { .. } | Event::Service { .. } => return None,
        Event::VerifySummary {
            passed,
            failed,
            elapsed_ms,
            checks,
        } => {
            let total = passed + failed;
            if *failed == 0 {
                format!(
                    "verify: all {total} checks passed ({})",
                    fmt_ms(*elapsed_ms)
                )
            } else {
                let names: Vec<&str> = checks
                    .iter()
                    .filter(|c| !c.passed)
                    .map(|c| c.name.as_str())
                    .collect();
                format!(
                    "verify: {failed} of {total} checks failed ({}): {}",
                    fmt_ms(*elapsed_ms),
                    names.join(", ")
                )
            }
        }
    })
}

pub fn fmt_ms(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}
