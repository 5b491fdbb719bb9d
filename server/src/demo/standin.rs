//! `--demo`'s stand-ins for Slack, Microsoft and Webex: authorize pages
//! with an "Allow" and a "Cancel" link, token endpoints, the two Graph
//! calls and Webex's `people/me`, answering in the providers' wire formats
//! so the whole flow runs offline.
//! They trust nothing they did not issue: codes are single-use, bound to
//! the client and redirect URI, and Microsoft's are PKCE-checked.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, LazyLock, Mutex};

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::http::page::{Tone, document, escape, style_csp};

/// The Slack team a stand-in install lands in ("Allow").
pub const SLACK_TEAM: &str = "T0DEMO00001";
/// The second workspace the stand-in user belongs to ("Allow in Other
/// Workspace"), as Slack's authorize page lets a user pick a workspace.
pub const OTHER_SLACK_TEAM: &str = "T0DEMO00002";
/// Codes issued and not redeemed (and apps installed) kept at most: the
/// oldest go first, so reloading a page forever costs bounded memory.
const MAX_KEPT: usize = 4096;
/// The demo Slack app with token rotation on: its installs answer a
/// refresh token and an expiry, its refresh tokens are single-use.
pub const ROTATING_CLIENT_ID: &str = "1234567890.2222222222";
/// How long a rotating install's first bot token lives: short, so the
/// demo shows a refresh within minutes ([`crate::state::DEFAULT_REFRESH_MARGIN`]).
pub const FIRST_TOKEN_SECS: u64 = 300;
/// How long a refreshed bot token lives (Slack's 12 hours).
pub const REFRESHED_TOKEN_SECS: u64 = 43_200;
/// How long a refresh takes at the stand-in (milliseconds).
const REFRESH_DELAY_MS: u64 = 250;
/// The Microsoft tenant every stand-in user belongs to.
pub const TENANT: &str = "5d2e8f3a-1b4c-4d6e-9f70-8a1b2c3d4e5f";
/// The stand-in user's object id.
pub const USER_OID: &str = "00000000-0000-0000-66f3-3332eca7ea81";
/// The demo Teams app's catalog id.
pub const TEAMS_APP_ID: &str = "b1c5353a-7aca-41b3-830f-27d5218fe0e5";
/// The Webex organization every stand-in Webex user belongs to: base64 of
/// `ciscospark://us/ORGANIZATION/0d0c5e4a-7f0e-4b7c-9a3e-6f1b2c3d4e5f`.
pub const WEBEX_ORG_ID: &str =
    "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi8wZDBjNWU0YS03ZjBlLTRiN2MtOWEzZS02ZjFiMmMzZDRlNWY";
/// The stand-in Webex user: base64 of
/// `ciscospark://us/PEOPLE/4a3b2c1d-0e9f-4a8b-8c7d-6e5f4a3b2c1d`.
pub const WEBEX_PERSON_ID: &str =
    "Y2lzY29zcGFyazovL3VzL1BFT1BMRS80YTNiMmMxZC0wZTlmLTRhOGItOGM3ZC02ZTVmNGEzYjJjMWQ";
/// Webex's lifetimes: access tokens 14 days, refresh tokens 90 (less a second, as Webex answers).
const WEBEX_TOKEN_SECS: u64 = 1_209_599;
const WEBEX_REFRESH_SECS: u64 = 7_775_999;

struct Grant {
    client_id: String,
    redirect_uri: String,
    scope: String,
    challenge: Option<String>,
    /// The Slack team the user picked.
    team: &'static str,
}

/// At most [`MAX_KEPT`] values by key, the oldest dropped first.
struct Bounded<T> {
    by_key: HashMap<String, T>,
    order: VecDeque<String>,
}

impl<T> Default for Bounded<T> {
    fn default() -> Self {
        Bounded {
            by_key: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<T> Bounded<T> {
    fn insert(&mut self, key: String, value: T) {
        while self.order.len() >= MAX_KEPT {
            if let Some(oldest) = self.order.pop_front() {
                self.by_key.remove(&oldest);
            }
        }
        self.order.push_back(key.clone());
        self.by_key.insert(key, value);
    }
}

#[derive(Default)]
struct Standin {
    base: String,
    grants: Mutex<Bounded<Grant>>,
    installed: Mutex<Bounded<()>>,
    /// Slack: live refresh tokens and the team each is for (single-use).
    refresh_tokens: Mutex<Bounded<&'static str>>,
    /// Slack: what happened, for a test or a curious user to check.
    activity: Mutex<Activity>,
    /// Webex: access tokens issued (for `people/me`) and live refresh tokens.
    webex_tokens: Mutex<Bounded<()>>,
    webex_refresh_tokens: Mutex<Bounded<()>>,
    /// Graph answers app installs with 503 while set (`POST /graph/outage`).
    graph_down: std::sync::atomic::AtomicBool,
}

/// What the Slack stand-in did: refreshes answered, tokens revoked.
#[derive(Default, serde::Serialize)]
struct Activity {
    refreshes: u64,
    refused_refreshes: u64,
    revoked: VecDeque<String>,
    #[serde(skip)]
    teams_installs: u64,
    #[serde(skip)]
    teams_uninstalls: u64,
}

type Shared = Arc<Standin>;
type Params = Query<HashMap<String, String>>;

/// The stand-ins' routes, to nest under `/standin` of a server at `base`.
pub fn router(base: &str) -> Router {
    let s = Arc::new(Standin {
        base: base.trim_end_matches('/').to_owned(),
        ..Standin::default()
    });
    Router::new()
        .route("/slack/oauth/v2/authorize", get(slack_authorize))
        .route("/slack/api/oauth.v2.access", post(slack_access))
        .route("/slack/api/auth.revoke", post(slack_revoke))
        .route("/slack/activity", get(slack_activity))
        .route("/microsoft/{tenant}/v2.0/adminconsent", get(ms_consent))
        .route("/microsoft/{tenant}/oauth2/v2.0/authorize", get(ms_authorize))
        .route("/microsoft/{tenant}/oauth2/v2.0/token", post(ms_token))
        .route("/graph/v1.0/appCatalogs/teamsApps", get(graph_find_app))
        .route(
            "/graph/v1.0/users/{user}/teamwork/installedApps",
            post(graph_install).get(graph_installs),
        )
        .route(
            "/graph/v1.0/users/{user}/teamwork/installedApps/{installation}",
            delete(graph_uninstall),
        )
        .route("/graph/activity", get(graph_activity))
        .route("/webex/v1/authorize", get(webex_authorize))
        .route("/webex/v1/access_token", post(webex_access_token))
        .route("/webex/v1/people/me", get(webex_people_me))
        .route("/graph/outage", post(graph_outage))
        .with_state(s)
}

/// Longest query value an authorize page takes (a scope list, a URI): what
/// a code keeps is bounded in size as well as in number.
const MAX_PARAM_BYTES: usize = 2048;

impl Standin {
    /// Only this server's own callback may receive codes (no open redirect),
    /// and only for parameters of a sane size.
    fn redirect<'a>(&self, q: &'a HashMap<String, String>) -> Option<&'a str> {
        if q.values().any(|v| v.len() > MAX_PARAM_BYTES) {
            return None;
        }
        let r = q.get("redirect_uri")?;
        r.starts_with(&format!("{}/", self.base)).then_some(r.as_str())
    }

    fn grant(&self, q: &HashMap<String, String>, redirect: &str, scope: &str, team: &'static str) -> String {
        let mut random = [0u8; 12];
        crate::os_entropy(&mut random);
        let code = format!("standin-code-{}", URL_SAFE_NO_PAD.encode(random));
        let grant = Grant {
            client_id: q.get("client_id").cloned().unwrap_or_default(),
            redirect_uri: redirect.to_owned(),
            scope: scope.to_owned(),
            challenge: q.get("code_challenge").cloned(),
            team,
        };
        self.grants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(code.clone(), grant);
        code
    }

    /// A sign-in page's two links back: "Allow" with a new code, "Cancel"
    /// with `access_denied`, both with the query's state.
    fn allow_or_cancel(&self, q: &HashMap<String, String>, redirect: &str, scope: &str) -> (String, String) {
        let state = q.get("state").map(String::as_str).unwrap_or("");
        let code = self.grant(q, redirect, scope, SLACK_TEAM);
        let allow = back(redirect, &[("code", &code), ("state", state)]);
        let cancel = back(redirect, &[("error", "access_denied"), ("state", state)]);
        (allow, cancel)
    }

    fn take(&self, form: &HashMap<String, String>) -> Option<Grant> {
        let grant = self
            .grants
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_key
            .remove(form.get("code")?)?;
        let same = form.get("client_id") == Some(&grant.client_id)
            && form.get("redirect_uri").is_none_or(|r| *r == grant.redirect_uri);
        same.then_some(grant)
    }
}

fn back(redirect: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(redirect).expect("checked to start with the server's base");
    url.query_pairs_mut().extend_pairs(pairs);
    url.into()
}

/// An authorize page: what is asked, and the links (id, label, target),
/// the first one the page's main button. (Clients read a link as
/// `id="..." href="..."`: keep the two first and in that order.)
fn page(provider: &str, asked: &[(&str, &str)], links: &[(&str, &str, &str)]) -> Response {
    static POLICY: LazyLock<String> = LazyLock::new(|| {
        format!(
            "default-src 'none'; {}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            style_csp()
        )
    });
    let rows: String = asked
        .iter()
        .map(|(k, v)| {
            // A list may break after its commas; nothing asked reads "(none)".
            let v = if v.is_empty() {
                "(none)".to_owned()
            } else {
                escape(v).replace(',', ",<wbr>")
            };
            format!("<dt>{}</dt><dd><code>{v}</code></dd>", escape(k))
        })
        .collect();
    let links: String = links
        .iter()
        .enumerate()
        .map(|(n, (id, label, href))| {
            let class = if n == 0 { "button" } else { "button quiet" };
            format!(
                "<a id=\"{id}\" href=\"{}\" class=\"{class}\">{}</a>",
                escape(href),
                escape(label)
            )
        })
        .collect();
    let title = format!("{provider} (stand-in)");
    let main = format!(
        "<h1>{t}</h1><p class=\"lead\">An app asks to connect:</p><dl>{rows}</dl>\
         <p class=\"hint\">The demo's stand-in for {p}: nothing leaves this machine.</p>\
         <div class=\"actions\">{links}</div>",
        t = escape(&title),
        p = escape(provider),
    );
    (
        [(header::CONTENT_SECURITY_POLICY, POLICY.as_str())],
        Html(document(&title, Tone::Plain, &main)),
    )
        .into_response()
}

fn basic_client_id(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(value).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    Some(text.split_once(':')?.0.to_owned())
}

fn bad(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, message.to_owned()).into_response()
}

async fn slack_authorize(State(s): State<Shared>, Query(q): Params) -> Response {
    let Some(redirect) = s.redirect(&q) else {
        return bad("redirect_uri is not this server's, or a parameter is too long");
    };
    let state = q.get("state").map(String::as_str).unwrap_or("");
    let scope = q.get("scope").map_or("", String::as_str);
    let allow = back(
        redirect,
        &[
            ("code", &s.grant(&q, redirect, scope, SLACK_TEAM)),
            ("state", state),
        ],
    );
    let other = s.grant(&q, redirect, scope, OTHER_SLACK_TEAM);
    let other = back(redirect, &[("code", &other), ("state", state)]);
    let cancel = back(redirect, &[("error", "access_denied"), ("state", state)]);
    let asked = [
        ("workspace", "Demo Workspace"),
        ("team asked for", q.get("team").map_or("any", String::as_str)),
        ("scope", scope),
        ("user_scope", q.get("user_scope").map_or("", |v| v)),
    ];
    let links = [
        ("allow", "Allow", allow.as_str()),
        ("allow-other", "Allow in Other Workspace", other.as_str()),
        ("cancel", "Cancel", cancel.as_str()),
    ];
    page("Slack", &asked, &links)
}

async fn slack_access(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(mut form): Form<HashMap<String, String>>,
) -> Json<Value> {
    // Slack takes the client credentials as HTTP Basic auth or in the form.
    if let Some(id) = basic_client_id(&headers) {
        form.insert("client_id".into(), id);
    }
    if form.get("grant_type").map(String::as_str) == Some("refresh_token") {
        // A refresh takes as long as a trip to Slack does: refreshers that
        // are not kept apart overlap here, as they would in production.
        tokio::time::sleep(std::time::Duration::from_millis(REFRESH_DELAY_MS)).await;
        return Json(s.refresh(&form));
    }
    let Some(grant) = s.take(&form) else {
        return Json(json!({ "ok": false, "error": "invalid_code" }));
    };
    let mut answer = json!({
        "ok": true, "app_id": "A0DEMO00001", "token_type": "bot", "scope": grant.scope,
        "access_token": "xoxb-0000000001-demo-bot-token", "bot_user_id": "U0DEMOBOT01",
        "team": team_json(grant.team),
        "authed_user": { "id": "U0DEMOUSER1" },
        "enterprise": null, "is_enterprise_install": false
    });
    if grant.client_id == ROTATING_CLIENT_ID {
        s.rotated(&mut answer, grant.team, FIRST_TOKEN_SECS);
    }
    if grant.scope.split(',').any(|s| s == "incoming-webhook") {
        answer["incoming_webhook"] = json!({
            "channel": "#general", "channel_id": "C0DEMO00001",
            "configuration_url": "https://demo.slack.com/services/B0DEMO",
            "url": "https://hooks.slack.com/services/T0DEMO00001/B0DEMO/demo-webhook-secret"
        });
    }
    Json(answer)
}

fn team_json(team: &str) -> Value {
    let name = if team == SLACK_TEAM {
        "Demo Workspace"
    } else {
        "Other Workspace"
    };
    json!({ "id": team, "name": name })
}

impl Standin {
    /// Puts a new rotating token pair into `answer`, the refresh token
    /// remembered for `team`.
    fn rotated(&self, answer: &mut Value, team: &'static str, lifetime: u64) {
        let fresh = |prefix: &str| {
            let mut random = [0u8; 12];
            crate::os_entropy(&mut random);
            format!("{prefix}{}", URL_SAFE_NO_PAD.encode(random))
        };
        let refresh = fresh("xoxe-1-");
        answer["access_token"] = json!(fresh("xoxe.xoxb-1-"));
        answer["refresh_token"] = json!(refresh);
        answer["expires_in"] = json!(lifetime);
        lock(&self.refresh_tokens).insert(refresh, team);
    }

    /// `grant_type=refresh_token`: the refresh token is spent (a second
    /// use is `invalid_refresh_token`, as at Slack) and a new pair answered.
    fn refresh(&self, form: &HashMap<String, String>) -> Value {
        let team = form
            .get("refresh_token")
            .and_then(|t| lock(&self.refresh_tokens).by_key.remove(t));
        if form.get("client_id").map(String::as_str) != Some(ROTATING_CLIENT_ID) {
            lock(&self.activity).refused_refreshes += 1;
            return json!({ "ok": false, "error": "invalid_client_id" });
        }
        let Some(team) = team else {
            lock(&self.activity).refused_refreshes += 1;
            return json!({ "ok": false, "error": "invalid_refresh_token" });
        };
        lock(&self.activity).refreshes += 1;
        let mut answer = json!({
            "ok": true, "app_id": "A0DEMO00001", "token_type": "bot", "scope": "chat:write",
            "bot_user_id": "U0DEMOBOT01", "team": team_json(team),
            "enterprise": null, "is_enterprise_install": false
        });
        self.rotated(&mut answer, team, REFRESHED_TOKEN_SECS);
        answer
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `auth.revoke`: the bearer token is revoked (recorded; a second revoke
/// of the same token answers `token_revoked`, as Slack does).
async fn slack_revoke(State(s): State<Shared>, headers: HeaderMap) -> Json<Value> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty() && t.len() <= MAX_PARAM_BYTES);
    let Some(token) = token else {
        return Json(json!({ "ok": false, "error": "not_authed" }));
    };
    let mut activity = lock(&s.activity);
    if activity.revoked.iter().any(|t| t == token) {
        return Json(json!({ "ok": false, "error": "token_revoked" }));
    }
    if activity.revoked.len() >= MAX_KEPT {
        activity.revoked.pop_front();
    }
    activity.revoked.push_back(token.to_owned());
    Json(json!({ "ok": true, "revoked": true }))
}

/// What the Slack stand-in did (refreshes, revoked tokens): its tokens
/// are the demo's own, so showing them costs nothing.
async fn slack_activity(State(s): State<Shared>) -> Json<Value> {
    Json(serde_json::to_value(&*lock(&s.activity)).unwrap_or(Value::Null))
}

async fn ms_consent(State(s): State<Shared>, Path(tenant): Path<String>, Query(q): Params) -> Response {
    let Some(redirect) = s.redirect(&q) else {
        return bad("redirect_uri is not this server's, or a parameter is too long");
    };
    let state = q.get("state").map(String::as_str).unwrap_or("");
    let scope = q.get("scope").map(String::as_str).unwrap_or("");
    let allow = back(
        redirect,
        &[
            ("admin_consent", "True"),
            ("tenant", TENANT),
            ("scope", scope),
            ("state", state),
        ],
    );
    let cancel = back(
        redirect,
        &[
            ("error", "access_denied"),
            ("error_description", "AADSTS65004: User declined to consent."),
            ("state", state),
        ],
    );
    page(
        "Microsoft admin consent",
        &[("tenant", &tenant), ("scope", scope)],
        &[("allow", "Allow", &allow), ("cancel", "Cancel", &cancel)],
    )
}

async fn ms_authorize(State(s): State<Shared>, Path(tenant): Path<String>, Query(q): Params) -> Response {
    let Some(redirect) = s.redirect(&q) else {
        return bad("redirect_uri is not this server's, or a parameter is too long");
    };
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return bad("AADSTS501491: PKCE with S256 is required");
    }
    let scope = q.get("scope").map_or("", String::as_str);
    let (allow, cancel) = s.allow_or_cancel(&q, redirect, scope);
    page(
        "Microsoft sign-in",
        &[
            ("tenant", &tenant),
            ("user", "megan@demo.example"),
            ("scope", scope),
        ],
        &[("allow", "Allow", &allow), ("cancel", "Cancel", &cancel)],
    )
}

async fn ms_token(
    State(s): State<Shared>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let error = |code: &str, text: &str| {
        let body = json!({ "error": code, "error_description": text, "error_codes": [] });
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => Json(json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": format!("eyJ0.standin-app-only.{tenant}")
        }))
        .into_response(),
        Some("authorization_code") => {
            let Some(grant) = s.take(&form) else {
                return error("invalid_grant", "AADSTS70000: The code is invalid.");
            };
            let verifier = form.get("code_verifier").map(String::as_str).unwrap_or("");
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if grant.challenge.as_deref() != Some(computed.as_str()) {
                return error(
                    "invalid_grant",
                    "AADSTS501481: The Code_Verifier does not match the code_challenge.",
                );
            }
            // The user signs in to their home tenant, whatever the path named.
            let claims = json!({
                "aud": grant.client_id, "iss": format!("{}/microsoft/{TENANT}/v2.0", s.base_standin()),
                "iat": now, "nbf": now, "exp": now + 3600, "tid": TENANT, "oid": USER_OID,
                "name": "Megan Bowen", "preferred_username": "megan@demo.example",
                "wids": ["62e90394-69f5-4237-9190-012177145e10"]
            });
            let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
            let id_token = format!(
                "{}.{}.c3RhbmQtaW4",
                b64(&json!({"typ": "JWT", "alg": "RS256", "kid": "standin"})),
                b64(&claims)
            );
            Json(json!({
                "token_type": "Bearer", "scope": grant.scope, "expires_in": 3599,
                "access_token": "eyJ0.standin-delegated", "id_token": id_token
            }))
            .into_response()
        }
        _ => error(
            "unsupported_grant_type",
            "AADSTS70003: The grant type is not supported.",
        ),
    }
}

impl Standin {
    fn base_standin(&self) -> String {
        format!("{}/standin", self.base)
    }
}

async fn graph_find_app(Query(q): Params) -> Json<Value> {
    let filter = q.get("$filter").cloned().unwrap_or_default();
    let external = filter.split('\'').nth(1).unwrap_or("").to_owned();
    Json(json!({ "value": [{
        "id": TEAMS_APP_ID, "externalId": external, "displayName": "Demo notifications",
        "distributionMethod": "organization"
    }]}))
}

async fn graph_install(State(s): State<Shared>, Path(user): Path<String>) -> StatusCode {
    if user.len() > 128 {
        return StatusCode::BAD_REQUEST;
    }
    if s.graph_down.load(std::sync::atomic::Ordering::Relaxed) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let mut installed = lock(&s.installed);
    if installed.by_key.contains_key(&user) {
        return StatusCode::CONFLICT;
    }
    installed.insert(user, ());
    lock(&s.activity).teams_installs += 1;
    StatusCode::CREATED
}

/// A user's installation of the demo app: its id, as Graph's are opaque.
fn installation_id(user: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}##{TEAMS_APP_ID}"))
}

/// The user's installations of the app (Graph answers the `$filter`ed list).
async fn graph_installs(State(s): State<Shared>, Path(user): Path<String>) -> Json<Value> {
    let value: Vec<Value> = match lock(&s.installed).by_key.contains_key(&user) {
        true => vec![json!({
            "id": installation_id(&user),
            "teamsAppDefinition": { "id": "ZGVtbw==", "teamsAppId": TEAMS_APP_ID, "displayName": "Demo notifications" }
        })],
        false => Vec::new(),
    };
    Json(json!({ "value": value }))
}

async fn graph_uninstall(
    State(s): State<Shared>,
    Path((user, installation)): Path<(String, String)>,
) -> StatusCode {
    if installation != installation_id(&user) || lock(&s.installed).by_key.remove(&user).is_none() {
        return StatusCode::NOT_FOUND;
    }
    lock(&s.activity).teams_uninstalls += 1;
    StatusCode::NO_CONTENT
}

/// Turns the Graph stand-in's outage on (`?down=true`) or off: app installs
/// answer 503 meanwhile, to watch a pending installation tried again.
async fn graph_outage(State(s): State<Shared>, Query(q): Params) -> StatusCode {
    let down = q.get("down").is_some_and(|v| v == "true");
    s.graph_down.store(down, std::sync::atomic::Ordering::Relaxed);
    StatusCode::NO_CONTENT
}

/// What the Graph stand-in did: installs made and removed.
async fn graph_activity(State(s): State<Shared>) -> Json<Value> {
    let a = lock(&s.activity);
    Json(json!({ "installs": a.teams_installs, "uninstalls": a.teams_uninstalls }))
}

async fn webex_authorize(State(s): State<Shared>, Query(q): Params) -> Response {
    let Some(redirect) = s.redirect(&q) else {
        return bad("redirect_uri is not this server's, or a parameter is too long");
    };
    if q.get("response_type").map(String::as_str) != Some("code") {
        return bad("response_type must be code");
    }
    let scope = q.get("scope").map_or("", String::as_str);
    let (allow, cancel) = s.allow_or_cancel(&q, redirect, scope);
    page(
        "Webex",
        &[
            ("user", "megan@demo.example"),
            ("organization", "Demo Organization"),
            ("scope", scope),
        ],
        &[("allow", "Allow", &allow), ("cancel", "Cancel", &cancel)],
    )
}

/// Webex's error shape: `message` (the OAuth error inside it), `errors`, `trackingId`.
fn webex_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message, "errors": [{ "description": message }],
        "trackingId": "STANDIN_0d0c5e4a"
    });
    (status, Json(body)).into_response()
}

impl Standin {
    /// A new access token (remembered for `people/me`) with `refresh`.
    fn webex_tokens(&self, refresh: &str) -> Value {
        let mut random = [0u8; 12];
        crate::os_entropy(&mut random);
        let access = format!("standin-webex-{}_PF84_demo", URL_SAFE_NO_PAD.encode(random));
        lock(&self.webex_tokens).insert(access.clone(), ());
        json!({
            "access_token": access, "expires_in": WEBEX_TOKEN_SECS,
            "refresh_token": refresh, "refresh_token_expires_in": WEBEX_REFRESH_SECS,
            "token_type": "Bearer"
        })
    }
}

/// `access_token`: a code (single-use, bound to the client and redirect
/// URI), or a refresh token (Webex answers the same refresh token, extended).
async fn webex_access_token(State(s): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let invalid_grant = |what: &str| {
        webex_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "POST failed: HTTP/1.1 400 Bad Request (url = https://idbroker.webex.com/idb/oauth2/v1/access_token, error = '(invalid_grant) {what}')"
            ),
        )
    };
    if form.get("client_secret").is_none_or(String::is_empty) {
        return webex_error(
            StatusCode::UNAUTHORIZED,
            "error = '(invalid_client) Client authentication failed.'",
        );
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            if s.take(&form).is_none() {
                return invalid_grant("Authorization code has been used or is invalid.");
            }
            let mut random = [0u8; 12];
            crate::os_entropy(&mut random);
            let refresh = format!(
                "standin-webex-refresh-{}_PF84_demo",
                URL_SAFE_NO_PAD.encode(random)
            );
            lock(&s.webex_refresh_tokens).insert(refresh.clone(), ());
            Json(s.webex_tokens(&refresh)).into_response()
        }
        Some("refresh_token") => {
            let refresh = form.get("refresh_token").cloned().unwrap_or_default();
            if !lock(&s.webex_refresh_tokens).by_key.contains_key(&refresh) {
                return invalid_grant(
                    "The refresh token provided is expired, revoked, malformed, or invalid.",
                );
            }
            Json(s.webex_tokens(&refresh)).into_response()
        }
        _ => webex_error(
            StatusCode::BAD_REQUEST,
            "error = '(unsupported_grant_type) The grant type is not supported.'",
        ),
    }
}

/// `people/me`: the stand-in user, for a token the stand-in issued.
async fn webex_people_me(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !token.is_some_and(|t| lock(&s.webex_tokens).by_key.contains_key(t)) {
        return webex_error(
            StatusCode::UNAUTHORIZED,
            "The request requires a valid access token set in the Authorization request header.",
        );
    }
    Json(json!({
        "id": WEBEX_PERSON_ID, "emails": ["megan@demo.example"], "phoneNumbers": [],
        "displayName": "Megan Bowen", "nickName": "Megan", "firstName": "Megan", "lastName": "Bowen",
        "orgId": WEBEX_ORG_ID, "created": "2015-10-18T14:26:16.000Z", "type": "person"
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::{Bounded, MAX_KEPT};

    #[test]
    fn the_stand_ins_keep_a_bounded_number_of_codes() {
        let mut kept = Bounded::default();
        for n in 0..MAX_KEPT + 100 {
            kept.insert(format!("code-{n}"), n);
        }
        assert_eq!(kept.by_key.len(), MAX_KEPT);
        assert_eq!(kept.order.len(), MAX_KEPT);
        assert!(!kept.by_key.contains_key("code-0"), "the oldest went first");
        assert!(kept.by_key.contains_key(&format!("code-{}", MAX_KEPT + 99)));
        // Redeemed codes leave the map; the order list stays bounded too.
        for n in 0..MAX_KEPT + 100 {
            kept.by_key.remove(&format!("code-{n}"));
            kept.insert(format!("again-{n}"), n);
        }
        assert!(kept.order.len() <= MAX_KEPT && kept.by_key.len() <= MAX_KEPT);
    }
}
