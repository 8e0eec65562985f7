//! Redirect URI validation as Keycloak 26 does it (`RedirectUtils#verifyRedirectUri`): the
//! redirect is percent-decoded (up to five times, query kept), dot segments removed, scheme and
//! host lower-cased; then each valid URI is tried, longest first: one ending in `*` (and without
//! `?`) is a prefix match on the redirect without its query (also matching the prefix without its
//! trailing `/`), any other must be equal. An undecoded exact match is also accepted. Relative
//! valid URIs (`/...`) are resolved against the client's root URL, else the request's origin.
//! A scheme other than http(s) must be named by the matching valid URI.

/// The validated redirect URI (normalised, as Keycloak returns it), or `None` if not allowed.
pub fn verify_redirect_uri(
    redirect: Option<&str>,
    valid: &[String],
    root_url: Option<&str>,
    request_origin: &str,
) -> Option<String> {
    let redirect = redirect?;
    if valid.is_empty() {
        return None;
    }
    let original = url::Url::parse(redirect).ok();
    // Keycloak parses with java.net.URI: relative references are allowed; here only absolute
    // ones and `/...` paths are modelled.
    if original.is_none() && !redirect.starts_with('/') {
        return None;
    }
    let decoded = decode_redirect(redirect)?;
    let normalized_decoded = normalize(&decoded);
    let resolved = resolve_valid(valid, root_url, request_origin);

    let mut matched = matches(&resolved, &normalized_decoded, true);
    let normalized_original = normalize(redirect);
    if matched.is_none() {
        matched = matches(&resolved, &normalized_original, false);
    }
    let matched = matched?;
    let scheme = normalized_decoded
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .filter(|s| !s.contains('/'));
    if let Some(scheme) = scheme {
        if scheme != "http" && scheme != "https" && !matched.starts_with(&format!("{scheme}:")) {
            return None;
        }
    }
    if normalized_original.starts_with('/') {
        let root = root_url.filter(|r| !r.is_empty()).unwrap_or(request_origin);
        return Some(format!(
            "{}{}",
            root.trim_end_matches('/'),
            normalized_original
        ));
    }
    Some(normalized_original)
}

/// Valid redirects with relative ones made absolute, longest first (Keycloak's TreeSet order).
fn resolve_valid(valid: &[String], root_url: Option<&str>, request_origin: &str) -> Vec<String> {
    let mut out: Vec<String> = valid
        .iter()
        .map(|v| {
            if v.starts_with('/') {
                let root = root_url.filter(|r| !r.is_empty()).unwrap_or(request_origin);
                format!("{root}{v}")
            } else {
                v.clone()
            }
        })
        .collect();
    out.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    out.dedup();
    out
}

fn matches(valid: &[String], redirect: &str, allow_wildcards: bool) -> Option<String> {
    for v in valid {
        if allow_wildcards && v.ends_with('*') && !v.contains('?') {
            let r = redirect.split('?').next().unwrap_or(redirect);
            let prefix = &v[..v.len() - 1];
            if r.starts_with(prefix) {
                return Some(prefix.to_string());
            }
            let trimmed = if prefix.len() > 1 && prefix.ends_with('/') {
                &prefix[..prefix.len() - 1]
            } else {
                prefix
            };
            if trimmed == r {
                return Some(trimmed.to_string());
            }
        } else if v == redirect {
            return Some(v.clone());
        }
    }
    None
}

/// Percent-decode everything before the query/fragment until stable (at most 5 rounds).
fn decode_redirect(redirect: &str) -> Option<String> {
    let cut = redirect.find(['?', '#']).unwrap_or(redirect.len());
    let (mut head, tail) = (redirect[..cut].to_string(), &redirect[cut..]);
    for _ in 0..5 {
        let next = percent_decode(&head)?;
        if next == head {
            return Some(format!("{head}{tail}"));
        }
        head = next;
    }
    None
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            match u8::from_str_radix(hex, 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                Err(_) => return None,
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// `java.net.URI#normalize` (dot segments) and lower-cased scheme and authority.
fn normalize(uri: &str) -> String {
    let cut = uri.find(['?', '#']).unwrap_or(uri.len());
    let (head, tail) = uri.split_at(cut);
    let (prefix, path) = match head.find("://") {
        Some(i) => {
            let after = i + 3;
            match head[after..].find('/') {
                Some(j) => head.split_at(after + j),
                None => (head, ""),
            }
        }
        None => ("", head),
    };
    let mut segments: Vec<&str> = Vec::new();
    let absolute = path.starts_with('/');
    for seg in path.split('/').skip(usize::from(absolute)) {
        match seg {
            "." => {}
            // Like java.net.URI, a leading `..` stays.
            ".." => {
                if segments.last().is_some_and(|s| *s != "..") {
                    segments.pop();
                } else {
                    segments.push("..");
                }
            }
            s => segments.push(s),
        }
    }
    let mut normalized_path = segments.join("/");
    if absolute {
        normalized_path.insert(0, '/');
    }
    if path.ends_with("/.") || path.ends_with("/..") {
        normalized_path.push('/');
    }
    format!("{}{}{}", prefix.to_lowercase(), normalized_path, tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const ORIGIN: &str = "http://localhost:8080";

    #[test]
    fn wildcard_prefix_matches_paths_and_ignores_the_query() {
        let valid = v(&["http://localhost:5000/*"]);
        for ok in [
            "http://localhost:5000/callback",
            "http://localhost:5000/",
            "http://localhost:5000",
            "http://localhost:5000/a/b?x=1",
            "HTTP://LOCALHOST:5000/callback",
        ] {
            assert!(
                verify_redirect_uri(Some(ok), &valid, None, ORIGIN).is_some(),
                "{ok} should be allowed"
            );
        }
        for bad in [
            "http://localhost:5001/callback",
            "http://localhost:50000/callback",
            "https://localhost:5000/callback",
            "http://localhost.evil.com:5000/",
        ] {
            let got = verify_redirect_uri(Some(bad), &valid, None, ORIGIN);
            assert!(got.is_none(), "{bad} should be refused, got {got:?}");
        }
        // Like java.net.URI#normalize, leading `..` segments are kept, so they stay under the prefix.
        assert!(
            verify_redirect_uri(Some("http://localhost:5000/../x"), &valid, None, ORIGIN).is_some()
        );
    }

    #[test]
    fn exact_entries_need_an_exact_match() {
        let valid = v(&["http://localhost:5000/callback"]);
        assert_eq!(
            verify_redirect_uri(Some("http://localhost:5000/callback"), &valid, None, ORIGIN)
                .as_deref(),
            Some("http://localhost:5000/callback")
        );
        assert!(verify_redirect_uri(
            Some("http://localhost:5000/callback/"),
            &valid,
            None,
            ORIGIN
        )
        .is_none());
        assert!(verify_redirect_uri(
            Some("http://localhost:5000/callback?x=1"),
            &valid,
            None,
            ORIGIN
        )
        .is_none());
        assert!(
            verify_redirect_uri(Some("http://localhost:5000/cb"), &valid, None, ORIGIN).is_none()
        );
    }

    #[test]
    fn missing_redirect_or_no_valid_uris_is_refused() {
        assert!(verify_redirect_uri(None, &v(&["*"]), None, ORIGIN).is_none());
        assert!(verify_redirect_uri(Some("http://localhost:5000/"), &[], None, ORIGIN).is_none());
    }

    #[test]
    fn encoded_dot_segments_do_not_escape_a_wildcard() {
        let valid = v(&["http://localhost:5000/app/*"]);
        assert!(verify_redirect_uri(
            Some("http://localhost:5000/app/%2E%2E/admin"),
            &valid,
            None,
            ORIGIN
        )
        .is_none());
        assert!(verify_redirect_uri(
            Some("http://localhost:5000/app/x/../y"),
            &valid,
            None,
            ORIGIN
        )
        .is_some());
    }

    #[test]
    fn relative_valid_uris_resolve_against_the_root_url() {
        let valid = v(&["/callback"]);
        assert_eq!(
            verify_redirect_uri(
                Some("http://localhost:5000/callback"),
                &valid,
                Some("http://localhost:5000"),
                ORIGIN
            )
            .as_deref(),
            Some("http://localhost:5000/callback")
        );
        assert!(
            verify_redirect_uri(Some("http://localhost:5000/callback"), &valid, None, ORIGIN)
                .is_none()
        );
    }

    #[test]
    fn custom_schemes_must_be_named() {
        assert!(verify_redirect_uri(Some("myapp://cb"), &v(&["*"]), None, ORIGIN).is_none());
        assert!(verify_redirect_uri(Some("myapp://cb"), &v(&["myapp:*"]), None, ORIGIN).is_some());
        assert!(verify_redirect_uri(Some("http://anything/x"), &v(&["*"]), None, ORIGIN).is_some());
    }
}
