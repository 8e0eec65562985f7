//! The demo's pages: plain HTML, every form control with a `<label>`, every action a link or a
//! button (keyboard-usable), JSON shown pretty-printed and escaped.

use serde_json::Value;

use super::DemoConfig;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · iamstack demo</title>\
         <style>body{{font-family:sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}}\
         pre{{background:#f4f4f4;padding:1rem;overflow:auto}}a,button{{font-size:1rem}}\
         nav a{{margin-right:1rem}}</style></head>\n<body><nav><a href=\"/\">Home</a></nav>\
         <main><h1>{t}</h1>\n{body}</main></body></html>\n",
        t = escape(title)
    )
}

fn json_block(id: &str, v: &Value) -> String {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    format!("<pre id=\"{id}\">{}</pre>", escape(&text))
}

pub fn home(c: &DemoConfig) -> String {
    layout(
        "iamstack demo",
        &format!(
            "<p>The reference tutorial's three client apps, against realm <code>{realm}</code> \
             with client <code>{client}</code>.</p>\n<ul>\n\
             <li><a id=\"login\" href=\"/login\">Log in with Keycloak</a> (authorization code with PKCE)</li>\n\
             <li><a id=\"password\" href=\"/password\">Password grant</a> (resource owner password credentials)</li>\n\
             <li><form method=\"post\" action=\"/client-credentials\"><button id=\"client-credentials\" type=\"submit\">Client credentials</button> (the client's service account)</form></li>\n</ul>",
            realm = escape(&c.target.realm),
            client = escape(&c.target.client_id)
        ),
    )
}

pub fn profile(id_claims: &Value, access_claims: &Value, userinfo: &Value) -> String {
    let email = id_claims
        .get("email")
        .and_then(Value::as_str)
        .unwrap_or("(no email claim)");
    layout(
        "Profile",
        &format!(
            "<p>Logged in as <strong id=\"email\">{}</strong>.</p>\n\
             <form method=\"post\" action=\"/logout\"><button id=\"logout\" type=\"submit\">Log out</button></form>\n\
             <h2>ID token claims</h2>{}\n<h2>Access token (decoded)</h2>{}\n<h2>Userinfo</h2>{}",
            escape(email),
            json_block("id-token", id_claims),
            json_block("access-token", access_claims),
            json_block("userinfo", userinfo)
        ),
    )
}

pub fn password_form(username: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    layout(
        "Password grant",
        &format!(
            "{error}<form method=\"post\" action=\"/password\">\n\
             <p><label for=\"username\">Username</label> <input id=\"username\" name=\"username\" value=\"{}\" autocomplete=\"username\" required></p>\n\
             <p><label for=\"password\">Password</label> <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required></p>\n\
             <p><button id=\"get-token\" type=\"submit\">Get a token</button></p>\n</form>",
            escape(username)
        ),
    )
}

pub fn tokens(title: &str, who: &str, response: &Value, access_claims: &Value) -> String {
    // The tokens themselves are long and secret-ish; show their claims and the response's
    // other fields.
    let mut shown = response.clone();
    if let Some(o) = shown.as_object_mut() {
        for k in ["access_token", "refresh_token", "id_token"] {
            if o.contains_key(k) {
                o.insert(k.into(), Value::from("(present)"));
            }
        }
    }
    layout(
        title,
        &format!(
            "<p>Token for <strong id=\"subject\">{}</strong>.</p>\n<h2>Token response</h2>{}\n\
             <h2>Access token (decoded)</h2>{}",
            escape(who),
            json_block("token-response", &shown),
            json_block("access-token", access_claims)
        ),
    )
}

pub fn error(title: &str, detail: &str, answer: Option<(u16, &str)>) -> String {
    let answer = answer
        .map(|(status, body)| {
            format!(
                "<h2>Keycloak answered {status}</h2><pre id=\"keycloak-answer\">{}</pre>",
                escape(body)
            )
        })
        .unwrap_or_default();
    layout(
        title,
        &format!(
            "<p role=\"alert\" id=\"error\">{}</p>{answer}<p><a href=\"/\">Back to the home page</a></p>",
            escape(detail)
        ),
    )
}
