//! The routes: Novu's connect and link-user endpoints, the OAuth callback,
//! the list endpoints and a health check. Handlers are small; the flow
//! itself is the library's.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use channel_connect::provider::msteams::{graph, token as microsoft};
use channel_connect::records::StoredRecords;
use channel_connect::{
    CallbackError, CallbackParams, ConnectRequestBody, Entropy, HttpResponse, IssueParams,
    LinkUserRequestBody, MsTeams, Tenant, VerifiedCallback, VerifyParams,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::{CALLBACK_PATH, Config, Environment};
use crate::error::ApiError;
use crate::sender::Sender;
use crate::sqlite::Store;
use crate::stores::{Filter, Idempotency, IdempotencyEntries, Listing, Records, ReplayMarks};

/// What every handler shares.
pub struct AppState {
    /// Environments and keys.
    pub config: Config,
    /// The records (connections, endpoints) and start URLs.
    pub records: Arc<dyn Records>,
    /// Replay marks (the SQLite store, or Redis shared by every instance).
    pub replay: Arc<dyn ReplayMarks>,
    /// Idempotency entries (likewise).
    pub idempotency: Arc<dyn IdempotencyEntries>,
    /// Provider calls.
    pub sender: Sender,
    /// Fills entropy for states (the OS generator by default).
    pub entropy: fn(&mut [u8]),
    /// The clock (the system clock by default; tests may move it).
    pub clock: fn() -> OffsetDateTime,
    /// This server's address as browsers reach it (start URLs).
    pub public_url: String,
}

impl AppState {
    /// Everything in the SQLite store, the OS's entropy and the system clock.
    pub fn new(config: Config, store: Store, sender: Sender, public_url: &str) -> AppState {
        AppState {
            config,
            replay: Arc::new(store.clone()),
            idempotency: Arc::new(store.clone()),
            records: Arc::new(store),
            sender,
            entropy: crate::os_entropy,
            clock: OffsetDateTime::now_utc,
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Replay marks and idempotency entries in `shared` (Redis) instead.
    pub fn sharing<T: ReplayMarks + IdempotencyEntries + Clone + 'static>(mut self, shared: T) -> AppState {
        self.replay = Arc::new(shared.clone());
        self.idempotency = Arc::new(shared);
        self
    }

    /// Records (connections, endpoints, starts) in `records` (PostgreSQL) instead.
    pub fn recording<T: Records + 'static>(mut self, records: T) -> AppState {
        self.records = Arc::new(records);
        self
    }

    /// Another clock (tests).
    pub fn with_clock(mut self, clock: fn() -> OffsetDateTime) -> AppState {
        self.clock = clock;
        self
    }

    fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }
}

/// Request bodies larger than this are refused (five contexts of 64 KB fit).
pub const MAX_BODY_BYTES: usize = 512 * 1024;
/// Longest `idempotency-key` (Novu).
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// The API's router. Mount it in a service, or serve it with `axum::serve`
/// (with [`fn@crate::app`] for the demo's stand-ins too).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/integrations/channel-connections/oauth", post(connect))
        .route("/v1/integrations/channel-endpoints/oauth", post(link_user))
        .route(CALLBACK_PATH, get(callback))
        .route(&format!("{START_PATH}/{{id}}"), get(start))
        .route("/v1/channel-connections", get(list_connections))
        .route("/v1/channel-connections/{identifier}", get(get_connection))
        .route("/v1/channel-endpoints", get(list_endpoints))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(middleware::from_fn(log_request))
}

/// One line per request: method, path (never the query: it holds codes and
/// states), status and time taken.
async fn log_request(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    tracing::info!(%method, %path, status = res.status().as_u16(), micros = started.elapsed().as_micros() as u64, "request");
    res
}

/// The environment the `Authorization: ApiKey ...` header selects.
fn authorize<'a>(state: &'a AppState, headers: &HeaderMap) -> Result<&'a Environment, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("ApiKey "))
        .ok_or(ApiError::Unauthorized)?;
    state
        .config
        .by_api_key(presented.trim())
        .ok_or(ApiError::Unauthorized)
}

async fn connect(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    issue(s, headers, body, false).await
}

async fn link_user(State(s): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    issue(s, headers, body, true).await
}

/// Both POST endpoints: authorize, honour `idempotency-key`, issue the URL.
async fn issue(s: Arc<AppState>, headers: HeaderMap, body: Bytes, link: bool) -> Response {
    let env = match authorize(&s, &headers) {
        Ok(env) => env,
        Err(e) => return e.into_response(),
    };
    let Some(key) = headers.get("idempotency-key") else {
        let (status, value) = issue_url(&s, env, &body, link).await;
        return json_response(status, &value.to_string(), false);
    };
    let key = match key.to_str() {
        Ok(k) if k.len() <= MAX_IDEMPOTENCY_KEY_LEN => k.to_owned(),
        _ => {
            let msg = format!("idempotency-key must be at most {MAX_IDEMPOTENCY_KEY_LEN} characters");
            return ApiError::BadRequest(msg).into_response();
        }
    };
    let route: &[u8] = if link { b"endpoints" } else { b"connections" };
    let hash = Sha256::new()
        .chain_update(route)
        .chain_update([0])
        .chain_update(&body)
        .finalize()
        .to_vec();
    let now = s.now().unix_timestamp();
    match s.idempotency.begin(env.id(), &key, &hash, now).await {
        Ok(Idempotency::Fresh) => {}
        Ok(Idempotency::Replay { status, body }) => return json_response(status, &body, true),
        Ok(Idempotency::Mismatch) => {
            let msg =
                "Request with the same idempotency-key but a different body was already sent".to_owned();
            return ApiError::Unprocessable(msg).into_response();
        }
        Ok(Idempotency::InFlight) => {
            let mut res = ApiError::Conflict("A request with this idempotency-key is being processed".into())
                .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return res;
        }
        Err(e) => return ApiError::from(e).into_response(),
    }
    let (status, value) = issue_url(&s, env, &body, link).await;
    let text = value.to_string();
    // A server failure is not an answer to keep: the key is freed for a retry.
    let kept = if status >= 500 {
        s.idempotency.abandon(env.id(), &key).await
    } else {
        s.idempotency.finish(env.id(), &key, status, &text).await
    };
    if let Err(e) = kept {
        return ApiError::from(e).into_response();
    }
    json_response(status, &text, false)
}

/// The answer to one POST, success or refusal, as status and JSON (cached as is).
pub(crate) async fn issue_url(s: &AppState, env: &Environment, body: &[u8], link: bool) -> (u16, Value) {
    let mut bytes = [0u8; 32];
    (s.entropy)(&mut bytes);
    let entropy = Entropy(bytes);
    // With browser binding, the state is bound to a cookie the start URL sets.
    let cookie = env.browser_binding.then(|| random_token::<32>(s));
    let binding = cookie.as_ref().map(|c| Sha256::digest(c.as_bytes()));
    let mut params = IssueParams::new(s.now(), &entropy);
    params.binding = binding.as_ref().map(|b| b.as_slice());
    let issued = if link {
        LinkUserRequestBody::from_json(body).and_then(|b| env.core.link_user_url(&b, &params))
    } else {
        ConnectRequestBody::from_json(body).and_then(|b| env.core.connect_url(&b, &params))
    };
    let issued = match issued {
        Ok(issued) => issued,
        Err(e) => return ApiError::Request(e).status_and_body(),
    };
    let Some(cookie) = cookie else {
        return (201, json!({ "url": issued.url }));
    };
    let id = random_token::<16>(s);
    let expires = issued.expires_at.unix_timestamp();
    match s.records.save_start(&id, &issued.url, &cookie, expires).await {
        Ok(()) => (
            201,
            json!({ "url": format!("{}{START_PATH}/{id}", s.public_url) }),
        ),
        Err(e) => ApiError::from(e).status_and_body(),
    }
}

/// `N` random bytes as base64url.
fn random_token<const N: usize>(s: &AppState) -> String {
    let mut bytes = [0u8; N];
    (s.entropy)(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The first-party start URL's path (browser binding).
pub const START_PATH: &str = "/v1/integrations/chat/oauth/start";
/// The binding cookie's name.
pub const BINDING_COOKIE: &str = "cc_bind";
/// The binding cookie's path: the start URL and the callback.
const COOKIE_PATH: &str = "/v1/integrations/chat/oauth";

/// The start URL: sets the binding cookie (once per start) and sends the
/// browser on to the provider.
async fn start(State(s): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    let now = s.now().unix_timestamp();
    match s.records.take_start(&id, now).await {
        Ok(Some((url, cookie))) => {
            let max_age = s.config.platform.lifetime_secs();
            let cookie = format!(
                "{BINDING_COOKIE}={cookie}; {}Max-Age={max_age}",
                cookie_attributes(&s.public_url)
            );
            let mut res = Redirect::to(&url).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                res.headers_mut().insert(header::SET_COOKIE, v);
            }
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Ok(None) => finish(
            None,
            StatusCode::NOT_FOUND,
            &[],
            "Link expired",
            "This link was used or has expired. Start again.",
        ),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `HttpOnly; [Secure; ]SameSite=Lax; Path=...; `: `Secure` except on a
/// loopback http address (browsers keep no Secure cookie from http).
fn cookie_attributes(public_url: &str) -> String {
    let secure = !(public_url.starts_with("http://127.0.0.1")
        || public_url.starts_with("http://localhost")
        || public_url.starts_with("http://[::1]"));
    // Lax: the provider's redirect back is a cross-site top-level navigation.
    format!(
        "HttpOnly; {}SameSite=Lax; Path={COOKIE_PATH}; ",
        if secure { "Secure; " } else { "" }
    )
}

/// The binding value the browser presents: the hash of its cookie.
fn presented_binding(headers: &HeaderMap) -> Option<[u8; 32]> {
    let cookies = headers.get_all(header::COOKIE);
    let value = cookies
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(BINDING_COOKIE)?.strip_prefix('='))?;
    Some(Sha256::digest(value.as_bytes()).into())
}

fn json_response(status: u16, body: &str, replay: bool) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut res = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_owned(),
    )
        .into_response();
    if replay {
        res.headers_mut()
            .insert("idempotency-replay", HeaderValue::from_static("true"));
    }
    res
}

/// The provider's redirect back: verify, refuse replays, exchange, prove,
/// store, answer the browser.
async fn callback(State(s): State<Arc<AppState>>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let now = s.now();
    let binding = presented_binding(&headers);
    let outcome = match CallbackParams::parse(&query) {
        Ok(params) => verify_and_store(&s, &params, now, binding.as_ref().map(|b| b.as_slice())).await,
        Err(e) => Err(Refusal::from(e)),
    };
    if let Ok(Done::Next(url)) = &outcome {
        // The cookie stays for the Teams proof sign-in, bound to it too.
        return Redirect::to(url).into_response();
    }
    let mut res = answer(&s, outcome);
    if binding.is_some() {
        let clear = format!("{BINDING_COOKIE}=; {}Max-Age=0", cookie_attributes(&s.public_url));
        if let Ok(v) = HeaderValue::from_str(&clear) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// The browser's answer to a callback that ended the flow.
fn answer(s: &AppState, outcome: Result<Done, Refusal>) -> Response {
    match outcome {
        Ok(Done::Next(url)) => Redirect::to(&url).into_response(),
        Ok(Done::Stored {
            env,
            integration,
            connection,
        }) => {
            let target = s
                .config
                .by_id(&env)
                .and_then(|e| e.redirect_urls.get(&integration))
                .cloned();
            let mut pairs = vec![
                ("result", "success".to_owned()),
                ("integrationIdentifier", integration),
            ];
            if let Some(c) = connection {
                pairs.push(("connectionIdentifier", c));
            }
            finish(
                target,
                StatusCode::OK,
                &pairs,
                "You're all set",
                "The connection is ready. You can close this window.",
            )
        }
        Err(r) => {
            let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
            let pairs = vec![("result", "error".to_owned()), ("message", r.message.clone())];
            finish(r.redirect, status, &pairs, "Connection failed", &r.message)
        }
    }
}

/// How the callback ended well.
enum Done {
    /// A second redirect (the Teams tenant proof).
    Next(String),
    /// Records stored.
    Stored {
        env: String,
        integration: String,
        connection: Option<String>,
    },
}

/// How the callback ended badly: what the browser is told (never a secret).
struct Refusal {
    status: u16,
    message: String,
    redirect: Option<url::Url>,
}

impl From<CallbackError> for Refusal {
    fn from(e: CallbackError) -> Self {
        match &e {
            CallbackError::State(s) => tracing::warn!(reason = ?s.kind(), "state refused"),
            other => tracing::warn!(refusal = %other, "callback refused"),
        }
        Refusal {
            status: e.status(),
            message: e.to_string(),
            redirect: None,
        }
    }
}

impl Refusal {
    fn plain(status: u16, message: &str) -> Self {
        Refusal {
            status,
            message: message.to_owned(),
            redirect: None,
        }
    }
}

async fn verify_and_store(
    s: &AppState,
    params: &CallbackParams<'_>,
    now: OffsetDateTime,
    binding: Option<&[u8]>,
) -> Result<Done, Refusal> {
    let mut verify = VerifyParams::at(now);
    verify.binding = binding;
    let opened = s.config.platform.open_callback(params, &verify)?;
    let env = s
        .config
        .by_id(opened.state().environment_id())
        .ok_or_else(|| Refusal::plain(400, "Invalid OAuth state parameter"))?;
    let redirect = env
        .redirect_urls
        .get(opened.state().integration_identifier())
        .cloned();
    let with_redirect = |mut r: Refusal| {
        r.redirect = redirect.clone();
        r
    };
    let verified = env
        .core
        .finish_callback(opened, &verify)
        .map_err(|e| with_redirect(e.into()))?;
    // One use per state, whatever happens next: a code is redeemed once.
    // A store that cannot answer fails closed (503): no state without its check.
    let replay = verified.state.replay_id();
    let expires = verified.state.expires_at().unix_timestamp();
    let first = s
        .replay
        .mark_used(&replay.0, expires, now.unix_timestamp())
        .await
        .map_err(|e| {
            tracing::error!(what = e.0, "replay marks unavailable");
            with_redirect(Refusal::plain(503, "Service unavailable, try again"))
        })?;
    if !first {
        tracing::warn!(reason = "Replayed", "state refused");
        return Err(with_redirect(Refusal::plain(
            400,
            "Invalid OAuth state parameter",
        )));
    }
    if let Some(next) = &verified.next {
        return Ok(Done::Next(next.url.clone()));
    }
    let records = exchange(s, &verified, now).await.map_err(with_redirect)?;
    if let Some(app) = env.teams.get(verified.state.integration_identifier()) {
        install_for_linked_users(s, app, &records).await;
    }
    let stored = s
        .records
        .save(env.id(), &records, now.unix_timestamp())
        .await
        .map_err(|e| {
            tracing::error!(what = e.0, "records not stored");
            with_redirect(Refusal::plain(503, "Service unavailable, try again"))
        })?;
    Ok(Done::Stored {
        env: env.id().to_owned(),
        integration: verified.state.integration_identifier().to_owned(),
        connection: stored,
    })
}

/// Redeems the code and parses the answer into records.
async fn exchange(
    s: &AppState,
    verified: &VerifiedCallback,
    now: OffsetDateTime,
) -> Result<StoredRecords, Refusal> {
    let request = verified
        .token_request()
        .map_err(|e| Refusal::plain(e.status(), &e.to_string()))?
        .ok_or_else(|| Refusal::plain(400, "Nothing to exchange"))?;
    let answer = s
        .sender
        .send(&request)
        .await
        .ok_or_else(|| Refusal::plain(502, "The provider could not be reached"))?;
    verified
        .records(&HttpResponse::new(answer.status, &answer.body), now)
        .map_err(|e| {
            tracing::warn!(refusal = %e, "token response refused");
            Refusal::plain(e.status(), &e.to_string())
        })
}

/// Installs the Teams app for each linked user so the bot can message them
/// (Graph, with an app-only token of the user's tenant). A failure is
/// logged, not fatal: the link itself is proven and stored.
async fn install_for_linked_users(s: &AppState, app: &MsTeams, records: &StoredRecords) {
    for e in records
        .endpoints
        .iter()
        .filter(|e| e.endpoint.kind() == "ms_teams_user")
    {
        let (Some(user), Some(tenant)) = (e.endpoint.get("userId"), e.endpoint.get("tenantId")) else {
            continue;
        };
        match install(s, app, user, tenant).await {
            Ok(outcome) => tracing::info!(?outcome, "Teams app installed for the linked user"),
            Err(step) => tracing::warn!(step, "Teams app not installed for the linked user"),
        }
    }
}

async fn install(
    s: &AppState,
    app: &MsTeams,
    user: &str,
    tenant: &str,
) -> Result<graph::UserInstall, &'static str> {
    let tenant = Tenant::new(tenant).map_err(|_| "tenant")?;
    let answer = s
        .sender
        .send(&microsoft::app_only_token_request(app, &tenant))
        .await
        .ok_or("app-only token")?;
    let token = microsoft::parse_app_only_token(&HttpResponse::new(answer.status, &answer.body), s.now())
        .map_err(|_| "app-only token")?;
    let find = graph::find_app_request(app, token.access_token(), graph::AppDistribution::Organization);
    let answer = s.sender.send(&find).await.ok_or("find app")?;
    let found =
        graph::parse_find_app(&HttpResponse::new(answer.status, &answer.body)).map_err(|_| "find app")?;
    let req =
        graph::install_for_user_request(app, token.access_token(), user, &found).map_err(|_| "install")?;
    let answer = s.sender.send(&req).await.ok_or("install")?;
    graph::parse_install_for_user(&HttpResponse::new(answer.status, &answer.body)).map_err(|_| "install")
}

/// The browser's answer: a 302 to the integration's `redirectUrl` with the
/// result, or a small page (everything escaped, nothing loaded).
fn finish(
    target: Option<url::Url>,
    status: StatusCode,
    pairs: &[(&str, String)],
    title: &str,
    message: &str,
) -> Response {
    if let Some(mut url) = target {
        url.query_pairs_mut()
            .extend_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
        return Redirect::to(url.as_str()).into_response();
    }
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
         <body><h1 id=\"result\">{t}</h1><p id=\"message\">{m}</p></body></html>",
        t = escape(title),
        m = escape(message)
    );
    let mut res = (status, Html(page)).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

/// HTML-escapes text for an element or an attribute.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The list endpoints' query (Novu's names).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    subscriber_id: Option<String>,
    connection_identifier: Option<String>,
    integration_identifier: Option<String>,
    limit: Option<i64>,
    page: Option<i64>,
}

impl ListQuery {
    fn filter(self) -> Filter {
        let limit = self.limit.unwrap_or(10).clamp(1, 100);
        Filter {
            subscriber_id: self.subscriber_id,
            connection_identifier: self.connection_identifier,
            integration_identifier: self.integration_identifier,
            limit,
            offset: self.page.unwrap_or(0).clamp(0, 1_000_000) * limit,
        }
    }
}

async fn list_connections(
    s: State<Arc<AppState>>,
    h: HeaderMap,
    q: Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    list(s, h, q, Listing::Connections).await
}

async fn list_endpoints(
    s: State<Arc<AppState>>,
    h: HeaderMap,
    q: Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    list(s, h, q, Listing::Endpoints).await
}

/// A page of the environment's own rows, as Novu's list endpoints answer.
async fn list(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
    what: Listing,
) -> Result<Json<Value>, ApiError> {
    let env = authorize(&s, &headers)?;
    let filter = q.filter();
    let (page, limit) = (filter.offset / filter.limit, filter.limit);
    let data = s.records.list(what, env.id(), &filter).await?;
    Ok(Json(json!({ "data": data, "page": page, "pageSize": limit })))
}

async fn get_connection(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(identifier): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let env = authorize(&s, &headers)?;
    let filter = Filter {
        connection_identifier: Some(identifier.clone()),
        limit: 1,
        ..Filter::default()
    };
    let mut found = s.records.list(Listing::Connections, env.id(), &filter).await?;
    match found.pop() {
        Some(c) => Ok(Json(json!({ "data": c }))),
        None => Err(ApiError::NotFound(format!(
            "Channel connection not found: {identifier}"
        ))),
    }
}
