//! The tail of a container's output, as `up` shows it when a service crashed or stalls.

use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::StreamExt;

use super::{Engine, EngineError};

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

/// Strip terminal control sequences and trailing whitespace from a log line.
fn clean_log_line(line: &str) -> String {
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
