//! `verify`'s table on a terminal: one row per check, failure explanations on indented lines.

use super::{fmt_ms, CheckRow};

/// Where a check's detail is broken into lines: the parts of a failure explanation.
const BREAKS: [&str; 3] = ["; request: ", "; Keycloak answered ", "; likely cause: "];

fn detail_lines(detail: &str) -> Vec<String> {
    let mut lines = vec![detail.to_string()];
    for marker in BREAKS {
        let last = lines.pop().unwrap_or_default();
        match last.split_once(marker) {
            Some((head, tail)) => {
                lines.push(head.to_string());
                lines.push(format!("{}{tail}", marker.trim_start_matches("; ")));
            }
            None => lines.push(last),
        }
    }
    lines
}

/// The table, ending with a totals line; every line ends with a newline.
pub fn check_table(rows: &[CheckRow]) -> String {
    let name_w = rows
        .iter()
        .map(|r| r.name.len())
        .chain(["CHECK".len()])
        .max()
        .unwrap_or(5);
    let times: Vec<String> = rows.iter().map(|r| fmt_ms(r.elapsed_ms)).collect();
    let time_w = times
        .iter()
        .map(String::len)
        .chain(["TIME".len()])
        .max()
        .unwrap_or(4);
    let indent = name_w + 2 + 6 + 2 + time_w + 2;

    let mut out = format!(
        "{:name_w$}  {:6}  {:>time_w$}  DETAIL\n",
        "CHECK", "RESULT", "TIME"
    );
    for (row, time) in rows.iter().zip(&times) {
        let result = if row.passed { "pass" } else { "FAIL" };
        let lines = row.detail.as_deref().map(detail_lines).unwrap_or_default();
        let first = lines.first().map(String::as_str).unwrap_or("");
        let line = format!("{:name_w$}  {result:6}  {time:>time_w$}  {first}", row.name);
        out.push_str(line.trim_end());
        out.push('\n');
        for more in lines.iter().skip(1) {
            out.push_str(&format!("{:indent$}{more}\n", ""));
        }
    }
    let failed = rows.iter().filter(|r| !r.passed).count();
    let total_ms: u64 = rows.iter().map(|r| r.elapsed_ms).sum();
    out.push_str(&format!(
        "{} passed, {failed} failed ({})\n",
        rows.len() - failed,
        fmt_ms(total_ms)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, passed: bool, ms: u64, detail: &str) -> CheckRow {
        CheckRow {
            name: name.into(),
            passed,
            elapsed_ms: ms,
            detail: Some(detail.into()),
        }
    }

    #[test]
    fn rows_align_and_failures_break_into_lines() {
        let table = check_table(&[
            row("discovery", true, 12, "issuer http://localhost:8080/realms/testing"),
            row(
                "password",
                false,
                1500,
                "token request: no tokens; request: POST http://x/token (grant_type=password); Keycloak answered 400 {\"error\":\"unauthorized_client\"}; likely cause: direct access grants are off",
            ),
        ]);
        let expected = "\
CHECK      RESULT   TIME  DETAIL
discovery  pass    12 ms  issuer http://localhost:8080/realms/testing
password   FAIL    1.5 s  token request: no tokens
                          request: POST http://x/token (grant_type=password)
                          Keycloak answered 400 {\"error\":\"unauthorized_client\"}
                          likely cause: direct access grants are off
1 passed, 1 failed (1.5 s)
";
        assert_eq!(table, expected);
    }
}
