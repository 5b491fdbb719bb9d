//! The test harness shared by the service's HTTP tests: a demo server
//! (API and stand-ins) on an ephemeral loopback port, and a client that
//! follows the stand-in pages the way a browser would.
#![allow(dead_code)] // each test file uses part of it

pub mod engines;
pub mod process;
pub mod tools;
pub mod venv;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Notify;

use channel_connect_server::config::{Config, DEMO_API_KEY};
use channel_connect_server::demo::standin;
use channel_connect_server::sender::Sender;
use channel_connect_server::serve::{Limits, serve};
use channel_connect_server::store::sqlite::Store;
use channel_connect_server::{AppState, app, install_crypto_provider, os_entropy};
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;

/// The curl example body of Novu's documentation (integration set to `slack`).
pub const SEED: &str = include_str!("../../../examples/requests/seed-curl.json");
pub const TEAMS: &str = r#"{"subscriberId":"subscriber-123","integrationIdentifier":"msteams","context":{"tenant":"org-acme"},"autoLinkUser":true}"#;
/// The demo environment's id (its API key is `DEMO_API_KEY`).
pub const DEMO_ENV: &str = "6615c4b2e0f3a1b2c3d4e5f6";
pub const VICTIM: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

pub struct Server {
    pub base: String,
    pub db: PathBuf,
    pub http: reqwest::Client,
}

pub fn db_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("server-api");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    db
}

/// A demo server on an ephemeral loopback port, with its own database file.
pub async fn start(name: &str) -> Server {
    start_on(db_path(name), None, |s| s).await
}

pub async fn start_with_clock(name: &str, clock: fn() -> OffsetDateTime) -> Server {
    start_on(db_path(name), None, move |s| s.with_clock(clock)).await
}

/// A demo server on the database file `db` (two may share one), its state
/// adjusted by `customize` (another clock, Redis). With `behind`, it is a
/// second instance behind the same public address as the server there:
/// same redirect URI, same stand-ins.
pub async fn start_on(
    db: PathBuf,
    behind: Option<&str>,
    customize: impl FnOnce(AppState) -> AppState,
) -> Server {
    install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let public = behind.unwrap_or(&base).to_owned();
    let config = Config::demo(&public).unwrap();
    let store = Store::open(&db, &config.token_keys, os_entropy).unwrap();
    let state = customize(AppState::new(config, store, Sender::new().unwrap(), &public));
    let router = app(Arc::new(state), true, &public);
    tokio::spawn(serve(
        listener,
        router,
        Limits::default(),
        std::future::pending(),
        async {},
    ));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Server { base, db, http }
}

impl Server {
    pub async fn post(
        &self,
        path: &str,
        key: Option<&str>,
        idem: Option<&str>,
        body: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(k) = key {
            req = req.header("authorization", format!("ApiKey {k}"));
        }
        if let Some(i) = idem {
            req = req.header("idempotency-key", i);
        }
        let res = req.send().await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        (
            status,
            headers,
            serde_json::from_slice(&res.bytes().await.unwrap()).unwrap_or(Value::Null),
        )
    }

    pub async fn connect(&self, body: &str) -> String {
        let (status, _, v) = self
            .post(
                "/v1/integrations/channel-connections/oauth",
                Some(DEMO_API_KEY),
                None,
                body,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["url"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        };
        self.http.get(url).send().await.unwrap()
    }

    /// A GET with the demo API key.
    pub async fn get_with_key(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        let auth = format!("ApiKey {DEMO_API_KEY}");
        self.http
            .get(url)
            .header("authorization", auth)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE /v1/channel-connections/{identifier}` with the demo API key.
    pub async fn delete_connection(&self, identifier: &str) -> reqwest::Response {
        self.http
            .delete(format!("{}/v1/channel-connections/{identifier}", self.base))
            .header("authorization", format!("ApiKey {DEMO_API_KEY}"))
            .send()
            .await
            .unwrap()
    }

    pub async fn list(&self, path: &str) -> Vec<Value> {
        let res = self.get_with_key(path).await;
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
        v["data"].as_array().unwrap().clone()
    }

    /// The stand-in page's link with this id.
    pub async fn link(&self, page_url: &str, id: &str) -> String {
        let res = self.get(page_url).await;
        assert_eq!(res.status(), StatusCode::OK, "{page_url}");
        let page = res.text().await.unwrap();
        let marker = format!("id=\"{id}\" href=\"");
        let start = page.find(&marker).expect("the link") + marker.len();
        let end = start + page[start..].find('"').unwrap();
        page[start..end].replace("&amp;", "&")
    }

    /// Follows a provider page's "Allow": the callback's response.
    pub async fn allow(&self, page_url: &str) -> reqwest::Response {
        let link = self.link(page_url, "allow").await;
        self.get(&link).await
    }

    pub fn location(res: &reqwest::Response) -> String {
        res.headers()["location"].to_str().unwrap().to_owned()
    }

    /// The database file and its write-ahead log, as bytes.
    pub fn db_bytes(&self) -> Vec<u8> {
        // The database file must be there and be SQLite's: a check that a
        // secret is absent from it proves nothing on an empty read.
        let mut bytes = std::fs::read(&self.db).expect("the database file");
        assert!(
            bytes.starts_with(b"SQLite format 3\0"),
            "{} is no SQLite file",
            self.db.display()
        );
        bytes.extend(std::fs::read(format!("{}-wal", self.db.display())).unwrap_or_default());
        bytes
    }
}

/// A loopback port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (bounded, 10 s) until something listens on `port`.
pub fn wait_listening(port: u16) {
    for _ in 0..400 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

/// Two instances behind one address agree: a flow issued by `a` finishes
/// on `b` and is refused as a replay on `a`, stored once; an idempotency
/// key holds across both.
pub async fn two_instances_agree(a: &Server, b: &Server) {
    let url = a.connect(SEED).await;
    let on_a = a.link(&url, "allow").await;
    let on_b = on_a.replacen(&a.base, &b.base, 1);
    assert_eq!(b.get(&on_b).await.status(), StatusCode::OK);
    refused_state(a.get(&on_a).await).await;
    assert_eq!(a.list("/v1/channel-connections").await.len(), 1);
    assert_eq!(b.list("/v1/channel-connections").await.len(), 1);
    assert_eq!(b.list("/v1/channel-endpoints").await.len(), 1);

    let path = "/v1/integrations/channel-connections/oauth";
    let (s1, _, first) = a.post(path, Some(DEMO_API_KEY), Some("shared-key"), SEED).await;
    let (s2, h, second) = b.post(path, Some(DEMO_API_KEY), Some("shared-key"), SEED).await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(h["idempotency-replay"], "true");
    assert_eq!(first, second);
    let (s3, _, _) = b.post(path, Some(DEMO_API_KEY), Some("shared-key"), TEAMS).await;
    assert_eq!(s3, StatusCode::UNPROCESSABLE_ENTITY);
}

/// A callback refused for its state (Novu's message), whatever the reason.
pub async fn refused_state(res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("Invalid OAuth state parameter"), "{page}");
}

pub fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// A Slack token endpoint that tells the test when a request arrived and
/// answers (a good answer) only when the test releases it.
pub async fn held_provider(arrived: Arc<Notify>, release: Arc<Notify>) -> String {
    use axum::routing::post;
    let router = axum::Router::new().route(
        "/api/oauth.v2.access",
        post(move || async move {
            arrived.notify_one();
            release.notified().await;
            r#"{"ok":true,"app_id":"A1","access_token":"xoxb-held","token_type":"bot","scope":"chat:write","bot_user_id":"U1","team":{"id":"T0DEMO00001","name":"Demo"},"authed_user":{"id":"U2"}}"#
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(
        listener,
        router,
        Limits::default(),
        std::future::pending(),
        async {},
    ));
    base
}

/// A stored connection can be re-installed by its owner only, for its
/// integration, in its workspace: refused at issue (another owner 409,
/// another integration 400; the owner's reconnect pinned with `team=`),
/// and refused again at the callback for flows issued before it existed
/// (a 409 page, nothing stored).
pub async fn reinstall_rules(s: &Server) {
    let victim = s.connect(SEED).await;
    assert_eq!(s.allow(&victim).await.status(), StatusCode::OK);
    let key = Some(DEMO_API_KEY);
    let connect = "/v1/integrations/channel-connections/oauth";
    let evil = SEED.replace("org-acme", "org-evil");
    let (status, _, body) = s.post(connect, key, None, &evil).await;
    assert_eq!(status, StatusCode::CONFLICT, "another owner: {body}");
    assert_eq!(body["statusCode"], 409);
    let teams = SEED.replace(
        "\"integrationIdentifier\": \"slack\"",
        "\"integrationIdentifier\": \"msteams\"",
    );
    assert_ne!(teams, SEED);
    let (status, _, body) = s.post(connect, key, None, &teams).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "another integration: {body}");

    // The owner's reconnect is pinned to the stored team: another is refused.
    let again = s.connect(SEED).await;
    assert!(
        again.contains(&format!("team={}", standin::SLACK_TEAM)),
        "{again}"
    );
    let elsewhere = s.get(&s.link(&again, "allow-other").await).await;
    assert_eq!(elsewhere.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.allow(&s.connect(SEED).await).await.status(), StatusCode::OK);

    // Flows issued before their identifier existed: the first stores it,
    // the second (another owner; the owner in another workspace) stores nothing.
    let contested = |id: &str, owner: &str| {
        SEED.replace("slack-connection-abc123", id)
            .replace("org-acme", owner)
    };
    let first = s.connect(&contested("contested-1", "org-one")).await;
    let thief = s.connect(&contested("contested-1", "org-evil")).await;
    assert_eq!(s.allow(&first).await.status(), StatusCode::OK);
    let res = s.allow(&thief).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("another subscriber or context")
    );

    let first = s.connect(&contested("contested-2", "org-two")).await;
    let other_team = s.connect(&contested("contested-2", "org-two")).await;
    assert_eq!(s.allow(&first).await.status(), StatusCode::OK);
    let res = s.get(&s.link(&other_team, "allow-other").await).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("another workspace"));

    let owners = [
        ("slack-connection-abc123", "org-acme"),
        ("contested-1", "org-one"),
        ("contested-2", "org-two"),
    ];
    for (id, owner) in owners {
        let res = s.get_with_key(&format!("/v1/channel-connections/{id}")).await;
        let c: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
        assert_eq!(c["data"]["workspace"]["id"], standin::SLACK_TEAM, "{id}");
        let keys = [format!("property1:{owner}"), format!("property2:{owner}")];
        assert_eq!(c["data"]["contextKeys"], json!(keys), "{id}");
    }
    let all = s.list("/v1/channel-connections?limit=100").await;
    assert_eq!(all.len(), 3, "nothing else stored: {all:?}");
    let endpoints = s.list("/v1/channel-endpoints?limit=100").await;
    assert_eq!(endpoints.len(), 3, "one user link per stored flow: {endpoints:?}");
}

/// A JSON request with the demo API key: the status and the answer.
pub async fn send(
    s: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = s
        .http
        .request(method, format!("{}{path}", s.base))
        .header("authorization", format!("ApiKey {DEMO_API_KEY}"));
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b.to_string());
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let bytes = res.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
    )
}

/// The API's writes keep what the OAuth callback relies on: a link to a
/// connection deleted meanwhile stores nothing; create inserts once, PATCH
/// never re-creates; an endpoint links only to its owner's connection; a
/// connection does not move to another workspace; hostile identifiers are
/// refused before any store sees them.
pub async fn api_write_rules(s: &Server) {
    use reqwest::Method;
    let connection = |id: &str, integration: &str, subscriber: &str| {
        json!({"identifier": id, "integrationIdentifier": integration, "subscriberId": subscriber,
            "context": {"org": "acme"}, "workspace": {"id": "T0DEMO00001", "name": "Demo"},
            "auth": {"accessToken": "xoxb-written"}})
    };
    // A user link issued for c4, then c4 deleted: the callback stores nothing.
    let (status, _) = send(
        s,
        Method::POST,
        "/v1/channel-connections",
        Some(connection("c4", "slack", "subQ")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let link = json!({"subscriberId": "subQ", "integrationIdentifier": "slack", "connectionIdentifier": "c4", "context": {"org": "acme"}});
    let (status, v) = send(
        s,
        Method::POST,
        "/v1/integrations/channel-endpoints/oauth",
        Some(link),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let allow = s.link(v["url"].as_str().unwrap(), "allow").await;
    let (status, _) = send(s, Method::DELETE, "/v1/channel-connections/c4", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let res = s.get(&allow).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert!(res.text().await.unwrap().contains("no longer exists"));
    assert!(
        s.list("/v1/channel-endpoints?connectionIdentifier=c4")
            .await
            .is_empty()
    );

    // Sixteen creates of one identifier at once: one stored, the rest 409.
    let creates = (0..16).map(|i| {
        let integration = if i % 2 == 0 { "slack" } else { "msteams" };
        send(
            s,
            Method::POST,
            "/v1/channel-connections",
            Some(connection("raced", integration, &format!("owner{i}"))),
        )
    });
    let statuses: Vec<StatusCode> = futures_util::future::join_all(creates)
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::CREATED).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    // A PATCH never brings a deleted connection back.
    let (status, _) = send(s, Method::DELETE, "/v1/channel-connections/raced", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let patch = json!({"workspace": {"id": "T0DEMO00001"}, "auth": {"accessToken": "xoxb-again"}});
    let (status, _) = send(
        s,
        Method::PATCH,
        "/v1/channel-connections/raced",
        Some(patch.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An endpoint links only to a connection of its owner.
    let (status, _) = send(
        s,
        Method::POST,
        "/v1/channel-connections",
        Some(connection("c1", "slack", "subA")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let endpoint = |subscriber: &str| {
        json!({"type": "slack_user", "subscriberId": subscriber, "integrationIdentifier": "slack",
            "connectionIdentifier": "c1", "context": {"org": "acme"}, "endpoint": {"userId": "U1"}})
    };
    let (status, v) = send(s, Method::POST, "/v1/channel-endpoints", Some(endpoint("subZ"))).await;
    assert_eq!(status, StatusCode::CONFLICT, "another subscriber: {v}");
    let (status, v) = send(s, Method::POST, "/v1/channel-endpoints", Some(endpoint("subA"))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    // A field of another name could hold a credential: refused.
    let hook = json!({"type": "webhook", "subscriberId": "subA", "integrationIdentifier": "slack",
        "endpoint": {"url": "https://hooks.slack.com/services/T/B/x", "webhookUrl": "https://secret"}});
    let (status, _) = send(s, Method::POST, "/v1/channel-endpoints", Some(hook)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A connection does not move to another workspace; its details stay.
    let elsewhere = json!({"workspace": {"id": "T0ELSEWHERE"}, "auth": {"accessToken": "xoxb-moved"}});
    let (status, _) = send(s, Method::PATCH, "/v1/channel-connections/c1", Some(elsewhere)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, c) = send(s, Method::PATCH, "/v1/channel-connections/c1", Some(patch)).await;
    assert_eq!(
        (status, c["workspace"]["name"].clone()),
        (StatusCode::OK, json!("Demo")),
        "{c}"
    );

    // Duplicate keys are refused on the older route as on the others.
    let dup = r#"{"subscriberId":"s1","integrationIdentifier":"slack","integrationIdentifier":"msteams","connectionMode":"shared","context":{"t":"x"}}"#;
    let (status, _, _) = s
        .post("/v1/integrations/chat/oauth", Some(DEMO_API_KEY), None, dup)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A key spent on one route is no replay on another.
    let body = r#"{"integrationIdentifier":"slack","subscriberId":"s1"}"#;
    let patched = s
        .http
        .patch(format!("{}/v1/channel-connections/oauth", s.base))
        .header("authorization", format!("ApiKey {DEMO_API_KEY}"))
        .header("idempotency-key", "spent-elsewhere")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::NOT_FOUND);
    let (status, headers, _) = s
        .post(
            "/v1/integrations/channel-connections/oauth",
            Some(DEMO_API_KEY),
            Some("spent-elsewhere"),
            body,
        )
        .await;
    assert!(headers.get("idempotency-replay").is_none());
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the key names another request"
    );

    // Identifiers and filters with control characters: refused before any store.
    for path in ["/v1/channel-connections/a%00b", "/v1/channel-endpoints/a%00b"] {
        assert_eq!(
            send(s, Method::GET, path, None).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
        assert_eq!(
            send(s, Method::DELETE, path, None).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let (status, _) = send(s, Method::GET, "/v1/channel-connections?subscriberId=%00", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let nul = r#"{"integrationIdentifier":"slack","subscriberId":"s1","connectionIdentifier":"a\u0000"}"#;
    let (status, _, _) = s
        .post(
            "/v1/integrations/channel-connections/oauth",
            Some(DEMO_API_KEY),
            None,
            nul,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// The credentials route: the sender's key reads the token, an API key gets
/// 403, the sender's key nothing else.
pub async fn credentials_rules(s: &Server) {
    use channel_connect_server::config::DEMO_CREDENTIALS_KEY;
    use channel_connect_server::demo::standin::SLACK_TEAM;
    assert_eq!(s.allow(&s.connect(SEED).await).await.status(), StatusCode::OK);
    let read = |key: &str, path: &str| {
        s.http
            .get(format!("{}{path}", s.base))
            .header("authorization", format!("ApiKey {key}"))
            .send()
    };
    let path = "/v1/channel-connections/slack-connection-abc123/credentials";
    let res = read(DEMO_CREDENTIALS_KEY, path).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let v: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert!(
        v["data"]["auth"]["accessToken"]
            .as_str()
            .unwrap()
            .starts_with("xoxb-"),
        "{v}"
    );
    assert_eq!(
        (
            v["data"]["auth"]["tokenType"].clone(),
            v["data"]["workspace"]["id"].clone()
        ),
        (json!("bot"), json!(SLACK_TEAM))
    );
    assert_eq!(
        read(DEMO_API_KEY, path).await.unwrap().status(),
        StatusCode::FORBIDDEN,
        "an API key reads no token"
    );
    assert_eq!(
        read("nope", path).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        read(DEMO_CREDENTIALS_KEY, "/v1/channel-connections")
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED,
        "a credentials key does nothing else"
    );
    let missing = "/v1/channel-connections/nope/credentials";
    assert_eq!(
        read(DEMO_CREDENTIALS_KEY, missing).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    // An install with an incoming webhook: its URL is the sender's too
    // (and only the sender's: the endpoint list answers it redacted).
    let hooked = json!({"subscriberId": "subscriber-123", "integrationIdentifier": "slack",
        "connectionIdentifier": "hooked", "context": {"tenant": "hooked"}, "scope": ["incoming-webhook"]});
    assert_eq!(
        s.allow(&s.connect(&hooked.to_string()).await).await.status(),
        StatusCode::OK
    );
    let (status, v) = read_credentials(s, "hooked").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let hooks = v["data"]["webhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 1, "{v}");
    assert_eq!(
        hooks[0]["url"],
        "https://hooks.slack.com/services/T0DEMO00001/B0DEMO/demo-webhook-secret"
    );
    assert_eq!(
        (&hooks[0]["channelId"], &hooks[0]["subscriberId"]),
        (&json!("C0DEMO00001"), &json!("subscriber-123"))
    );
    let listed = s.list("/v1/channel-endpoints?limit=100").await;
    let webhook = listed.iter().find(|e| e["type"] == "webhook").unwrap();
    assert_eq!(webhook["endpoint"]["url"], "[redacted]");
    assert_eq!(hooks[0]["endpointIdentifier"], webhook["identifier"]);
    assert_eq!(
        read_credentials(s, "slack-connection-abc123").await.1["data"]["webhooks"],
        json!([])
    );
}

/// A connect body for the demo's rotating Slack app, under `identifier`.
pub fn rotating_body(identifier: &str) -> String {
    json!({
        "subscriberId": "subscriber-123", "integrationIdentifier": "slack-rotating",
        "connectionIdentifier": identifier, "context": {"tenant": identifier},
        "scope": ["chat:write"], "connectionMode": "shared"
    })
    .to_string()
}

/// The Slack stand-in's activity (refreshes answered and refused, tokens revoked).
pub async fn slack_activity(s: &Server) -> Value {
    serde_json::from_slice(&s.get("/standin/slack/activity").await.bytes().await.unwrap()).unwrap()
}

/// A credentials read with the demo's credentials key: status and body.
pub async fn read_credentials(s: &Server, identifier: &str) -> (StatusCode, Value) {
    use channel_connect_server::config::DEMO_CREDENTIALS_KEY;
    let res = s
        .http
        .get(format!(
            "{}/v1/channel-connections/{identifier}/credentials",
            s.base
        ))
        .header("authorization", format!("ApiKey {DEMO_CREDENTIALS_KEY}"))
        .send()
        .await
        .unwrap();
    let status = res.status();
    (
        status,
        serde_json::from_slice(&res.bytes().await.unwrap()).unwrap_or(Value::Null),
    )
}

/// Token rotation, on whatever engine `records` is (the server's own):
/// a token near expiry is refreshed once however many read it at once, the
/// rotated refresh token is kept, and a refresh token Slack refuses marks
/// the connection for reconnection until it is connected again.
pub async fn rotation_rules(s: &Server, records: &dyn channel_connect_server::store::Connections) {
    let activity = slack_activity(s).await;
    let (before, refused) = (
        activity["refreshes"].as_u64().unwrap(),
        activity["refused_refreshes"].as_u64().unwrap(),
    );
    assert_eq!(
        s.allow(&s.connect(&rotating_body("rotating-1")).await)
            .await
            .status(),
        StatusCode::OK
    );
    let installed = records
        .connection_record(DEMO_ENV, "rotating-1")
        .await
        .unwrap()
        .unwrap();
    let installed = installed.auth.unwrap();
    assert!(installed.refresh_token.is_some() && installed.expires_at.is_some());
    // Eight readers at once: one refresh; each gets the new token, or the
    // old one while it is still valid (it works until it expires).
    let reads = futures_util::future::join_all((0..8).map(|_| read_credentials(s, "rotating-1"))).await;
    let stored = records
        .connection_record(DEMO_ENV, "rotating-1")
        .await
        .unwrap()
        .unwrap()
        .auth
        .unwrap();
    let new = stored.access_token.expose();
    assert_ne!(new, installed.access_token.expose(), "refreshed");
    let tokens: Vec<&str> = reads
        .iter()
        .map(|(status, v)| {
            assert_eq!(*status, StatusCode::OK, "{v}");
            v["data"]["auth"]["accessToken"].as_str().unwrap()
        })
        .collect();
    assert!(
        tokens
            .iter()
            .all(|t| *t == new || *t == installed.access_token.expose()),
        "{tokens:?}"
    );
    assert!(
        tokens.contains(&new),
        "the refresher's reader gets the new token: {tokens:?}"
    );
    let activity = slack_activity(s).await;
    assert_eq!(activity["refreshes"].as_u64().unwrap(), before + 1);
    assert_eq!(
        activity["refused_refreshes"].as_u64().unwrap(),
        refused,
        "no refresh token spent twice"
    );
    let (_, v) = &reads[0];
    assert!(
        v["data"]["auth"].get("refreshToken").is_none(),
        "the refresh token stays here: {v}"
    );
    assert_eq!(v["data"]["auth"]["scopes"], json!(["chat:write"]));
    // Stored together: the new access token and the rotated refresh token.
    assert!(stored.refresh_token.is_some());
    assert_ne!(stored.refresh_token, installed.refresh_token);
    // Fresh now: no second refresh.
    assert_eq!(
        read_credentials(s, "rotating-1").await.1["data"]["auth"]["accessToken"],
        new
    );
    assert_eq!(slack_activity(s).await["refreshes"].as_u64().unwrap(), before + 1);

    // A refresh token spent elsewhere (a restored backup's copy, a second
    // deployment): Slack refuses it, and the connection says so.
    assert_eq!(
        s.allow(&s.connect(&rotating_body("rotating-2")).await)
            .await
            .status(),
        StatusCode::OK
    );
    let copy = records
        .connection_record(DEMO_ENV, "rotating-2")
        .await
        .unwrap()
        .unwrap()
        .auth
        .unwrap();
    let spent = s
        .http
        .post(format!("{}/standin/slack/api/oauth.v2.access", s.base))
        .basic_auth("1234567890.2222222222", Some("demo-slack-client-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=refresh_token&refresh_token={}",
            copy.refresh_token.unwrap().expose()
        ))
        .send()
        .await
        .unwrap();
    let spent: Value = serde_json::from_slice(&spent.bytes().await.unwrap()).unwrap();
    assert_eq!(spent["ok"], json!(true), "{spent}");
    let (status, v) = read_credentials(s, "rotating-2").await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("invalid_refresh_token"),
        "{v}"
    );
    let listed = s.list("/v1/channel-connections?limit=100").await;
    let marked = listed.iter().find(|c| c["identifier"] == "rotating-2").unwrap();
    assert_eq!(
        (&marked["status"], &marked["statusReason"]),
        (&json!("needs_reconnection"), &json!("invalid_refresh_token"))
    );
    let fine = listed.iter().find(|c| c["identifier"] == "rotating-1").unwrap();
    assert_eq!(fine["status"], "active");
    // A PATCH sending the same token back (a rename) keeps the mark, and
    // keeps what only the store knows of the token (its refresh token).
    let patch = |id: &str, token: String| {
        let body =
            json!({"workspace": {"id": "T0DEMO00001", "name": "Renamed"}, "auth": {"accessToken": token}});
        s.http
            .patch(format!("{}/v1/channel-connections/{id}", s.base))
            .header("authorization", format!("ApiKey {DEMO_API_KEY}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let marked_token = records
        .connection_record(DEMO_ENV, "rotating-2")
        .await
        .unwrap()
        .unwrap()
        .auth
        .unwrap();
    let res = patch("rotating-2", marked_token.access_token.expose().to_owned())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(v["status"], "needs_reconnection", "{v}");
    let kept = records
        .connection_record(DEMO_ENV, "rotating-2")
        .await
        .unwrap()
        .unwrap()
        .auth
        .unwrap();
    assert_eq!(
        (kept.refresh_token, kept.expires_at),
        (marked_token.refresh_token, marked_token.expires_at)
    );
    assert_eq!(read_credentials(s, "rotating-2").await.0, StatusCode::CONFLICT);
    // Connected again: working tokens, the mark gone.
    assert_eq!(
        s.allow(&s.connect(&rotating_body("rotating-2")).await)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(read_credentials(s, "rotating-2").await.0, StatusCode::OK);
    let again = s.list("/v1/channel-connections?limit=100").await;
    assert_eq!(
        again.iter().find(|c| c["identifier"] == "rotating-2").unwrap()["status"],
        "active"
    );
}

/// `DELETE` revokes the bot token at Slack, says so, and the record is gone
/// (credentials 404); a second `DELETE` is a 404 and revokes nothing.
pub async fn revoke_rules(s: &Server) {
    assert_eq!(s.allow(&s.connect(SEED).await).await.status(), StatusCode::OK);
    let before = slack_activity(s).await["revoked"].as_array().unwrap().len();
    let path = format!("{}/v1/channel-connections/slack-connection-abc123", s.base);
    let delete = || {
        s.http
            .delete(&path)
            .header("authorization", format!("ApiKey {DEMO_API_KEY}"))
            .send()
    };
    let res = delete().await.unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["x-revoked"], "bot_token");
    assert!(res.headers().get("x-not-revoked").is_none());
    let revoked = slack_activity(s).await["revoked"].as_array().unwrap().clone();
    assert_eq!(revoked.len(), before + 1);
    assert_eq!(revoked.last().unwrap(), "xoxb-0000000001-demo-bot-token");
    assert_eq!(
        read_credentials(s, "slack-connection-abc123").await.0,
        StatusCode::NOT_FOUND
    );
    let again = delete().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        slack_activity(s).await["revoked"].as_array().unwrap().len(),
        before + 1
    );
    shared_and_given_tokens(s).await;
}

/// A Slack whose token endpoint answers installs (team `T0DEMO00001`, bot
/// token `xoxb-gone`) until the returned handle is aborted; then nothing
/// listens there.
pub async fn vanishing_slack() -> (String, tokio::task::JoinHandle<()>) {
    use axum::routing::post;
    let router = axum::Router::new().route(
        "/api/oauth.v2.access",
        post(|| async {
            r#"{"ok":true,"app_id":"A1","access_token":"xoxb-gone","token_type":"bot","scope":"chat:write","bot_user_id":"U1","team":{"id":"T0DEMO00001","name":"Demo"},"authed_user":{"id":"U2"}}"#
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (base, task)
}

/// Sends `body` to the Slack events route of `integration`, signed with
/// `secret` at `at` (Unix seconds).
pub async fn slack_event(
    s: &Server,
    integration: &str,
    secret: &str,
    at: i64,
    body: &str,
) -> (StatusCode, String) {
    use channel_connect::provider::slack::events;
    let secret = events::SigningSecret::new(secret).unwrap();
    let signature = events::sign(&secret, at, body.as_bytes());
    let res = s
        .http
        .post(format!("{}/v1/integrations/slack/events/{integration}", s.base))
        .header("content-type", "application/json")
        .header(events::TIMESTAMP_HEADER, at.to_string())
        .header(events::SIGNATURE_HEADER, signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

/// An `event_callback` of `kind` for the Slack team `team`.
pub fn slack_event_body(kind: &str, team: &str) -> String {
    let event = match kind {
        "tokens_revoked" => json!({"type": kind, "tokens": {"oauth": [], "bot": ["U0DEMOBOT01"]}}),
        _ => json!({"type": kind}),
    };
    json!({"token": "x", "team_id": team, "api_app_id": "A0DEMO00001", "event": event,
           "type": "event_callback", "event_id": "Ev0DEMO", "event_time": 1})
    .to_string()
}

/// Slack's Events API on the service: the request URL is verified, a
/// forged or stale event changes nothing, `tokens_revoked` marks the
/// workspace's connection, `app_uninstalled` removes it with its endpoints,
/// and a replayed event does not remove the connection made after it.
pub async fn events_rules(s: &Server) {
    use channel_connect_server::demo::standin::{OTHER_SLACK_TEAM, SLACK_TEAM};
    let secret = "demo-slack-signing-secret";
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let challenge = r#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    assert_eq!(
        slack_event(s, "slack", secret, now, challenge).await,
        (
            StatusCode::OK,
            "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P".to_owned()
        )
    );
    assert_eq!(
        slack_event(s, "msteams", secret, now, challenge).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        slack_event(s, "nope", secret, now, challenge).await.0,
        StatusCode::NOT_FOUND
    );

    assert_eq!(s.allow(&s.connect(SEED).await).await.status(), StatusCode::OK);
    let connections = || s.list("/v1/channel-connections?limit=100");
    let uninstall = slack_event_body("app_uninstalled", SLACK_TEAM);
    // Forged (another secret), stale (signed ten minutes ago), and another workspace's.
    assert_eq!(
        slack_event(s, "slack", "not-the-secret", now, &uninstall).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        slack_event(s, "slack", secret, now - 600, &uninstall).await.0,
        StatusCode::UNAUTHORIZED
    );
    let elsewhere = slack_event_body("app_uninstalled", OTHER_SLACK_TEAM);
    assert_eq!(
        slack_event(s, "slack", secret, now, &elsewhere).await.0,
        StatusCode::OK
    );
    assert_eq!(connections().await.len(), 1, "nothing changed");

    let revoked = slack_event_body("tokens_revoked", SLACK_TEAM);
    assert_eq!(
        slack_event(s, "slack", secret, now, &revoked).await.0,
        StatusCode::OK
    );
    let listed = connections().await;
    assert_eq!(
        (&listed[0]["status"], &listed[0]["statusReason"]),
        (&json!("needs_reconnection"), &json!("tokens_revoked"))
    );
    assert_eq!(
        read_credentials(s, "slack-connection-abc123").await.0,
        StatusCode::CONFLICT
    );

    assert!(!s.list("/v1/channel-endpoints?limit=100").await.is_empty());
    assert_eq!(
        slack_event(s, "slack", secret, now, &uninstall).await.0,
        StatusCode::OK
    );
    assert!(connections().await.is_empty(), "uninstalled: removed");
    assert!(
        s.list("/v1/channel-endpoints?limit=100").await.is_empty(),
        "with its endpoints"
    );
    assert_eq!(
        read_credentials(s, "slack-connection-abc123").await.0,
        StatusCode::NOT_FOUND
    );

    // Installed again; the same signed uninstall, replayed, removes nothing.
    assert_eq!(s.allow(&s.connect(SEED).await).await.status(), StatusCode::OK);
    assert_eq!(
        slack_event(s, "slack", secret, now, &uninstall).await.0,
        StatusCode::OK
    );
    // The same signature in upper-case hex verifies too, and is the same request.
    let upper = {
        use channel_connect::provider::slack::events;
        let key = events::SigningSecret::new(secret).unwrap();
        let sig = events::sign(&key, now, uninstall.as_bytes());
        format!("v0={}", sig.trim_start_matches("v0=").to_ascii_uppercase())
    };
    let replayed = s
        .http
        .post(format!("{}/v1/integrations/slack/events/slack", s.base))
        .header("x-slack-request-timestamp", now.to_string())
        .header("x-slack-signature", upper)
        .body(uninstall.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), StatusCode::OK);
    let listed = connections().await;
    assert_eq!(listed.len(), 1, "a replay acts once");
    assert_eq!(listed[0]["status"], "active", "a re-install works again");
}

/// The Graph stand-in's activity (installs and uninstalls).
pub async fn graph_activity(s: &Server) -> Value {
    serde_json::from_slice(&s.get("/standin/graph/activity").await.bytes().await.unwrap()).unwrap()
}

/// A Teams connect with the user linked: consent, then the proof sign-in;
/// the sign-in's callback answer.
pub async fn teams_flow(s: &Server) -> reqwest::Response {
    let url = s.connect(TEAMS).await;
    let consent = s.allow(&url).await;
    assert_eq!(consent.status(), StatusCode::SEE_OTHER);
    s.allow(&Server::location(&consent)).await
}

/// The Teams app installed for a linked user is visible on the endpoint
/// (`installed`), and removed with its connection (the answer says so).
pub async fn teams_app_rules(s: &Server) {
    let before = graph_activity(s).await;
    assert_eq!(teams_flow(s).await.status(), StatusCode::OK);
    let endpoints = s.list("/v1/channel-endpoints").await;
    assert_eq!(endpoints[0]["appInstallation"], "installed", "{endpoints:?}");
    assert_eq!(
        graph_activity(s).await["installs"],
        json!(before["installs"].as_u64().unwrap() + 1)
    );
    let connection = s.list("/v1/channel-connections").await[0]["identifier"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = s.delete_connection(&connection).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["x-revoked"], "teams_app_installations=1");
    assert_eq!(
        graph_activity(s).await["uninstalls"],
        json!(before["uninstalls"].as_u64().unwrap() + 1)
    );
    assert!(s.list("/v1/channel-endpoints").await.is_empty());
    // Installed again from scratch: the user's app was removed, so it is ours again.
    assert_eq!(teams_flow(s).await.status(), StatusCode::OK);
    assert_eq!(
        s.list("/v1/channel-endpoints").await[0]["appInstallation"],
        "installed"
    );
    a_moved_endpoint_is_not_ours(s).await;
}

/// Two connections in one workspace (two owners) share Slack's one bot
/// token: deleting one revokes nothing, deleting the last revokes it; a
/// token given through the API is the caller's and is never revoked.
async fn shared_and_given_tokens(s: &Server) {
    let before = slack_activity(s).await["revoked"].as_array().unwrap().len();
    let owner = |id: &str| {
        json!({"integrationIdentifier": "slack", "connectionIdentifier": id, "context": {"tenant": id},
               "connectionMode": "shared"})
        .to_string()
    };
    for id in ["shared-a", "shared-b"] {
        assert_eq!(
            s.allow(&s.connect(&owner(id)).await).await.status(),
            StatusCode::OK
        );
    }
    let first = s.delete_connection("shared-a").await;
    assert_eq!(first.status(), StatusCode::NO_CONTENT);
    assert_eq!(first.headers()["x-not-revoked"], "bot_token_in_use");
    assert_eq!(
        slack_activity(s).await["revoked"].as_array().unwrap().len(),
        before
    );
    let last = s.delete_connection("shared-b").await;
    assert_eq!(last.headers()["x-revoked"], "bot_token");
    let given = json!({"identifier": "given", "integrationIdentifier": "slack", "connectionMode": "shared",
        "context": {"tenant": "given"}, "workspace": {"id": "T0GIVEN"}, "auth": {"accessToken": "xoxb-given"}});
    let (status, _, v) = s
        .post(
            "/v1/channel-connections",
            Some(DEMO_API_KEY),
            None,
            &given.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let res = s.delete_connection("given").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers().get("x-revoked").is_none() && res.headers().get("x-not-revoked").is_none());
    let revoked = slack_activity(s).await["revoked"].as_array().unwrap().clone();
    assert!(!revoked.contains(&json!("xoxb-given")), "{revoked:?}");
}

/// An endpoint pointed at another user through the API is no longer this
/// service's to remove the app for: deleting its connection leaves Graph alone.
async fn a_moved_endpoint_is_not_ours(s: &Server) {
    let endpoint = s.list("/v1/channel-endpoints").await[0].clone();
    assert_eq!(endpoint["appInstallation"], "installed");
    let moved = json!({"endpoint": {"userId": "00000000-0000-0000-0000-00000000beef", "tenantId": endpoint["endpoint"]["tenantId"]}});
    let res = s
        .http
        .patch(format!(
            "{}/v1/channel-endpoints/{}",
            s.base,
            endpoint["identifier"].as_str().unwrap()
        ))
        .header("authorization", format!("ApiKey {DEMO_API_KEY}"))
        .header("content-type", "application/json")
        .body(moved.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        s.list("/v1/channel-endpoints").await[0]
            .get("appInstallation")
            .is_none()
    );
    let uninstalls = graph_activity(s).await["uninstalls"].clone();
    let connection = s.list("/v1/channel-connections").await[0]["identifier"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = s.delete_connection(&connection).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(res.headers().get("x-revoked").is_none());
    assert_eq!(graph_activity(s).await["uninstalls"], uninstalls);
}
