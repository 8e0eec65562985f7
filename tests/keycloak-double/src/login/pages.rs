//! The login pages as the keycloak.v2 theme renders them, with the ids and form fields a browser
//! (or iamstack's scripted one) relies on.

use serde_json::Value;

use super::session::AuthTab;
use crate::http::html_escape;
use crate::model::{Client, Realm, User, UPDATE_PASSWORD, VERIFY_PROFILE};

/// Keycloak's login messages (theme `messages_en.properties`).
pub mod msg {
    pub const INVALID_USER: &str = "Invalid username or password.";
    pub const ACCOUNT_DISABLED: &str = "Account is disabled, contact your administrator.";
    pub const COOKIE_NOT_FOUND: &str =
        "Cookie not found. Please make sure cookies are enabled in your browser.";
    pub const LOGIN_TIMEOUT: &str =
        "Your login attempt timed out. Login will start from the beginning.";
    pub const UPDATE_PROFILE: &str =
        "You need to update your user profile to activate your account.";
    pub const UPDATE_PASSWORD: &str = "You need to change your password to activate your account.";
    pub const STALE_CODE: &str =
        "This page is no longer valid, please go back to your application and sign in again";
    pub const LOGGED_OUT: &str = "You are logged out.";
}

/// The keycloak.v2 page frame: title, header and an optional alert.
pub(super) fn layout(title: &str, alert: Option<(&str, &str)>, body: &str) -> String {
    let alert = alert
        .map(|(kind, text)| {
            format!(
                "<div class=\"pf-v5-c-alert pf-m-inline pf-m-{kind}\"><span class=\"pf-v5-c-alert__title kc-feedback-text\">{}</span></div>\n",
                html_escape(text)
            )
        })
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html class=\"login-pf\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"robots\" content=\"noindex, nofollow\">\n<title>{t}</title>\n</head>\n<body id=\"keycloak-bg\">\n<div class=\"pf-v5-c-login\"><div class=\"pf-v5-c-login__container\">\n<main class=\"pf-v5-c-login__main\">\n<div class=\"pf-v5-c-login__main-header\"><h1 class=\"pf-v5-c-title pf-m-3xl\" id=\"kc-page-title\">{t}</h1></div>\n<div class=\"pf-v5-c-login__main-body\">\n{alert}{body}\n</div>\n</main>\n</div></div>\n</body>\n</html>\n",
        t = html_escape(title)
    )
}

pub(super) fn realm_title(realm: &Realm) -> String {
    let name = realm
        .settings
        .get("displayName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(&realm.name);
    format!("Sign in to {name}")
}

pub(super) fn action_url(
    base: &str,
    realm: &str,
    path: &str,
    tab: &AuthTab,
    with_code: bool,
    execution: Option<&str>,
) -> String {
    let mut u = format!("{base}/realms/{realm}/login-actions/{path}?");
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if with_code {
        q.append_pair("session_code", &tab.session_code);
    }
    if let Some(e) = execution {
        q.append_pair("execution", e);
    }
    q.append_pair("client_id", &tab.client_id);
    q.append_pair("tab_id", &tab.tab_id);
    q.append_pair("client_data", &tab.client_data());
    u.push_str(&q.finish());
    u
}

/// `login.ftl` (keycloak.v2): the username/password form; `error` under the username field.
pub fn login_page(
    realm: &Realm,
    base: &str,
    tab: &AuthTab,
    error: Option<&str>,
    alert: Option<(&str, &str)>,
) -> String {
    let action = action_url(
        base,
        &realm.name,
        "authenticate",
        tab,
        true,
        Some(&tab.execution),
    );
    let username = tab
        .attempted_username
        .clone()
        .or_else(|| tab.login_hint.clone())
        .unwrap_or_default();
    let invalid = if error.is_some() { "true" } else { "" };
    let error_html = error
        .map(|e| {
            format!(
                "<div class=\"pf-v5-c-helper-text\" aria-live=\"polite\"><div class=\"pf-v5-c-helper-text__item pf-m-error\" id=\"input-error-username\"><span class=\"pf-v5-c-helper-text__item-text\">\n{}\n</span></div></div>",
                html_escape(e)
            )
        })
        .unwrap_or_default();
    let label = if realm.bool_setting("loginWithEmailAllowed") {
        "Username or email"
    } else {
        "Username"
    };
    let form = format!(
        "<div id=\"kc-form\"><div id=\"kc-form-wrapper\">\n<form id=\"kc-form-login\" class=\"pf-v5-c-form pf-m-horizontal\" onsubmit=\"login.disabled = true; return true;\" action=\"{action}\" method=\"post\" novalidate=\"novalidate\">\n<div class=\"pf-v5-c-form__group\"><label for=\"username\" class=\"pf-v5-c-form__label\"><span class=\"pf-v5-c-form__label-text\">{label}</span></label>\n<span class=\"pf-v5-c-form-control\"><input id=\"username\" name=\"username\" value=\"{username}\" type=\"text\" autocomplete=\"username\" autofocus aria-invalid=\"{invalid}\"/></span>\n<div id=\"input-error-container-username\">{error_html}</div></div>\n<div class=\"pf-v5-c-form__group\"><label for=\"password\" class=\"pf-v5-c-form__label\"><span class=\"pf-v5-c-form__label-text\">Password</span></label>\n<span class=\"pf-v5-c-form-control\"><input id=\"password\" name=\"password\" value=\"\" type=\"password\" autocomplete=\"current-password\" aria-invalid=\"{invalid}\"/></span></div>\n<input type=\"hidden\" id=\"id-hidden-input\" name=\"credentialId\"/>\n<div class=\"pf-v5-c-form__group\"><div class=\"pf-v5-c-form__actions\"><button class=\"pf-v5-c-button pf-m-primary pf-m-block\" name=\"login\" id=\"kc-login\" type=\"submit\">Sign In</button></div></div>\n</form>\n</div></div>",
        action = html_escape(&action),
        username = html_escape(&username),
    );
    layout(&realm_title(realm), alert, &form).replacen(
        &format!(
            "id=\"kc-page-title\">{}</h1>",
            html_escape(&realm_title(realm))
        ),
        "id=\"kc-page-title\">Sign in to your account</h1>",
        1,
    )
}

/// `login-update-profile.ftl`: the profile form with the user's current values.
pub(super) fn update_profile_page(
    realm: &Realm,
    base: &str,
    tab: &AuthTab,
    user: &User,
    errors: &[(&str, &str)],
) -> String {
    let action = action_url(
        base,
        &realm.name,
        "required-action",
        tab,
        true,
        Some(VERIFY_PROFILE),
    );
    let mut fields = String::new();
    for (name, label, value) in [
        ("email", "Email", user.email.as_deref()),
        ("firstName", "First name", user.first_name.as_deref()),
        ("lastName", "Last name", user.last_name.as_deref()),
    ] {
        let err = errors
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, e)| format!("<div class=\"pf-v5-c-helper-text__item pf-m-error\" id=\"input-error-{name}\"><span>{}</span></div>", html_escape(e)))
            .unwrap_or_default();
        fields.push_str(&format!(
            "<div class=\"pf-v5-c-form__group\"><label for=\"{name}\">{label} <span class=\"pf-v5-c-form__label-required\">*</span></label>\n<span class=\"pf-v5-c-form-control\"><input type=\"text\" id=\"{name}\" name=\"{name}\" value=\"{}\" aria-invalid=\"\"/></span>{err}</div>\n",
            html_escape(value.unwrap_or_default())
        ));
    }
    let form = format!(
        "<form id=\"kc-update-profile-form\" class=\"pf-v5-c-form pf-m-horizontal\" action=\"{}\" method=\"post\">\n{fields}<div class=\"pf-v5-c-form__group\"><button class=\"pf-v5-c-button pf-m-primary\" id=\"kc-submit\" type=\"submit\">Submit</button></div>\n</form>",
        html_escape(&action)
    );
    let alert = if errors.is_empty() {
        Some(("warning", msg::UPDATE_PROFILE))
    } else {
        None
    };
    layout("Update Account Information", alert, &form)
}

/// `login-update-password.ftl`.
pub(super) fn update_password_page(realm: &Realm, base: &str, tab: &AuthTab) -> String {
    let action = action_url(
        base,
        &realm.name,
        "required-action",
        tab,
        true,
        Some(UPDATE_PASSWORD),
    );
    let form = format!(
        "<form id=\"kc-passwd-update-form\" class=\"pf-v5-c-form\" action=\"{}\" method=\"post\">\n<input type=\"password\" id=\"password-new\" name=\"password-new\" autocomplete=\"new-password\"/>\n<input type=\"password\" id=\"password-confirm\" name=\"password-confirm\" autocomplete=\"new-password\"/>\n<button class=\"pf-v5-c-button pf-m-primary\" type=\"submit\">Submit</button>\n</form>",
        html_escape(&action)
    );
    layout(
        "Update password",
        Some(("warning", msg::UPDATE_PASSWORD)),
        &form,
    )
}

/// `login-oauth-grant.ftl`: the consent screen.
pub(super) fn consent_page(realm: &Realm, base: &str, tab: &AuthTab, client: &Client) -> String {
    let action = format!(
        "{base}/realms/{}/login-actions/consent?client_id={}&tab_id={}",
        realm.name,
        url::form_urlencoded::byte_serialize(tab.client_id.as_bytes()).collect::<String>(),
        tab.tab_id
    );
    let name = client
        .str_field("name")
        .filter(|n| !n.is_empty())
        .unwrap_or(client.client_id());
    let form = format!(
        "<div id=\"kc-oauth\" class=\"content-area\">\n<h3>Do you grant these access privileges?</h3>\n<ul><li><span>User profile</span></li><li><span>Email address</span></li></ul>\n<form class=\"pf-v5-c-form\" action=\"{}\" method=\"POST\">\n<input type=\"hidden\" name=\"code\" value=\"{}\">\n<button id=\"kc-login\" name=\"accept\" type=\"submit\">Yes</button>\n<button id=\"kc-cancel\" name=\"cancel\" type=\"submit\">No</button>\n</form>\n</div>",
        html_escape(&action),
        html_escape(&tab.session_code)
    );
    layout(&format!("Grant Access to {name}"), None, &form)
}

/// `logout-confirm.ftl`.
pub fn logout_confirm_page(base: &str, realm: &str, session_code: &str) -> String {
    let form = format!(
        "<div id=\"kc-logout-confirm\" class=\"content-area\">\n<p class=\"instruction\">Do you want to log out?</p>\n<form class=\"form-actions\" action=\"{}\" onsubmit=\"confirmLogout.disabled = true; return true;\" method=\"POST\">\n<input type=\"hidden\" name=\"session_code\" value=\"{}\">\n<input name=\"confirmLogout\" id=\"kc-logout\" type=\"submit\" value=\"Logout\"/>\n</form>\n</div>",
        html_escape(&format!("{base}/realms/{realm}/protocol/openid-connect/logout/logout-confirm")),
        html_escape(session_code)
    );
    layout("Logging out", None, &form)
}

/// `info.ftl` with a message (e.g. after a confirmed logout without a redirect).
pub fn info_page(message: &str) -> String {
    layout(
        message,
        None,
        &format!(
            "<div id=\"kc-info-message\"><p class=\"instruction\">{}</p></div>",
            html_escape(message)
        ),
    )
}

/// `login-page-expired.ftl`.
pub(super) fn page_expired(realm: &Realm, base: &str, tab: &AuthTab) -> String {
    let restart = action_url(base, &realm.name, "restart", tab, false, None);
    let cont = action_url(base, &realm.name, "authenticate", tab, false, None);
    layout(
        "Page has expired",
        None,
        &format!(
            "<p id=\"instruction1\" class=\"instruction\">To restart the login process <a id=\"loginRestartLink\" href=\"{}\">Click here</a> . To continue the login process <a id=\"loginContinueLink\" href=\"{}\">Click here</a> .</p>",
            html_escape(&restart),
            html_escape(&cont)
        ),
    )
}
