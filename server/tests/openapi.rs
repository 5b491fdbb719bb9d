//! The OpenAPI document at `/openapi.json`, checked by real validators:
//! `openapi-spec-validator` (PyPI, pinned in `tests/openapi/requirements.txt`,
//! installed into a venv under the target directory once) validates the
//! served document as OpenAPI 3.1, and `tests/openapi/answers.py` checks
//! the answers a demo server gave to a session that calls every route,
//! successes and refusals, against the schemas the document gives them.
//! (That every served route is in the document is `tests/api.rs`'s.)
//!
//! Without python3 3.10+ with venv the test says so and skips (under CI it
//! fails). `OPENAPI_PYTHON` names the Python.

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use channel_connect_server::config::{DEMO_API_KEY, DEMO_BROWSER_API_KEY, DEMO_CREDENTIALS_KEY};
use common::tools::{skip, tool};
use common::{SEED, Server, venv};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const NEEDS: &str = "python3 3.10+ with venv on PATH (or OPENAPI_PYTHON; Debian: apt-get install python3-venv); \
    then run `cargo test -p channel-connect-server --test openapi`";

/// How long one validator run may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/openapi")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_validates_and_describes_every_answer() {
    let test = "the_served_document_validates_and_describes_every_answer";
    let python = tool("OPENAPI_PYTHON", "python3");
    if !venv::python_ok(&python, (3, 10)) {
        return skip(test, NEEDS);
    }
    let requirements = src().join("requirements.txt");
    let install = tokio::task::spawn_blocking(move || {
        venv::install(&python, "openapi", &requirements, "openapi-spec-validator")
    });
    let s = common::start("openapi-answers").await;
    let answers = session(&s).await;
    let res = s.get("/openapi.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    let document = res.bytes().await.unwrap();

    let venv = match install.await.unwrap() {
        Ok(venv) => venv,
        Err(why) => return skip(test, &format!("openapi-spec-validator from PyPI ({why})")),
    };
    let dir = venv::root("openapi");
    let pid = std::process::id();
    let (doc_path, answers_path) = (
        dir.join(format!("openapi-{pid}.json")),
        dir.join(format!("answers-{pid}.json")),
    );
    fs::write(&doc_path, &document).unwrap();
    fs::write(&answers_path, serde_json::to_vec_pretty(&answers).unwrap()).unwrap();
    let python = venv.join("bin/python");
    let log = dir.join(format!("run-{pid}.log"));

    // The validator's own command line (its module: a moved venv's scripts
    // name the Python of the directory it was built in).
    let out = venv::run(
        std::process::Command::new(&python)
            .args([
                "-m",
                "openapi_spec_validator",
                "--schema",
                "3.1",
                "--validation-errors",
                "all",
            ])
            .arg(&doc_path),
        &log,
        RUN_TIMEOUT,
    )
    .unwrap();
    assert!(
        out.success && out.text.contains(": OK"),
        "openapi-spec-validator refused /openapi.json ({}):\n{}",
        out.status,
        out.text
    );

    let out = venv::run(
        std::process::Command::new(&python)
            .arg(src().join("answers.py"))
            .arg(&doc_path)
            .arg(&answers_path),
        &log,
        RUN_TIMEOUT,
    )
    .unwrap();
    for path in [&doc_path, &answers_path, &log] {
        let _ = fs::remove_file(path);
    }
    assert!(
        out.success && out.text.contains(" 0 do not"),
        "answers that do not match the document ({}):\n{}",
        out.status,
        out.text
    );
    // Shown with --nocapture.
    eprintln!("{}", out.text);
}

/// The answers of one session, for `answers.py`.
struct Recorder<'a> {
    s: &'a Server,
    answers: Vec<Value>,
}

impl Recorder<'_> {
    /// Sends `method path` (with `key` as `Authorization: ApiKey`, `body`
    /// as JSON) and records the answer under `route`, its template.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        route: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.s.base)
        };
        let mut req = self.s.http.request(method.clone(), url);
        if let Some(k) = key {
            req = req.header("authorization", format!("ApiKey {k}"));
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let kind = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = res.bytes().await.unwrap();
        let body = match kind.starts_with("application/json") {
            true => serde_json::from_slice(&bytes).expect("a JSON answer is JSON"),
            false => Value::Null,
        };
        self.answers.push(json!({
            "method": method.as_str(),
            "route": route,
            "status": status.as_u16(),
            "contentType": kind,
            "body": body,
        }));
        (status, headers, body)
    }
}

/// Every route, its successes and its refusals, on a demo server.
async fn session(s: &Server) -> Vec<Value> {
    let mut r = Recorder {
        s,
        answers: Vec::new(),
    };
    let key = Some(DEMO_API_KEY);
    let (get, post, patch, delete, head) = (
        Method::GET,
        Method::POST,
        Method::PATCH,
        Method::DELETE,
        Method::HEAD,
    );

    for route in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let (status, _, _) = r.call(get.clone(), route, route, None, None).await;
        assert_eq!(status, StatusCode::OK, "{route}");
    }

    // Issue: a Slack connect, finished through the stand-in (the callback's page).
    let connect = "/v1/integrations/channel-connections/oauth";
    let seed: Value = serde_json::from_str(SEED).unwrap();
    let (status, _, v) = r
        .call(post.clone(), connect, connect, key, Some(seed.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let allow = s.link(v["url"].as_str().unwrap(), "allow").await;
    let callback = "/v1/integrations/chat/oauth/callback";
    let (status, _, _) = r.call(head.clone(), &allow, callback, None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = r.call(get.clone(), &allow, callback, None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = r.call(get.clone(), &allow, callback, None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a spent state");
    let junk = format!("{callback}?code=c&state=junk");
    r.call(get.clone(), &junk, callback, None, None).await;
    r.call(post.clone(), connect, connect, None, Some(seed.clone()))
        .await;
    r.call(post.clone(), connect, connect, key, Some(json!({}))).await;
    let unknown = json!({"integrationIdentifier": "nope", "subscriberId": "s"});
    r.call(post.clone(), connect, connect, key, Some(unknown)).await;
    let evil = serde_json::from_str(&SEED.replace("org-acme", "org-evil")).unwrap();
    let (status, _, _) = r.call(post.clone(), connect, connect, key, Some(evil)).await;
    assert_eq!(status, StatusCode::CONFLICT, "another owner's connection");

    let link = "/v1/integrations/channel-endpoints/oauth";
    let teams_user = json!({"integrationIdentifier": "msteams", "subscriberId": "s1"});
    let (status, _, _) = r
        .call(post.clone(), link, link, key, Some(teams_user.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    r.call(
        post.clone(),
        link,
        link,
        key,
        Some(json!({"integrationIdentifier": "msteams"})),
    )
    .await;
    let legacy = "/v1/integrations/chat/oauth";
    let mut linking = teams_user.clone();
    linking["mode"] = json!("link_user");
    let (status, _, _) = r.call(post.clone(), legacy, legacy, key, Some(linking)).await;
    assert_eq!(status, StatusCode::CREATED);
    r.call(
        post.clone(),
        legacy,
        legacy,
        key,
        Some(json!({"integrationIdentifier": "slack", "mode": "x"})),
    )
    .await;
    let chat_link = "/v1/integrations/channel-endpoints/link";
    let slack_link = json!({"integrationIdentifier": "slack", "subscriberId": "s1"});
    let (status, _, _) = r
        .call(post.clone(), chat_link, chat_link, key, Some(slack_link))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    r.call(post.clone(), chat_link, chat_link, key, Some(json!({})))
        .await;

    // Browser binding: the start link, HEAD (nothing spent), GET, GET again.
    let (status, _, v) = r
        .call(
            post.clone(),
            connect,
            connect,
            Some(DEMO_BROWSER_API_KEY),
            Some(seed.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let start = v["url"].as_str().unwrap().to_owned();
    let start_route = "/v1/integrations/chat/oauth/start/{id}";
    for expected in [StatusCode::OK, StatusCode::SEE_OTHER, StatusCode::NOT_FOUND] {
        let method = if expected == StatusCode::OK {
            head.clone()
        } else {
            get.clone()
        };
        let (status, _, _) = r.call(method, &start, start_route, None, None).await;
        assert_eq!(status, expected, "{start}");
    }

    // Connections: list, one, create, update, credentials, delete.
    let list = "/v1/channel-connections";
    let (status, _, v) = r.call(get.clone(), list, list, key, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    r.call(get.clone(), "/v1/channel-connections?limit=0", list, key, None)
        .await;
    r.call(
        get.clone(),
        "/v1/channel-connections?connectionMode=shared&contextKeys=a:b&contextKeys=c:d",
        list,
        key,
        None,
    )
    .await;
    r.call(get.clone(), list, list, None, None).await;
    let one = "/v1/channel-connections/{identifier}";
    let (status, _, _) = r
        .call(
            get.clone(),
            "/v1/channel-connections/slack-connection-abc123",
            one,
            key,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    r.call(get.clone(), "/v1/channel-connections/nope", one, key, None)
        .await;
    let made = json!({"identifier": "api-made", "integrationIdentifier": "slack", "subscriberId": "s9",
        "context": {"org": "acme", "team": {"id": "t1", "data": {"plan": "pro"}}},
        "workspace": {"id": "T0DEMO00001", "name": "Demo"},
        "auth": {"accessToken": "xoxb-written", "expiresAt": "2030-01-01T00:00:00Z",
            "refreshTokenExpiresAt": "2030-03-01T00:00:00Z"}});
    let (status, _, v) = r.call(post.clone(), list, list, key, Some(made.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    r.call(post.clone(), list, list, key, Some(made)).await;
    r.call(
        post.clone(),
        list,
        list,
        key,
        Some(json!({"integrationIdentifier": "slack"})),
    )
    .await;
    let update =
        json!({"workspace": {"id": "T0DEMO00001", "botUserId": "U1"}, "auth": {"accessToken": "xoxb-new"}});
    let (status, _, v) = r
        .call(
            patch.clone(),
            "/v1/channel-connections/api-made",
            one,
            key,
            Some(update),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let moved = json!({"workspace": {"id": "T-OTHER"}, "auth": {"accessToken": "xoxb-new"}});
    let (status, _, _) = r
        .call(
            patch.clone(),
            "/v1/channel-connections/api-made",
            one,
            key,
            Some(moved),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let credentials = "/v1/channel-connections/{identifier}/credentials";
    for (id, k) in [
        ("slack-connection-abc123", DEMO_CREDENTIALS_KEY),
        ("api-made", DEMO_CREDENTIALS_KEY),
        ("slack-connection-abc123", DEMO_API_KEY),
        ("nope", DEMO_CREDENTIALS_KEY),
    ] {
        let path = format!("/v1/channel-connections/{id}/credentials");
        r.call(get.clone(), &path, credentials, Some(k), None).await;
    }

    // Endpoints: list, create, one, update, delete.
    let endpoints = "/v1/channel-endpoints";
    let (status, _, _) = r.call(get.clone(), endpoints, endpoints, key, None).await;
    assert_eq!(status, StatusCode::OK);
    r.call(
        get.clone(),
        "/v1/channel-endpoints?orderBy=nope",
        endpoints,
        key,
        None,
    )
    .await;
    let endpoint = json!({"identifier": "e1", "subscriberId": "s9", "integrationIdentifier": "slack",
        "connectionIdentifier": "api-made", "context": {"org": "acme", "team": "t1"},
        "type": "slack_channel", "endpoint": {"channelId": "C1"}});
    let (status, _, v) = r
        .call(post.clone(), endpoints, endpoints, key, Some(endpoint))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let hook = json!({"subscriberId": "s9", "integrationIdentifier": "slack", "type": "webhook",
        "endpoint": {"url": "https://hooks.slack.com/services/T/B/x", "channel": "#general"}});
    let (status, _, v) = r.call(post.clone(), endpoints, endpoints, key, Some(hook)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let bad = json!({"subscriberId": "s9", "integrationIdentifier": "slack", "type": "sms", "endpoint": {}});
    r.call(post.clone(), endpoints, endpoints, key, Some(bad)).await;
    let one = "/v1/channel-endpoints/{identifier}";
    let (status, _, _) = r
        .call(get.clone(), "/v1/channel-endpoints/e1", one, key, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    r.call(get.clone(), "/v1/channel-endpoints/nope", one, key, None)
        .await;
    let target = json!({"endpoint": {"channelId": "C2"}});
    let (status, _, _) = r
        .call(patch.clone(), "/v1/channel-endpoints/e1", one, key, Some(target))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = r
        .call(delete.clone(), "/v1/channel-endpoints/e1", one, key, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    r.call(delete.clone(), "/v1/channel-endpoints/e1", one, key, None)
        .await;

    let one = "/v1/channel-connections/{identifier}";
    let (status, _, _) = r
        .call(delete.clone(), "/v1/channel-connections/api-made", one, key, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    r.call(delete.clone(), "/v1/channel-connections/api-made", one, key, None)
        .await;

    // Slack's events: unsigned, and an integration without a signing secret.
    let events = "/v1/integrations/slack/events/{integrationIdentifier}";
    let body = json!({"type": "url_verification", "challenge": "c"});
    let (status, _, _) = r
        .call(
            post.clone(),
            "/v1/integrations/slack/events/slack",
            events,
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    r.call(
        post,
        "/v1/integrations/slack/events/nope",
        events,
        None,
        Some(body),
    )
    .await;
    r.answers
}
