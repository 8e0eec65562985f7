//! A container's output: its tail, as `up` shows it when a service crashed or stalls, and the
//! timestamped stream `iamstack logs` merges.

use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use super::{Engine, EngineError};

/// Which part of a container's output to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    /// Keep streaming new output.
    pub follow: bool,
    /// Only output since this Unix time (seconds).
    pub since: Option<i64>,
    /// Only the last N lines.
    pub tail: Option<usize>,
}

/// One line of output with the engine's timestamp (RFC 3339, nanoseconds, UTC), which sorts
/// as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub timestamp: String,
    pub text: String,
}

/// Split the engine's `<timestamp> <text>` line (logs asked with timestamps).
pub fn parse_timestamped(line: &str) -> LogLine {
    match line.split_once(' ') {
        Some((ts, text)) if ts.len() >= 20 && ts.as_bytes()[4] == b'-' => LogLine {
            timestamp: ts.to_string(),
            text: clean_log_line(text),
        },
        _ => LogLine {
            timestamp: String::new(),
            text: clean_log_line(line),
        },
    }
}

impl Engine {
    /// A container's output (stdout and stderr) as timestamped lines, as the engine streams it.
    pub fn log_lines(
        &self,
        name: &str,
        query: &LogQuery,
    ) -> BoxStream<'static, Result<LogLine, EngineError>> {
        let mut options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .follow(query.follow);
        if let Some(since) = query.since {
            options = options.since(i32::try_from(since).unwrap_or(i32::MAX));
        }
        if let Some(tail) = query.tail {
            options = options.tail(&tail.to_string());
        }
        let owned = name.to_string();
        self.docker
            .logs(name, Some(options.build()))
            .flat_map(move |chunk| {
                let lines: Vec<Result<LogLine, EngineError>> = match chunk {
                    Ok(chunk) => String::from_utf8_lossy(&chunk.into_bytes())
                        .lines()
                        .map(|l| Ok(parse_timestamped(l)))
                        .collect(),
                    Err(source) => vec![Err(EngineError::ReadLogs {
                        name: owned.clone(),
                        source,
                    })],
                };
                futures_util::stream::iter(lines)
            })
            .boxed()
    }
}

impl Engine {
    /// The last `lines` non-blank lines of a container's output (stdout and stderr), oldest
    /// first, without terminal control sequences.
    pub async fn log_tail(&self, name: &str, lines: usize) -> Result<Vec<String>, EngineError> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.docker.logs(name, Some(options));
        let mut text = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|source| EngineError::ReadLogs {
                name: name.to_string(),
                source,
            })?;
            text.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
        }
        let all: Vec<String> = text
            .lines()
            .map(clean_log_line)
            .filter(|l| !l.trim().is_empty())
            .collect();
        let skip = all.len().saturating_sub(lines);
        Ok(all.into_iter().skip(skip).collect())
    }
}

/// Strip terminal control sequences and trailing whitespace from a log line (also a build's
/// output, whose error lines the engine colours).
pub(super) fn clean_log_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        if c == '\r' || (c.is_control() && c != '\t') {
            continue;
        }
        out.push(c);
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_lose_colours_and_carriage_returns() {
        assert_eq!(
            clean_log_line("\u{1b}[0m\u{1b}[32mINFO\u{1b}[0m started\r"),
            "INFO started"
        );
    }
}
