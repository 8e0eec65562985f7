//! The realm file of the scale test and benchmark: `users` users, each with a password and a
//! full profile, and `clients` confidential clients with secrets, in realm `scale`.

use std::fmt::Write as _;

pub fn scale_realm_yaml(users: usize, clients: usize) -> String {
    let mut y = String::from("realm: scale\nenabled: true\nclients:\n");
    for c in 0..clients {
        let _ = write!(
            y,
            "  - clientId: app-{c}\n    publicClient: false\n    secret: secret-of-app-{c}\n    \
             redirectUris: [http://localhost:5000/*]\n"
        );
    }
    y.push_str("users:\n");
    for u in 0..users {
        let _ = write!(
            y,
            "  - username: user-{u}\n    email: user-{u}@example.org\n    firstName: U\n    \
             lastName: N{u}\n    enabled: true\n    credentials: [{{type: password, value: \
             pw-{u}-secret}}]\n"
        );
    }
    y
}
