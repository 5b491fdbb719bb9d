//! What the service's log says: routes, never secrets (start ids, codes,
//! states, cookies, keys), and a provider failure with its cause.

mod common;

use common::process::{Process, spawn_with_slack};
use common::*;
use reqwest::StatusCode;

fn log_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-log.txt"))
}

#[tokio::test]
async fn the_log_names_routes_never_start_ids_codes_or_states() {
    let port = free_port();
    let log = log_file("secrets");
    let mut p = Process::spawn_with("secrets-log", port, &["--demo"], None, Some(&log));
    let s = &p.server;
    // A bound flow: its start link's id is a bearer secret.
    let (_, _, v) = s
        .post(
            "/v1/integrations/channel-connections/oauth",
            Some(channel_connect_server::config::DEMO_BROWSER_API_KEY),
            None,
            SEED,
        )
        .await;
    let start = v["url"].as_str().unwrap().to_owned();
    let id = start.rsplit('/').next().unwrap().to_owned();
    let res = s.get(&start).await;
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let callback = s.link(&Server::location(&res), "allow").await;
    let done = s
        .http
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let missing = s
        .get("/v1/integrations/chat/oauth/start/another-id-that-is-secret")
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    p.terminate();
    assert!(p.wait_exit().success());

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("/v1/integrations/chat/oauth/start/{id}"), "{text}");
    let query = callback.split_once('?').unwrap().1;
    let code = query.split('&').find_map(|kv| kv.strip_prefix("code=")).unwrap();
    let state = query.split('&').find_map(|kv| kv.strip_prefix("state=")).unwrap();
    let cookie_value = cookie.split_once('=').unwrap().1;
    for secret in [
        id.as_str(),
        "another-id-that-is-secret",
        code,
        state,
        cookie_value,
        "demo-browser-secret-key",
    ] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
}

#[tokio::test]
async fn a_provider_failure_is_logged_with_its_provider_operation_and_cause() {
    // Slack's token endpoint where nothing listens.
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let log = log_file("unreachable");
    let mut p = spawn_with_slack("unreachable", &nobody, &[], None, Some(&log));
    let base = p.server.base.clone();
    let url = p.server.connect(SEED).await;
    let state = url.split("state=").nth(1).unwrap().split('&').next().unwrap();
    let code = "a-code-that-must-not-be-logged";
    let res = p
        .server
        .get(&format!(
            "{base}/v1/integrations/chat/oauth/callback?code={code}&state={state}"
        ))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_GATEWAY);
    assert!(res.text().await.unwrap().contains("could not be reached"));
    p.terminate();
    assert!(p.wait_exit().success());

    let text = std::fs::read_to_string(&log).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("provider call failed"))
        .unwrap_or_else(|| panic!("no provider failure logged:\n{text}"));
    for part in ["slack", "token exchange", "could not connect", "refused"] {
        assert!(line.contains(part), "{part} missing from {line}");
    }
    assert!(!text.contains(code) && !text.contains(state), "{text}");
    assert!(!text.contains("demo-slack-client-secret"), "{text}");
}

/// A credentials read is an audit line naming the environment and the
/// connection; no token reaches the log (read, refreshed or revoked).
#[tokio::test]
async fn a_credentials_read_is_an_audit_line_without_the_token() {
    let log = log_file("audit");
    let mut p = Process::spawn_with("audit-log", free_port(), &["--demo"], None, Some(&log));
    let s = &p.server;
    assert_eq!(s.allow(&s.connect(SEED).await).await.status(), StatusCode::OK);
    assert_eq!(
        s.allow(&s.connect(&rotating_body("audited")).await)
            .await
            .status(),
        StatusCode::OK
    );
    let (status, bot) = read_credentials(s, "slack-connection-abc123").await;
    assert_eq!(status, StatusCode::OK);
    let (status, rotated) = read_credentials(s, "audited").await;
    assert_eq!(status, StatusCode::OK);
    let deleted = s.delete_connection("slack-connection-abc123").await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    p.terminate();
    assert!(p.wait_exit().success());

    let text = std::fs::read_to_string(&log).unwrap();
    let audit: Vec<&str> = text.lines().filter(|l| l.contains("credentials read")).collect();
    assert_eq!(audit.len(), 2, "{text}");
    assert!(
        audit[0].contains(DEMO_ENV) && audit[0].contains("slack-connection-abc123"),
        "{text}"
    );
    assert!(text.contains("tokens refreshed"), "{text}");
    for secret in [
        bot["data"]["auth"]["accessToken"].as_str().unwrap(),
        rotated["data"]["auth"]["accessToken"].as_str().unwrap(),
        "xoxe",
        "demo-credentials-key",
        "demo-slack-client-secret",
    ] {
        assert!(!text.contains(secret), "{secret} in the log:\n{text}");
    }
}

/// A process on the demo configuration (as a file: no demo banner on
/// stdout), its output in `log`, with `env` set.
fn configured(name: &str, log: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Process {
    let port = free_port();
    let config = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-config.json"));
    let text = channel_connect_server::config::Config::demo_text(&format!("http://127.0.0.1:{port}"));
    std::fs::write(&config, text).unwrap();
    let all = [&["--config", config.to_str().unwrap()][..], args].concat();
    Process::spawn_with_env(name, port, &all, None, Some(log), env)
}

/// With `--log-format json` every line is a JSON object; a request's lines
/// carry its id, the one echoed in `x-request-id`; a client's made-up id
/// is replaced, a proxy's plain one kept.
#[tokio::test]
async fn json_logs_carry_each_request_id() {
    let log = log_file("json");
    let mut p = configured(
        "json-log",
        &log,
        &["--log-format", "json"],
        &[("RUST_LOG", "info")],
    );
    let s = &p.server;
    let (status, headers, _) = s
        .post(
            "/v1/integrations/channel-connections/oauth",
            Some("demo-secret-key"),
            None,
            SEED,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let kept = s
        .http
        .get(format!("{}/healthz", s.base))
        .header("x-request-id", "proxy-7f3a.1")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "proxy-7f3a.1");
    let replaced = s
        .http
        .get(format!("{}/healthz", s.base))
        .header("x-request-id", "a b\"c")
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "a b\"c");
    p.terminate();
    assert!(p.wait_exit().success());

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let requests: Vec<&serde_json::Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert_eq!(requests.len(), 3, "{text}");
    for line in &requests {
        assert!(
            line["span"]["request_id"].as_str().is_some_and(|i| !i.is_empty()),
            "{line}"
        );
    }
    assert_eq!(requests[0]["span"]["request_id"], serde_json::json!(id));
    assert_eq!(
        requests[0]["span"]["route"],
        "/v1/integrations/channel-connections/oauth"
    );
}

/// `RUST_LOG=warn` silences the request lines; the result page shows the
/// request id a user can quote.
#[tokio::test]
async fn rust_log_filters_and_the_result_page_quotes_the_request_id() {
    let log = log_file("warn");
    let mut p = Process::spawn_with_env(
        "warn-log",
        free_port(),
        &["--demo"],
        None,
        Some(&log),
        &[("RUST_LOG", "warn")],
    );
    let s = &p.server;
    let page = s
        .get("/v1/integrations/chat/oauth/callback?state=forged&code=x")
        .await;
    let id = page.headers()["x-request-id"].to_str().unwrap().to_owned();
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("Request id: <code>{id}</code>")), "{html}");
    p.terminate();
    assert!(p.wait_exit().success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("route="), "no request line at warn: {text}");
}
