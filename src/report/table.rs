//! `verify`'s table on a terminal: one row per check, failure explanations on indented lines.

use super::{fmt_ms, CheckResult};

/// A row's detail lines: a failure's parts one per line, else what was seen.
fn detail_lines(row: &CheckResult) -> Vec<String> {
    match (&row.failure, &row.detail) {
        (Some(failure), _) => failure.lines(),
        (None, Some(seen)) => vec![seen.clone()],
        (None, None) => Vec::new(),
    }
}

/// The table, ending with a totals line; every line ends with a newline.
pub fn check_table(rows: &[CheckResult]) -> String {
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
        let lines = detail_lines(row);
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

    use crate::report::CheckFailure;

    #[test]
    fn rows_align_and_failures_break_into_lines() {
        let table = check_table(&[
            CheckResult::new(
                "discovery",
                12,
                Ok("issuer http://localhost:8080/realms/testing".into()),
            ),
            CheckResult::new(
                "password",
                1500,
                Err(CheckFailure::new("token request", "no tokens")
                    .request("POST http://x/token (grant_type=password)")
                    .answered(400, Some(r#"{"error":"unauthorized_client"}"#.into()))
                    .cause(Some("direct access grants are off".into()))),
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
