//! Where the double keeps its state: in memory (in-process form) or, in the container form, in
//! PostgreSQL as one JSONB document rewritten after every mutation and read at start.

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::model::State;

/// Table holding the whole state document (one row).
pub const TABLE: &str = "keycloak_double_state";

pub enum Store {
    Memory,
    Postgres(PgStore),
}

impl Store {
    pub async fn save(&self, state: &State) -> anyhow::Result<()> {
        match self {
            Store::Memory => Ok(()),
            Store::Postgres(pg) => pg.save(state).await,
        }
    }

    /// Whether the backing database answers (always true in memory).
    pub async fn healthy(&self) -> bool {
        match self {
            Store::Memory => true,
            Store::Postgres(pg) => pg.ping().await,
        }
    }
}

/// Connection settings, as Keycloak reads them from `KC_DB_*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgParams {
    pub host: String,
    pub port: u16,
    pub database: String,
    pub user: String,
    pub password: String,
}

pub struct PgStore {
    client: tokio_postgres::Client,
    connection: JoinHandle<()>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// Why a connection failed: the messages of the exception chain Keycloak prints (one `ERROR:`
/// line each), worded like the PostgreSQL JDBC driver's. An unknown host is `The connection
/// attempt failed.` caused by `java.net.UnknownHostException: <host>` (whose message is the host).
pub fn describe_connect_error(params: &PgParams, err: &tokio_postgres::Error) -> Vec<String> {
    if let Some(db) = err.as_db_error() {
        return vec![format!("{}: {}", db.severity(), db.message())];
    }
    let failed = "The connection attempt failed.".to_owned();
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            let text = io.to_string();
            return match io.kind() {
                std::io::ErrorKind::ConnectionRefused => vec![format!(
                    "Connection to {}:{} refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.",
                    params.host, params.port
                )],
                std::io::ErrorKind::TimedOut => vec![failed, "Connect timed out".to_owned()],
                _ if text.starts_with("failed to lookup address information")
                    || text == "could not resolve any addresses" =>
                {
                    vec![failed, params.host.clone()]
                }
                _ => vec![failed, text],
            };
        }
        source = e.source();
    }
    vec![failed, err.to_string()]
}

impl PgStore {
    pub async fn connect(params: &PgParams) -> Result<Self, tokio_postgres::Error> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&params.host)
            .port(params.port)
            .dbname(&params.database)
            .user(&params.user)
            .password(&params.password)
            .application_name("keycloak-double")
            .connect_timeout(Duration::from_secs(10));
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        let connection = tokio::spawn(async move {
            // Ends when the server goes away; `ping` then reports the loss.
            let _ = connection.await;
        });
        Ok(Self { client, connection })
    }

    /// Creates the table if needed and returns the stored state, if any.
    pub async fn load(&self) -> anyhow::Result<Option<State>> {
        self.client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {TABLE} (id INT PRIMARY KEY, doc JSONB NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            ))
            .await?;
        let row = self
            .client
            .query_opt(&format!("SELECT doc::text FROM {TABLE} WHERE id = 1"), &[])
            .await?;
        match row {
            Some(row) => {
                let text: String = row.try_get(0)?;
                Ok(Some(serde_json::from_str::<State>(&text)?.upgraded()))
            }
            None => Ok(None),
        }
    }

    pub async fn save(&self, state: &State) -> anyhow::Result<()> {
        let doc = serde_json::to_string(state)?;
        self.client
            .execute(
                &format!(
                    "INSERT INTO {TABLE} (id, doc) VALUES (1, $1::text::jsonb) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, updated_at = now()"
                ),
                &[&doc],
            )
            .await?;
        Ok(())
    }

    pub async fn ping(&self) -> bool {
        if self.client.is_closed() {
            return false;
        }
        matches!(
            tokio::time::timeout(Duration::from_secs(2), self.client.simple_query("SELECT 1"))
                .await,
            Ok(Ok(_))
        )
    }
}
