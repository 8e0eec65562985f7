//! Serving: shared state, the request record, the routers (main and management), and the
//! in-process handle [`RunningDouble`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::clock::Clock;
use crate::http::{accepts_html, html_error_page, ApiError, HtmlCapable};
use crate::model::{Realm, RealmKeys, State};
use crate::store::Store;

/// Which status a duplicate realm name gets: 409 from 26.2.5 on, 400 in 26.2.0–26.2.4
/// (keycloak#39753, fixed by keycloak#39974).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RealmConflict {
    #[default]
    Status409,
    Status400,
}

/// Settings of one double.
#[derive(Clone, Debug)]
pub struct DoubleConfig {
    /// Bootstrap admin (`KC_BOOTSTRAP_ADMIN_USERNAME`), created only for an empty state.
    pub admin_user: String,
    /// Bootstrap admin password (`KC_BOOTSTRAP_ADMIN_PASSWORD`).
    pub admin_password: String,
    /// `KC_HOSTNAME`: the host forced into issuers.
    pub hostname: String,
    pub realm_conflict: RealmConflict,
    /// `KC_HEALTH_ENABLED`: serve `/health*` on a second (management) listener.
    pub health_enabled: bool,
    /// What one password hash costs (storing or checking a password): see [`HASH_COST`].
    pub hash_cost: Duration,
    /// How many hashes run at once (Keycloak hashes on its worker threads, one core each).
    pub hash_parallelism: usize,
}

/// Keycloak 26.2 hashes passwords with Argon2id, memory 7168 KiB, 5 iterations, parallelism 1
/// (`Argon2PasswordHashProviderFactory`; the `password-hashing` provider options of the 26.2
/// server guide). Those parameters took 20 ms per hash with the native reference
/// implementation on this project's 2-core CI machine (median of 20, argon2-cffi); Keycloak's
/// Java implementation is not faster, so the double's cost errs on the cheap side.
pub const HASH_COST: Duration = Duration::from_millis(20);

/// Hashes in parallel by default: the 2 cores of the CI machine.
pub const HASH_PARALLELISM: usize = 2;

impl Default for DoubleConfig {
    fn default() -> Self {
        Self {
            admin_user: "admin".into(),
            admin_password: "kc_admin$123".into(),
            hostname: "localhost".into(),
            realm_conflict: RealmConflict::Status409,
            health_enabled: true,
            hash_cost: HASH_COST,
            hash_parallelism: HASH_PARALLELISM,
        }
    }
}

/// One request the double served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path without the query.
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    pub remote: Option<SocketAddr>,
}

/// Called once per served request (the container form logs with it).
pub type RequestHook = Arc<dyn Fn(&RecordedRequest) + Send + Sync>;

/// Everything the handlers share.
pub struct Shared {
    pub config: DoubleConfig,
    pub state: tokio::sync::Mutex<State>,
    pub store: Store,
    pub clock: Clock,
    pub requests: StdMutex<Vec<RecordedRequest>>,
    pub on_request: Option<RequestHook>,
    pub started_ms: u64,
    /// Limits the hashes that run at once ([`DoubleConfig::hash_parallelism`]).
    hashing: tokio::sync::Semaphore,
    /// Requests being served now, and the most seen at once (both ports).
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

pub type AppState = Arc<Shared>;

impl Shared {
    pub fn new(
        config: DoubleConfig,
        state: State,
        store: Store,
        clock: Clock,
        on_request: Option<RequestHook>,
    ) -> AppState {
        let started_ms = clock.now_ms();
        let hashing = tokio::sync::Semaphore::new(config.hash_parallelism.max(1));
        Arc::new(Self {
            hashing,
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            config,
            state: tokio::sync::Mutex::new(state),
            store,
            clock,
            requests: StdMutex::new(Vec::new()),
            on_request,
            started_ms,
        })
    }

    /// Runs `f` on the state as one transaction: on `Err` the state is rolled back; on `Ok` the
    /// new state is persisted (and rolled back if persisting fails).
    pub async fn mutate<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let mut guard = self.state.lock().await;
        let backup = guard.clone();
        match f(&mut guard) {
            Ok(value) => {
                if self.store.save(&guard).await.is_err() {
                    *guard = backup;
                    return Err(ApiError::server_error());
                }
                Ok(value)
            }
            Err(e) => {
                *guard = backup;
                Err(e)
            }
        }
    }

    /// Reads the state.
    pub async fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        let guard = self.state.lock().await;
        f(&guard)
    }

    /// Reads one realm; a missing realm gives `missing()` (the admin API and the realm's own
    /// endpoints word their 404 differently).
    pub async fn read_realm<T>(
        &self,
        name: &str,
        missing: fn() -> ApiError,
        f: impl FnOnce(&Realm) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.read(|s| s.realm(name).ok_or_else(missing).and_then(f))
            .await
    }

    /// Changes one realm as one transaction ([`Shared::mutate`]); a missing realm gives
    /// `missing()`.
    pub async fn mutate_realm<T>(
        &self,
        name: &str,
        missing: fn() -> ApiError,
        f: impl FnOnce(&mut Realm) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.mutate(|s| s.realm_mut(name).ok_or_else(missing).and_then(f))
            .await
    }

    /// Makes sure the realm has its keys, generating them off the runtime if missing.
    /// A missing realm gives `404 {"error":"Realm does not exist"}`.
    pub async fn ensure_keys(&self, realm: &str) -> Result<(), ApiError> {
        let needs = self
            .read_realm(realm, ApiError::realm_does_not_exist, |r| {
                Ok(r.keys.is_none())
            })
            .await?;
        if !needs {
            return Ok(());
        }
        let keys = tokio::task::spawn_blocking(RealmKeys::generate)
            .await
            .map_err(|_| ApiError::server_error())?
            .map_err(|_| ApiError::server_error())?;
        self.mutate(|s| {
            if let Some(r) = s.realm_mut(realm) {
                if r.keys.is_none() {
                    r.keys = Some(keys);
                }
            }
            Ok(())
        })
        .await
    }

    /// Spend what `count` password hashes cost, one after another (one request's hashes run on
    /// one worker), each waiting for a free hashing slot. Called before the state is locked.
    pub async fn hash(&self, count: usize) {
        for _ in 0..count {
            let Ok(_slot) = self.hashing.acquire().await else {
                return;
            };
            tokio::time::sleep(self.config.hash_cost).await;
        }
    }

    /// The most requests served at once since the last [`Shared::reset_max_in_flight`].
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    pub fn reset_max_in_flight(&self) {
        self.max_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    fn record(&self, request: RecordedRequest) {
        if let Some(hook) = &self.on_request {
            hook(&request);
        }
        if let Ok(mut list) = self.requests.lock() {
            list.push(request);
        }
    }
}

/// Records every request, and turns shape-C errors into the HTML page for HTML clients.
async fn record_and_negotiate(
    AxumState(app): AxumState<AppState>,
    request: Request,
    next: Next,
) -> Response {
    // The work runs in its own task: like Keycloak's worker threads, it goes on (and is
    // recorded) when the client gives up waiting and closes the connection.
    let work = tokio::spawn(serve_and_record(app, request, next));
    work.await.unwrap_or_else(|e| {
        ApiError::c(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("handler failed: {e}"),
        )
        .into_response()
    })
}

async fn serve_and_record(app: AppState, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let remote = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let html = accepts_html(request.headers());
    let now = app.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    app.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let mut response = next.run(request).await;
    app.in_flight.fetch_sub(1, Ordering::SeqCst);
    if html {
        if let Some(HtmlCapable(message)) = response.extensions().get::<HtmlCapable>().cloned() {
            response = html_error_page(response.status(), &message);
        }
    }
    app.record(RecordedRequest {
        method,
        path,
        query,
        status: response.status().as_u16(),
        remote,
    });
    response
}

async fn not_found() -> ApiError {
    ApiError::c(
        StatusCode::NOT_FOUND,
        "Unable to find matching target resource method",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::c(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed",
    )
}

/// The main (port 8080) router.
pub fn router(app: AppState) -> Router {
    Router::new()
        .merge(crate::admin::routes())
        .merge(crate::oidc::routes())
        .merge(crate::login::routes())
        .route("/realms/{realm}", get(crate::admin::realm_public_info))
        .route(
            "/realms/{realm}/protocol/openid-connect/token",
            post(crate::token::token_endpoint),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            record_and_negotiate,
        ))
        .with_state(app)
}

/// The management (port 9000) router: health only.
pub fn management_router(app: AppState) -> Router {
    Router::new()
        .route("/health", get(health_all).head(health_all))
        .route("/health/ready", get(health_ready).head(health_ready))
        .route("/health/live", get(health_live).head(health_live))
        .route("/health/started", get(health_live).head(health_live))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            record_and_negotiate,
        ))
        .with_state(app)
}

fn health_response(up: bool, checks: serde_json::Value) -> Response {
    let status = if up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    crate::http::json_response(
        status,
        &json!({ "status": if up { "UP" } else { "DOWN" }, "checks": checks }),
    )
}

async fn db_check(app: &AppState) -> (bool, serde_json::Value) {
    let up = app.store.healthy().await;
    (
        up,
        json!([{ "name": "Keycloak database connections health check",
                 "status": if up { "UP" } else { "DOWN" } }]),
    )
}

async fn health_ready(AxumState(app): AxumState<AppState>) -> Response {
    let (up, checks) = db_check(&app).await;
    health_response(up, checks)
}

async fn health_all(AxumState(app): AxumState<AppState>) -> Response {
    let (up, checks) = db_check(&app).await;
    health_response(up, checks)
}

async fn health_live() -> Response {
    health_response(true, json!([]))
}

/// Listeners that serve until shut down.
pub struct Serving {
    pub http_addr: SocketAddr,
    pub management_addr: Option<SocketAddr>,
    shutdown: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Serving {
    /// Binds and serves `app` on `http` (and on `management` when health is enabled).
    pub async fn bind(
        app: AppState,
        http: SocketAddr,
        management: Option<SocketAddr>,
    ) -> anyhow::Result<Self> {
        let mut serving = Serving {
            http_addr: http,
            management_addr: None,
            shutdown: Vec::new(),
            tasks: Vec::new(),
        };
        let listener = TcpListener::bind(http).await?;
        serving.http_addr = listener.local_addr()?;
        serving.spawn(listener, router(app.clone()));
        if let Some(addr) = management {
            let listener = TcpListener::bind(addr).await?;
            serving.management_addr = Some(listener.local_addr()?);
            serving.spawn(listener, management_router(app));
        }
        Ok(serving)
    }

    fn spawn(&mut self, listener: TcpListener, router: Router) {
        let (tx, rx) = oneshot::channel::<()>();
        self.shutdown.push(tx);
        self.tasks.push(tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<SocketAddr>();
            let _ = axum::serve(listener, service)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        }));
    }

    /// Stops accepting, lets in-flight requests finish (up to `grace`), then aborts.
    pub async fn shutdown(mut self, grace: Duration) {
        for tx in self.shutdown.drain(..) {
            let _ = tx.send(());
        }
        for task in self.tasks.drain(..) {
            let abort = task.abort_handle();
            if tokio::time::timeout(grace, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        for tx in self.shutdown.drain(..) {
            let _ = tx.send(());
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A double served in-process on ephemeral 127.0.0.1 ports, with an in-memory state. Shuts down
/// when dropped.
pub struct RunningDouble {
    app: AppState,
    serving: Serving,
}

/// Starts an in-process double: master realm with the configured bootstrap admin, in memory.
pub async fn start(config: DoubleConfig) -> anyhow::Result<RunningDouble> {
    let clock = Clock::default();
    let state = State::bootstrap(&config.admin_user, &config.admin_password, clock.now_ms());
    let management = config
        .health_enabled
        .then(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let app = Shared::new(config, state, Store::Memory, clock, None);
    let serving = Serving::bind(
        app.clone(),
        SocketAddr::from(([127, 0, 0, 1], 0)),
        management,
    )
    .await?;
    Ok(RunningDouble { app, serving })
}

impl RunningDouble {
    /// e.g. `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.serving.http_addr)
    }

    /// The management interface (health), when enabled.
    pub fn management_url(&self) -> Option<String> {
        self.serving.management_addr.map(|a| format!("http://{a}"))
    }

    /// Every request served so far (both listeners), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.app
            .requests
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default()
    }

    /// The most requests the double served at once since [`RunningDouble::reset_max_in_flight`]
    /// (or its start): what a client's concurrency limit really allowed.
    pub fn max_in_flight(&self) -> usize {
        self.app.max_in_flight()
    }

    pub fn reset_max_in_flight(&self) {
        self.app.reset_max_in_flight();
    }

    pub fn clear_requests(&self) {
        if let Ok(mut l) = self.app.requests.lock() {
            l.clear();
        }
    }

    /// Moves the double's clock forward (token and session expiry without sleeping).
    pub fn advance_clock(&self, by: Duration) {
        self.app.clock.advance(by);
    }

    /// A copy of the whole state (for assertions).
    pub async fn snapshot(&self) -> State {
        self.app.read(State::clone).await
    }

    /// The shared state, for modules layered on top (e.g. OIDC) and white-box tests.
    pub fn shared(&self) -> &AppState {
        &self.app
    }

    pub fn config(&self) -> &DoubleConfig {
        &self.app.config
    }
}

/// Headers helper for handlers needing the request's frontend base URL.
pub fn base_of(app: &AppState, headers: &HeaderMap) -> String {
    crate::token::frontend_base(headers, &app.config.hostname)
}
