//! Reading Keycloak's HTML pages the way a browser-driving test would: which page is this, and
//! what does it ask for. Element ids are those of Keycloak's login themes (`keycloak.v2` and the
//! classic `keycloak` theme share them): `kc-form-login`, `kc-update-profile-form`,
//! `kc-passwd-update-form`, `kc-oauth` (consent), `kc-logout-confirm`, `kc-error-message`.
//!
//! Parsing is done by `scraper` (html5ever): attribute values come back unescaped, so the
//! form's `action` (`&amp;` in the page) is usable verbatim.

use scraper::{ElementRef, Html, Selector};

/// What Keycloak showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// The username/password form. `error` is the message shown on it after a failed attempt.
    Login {
        action: String,
        hidden: Vec<(String, String)>,
        error: Option<String>,
    },
    /// The update-profile form (VERIFY_PROFILE / UPDATE_PROFILE required action).
    /// `empty_fields` are the visible inputs Keycloak could not prefill: what the profile lacks.
    UpdateProfile {
        message: Option<String>,
        empty_fields: Vec<String>,
    },
    /// The update-password form (UPDATE_PASSWORD required action: a temporary password).
    UpdatePassword,
    /// The consent screen (the client requires consent).
    Consent,
    /// The logout confirmation page.
    LogoutConfirm,
    /// Keycloak's error page, with its message.
    Error { message: String },
    /// Anything else: its title and the ids of its forms, to say what it was.
    Other {
        title: Option<String>,
        form_ids: Vec<String>,
    },
}

impl Page {
    /// A short human description, used in failure messages.
    pub fn describe(&self) -> String {
        match self {
            Page::Login { error: None, .. } => "the login page".into(),
            Page::Login { error: Some(e), .. } => format!("the login page again, saying \"{e}\""),
            Page::UpdateProfile { empty_fields, .. } if !empty_fields.is_empty() => format!(
                "the update-profile page (empty fields: {})",
                empty_fields.join(", ")
            ),
            Page::UpdateProfile { .. } => "the update-profile page".into(),
            Page::UpdatePassword => "the update-password page".into(),
            Page::Consent => "the consent screen".into(),
            Page::LogoutConfirm => "the logout confirmation page".into(),
            Page::Error { message } => format!("an error page saying \"{message}\""),
            Page::Other { title, form_ids } => {
                let mut s = match title {
                    Some(t) => format!("an unexpected page titled \"{t}\""),
                    None => "an unexpected page".to_string(),
                };
                if !form_ids.is_empty() {
                    s.push_str(&format!(" (forms: {})", form_ids.join(", ")));
                }
                s
            }
        }
    }
}

fn sel(css: &str) -> Selector {
    // The selectors are literals in this file; a parse failure is a programming error caught
    // by the unit tests below.
    Selector::parse(css).expect("valid CSS selector literal")
}

/// Collapse runs of whitespace in an element's text.
fn text_of(el: ElementRef<'_>) -> String {
    el.text()
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}

fn first_text(doc: &Html, css: &str) -> Option<String> {
    doc.select(&sel(css)).map(text_of).find(|t| !t.is_empty())
}

/// Identify a Keycloak page.
pub fn classify(html: &str) -> Page {
    let doc = Html::parse_document(html);

    if let Some(form) = doc.select(&sel("form#kc-form-login")).next() {
        let action = form.value().attr("action").unwrap_or_default().to_string();
        let hidden = form
            .select(&sel("input[type=hidden][name]"))
            .filter_map(|i| {
                let name = i.value().attr("name")?;
                Some((
                    name.to_string(),
                    i.value().attr("value").unwrap_or_default().to_string(),
                ))
            })
            .collect();
        // keycloak.v2 puts the message under the field (`input-error-username`,
        // `input-error-password`); the classic theme uses `input-error`; a general message
        // goes in the alert (`kc-feedback-text`).
        let error =
            first_text(&doc, "[id^=input-error]").or_else(|| first_text(&doc, ".kc-feedback-text"));
        return Page::Login {
            action,
            hidden,
            error,
        };
    }
    if let Some(form) = doc.select(&sel("form#kc-update-profile-form")).next() {
        let empty_fields = form
            .select(&sel("input[name]"))
            .filter(|i| {
                let t = i.value().attr("type").unwrap_or("text");
                !matches!(t, "hidden" | "submit" | "button" | "checkbox" | "radio")
                    && i.value()
                        .attr("value")
                        .unwrap_or_default()
                        .trim()
                        .is_empty()
            })
            .filter_map(|i| i.value().attr("name").map(str::to_string))
            .collect();
        return Page::UpdateProfile {
            message: first_text(&doc, ".kc-feedback-text"),
            empty_fields,
        };
    }
    if doc
        .select(&sel("form#kc-passwd-update-form"))
        .next()
        .is_some()
    {
        return Page::UpdatePassword;
    }
    if doc.select(&sel("#kc-oauth")).next().is_some() {
        return Page::Consent;
    }
    if doc.select(&sel("#kc-logout-confirm")).next().is_some() {
        return Page::LogoutConfirm;
    }
    if let Some(err) = doc.select(&sel("#kc-error-message")).next() {
        let message = err
            .select(&sel(".instruction"))
            .map(text_of)
            .find(|t| !t.is_empty())
            .unwrap_or_else(|| text_of(err));
        return Page::Error { message };
    }
    Page::Other {
        title: first_text(&doc, "#kc-page-title").or_else(|| first_text(&doc, "title")),
        form_ids: doc
            .select(&sel("form[id]"))
            .filter_map(|f| f.value().attr("id").map(str::to_string))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like keycloak.v2's login.ftl rendered by Keycloak 26: the action is HTML-escaped.
    const LOGIN: &str = r#"<!DOCTYPE html><html><head><title>Sign in to Testing</title></head>
<body id="keycloak-bg"><main>
<h1 id="kc-page-title">Sign in to your account</h1>
<div id="kc-form"><div id="kc-form-wrapper">
<form id="kc-form-login" class="pf-v5-c-form" onsubmit="login.disabled = true; return true;"
      action="http://localhost:8080/realms/testing/login-actions/authenticate?session_code=AbC-1_2&amp;execution=5c7f&amp;client_id=test-client&amp;tab_id=Xy9&amp;client_data=eyJydSI6Imh0dHAifQ"
      method="post" novalidate="novalidate">
  <input id="username" name="username" value="" type="text" autocomplete="username" autofocus aria-invalid=""/>
  <input id="password" name="password" value="" type="password" autocomplete="current-password" aria-invalid=""/>
  <input type="hidden" id="id-hidden-input" name="credentialId"/>
  <button class="pf-v5-c-button pf-m-primary" name="login" id="kc-login" type="submit">Sign In</button>
</form></div></div></main></body></html>"#;

    #[test]
    fn login_form_action_is_unescaped() {
        match classify(LOGIN) {
            Page::Login {
                action,
                hidden,
                error,
            } => {
                assert_eq!(
                    action,
                    "http://localhost:8080/realms/testing/login-actions/authenticate?session_code=AbC-1_2&execution=5c7f&client_id=test-client&tab_id=Xy9&client_data=eyJydSI6Imh0dHAifQ"
                );
                assert_eq!(hidden, vec![("credentialId".to_string(), String::new())]);
                assert_eq!(error, None);
            }
            other => panic!("expected the login page, got {other:?}"),
        }
    }

    #[test]
    fn login_page_with_an_error_is_a_failed_attempt() {
        let html = LOGIN.replace(
            r#"<input type="hidden""#,
            r#"<div id="input-error-container-username"><div class="pf-v5-c-helper-text" aria-live="polite">
               <div class="pf-v5-c-helper-text__item pf-m-error" id="input-error-username">
               <span class="pf-v5-c-helper-text__item-text">
                   Invalid username or password.
               </span></div></div></div><input type="hidden""#,
        );
        let page = classify(&html);
        assert!(
            matches!(&page, Page::Login { error: Some(e), .. } if e == "Invalid username or password."),
            "{page:?}"
        );
        assert_eq!(
            page.describe(),
            "the login page again, saying \"Invalid username or password.\""
        );
    }

    #[test]
    fn classic_theme_error_span_is_read_too() {
        let html = r#"<html><body><form id="kc-form-login" action="/x?a=1&amp;b=2" method="post">
            <span id="input-error" class="kc-input-error-message" aria-live="polite">Invalid username or password.</span>
            </form></body></html>"#;
        assert_eq!(
            classify(html),
            Page::Login {
                action: "/x?a=1&b=2".into(),
                hidden: vec![],
                error: Some("Invalid username or password.".into())
            }
        );
    }

    #[test]
    fn update_profile_page_names_the_empty_fields() {
        let html = r#"<html><body>
          <div class="pf-v5-c-alert pf-m-warning"><span class="pf-v5-c-alert__title kc-feedback-text">You need to update your user profile to activate your account.</span></div>
          <form id="kc-update-profile-form" action="http://localhost:8080/realms/testing/login-actions/required-action?execution=VERIFY_PROFILE&amp;client_id=test-client&amp;tab_id=a" method="post">
            <input type="text" id="email" name="email" value="test-user@localhost"/>
            <input type="text" id="firstName" name="firstName" value="Test"/>
            <input type="text" id="lastName" name="lastName" value=""/>
            <button id="kc-submit" type="submit">Submit</button>
          </form></body></html>"#;
        let page = classify(html);
        assert_eq!(
            page,
            Page::UpdateProfile {
                message: Some(
                    "You need to update your user profile to activate your account.".into()
                ),
                empty_fields: vec!["lastName".into()],
            }
        );
        assert_eq!(
            page.describe(),
            "the update-profile page (empty fields: lastName)"
        );
    }

    #[test]
    fn consent_logout_and_error_pages_are_recognised() {
        let consent = r#"<html><body><div id="kc-oauth" class="content-area"><h3>Do you grant these access privileges?</h3>
            <form action="/realms/testing/login-actions/consent?client_id=c&amp;tab_id=t" method="POST">
            <input type="hidden" name="code" value="x"><button id="kc-login" name="accept">Yes</button></form></div></body></html>"#;
        assert_eq!(classify(consent), Page::Consent);

        let confirm = r#"<html><body><div id="kc-logout-confirm" class="content-area">
            <p class="instruction">Do you want to log out?</p>
            <form class="form-actions" action="/realms/testing/protocol/openid-connect/logout/logout-confirm" method="POST">
            <input type="hidden" name="session_code" value="abc"><input name="confirmLogout" id="kc-logout" type="submit" value="Logout"/>
            </form></div></body></html>"#;
        assert_eq!(classify(confirm), Page::LogoutConfirm);

        let error = r#"<html><body><h1 id="kc-page-title">We are sorry...</h1>
            <div id="kc-error-message" style="font-size: 1rem;">
              <p class="instruction">Invalid parameter: redirect_uri</p>
            </div></body></html>"#;
        assert_eq!(
            classify(error),
            Page::Error {
                message: "Invalid parameter: redirect_uri".into()
            }
        );
    }

    #[test]
    fn anything_else_is_described_by_title_and_forms() {
        let page = classify(
            r#"<html><head><title>Keycloak</title></head><body><form id="kc-totp-login-form"></form></body></html>"#,
        );
        assert_eq!(
            page.describe(),
            "an unexpected page titled \"Keycloak\" (forms: kc-totp-login-form)"
        );
        assert!(matches!(classify("not html at all"), Page::Other { .. }));
    }
}
