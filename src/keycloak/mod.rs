//! Keycloak admin REST client, realm file model, and reconcile (pure diff + apply).
