//! The API over real HTTP on loopback: the demo server (API and stand-ins)
//! on an ephemeral port, driven the way a customer backend and a browser
//! would, and attacked the way a third party would.

mod common;

use channel_connect_server::config::{Config, DEMO_API_KEY};
use channel_connect_server::demo::standin::{SLACK_TEAM, TENANT, USER_OID};
use channel_connect_server::os_entropy;
use channel_connect_server::store::Idempotency;
use channel_connect_server::store::sqlite::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;

use common::*;

#[tokio::test]
async fn slack_seed_install_is_stored_listed_and_sealed() {
    let s = start("slack-seed").await;
    let url = s.connect(SEED).await;
    assert!(url.starts_with(&format!("{}/standin/slack/oauth/v2/authorize?state=", s.base)));
    let link = s.link(&url, "allow").await;
    let res = s.get(&link).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("You&#39;re all set"), "{page}");

    let connections = s.list("/v1/channel-connections").await;
    assert_eq!(connections.len(), 1);
    assert_eq!(connections[0]["identifier"], "slack-connection-abc123");
    assert_eq!(connections[0]["workspace"]["id"], SLACK_TEAM);
    // Novu's SDKs need auth.accessToken to be a string: it is never the token.
    assert_eq!(connections[0]["auth"], json!({"accessToken": "[redacted]"}));
    assert!(!serde_json::to_string(&connections).unwrap().contains("xoxb"));
    let one = s.list("/v1/channel-connections?subscriberId=nobody").await;
    assert!(one.is_empty());
    let res = s.get("/v1/channel-connections/slack-connection-abc123").await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the single read needs the key too"
    );

    // autoLinkUser with a subscriber: the installer is linked.
    let endpoints = s.list("/v1/channel-endpoints?subscriberId=subscriber-123").await;
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0]["type"], "slack_user");

    // The same callback again: refused, nothing stored twice.
    let again = s.get(&link).await;
    refused_state(again).await;
    assert_eq!(s.list("/v1/channel-connections").await.len(), 1);
    assert_eq!(s.list("/v1/channel-endpoints").await.len(), 1);

    // A re-install updates the same connection.
    let url = s.connect(SEED).await;
    assert_eq!(s.allow(&url).await.status(), StatusCode::OK);
    assert_eq!(s.list("/v1/channel-connections").await.len(), 1);
    assert_eq!(s.list("/v1/channel-endpoints").await.len(), 1);

    // The bot token is in the database only sealed.
    let bytes = s.db_bytes();
    assert!(
        contains(&bytes, "slack-connection-abc123"),
        "the test reads the right file"
    );
    assert!(
        !contains(&bytes, "xoxb-"),
        "a token is readable in the database file"
    );
}

#[tokio::test]
async fn slack_incoming_webhook_url_is_sealed_and_never_listed() {
    let s = start("slack-webhook").await;
    let body = r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-9","connectionMode":"subscriber","scope":["incoming-webhook"]}"#;
    let url = s.connect(body).await;
    assert_eq!(s.allow(&url).await.status(), StatusCode::OK);
    let connections = s.list("/v1/channel-connections?subscriberId=subscriber-9").await;
    assert_eq!(connections.len(), 1, "subscriber mode: owned by the subscriber");
    let endpoints = s.list("/v1/channel-endpoints?subscriberId=subscriber-9").await;
    let hook = endpoints
        .iter()
        .find(|e| e["type"] == "webhook")
        .expect("a webhook endpoint");
    assert_eq!(hook["endpoint"]["url"], "[redacted]", "{hook}");
    let text = serde_json::to_string(&endpoints).unwrap();
    assert!(!text.contains("hooks.slack.com"));
    let bytes = s.db_bytes();
    assert!(contains(&bytes, "subscriber-9"), "the test reads the right file");
    assert!(!contains(&bytes, "demo-webhook-secret"));
}

#[tokio::test]
async fn teams_consent_then_proof_sign_in_then_link() {
    let s = start("teams").await;
    let url = s.connect(TEAMS).await;
    assert!(
        url.contains("/standin/microsoft/organizations/v2.0/adminconsent?"),
        "{url}"
    );
    let consent = s.allow(&url).await;
    assert_eq!(
        consent.status(),
        StatusCode::SEE_OTHER,
        "the consent leads to the proof sign-in"
    );
    let next = Server::location(&consent);
    assert!(
        next.starts_with(&format!(
            "{}/standin/microsoft/{TENANT}/oauth2/v2.0/authorize?",
            s.base
        )),
        "{next}"
    );
    assert!(
        s.list("/v1/channel-connections").await.is_empty(),
        "a consent alone stores nothing"
    );
    let done = s.allow(&next).await;
    assert_eq!(done.status(), StatusCode::OK);
    let connections = s.list("/v1/channel-connections").await;
    assert_eq!(connections.len(), 1);
    assert_eq!(connections[0]["workspace"]["id"], TENANT);
    let endpoints = s.list("/v1/channel-endpoints").await;
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0]["type"], "ms_teams_user");
    assert_eq!(endpoints[0]["endpoint"]["userId"], USER_OID);
    assert_eq!(endpoints[0]["connectionIdentifier"], connections[0]["identifier"]);
    // The app was installed for the user: a second install is a conflict.
    let again = s
        .http
        .post(format!(
            "{}/standin/graph/v1.0/users/{USER_OID}/teamwork/installedApps",
            s.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn a_forged_tenant_in_the_consent_callback_gets_nothing() {
    let s = start("teams-forged").await;
    let url = s.connect(TEAMS).await;
    // The attacker never consents: they write the victim's tenant into the callback.
    let allow = s.link(&url, "allow").await.replace(TENANT, VICTIM);
    let consent = s.get(&allow).await;
    assert_eq!(consent.status(), StatusCode::SEE_OTHER);
    let next = Server::location(&consent);
    assert!(
        next.contains(&format!("/{VICTIM}/oauth2/")),
        "the proof happens in the claimed tenant"
    );
    // Whoever signs in belongs to another tenant than the claimed one: refused.
    let done = s.allow(&next).await;
    assert_eq!(done.status(), StatusCode::FORBIDDEN);
    let page = done.text().await.unwrap();
    assert!(page.contains("Connection failed"), "{page}");
    assert!(s.list("/v1/channel-connections").await.is_empty());
    assert!(s.list("/v1/channel-endpoints").await.is_empty());
}

#[tokio::test]
async fn denial_at_the_provider_stores_nothing_and_the_page_escapes() {
    let s = start("denied").await;
    let url = s.connect(SEED).await;
    let cancel = s.link(&url, "cancel").await;
    let res = s.get(&cancel).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .split(';')
            .next(),
        Some("default-src 'none'")
    );
    assert!(s.list("/v1/channel-connections").await.is_empty());

    // A description written by whoever crafted the link is shown escaped, if at all.
    let url = s.connect(SEED).await;
    let state = url.split("state=").nth(1).unwrap().split('&').next().unwrap();
    let res = s
        .get(&format!("/v1/integrations/chat/oauth/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state={state}"))
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(!page.contains("<script>"), "{page}");
}

/// The page's one `<style>` element is what its policy allows, by hash,
/// under `default-src 'none'`, and nothing else runs or loads.
fn assert_style_allowed_by_hash(policy: &str, page: &str) {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    assert_eq!(page.matches("<style>").count(), 1, "{page}");
    let style = page
        .split("<style>")
        .nth(1)
        .unwrap()
        .split("</style>")
        .next()
        .unwrap();
    assert!(style.contains("prefers-color-scheme:dark"), "{style}");
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(style.as_bytes()));
    let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
    assert_eq!(directives[0], "default-src 'none'", "{policy}");
    assert!(
        directives.contains(&format!("style-src 'sha256-{hash}'").as_str()),
        "the policy allows the page's style by its hash: {policy}"
    );
    assert!(directives.contains(&"base-uri 'none'"), "{policy}");
    assert!(directives.contains(&"frame-ancestors 'none'"), "{policy}");
    assert!(
        !policy.contains("unsafe-inline") && !policy.contains("script-src"),
        "{policy}"
    );
    assert!(!page.contains("<script") && !page.contains(" style="), "{page}");
}

#[tokio::test]
async fn result_pages_name_the_workspace_and_say_what_to_do_in_plain_words() {
    let s = start("result-pages").await;
    let policy = |res: &reqwest::Response| {
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned()
    };

    // The demo page and the stand-in's page: the same style, allowed the same way.
    let res = s.get("/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = policy(&res);
    assert!(csp.contains("form-action 'self'"), "{csp}");
    assert_style_allowed_by_hash(&csp, &res.text().await.unwrap());
    let url = s.connect(SEED).await;
    let res = s.get(&url).await;
    let csp = policy(&res);
    assert_style_allowed_by_hash(&csp, &res.text().await.unwrap());

    // Success: the provider and the workspace by name.
    let link = s.link(&url, "allow").await;
    let res = s.get(&link).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = policy(&res);
    assert!(csp.contains("form-action 'none'"), "{csp}");
    let page = res.text().await.unwrap();
    assert_style_allowed_by_hash(&csp, &page);
    assert!(
        page.contains("<h1 id=\"result\">You&#39;re all set</h1>"),
        "{page}"
    );
    assert!(
        page.contains("Slack workspace Demo Workspace is connected, and your Slack account is linked to it."),
        "{page}"
    );
    assert!(page.contains("You can close this window"), "{page}");
    assert!(page.contains("class=\"ok\""), "{page}");

    // The same link again: already used, said plainly, with what to do
    // and the request id; the service's own message below.
    let res = s.get(&link).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let csp = policy(&res);
    let page = res.text().await.unwrap();
    assert_style_allowed_by_hash(&csp, &page);
    assert!(page.contains("class=\"fail\""), "{page}");
    for said in [
        "<h1 id=\"result\">Connection failed</h1>",
        "<p id=\"message\" class=\"lead\">This link has expired or was already used.</p>",
        "Go back to the app and start again.",
        "Details: Invalid OAuth state parameter",
        &format!("Request id: <code>{id}</code>"),
    ] {
        assert!(page.contains(said), "{said}: {page}");
    }
    // A forged state: the same words (the page tells no attacker which check failed).
    let forged = link.replace("state=", "state=x");
    let page = s.get(&forged).await.text().await.unwrap();
    assert!(
        page.contains("This link has expired or was already used."),
        "{page}"
    );

    // Cancelled at the provider.
    let url = s.connect(SEED).await;
    let res = s.get(&s.link(&url, "cancel").await).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let page = res.text().await.unwrap();
    assert!(page.contains("The connection was cancelled."), "{page}");
    assert!(page.contains("start again and approve the request"), "{page}");

    // Teams: the tenant, by id (Microsoft sends no name).
    let url = s.connect(TEAMS).await;
    let proof = Server::location(&s.allow(&url).await);
    let res = s.allow(&proof).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&format!("Microsoft Teams tenant {TENANT} is connected")),
        "{page}"
    );

    // A link of a user alone.
    let body = r#"{"integrationIdentifier":"slack","subscriberId":"s-7","connectionIdentifier":"slack-connection-abc123","context":{"property1":"org-acme","property2":"org-acme"}}"#;
    let (status, _, v) = s.post(LINK, Some(DEMO_API_KEY), None, body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let res = s.allow(v["url"].as_str().unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("Your Slack account is linked."), "{page}");

    // A conflict: the refusal's own words, and whom to ask.
    let gone = r#"{"integrationIdentifier":"slack","subscriberId":"s-9","connectionIdentifier":"nope"}"#;
    let (status, _, v) = s.post(LINK, Some(DEMO_API_KEY), None, gone).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let res = s.allow(v["url"].as_str().unwrap()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("The connection this link names no longer exists."),
        "{page}"
    );
    assert!(page.contains("ask the workspace&#39;s owner"), "{page}");
}

#[tokio::test]
async fn forged_and_missing_states_are_refused() {
    let s = start("forged").await;
    let url = s.connect(SEED).await;
    let link = s.link(&url, "allow").await;
    let state = link.split("state=").nth(1).unwrap().to_owned();
    // One character changed in the MAC.
    let mut forged = state.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = link.replace(&state, std::str::from_utf8(&forged).unwrap());
    for bad in [forged, link.split("&state=").next().unwrap().to_owned()] {
        let res = s.get(&bad).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert!(s.list("/v1/channel-connections").await.is_empty());
    // The genuine one still works: the refusals consumed nothing.
    assert_eq!(s.get(&link).await.status(), StatusCode::OK);
}

fn six_minutes_ago() -> OffsetDateTime {
    OffsetDateTime::now_utc() - time::Duration::seconds(360)
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    // Two servers on the same keys: the first issues with a clock six
    // minutes behind, the second receives the callback now.
    let early = start_with_clock("expired-issuer", six_minutes_ago).await;
    let url = early.connect(SEED).await;
    let state = url
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let s = start("expired").await;
    let res = s
        .get(&format!(
            "/v1/integrations/chat/oauth/callback?code=standin-code-1&state={state}"
        ))
        .await;
    refused_state(res).await;
    assert!(s.list("/v1/channel-connections").await.is_empty());
}

#[tokio::test]
async fn the_api_key_is_required_and_selects_the_environment() {
    let s = start("apikey").await;
    let path = "/v1/integrations/channel-connections/oauth";
    for key in [None, Some("demo-secret-kez"), Some(""), Some("DEMO-SECRET-KEY")] {
        let (status, _, body) = s.post(path, key, None, SEED).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{key:?}");
        assert_eq!(body["statusCode"], 401);
    }
    let bearer = s
        .http
        .post(format!("{}{path}", s.base))
        .header("authorization", format!("Bearer {DEMO_API_KEY}"))
        .body(SEED)
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
    for list in [
        "/v1/channel-connections",
        "/v1/channel-endpoints",
        "/v1/channel-connections/x",
    ] {
        assert_eq!(s.get(list).await.status(), StatusCode::UNAUTHORIZED, "{list}");
    }
    let (status, _, body) = s
        .post("/v1/integrations/channel-endpoints/oauth", None, None, SEED)
        .await;
    assert_eq!(
        (status, body["statusCode"].clone()),
        (StatusCode::UNAUTHORIZED, json!(401))
    );
}

#[tokio::test]
async fn request_errors_answer_novus_bodies() {
    let s = start("errors").await;
    let path = "/v1/integrations/channel-connections/oauth";
    let (status, _, body) = s
        .post(
            path,
            Some(DEMO_API_KEY),
            None,
            r#"{"integrationIdentifier":"nope"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["statusCode"], 404);
    let (status, _, _) = s.post(path, Some(DEMO_API_KEY), None, "not json").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _, _) = s
        .post(path, Some(DEMO_API_KEY), None, &" ".repeat(600 * 1024))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn idempotency_keys_follow_novu() {
    let s = start("idempotency").await;
    let path = "/v1/integrations/channel-connections/oauth";
    let (first, h1, b1) = s.post(path, Some(DEMO_API_KEY), Some("key-1"), SEED).await;
    assert_eq!(first, StatusCode::CREATED);
    assert!(h1.get("idempotency-replay").is_none());
    let (second, h2, b2) = s.post(path, Some(DEMO_API_KEY), Some("key-1"), SEED).await;
    assert_eq!(second, StatusCode::CREATED);
    assert_eq!(h2["idempotency-replay"], "true");
    assert_eq!(b1, b2, "the cached answer, not a new state");
    // Another body under the same key.
    let (status, _, _) = s.post(path, Some(DEMO_API_KEY), Some("key-1"), TEAMS).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // The same body on the other route is another request.
    let (status, _, _) = s
        .post(
            "/v1/integrations/channel-endpoints/oauth",
            Some(DEMO_API_KEY),
            Some("key-1"),
            SEED,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Errors are cached too.
    let bad = r#"{"integrationIdentifier":"nope"}"#;
    let (e1, _, _) = s.post(path, Some(DEMO_API_KEY), Some("key-2"), bad).await;
    let (e2, h, _) = s.post(path, Some(DEMO_API_KEY), Some("key-2"), bad).await;
    assert_eq!((e1, e2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(h["idempotency-replay"], "true");
    // Too long a key.
    let (status, _, _) = s
        .post(path, Some(DEMO_API_KEY), Some(&"k".repeat(256)), SEED)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = s
        .post(path, Some(DEMO_API_KEY), Some(&"k".repeat(255)), SEED)
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[test]
fn an_idempotency_key_in_flight_is_a_conflict() {
    let key = [7u8; 32];
    let store = Store::in_memory(&key, os_entropy).unwrap();
    assert_eq!(
        store.idempotency_begin("env", "k", b"h", 100).unwrap(),
        Idempotency::Fresh
    );
    assert_eq!(
        store.idempotency_begin("env", "k", b"h", 101).unwrap(),
        Idempotency::InFlight
    );
    assert_eq!(
        store.idempotency_begin("other-env", "k", b"h", 101).unwrap(),
        Idempotency::Fresh,
        "scoped per environment"
    );
    store.idempotency_finish("env", "k", 201, "{}").unwrap();
    assert!(matches!(
        store.idempotency_begin("env", "k", b"h", 102).unwrap(),
        Idempotency::Replay { status: 201, .. }
    ));
    // A day later the key is free again.
    let later = 102 + channel_connect_server::store::IDEMPOTENCY_TTL_SECS + 1;
    assert_eq!(
        store.idempotency_begin("env", "k", b"other", later).unwrap(),
        Idempotency::Fresh
    );
}

const BROWSER_KEY: &str = channel_connect_server::config::DEMO_BROWSER_API_KEY;

/// A start URL's cookie, as `name=value`.
fn set_cookie(res: &reqwest::Response) -> String {
    let header = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        header.contains("HttpOnly") && header.contains("SameSite=Lax"),
        "{header}"
    );
    assert!(
        !header.contains("Secure"),
        "loopback http: a Secure cookie would be dropped"
    );
    header.split(';').next().unwrap().to_owned()
}

/// A bound flow started in a browser: its binding cookie and the provider
/// page's "Allow" link (the callback, or Microsoft's consent answer).
async fn bound_allow(s: &Server, body: &str) -> (String, String) {
    let path = "/v1/integrations/channel-connections/oauth";
    let (_, _, v) = s.post(path, Some(BROWSER_KEY), None, body).await;
    let res = s.get(v["url"].as_str().unwrap()).await;
    let cookie = set_cookie(&res);
    (cookie, s.link(&Server::location(&res), "allow").await)
}

#[tokio::test]
async fn browser_binding_ties_the_callback_to_the_browser_that_started() {
    let s = start("binding").await;
    let path = "/v1/integrations/channel-connections/oauth";
    let (status, _, v) = s.post(path, Some(BROWSER_KEY), None, SEED).await;
    assert_eq!(status, StatusCode::CREATED);
    let start_url = v["url"].as_str().unwrap().to_owned();
    assert!(
        start_url.starts_with(&format!("{}/v1/integrations/chat/oauth/start/", s.base)),
        "{start_url}"
    );
    let res = s.get(&start_url).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookie(&res);
    let provider = Server::location(&res);
    assert_eq!(
        s.get(&start_url).await.status(),
        StatusCode::NOT_FOUND,
        "a start URL works once"
    );

    // Another browser (no cookie, or another one) cannot finish the flow.
    let link = s.link(&provider, "allow").await;
    let res = s.get(&link).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let other = s
        .http
        .get(&link)
        .header("cookie", "cc_bind=another-browser")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::BAD_REQUEST);
    assert!(s.list("/v1/channel-connections").await.is_empty());
    let list = |key| {
        s.http
            .get(format!("{}/v1/channel-connections", s.base))
            .header("authorization", format!("ApiKey {key}"))
    };
    let listed: Value =
        serde_json::from_slice(&list(BROWSER_KEY).send().await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 0);

    // The browser that started, with a fresh flow: connected, cookie cleared.
    let (_, _, v) = s.post(path, Some(BROWSER_KEY), None, SEED).await;
    let res = s.get(v["url"].as_str().unwrap()).await;
    let cookie2 = set_cookie(&res);
    assert_ne!(cookie, cookie2);
    let link = s.link(&Server::location(&res), "allow").await;
    let done = s.http.get(&link).header("cookie", &cookie2).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(
        done.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let listed: Value =
        serde_json::from_slice(&list(BROWSER_KEY).send().await.unwrap().bytes().await.unwrap()).unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(
        s.list("/v1/channel-connections").await.is_empty(),
        "the other environment sees none of it"
    );
}

#[tokio::test]
async fn browser_binding_survives_the_teams_second_redirect() {
    let s = start("binding-teams").await;
    let (cookie, consent_link) = bound_allow(&s, TEAMS).await;
    let consent = s
        .http
        .get(&consent_link)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(consent.status(), StatusCode::SEE_OTHER);
    assert!(
        consent.headers().get("set-cookie").is_none(),
        "the cookie is kept for the sign-in"
    );
    let sign_in = s.link(&Server::location(&consent), "allow").await;
    // Without the cookie, the proof sign-in is refused too.
    assert_eq!(s.get(&sign_in).await.status(), StatusCode::BAD_REQUEST);
    let done = s
        .http
        .get(&sign_in)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_user_is_linked_to_an_existing_connection_through_the_link_endpoint() {
    let s = start("link-user").await;
    let shared = r#"{"integrationIdentifier":"slack","connectionIdentifier":"acme-slack","context":{"tenant":"acme"},"connectionMode":"shared"}"#;
    let url = s.connect(shared).await;
    assert_eq!(s.allow(&url).await.status(), StatusCode::OK);
    assert!(
        s.list("/v1/channel-endpoints").await.is_empty(),
        "a shared install links nobody"
    );
    let one = s.get_with_key("/v1/channel-connections/acme-slack").await;
    assert_eq!(one.status(), StatusCode::OK);
    let v: Value = serde_json::from_slice(&one.bytes().await.unwrap()).unwrap();
    assert_eq!(v["data"]["workspace"]["id"], SLACK_TEAM);
    let missing = s.get_with_key("/v1/channel-connections/nope").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let link = r#"{"integrationIdentifier":"slack","subscriberId":"subscriber-7","connectionIdentifier":"acme-slack","context":{"tenant":"acme"}}"#;
    let (status, _, v) = s
        .post(
            "/v1/integrations/channel-endpoints/oauth",
            Some(DEMO_API_KEY),
            None,
            link,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(s.allow(v["url"].as_str().unwrap()).await.status(), StatusCode::OK);
    let endpoints = s
        .list("/v1/channel-endpoints?connectionIdentifier=acme-slack")
        .await;
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0]["subscriberId"], "subscriber-7");
    assert_eq!(endpoints[0]["type"], "slack_user");
    assert_eq!(
        s.list("/v1/channel-connections").await.len(),
        1,
        "linking adds no connection"
    );
    // The link URL is pinned to the connection's team.
    assert!(
        v["url"].as_str().unwrap().contains(&format!("team={SLACK_TEAM}")),
        "{v}"
    );
}

const LINK: &str = "/v1/integrations/channel-endpoints/oauth";

#[tokio::test]
async fn a_user_link_ends_in_the_connections_own_workspace_or_not_at_all() {
    let s = start("link-pinned").await;
    // A Slack connection of another team than the one the stand-in's user is in.
    let key = channel_connect_server::config::Config::demo(&s.base)
        .unwrap()
        .token_keys;
    let store = Store::open(&s.db, &key, os_entropy).unwrap();
    let other_team: channel_connect::records::StoredRecords = serde_json::from_value(json!({
        "connection": {
            "identifier": "other-team", "integrationIdentifier": "slack", "providerId": "slack",
            "context": {}, "workspace": { "id": "T0OTHER0001", "name": "Other" },
            "auth": { "accessToken": "xoxb-other", "tokenType": "bot" }
        },
        "endpoints": []
    }))
    .unwrap();
    store.save(DEMO_ENV, &other_team, None, 0).unwrap();

    // The stand-in signs the user in to its own team: refused, nothing linked.
    let body =
        r#"{"integrationIdentifier":"slack","subscriberId":"s-9","connectionIdentifier":"other-team"}"#;
    let (status, _, v) = s.post(LINK, Some(DEMO_API_KEY), None, body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let url = v["url"].as_str().unwrap();
    assert!(url.contains("team=T0OTHER0001"), "{url}");
    let res = s.allow(url).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let page = res.text().await.unwrap();
    assert!(page.contains("Connection failed"), "{page}");
    assert!(s.list("/v1/channel-endpoints").await.is_empty());

    // Teams: the sign-in runs in the connection's tenant.
    let url = s.connect(TEAMS).await;
    let proof = Server::location(&s.allow(&url).await);
    assert_eq!(s.allow(&proof).await.status(), StatusCode::OK);
    let teams = &s
        .list("/v1/channel-connections?integrationIdentifier=msteams")
        .await[0];
    let id = teams["identifier"].as_str().unwrap();
    // (Its owner's: the connection is subscriber-123's, for tenant org-acme.)
    let body = format!(
        r#"{{"integrationIdentifier":"msteams","subscriberId":"subscriber-123","connectionIdentifier":"{id}","context":{{"tenant":"org-acme"}}}}"#
    );
    let (status, _, v) = s.post(LINK, Some(DEMO_API_KEY), None, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert!(
        v["url"]
            .as_str()
            .unwrap()
            .contains(&format!("/{TENANT}/oauth2/v2.0/authorize")),
        "{v}"
    );

    // A connection that does not exist, or of another integration.
    let unknown = r#"{"integrationIdentifier":"slack","subscriberId":"s-9","connectionIdentifier":"nope"}"#;
    let (status, _, v) = s.post(LINK, Some(DEMO_API_KEY), None, unknown).await;
    assert_eq!(status, StatusCode::CREATED, "issued as in Novu: {v}");
    let res = s.allow(v["url"].as_str().unwrap()).await;
    assert_eq!(
        res.status(),
        StatusCode::CONFLICT,
        "still no such connection at the callback"
    );
    let invalid = r#"{"subscriberId":"s-9","connectionIdentifier":"nope"}"#;
    let (status, _, v) = s.post(LINK, Some(DEMO_API_KEY), None, invalid).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "field errors first: {v}"
    );
    let crossed = body.replace("msteams", "slack");
    let (status, _, v) = s.post(LINK, Some(DEMO_API_KEY), None, &crossed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
}

/// Makes every write of an endpoint row fail inside the callback's
/// transaction (after its connection row was written), until dropped.
fn fail_endpoint_writes(s: &Server, on: bool) {
    let db = rusqlite::Connection::open(&s.db).unwrap();
    let sql = if on {
        "CREATE TRIGGER fail_endpoints AFTER INSERT ON endpoints BEGIN SELECT RAISE(ABORT, 'injected'); END;"
    } else {
        "DROP TRIGGER fail_endpoints;"
    };
    db.execute_batch(sql).unwrap();
}

#[tokio::test]
async fn a_store_failing_mid_callback_writes_nothing_and_the_same_callback_can_be_retried() {
    let s = start("store-fails").await;
    let url = s.connect(SEED).await;
    let link = s.link(&url, "allow").await;
    fail_endpoint_writes(&s, true);
    let res = s.get(&link).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(res.text().await.unwrap().contains("try again"));
    assert!(
        s.list("/v1/channel-connections").await.is_empty(),
        "the connection row written before the failure was rolled back"
    );
    let bytes = s.db_bytes();
    assert!(
        contains(&bytes, "fail_endpoints"),
        "the test reads the right file"
    );
    assert!(
        !contains(&bytes, "xoxb-"),
        "the redeemed code's records wait sealed"
    );

    // The same state with another code finds nothing: refused as a replay.
    let other_code = link.replace("code=standin-code-", "code=forged-");
    assert_ne!(other_code, link);
    fail_endpoint_writes(&s, false);
    assert_eq!(s.get(&other_code).await.status(), StatusCode::BAD_REQUEST);

    // The same callback, once the store is back: stored. The stand-in
    // redeems a code once, so this success is the parked exchange.
    let res = s.get(&link).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("all set"));
    assert_eq!(s.list("/v1/channel-connections").await.len(), 1);
    assert_eq!(s.list("/v1/channel-endpoints").await.len(), 1);
    // Once only.
    assert_eq!(s.get(&link).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(s.list("/v1/channel-connections").await.len(), 1);
}

#[tokio::test]
async fn a_failed_store_keeps_the_binding_cookie_for_the_retry() {
    let s = start("store-fails-binding").await;
    let (cookie, link) = bound_allow(&s, SEED).await;
    fail_endpoint_writes(&s, true);
    let failed = s.http.get(&link).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        failed.headers().get("set-cookie").is_none(),
        "a retryable failure does not clear the cookie"
    );
    fail_endpoint_writes(&s, false);
    // Without the cookie the retry is still refused (binding holds for parked records too).
    assert_eq!(s.get(&link).await.status(), StatusCode::BAD_REQUEST);
    let done = s.http.get(&link).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_junk_callback_does_not_clear_the_binding_cookie_of_a_flow_in_progress() {
    let s = start("junk-callback").await;
    let path = "/v1/integrations/chat/oauth/callback?code=x&state=junk";
    let res = s
        .http
        .get(format!("{}{path}", s.base))
        .header("cookie", "cc_bind=flow-in-progress")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.headers().get("set-cookie").is_none(),
        "anyone can send a browser here: the cookie stays"
    );
}

#[tokio::test]
async fn two_bound_flows_in_one_browser_do_not_undo_each_other() {
    let s = start("two-tabs").await;
    let mut flows = Vec::new();
    for _ in 0..2 {
        let (_, _, v) = s
            .post(
                "/v1/integrations/channel-connections/oauth",
                Some(BROWSER_KEY),
                None,
                SEED,
            )
            .await;
        let res = s.get(v["url"].as_str().unwrap()).await;
        let cookie = set_cookie(&res).split(';').next().unwrap().to_owned();
        let link = s.link(&Server::location(&res), "allow").await;
        flows.push((cookie, link));
    }
    let (first, second) = (&flows[0], &flows[1]);
    assert_ne!(
        first.0.split('=').next(),
        second.0.split('=').next(),
        "a cookie name per flow"
    );
    // The browser sends both; the first flow ends and clears its own cookie only.
    let jar = format!("{}; {}", second.0, first.0);
    let done = s.http.get(&first.1).header("cookie", &jar).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let cleared = done.headers()["set-cookie"].to_str().unwrap().to_owned();
    let first_name = first.0.split('=').next().unwrap();
    assert!(cleared.starts_with(&format!("{first_name}=;")), "{cleared}");
    // The second still ends, with its own cookie; a cookie of another flow is not enough.
    let other = s
        .http
        .get(&second.1)
        .header("cookie", &first.0)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::BAD_REQUEST);
    let done = s
        .http
        .get(&second.1)
        .header("cookie", &second.0)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_connect_cannot_take_over_another_connection() {
    reinstall_rules(&start("reinstall").await).await;
}

/// The binding environment's id (its API key is `BROWSER_KEY`).
const BROWSER_ENV: &str = "6615c4b2e0f3a1b2c3d4e5f8";

/// A provider URL of the binding environment whose state carries no
/// binding: what an instance issued before binding was turned on.
fn unbound_url(s: &Server) -> String {
    use channel_connect::{ConnectRequestBody, Entropy, IssueParams};
    let config = channel_connect_server::config::Config::demo(&s.base).unwrap();
    let env = config.by_id(BROWSER_ENV).unwrap();
    let body = ConnectRequestBody::from_json(SEED.as_bytes()).unwrap();
    let mut entropy = [0u8; 32];
    os_entropy(&mut entropy);
    let entropy = Entropy(entropy);
    let params = IssueParams::new(OffsetDateTime::now_utc(), &entropy);
    env.core.connect_url(&body, &params).unwrap().url
}

#[tokio::test]
async fn once_binding_is_on_an_unbound_state_is_refused_and_rollout_accepts_it() {
    let s = start("binding-required").await;
    let res = s.allow(&unbound_url(&s)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(s.list("/v1/channel-connections").await.is_empty());

    // "rollout": bound states issued, unbound ones (issued before) accepted.
    let rolling = start_on(db_path("binding-rollout"), None, |mut st| {
        let text = channel_connect_server::config::Config::demo_text(&st.public_url)
            .replace("\"browserBinding\": true", "\"browserBinding\": \"rollout\"");
        st.config = channel_connect_server::config::Config::parse(&text).unwrap();
        st
    })
    .await;
    assert_eq!(
        rolling.allow(&unbound_url(&rolling)).await.status(),
        StatusCode::OK
    );
    let (_, _, v) = rolling
        .post(
            "/v1/integrations/channel-connections/oauth",
            Some(BROWSER_KEY),
            None,
            SEED,
        )
        .await;
    let start_url = v["url"].as_str().unwrap();
    assert!(
        start_url.contains("/oauth/start/"),
        "bound states issued: {start_url}"
    );
}

#[tokio::test]
async fn finishing_an_unbound_flow_leaves_the_binding_cookie_of_another_flow_alone() {
    let s = start("binding-unbound-flow").await;
    // Flow 1, bound, in progress in this browser.
    let (cookie, bound_link) = bound_allow(&s, SEED).await;

    // Another environment sends the same browser through an unbound flow.
    let other = SEED.replace("org-acme", "org-other");
    let unbound_link = s.link(&s.connect(&other).await, "allow").await;
    let done = s
        .http
        .get(&unbound_link)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(
        done.headers().get("set-cookie").is_none(),
        "an unbound flow clears no cookie: {:?}",
        done.headers().get("set-cookie")
    );

    // Flow 1 still finishes with its cookie.
    let done = s
        .http
        .get(&bound_link)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
}

#[tokio::test]
async fn head_spends_neither_a_start_link_nor_a_state() {
    let s = start("head").await;
    let (_, _, v) = s
        .post(
            "/v1/integrations/channel-connections/oauth",
            Some(BROWSER_KEY),
            None,
            SEED,
        )
        .await;
    let start_url = v["url"].as_str().unwrap();
    let head = s.http.head(start_url).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert!(
        head.headers().get("set-cookie").is_none(),
        "no cookie handed to a scanner"
    );
    let res = s.get(start_url).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the start link still works");
    let cookie = set_cookie(&res);
    let callback = s.link(&Server::location(&res), "allow").await;
    assert_eq!(
        s.http.head(&callback).send().await.unwrap().status(),
        StatusCode::OK
    );
    let done = s
        .http
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK, "the state is still unspent");
}

#[tokio::test]
async fn an_empty_idempotency_key_is_no_key() {
    let s = start("idempotency-empty").await;
    let path = "/v1/integrations/channel-connections/oauth";
    let (a, ha, va) = s.post(path, Some(DEMO_API_KEY), Some(""), SEED).await;
    let (b, hb, vb) = s.post(path, Some(DEMO_API_KEY), Some(""), SEED).await;
    assert_eq!((a, b), (StatusCode::CREATED, StatusCode::CREATED));
    assert_ne!(va["url"], vb["url"], "two requests, two URLs");
    assert!(ha.get("idempotency-replay").is_none() && hb.get("idempotency-replay").is_none());
}

#[tokio::test]
async fn a_user_link_to_a_connection_is_for_its_owners_subscribers_only() {
    let s = start("link-owner").await;
    let shared = r#"{"integrationIdentifier":"slack","connectionIdentifier":"acme-slack","context":{"tenant":"acme"},"connectionMode":"shared"}"#;
    assert_eq!(s.allow(&s.connect(shared).await).await.status(), StatusCode::OK);
    let own = r#"{"integrationIdentifier":"slack","subscriberId":"s1","connectionIdentifier":"s1-slack","context":{"tenant":"acme"},"connectionMode":"subscriber"}"#;
    assert_eq!(s.allow(&s.connect(own).await).await.status(), StatusCode::OK);

    let link = |subscriber: &str, connection: &str, tenant: &str| {
        format!(
            r#"{{"integrationIdentifier":"slack","subscriberId":"{subscriber}","connectionIdentifier":"{connection}","context":{{"tenant":"{tenant}"}}}}"#
        )
    };
    let cases = [
        (link("s7", "acme-slack", "acme"), StatusCode::CREATED),
        (link("s7", "acme-slack", "evil"), StatusCode::CONFLICT),
        (link("s1", "s1-slack", "acme"), StatusCode::CREATED),
        (link("s7", "s1-slack", "acme"), StatusCode::CONFLICT),
        (link("s1", "s1-slack", "evil"), StatusCode::CONFLICT),
    ];
    for (body, expected) in cases {
        let (status, _, v) = s.post(LINK, Some(DEMO_API_KEY), None, &body).await;
        assert_eq!(status, expected, "{body}: {v}");
        if expected == StatusCode::CONFLICT {
            assert_eq!(v["statusCode"], 409);
        }
    }
}

#[tokio::test]
async fn junk_binding_cookies_do_not_push_the_real_one_out() {
    let s = start("binding-junk").await;
    let (cookie, callback) = bound_allow(&s, SEED).await;
    // Cookies tossed in before it: malformed ones, and well-formed ones of flows gone by.
    let mut jar: Vec<String> = (0..40).map(|i| format!("cc_bind_junk{i:04}=x{i}")).collect();
    jar.extend((0..20).map(|i| format!("cc_bind_old{i:05}={}", "A".repeat(42) + &i.to_string()[..1])));
    jar.push(cookie);
    let done = s
        .http
        .get(&callback)
        .header("cookie", jar.join("; "))
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_stand_ins_refuse_oversized_parameters() {
    let s = start("standin-sizes").await;
    let url = s.connect(SEED).await;
    let long = url.replace("scope=", &format!("scope={}", "x".repeat(4096)));
    assert_eq!(s.get(&long).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(s.get(&url).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_error_answers_in_novus_shape() {
    let s = start("error-shapes").await;
    let connect = "/v1/integrations/channel-connections/oauth";
    let check = |what: &str, status: StatusCode, expected: u16, v: &Value, path: &str| {
        assert_eq!(status.as_u16(), expected, "{what}: {v}");
        assert_eq!(v["statusCode"], expected, "{what}: {v}");
        assert_eq!(v["path"], path, "{what}: {v}");
        let t = v["timestamp"].as_str().unwrap_or_default();
        assert!(
            t.len() == 24 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{what}: {v}"
        );
        assert!(v["message"].is_string(), "{what}: {v}");
    };
    let json = |res: reqwest::Response| async move {
        let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(kind.starts_with("application/json"), "{kind}");
        (
            res.status(),
            serde_json::from_slice::<Value>(&res.bytes().await.unwrap()).unwrap(),
        )
    };

    let (status, v) = json(s.get("/v1/nope").await).await;
    check("unknown route", status, 404, &v, "/v1/nope");
    assert_eq!(v["message"], "Cannot GET /v1/nope");
    let wrong = s
        .http
        .put(format!("{}/v1/channel-connections/x", s.base))
        .send()
        .await
        .unwrap();
    let (status, v) = json(wrong).await;
    check("wrong method", status, 405, &v, "/v1/channel-connections/x");
    let (status, _, v) = s.post(connect, None, None, SEED).await;
    check("no key", status, 401, &v, connect);
    let (status, _, v) = s
        .post(connect, Some(DEMO_API_KEY), None, r#"{"subscriberId":"s"}"#)
        .await;
    check("validation", status, 422, &v, connect);
    assert_eq!(
        v["errors"]["integrationIdentifier"]["messages"][0],
        "Integration identifier is required"
    );
    let too_many =
        r#"{"integrationIdentifier":"slack","context":{"a":"1","b":"1","c":"1","d":"1","e":"1","f":"1"}}"#;
    let (_, _, v) = s.post(connect, Some(DEMO_API_KEY), None, too_many).await;
    assert!(v["errors"]["context"]["messages"].is_array(), "{v}");
    let (status, _, v) = s
        .post(
            connect,
            Some(DEMO_API_KEY),
            None,
            r#"{"integrationIdentifier":"nope","subscriberId":"s"}"#,
        )
        .await;
    check("unknown integration", status, 404, &v, connect);
    let (status, _, v) = s.post(connect, Some(DEMO_API_KEY), Some("k1"), SEED).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, _, v) = s.post(connect, Some(DEMO_API_KEY), Some("k1"), TEAMS).await;
    check("idempotency mismatch", status, 422, &v, connect);
    assert!(v["errors"].is_object(), "{v}");
    let big = "x".repeat(600 * 1024);
    let (status, _, v) = s.post(connect, Some(DEMO_API_KEY), None, &big).await;
    check("too large", status, 413, &v, connect);
}

#[tokio::test]
async fn lists_page_and_filter_as_novu_does() {
    let s = start("novu-lists").await;
    for n in 1..=3 {
        let body = SEED
            .replace("slack-connection-abc123", &format!("list-{n}"))
            .replace("org-acme", &format!("org-{n}"));
        assert_eq!(s.allow(&s.connect(&body).await).await.status(), StatusCode::OK);
    }
    let page = |q: &str| {
        let q = q.to_owned();
        let s = &s;
        async move {
            let res = s.get_with_key(&format!("/v1/channel-connections{q}")).await;
            let status = res.status();
            (
                status,
                serde_json::from_slice::<Value>(&res.bytes().await.unwrap()).unwrap(),
            )
        }
    };
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["identifier"].as_str().unwrap().to_owned())
            .collect()
    };
    // Newest first; novu-py writes numbers as floats.
    let (status, first) = page("?limit=2.0").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(ids(&first), ["list-3", "list-2"]);
    assert_eq!(
        (first["totalCount"].clone(), first["totalCountCapped"].clone()),
        (json!(3), json!(false))
    );
    assert_eq!(
        (first["next"].clone(), first["previous"].clone()),
        (json!("list-2"), Value::Null)
    );
    let (_, second) = page("?limit=2&after=list-2").await;
    assert_eq!(ids(&second), ["list-1"]);
    assert_eq!(
        (second["next"].clone(), second["previous"].clone()),
        (Value::Null, json!("list-1"))
    );
    let (_, asc) = page("?orderDirection=ASC&limit=100").await;
    assert_eq!(ids(&asc), ["list-1", "list-2", "list-3"]);
    // The connection object as the SDKs validate it.
    let c = &first["data"][0];
    assert_eq!(
        (c["channel"].clone(), c["providerId"].clone()),
        (json!("chat"), json!("slack"))
    );
    assert_eq!(c["subscriberId"], Value::Null, "shared: no subscriber");
    assert_eq!(c["contextKeys"], json!(["property1:org-3", "property2:org-3"]));
    assert_eq!(c["auth"]["accessToken"], "[redacted]");
    assert!(c["createdAt"].as_str().unwrap().ends_with('Z'));
    // Filters: exact context keys (repeated, any order), provider, mode, channel.
    let (_, one) = page("?contextKeys=property2%3Aorg-1&contextKeys=property1%3Aorg-1").await;
    assert_eq!(ids(&one), ["list-1"]);
    let (_, partial) = page("?contextKeys=property1%3Aorg-1").await;
    assert!(ids(&partial).is_empty(), "keys match exactly");
    assert_eq!(ids(&page("?providerId=msteams").await.1), Vec::<String>::new());
    assert_eq!(
        ids(&page("?providerId=slack&connectionMode=shared").await.1).len(),
        3
    );
    assert_eq!(ids(&page("?connectionMode=subscriber").await.1).len(), 0);
    assert_eq!(ids(&page("?channel=email").await.1).len(), 0);
    // Refused values are Novu's validation errors, keyed by the parameter.
    for (q, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=2.5", "limit"),
        ("?orderDirection=up", "orderDirection"),
        ("?channel=voice", "channel"),
    ] {
        let (status, v) = page(q).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {v}");
        assert!(v["errors"][field]["messages"].is_array(), "{q}: {v}");
    }
    // One connection, and Novu's words for a missing one.
    let (status, v) = page("/list-2").await;
    assert_eq!(
        (status, v["data"]["identifier"].clone()),
        (StatusCode::OK, json!("list-2"))
    );
    let (status, v) = page("/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        v["message"],
        "Channel connection with identifier 'nope' not found"
    );
    // Endpoints: the installer's user links, by connection.
    let res = s
        .get_with_key("/v1/channel-endpoints?connectionIdentifier=list-2")
        .await;
    let v: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    let e = &v["data"][0];
    assert_eq!(
        (
            v["totalCount"].clone(),
            e["type"].clone(),
            e["providerId"].clone()
        ),
        (json!(1), json!("slack_user"), json!("slack"))
    );
    assert_eq!(
        (e["connectionIdentifier"].clone(), e["subscriberId"].clone()),
        (json!("list-2"), json!("subscriber-123"))
    );
    assert!(e["endpoint"]["userId"].is_string() && e["identifier"].as_str().unwrap().starts_with("chendp_"));
}

#[tokio::test]
async fn connections_and_endpoints_written_through_the_api_keep_their_secrets() {
    let s = start("crud").await;
    let key = Some(DEMO_API_KEY);
    let send = |method: reqwest::Method, path: &str, body: Option<Value>| {
        let mut req = s
            .http
            .request(method, format!("{}{path}", s.base))
            .header("authorization", format!("ApiKey {DEMO_API_KEY}"));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        async move {
            let res = req.send().await.unwrap();
            let status = res.status();
            let bytes = res.bytes().await.unwrap();
            (
                status,
                serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
            )
        }
    };
    use reqwest::Method;
    let create = json!({"identifier": "api-made", "integrationIdentifier": "slack", "subscriberId": "s1",
        "workspace": {"id": "T0API0001", "name": "API"}, "auth": {"accessToken": "xoxb-api-secret"}});
    let (status, c) = send(Method::POST, "/v1/channel-connections", Some(create.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(
        (c["subscriberId"].clone(), c["auth"]["accessToken"].clone()),
        (json!("s1"), json!("[redacted]"))
    );
    let (status, _) = send(Method::POST, "/v1/channel-connections", Some(create)).await;
    assert_eq!(status, StatusCode::CONFLICT, "an identifier is created once");
    let hook = json!({"type": "webhook", "subscriberId": "s1", "integrationIdentifier": "slack",
        "connectionIdentifier": "api-made", "endpoint": {"url": "https://hooks.slack.com/services/T/B/secret-hook"}});
    let (status, e) = send(Method::POST, "/v1/channel-endpoints", Some(hook)).await;
    assert_eq!(status, StatusCode::CREATED, "{e}");
    assert_eq!(e["endpoint"]["url"], "[redacted]");
    let teams = json!({"type": "ms_teams_user", "subscriberId": "s1", "integrationIdentifier": "slack", "endpoint": {"userId": "u"}});
    let (status, v) = send(Method::POST, "/v1/channel-endpoints", Some(teams)).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a Teams target on a Slack integration: {v}"
    );
    let patch = json!({"workspace": {"id": "T0API0001", "name": "Renamed"}, "auth": {"accessToken": "xoxb-api-rotated"}});
    let (status, c) = send(Method::PATCH, "/v1/channel-connections/api-made", Some(patch)).await;
    assert_eq!(
        (status, c["workspace"]["name"].clone()),
        (StatusCode::OK, json!("Renamed"))
    );
    let bytes = s.db_bytes();
    assert!(contains(&bytes, "api-made"), "the test reads the right file");
    for secret in ["xoxb-api", "secret-hook"] {
        assert!(!contains(&bytes, secret), "{secret} is sealed in the file");
    }
    // Deleting the connection removes what sent through it.
    let (status, _) = send(Method::DELETE, "/v1/channel-connections/api-made", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        s.list("/v1/channel-endpoints?connectionIdentifier=api-made")
            .await
            .is_empty()
    );
    let (status, _) = send(Method::DELETE, "/v1/channel-connections/api-made", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The older single route: mode link_user issues a user sign-in.
    let (status, _, v) = s
        .post(
            "/v1/integrations/chat/oauth",
            key,
            None,
            r#"{"integrationIdentifier":"slack","subscriberId":"s1","mode":"link_user"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert!(v["url"].as_str().unwrap().contains("user_scope="), "{v}");
}

#[tokio::test]
async fn a_written_refresh_token_expiry_is_stored_shown_and_checked() {
    use reqwest::Method;
    let s = start("refresh-token-expiry").await;
    let (path, one) = ("/v1/channel-connections", "/v1/channel-connections/api-expiry");
    let create = json!({"identifier": "api-expiry", "integrationIdentifier": "slack", "subscriberId": "s1",
        "workspace": {"id": "T0API0002"},
        "auth": {"accessToken": "xoxe.xoxb-api", "refreshToken": "xoxe-1-api",
            "expiresAt": "2030-01-01T00:00:00Z", "refreshTokenExpiresAt": "2030-03-31T12:00:00.000Z"}});
    let (status, c) = send(&s, Method::POST, path, Some(create)).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    // Novu's ISO 8601 (milliseconds, `Z`) back; the tokens still redacted.
    let shown = json!({"accessToken": "[redacted]", "expiresAt": "2030-01-01T00:00:00.000Z",
        "refreshTokenExpiresAt": "2030-03-31T12:00:00.000Z"});
    assert_eq!(c["auth"], shown, "{c}");
    let read = async || send(&s, Method::GET, one, None).await.1["data"]["auth"].clone();
    assert_eq!(read().await, shown);
    assert_eq!(s.list(path).await[0]["auth"], shown);
    let credentials = async || read_credentials(&s, "api-expiry").await.1["data"]["auth"].clone();
    let creds = credentials().await;
    assert_eq!(creds["refreshTokenExpiresAt"], "2030-03-31T12:00:00.000Z");
    assert!(!creds.to_string().contains("xoxe-1-api"), "{creds}");

    // Not a date: Novu's 422, keyed by `auth`, nothing written.
    for (method, at, body) in [
        (
            Method::PATCH,
            one,
            json!({"workspace": {"id": "T0API0002"}, "auth": {"accessToken": "xoxe.xoxb-new", "refreshTokenExpiresAt": "in 90 days"}}),
        ),
        (
            Method::POST,
            path,
            json!({"identifier": "api-expiry-2", "integrationIdentifier": "slack", "subscriberId": "s1",
                "workspace": {"id": "T0API0003"}, "auth": {"accessToken": "t", "refreshTokenExpiresAt": "2030-02-30T00:00:00Z"}}),
        ),
    ] {
        let (status, v) = send(&s, method, at, Some(body)).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["statusCode"], 422, "{v}");
        assert_eq!(
            v["errors"]["auth"]["messages"],
            json!(["auth.refreshTokenExpiresAt must be an ISO 8601 time"]),
            "{v}"
        );
    }
    assert_eq!(read().await, shown);
    assert_eq!(s.list(path).await.len(), 1);

    let only_expiry = json!({"accessToken": "[redacted]", "expiresAt": "2030-01-01T00:00:00.000Z"});
    for (why, auth, answered) in [
        (
            "the same token sent back (a rename) keeps both expiries",
            json!({"accessToken": "xoxe.xoxb-api"}),
            shown,
        ),
        (
            "the old refresh token's expiry is not another refresh token's",
            json!({"accessToken": "xoxe.xoxb-api", "refreshToken": "xoxe-1-other"}),
            only_expiry,
        ),
        (
            "a new token without expiries shows none (not the old token's)",
            json!({"accessToken": "xoxb-api-new"}),
            json!({"accessToken": "[redacted]"}),
        ),
    ] {
        let body = json!({"workspace": {"id": "T0API0002", "name": "Renamed"}, "auth": auth});
        let (status, c) = send(&s, Method::PATCH, one, Some(body)).await;
        assert_eq!((status, &c["auth"]), (StatusCode::OK, &answered), "{why}: {c}");
        assert_eq!(read().await, answered, "{why}");
    }
    assert_eq!(credentials().await["refreshTokenExpiresAt"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_writes_keep_what_the_callback_relies_on() {
    api_write_rules(&start("api-write-rules").await).await;
}

#[tokio::test]
async fn a_link_issued_before_its_connection_exists_stores_only_where_the_provider_says() {
    use reqwest::Method;
    let s = start("link-before-connection").await;
    let link = |integration: &str, connection: &str| {
        format!(
            r#"{{"integrationIdentifier":"{integration}","subscriberId":"s-1","connectionIdentifier":"{connection}","context":{{"tenant":"acme"}}}}"#
        )
    };
    let connection = |id: &str, integration: &str, workspace: &str| {
        json!({"identifier": id, "integrationIdentifier": integration, "connectionMode": "shared",
            "context": {"tenant": "acme"}, "workspace": {"id": workspace}, "auth": {"accessToken": "t"}})
    };
    // Teams: the sign-in's tenant is in the answer; it must be the connection's.
    let (status, _, here) = s
        .post(LINK, Some(DEMO_API_KEY), None, &link("msteams", "later-teams"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{here}");
    let (status, _, elsewhere) = s
        .post(LINK, Some(DEMO_API_KEY), None, &link("msteams", "later-other"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{elsewhere}");
    for (id, tenant) in [
        ("later-teams", TENANT),
        ("later-other", "9d2e8f3a-1b4c-4d6e-9f70-8a1b2c3d4e5f"),
    ] {
        let (status, v) = send(
            &s,
            Method::POST,
            "/v1/channel-connections",
            Some(connection(id, "msteams", tenant)),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
    }
    assert_eq!(
        s.allow(here["url"].as_str().unwrap()).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        s.allow(elsewhere["url"].as_str().unwrap()).await.status(),
        StatusCode::CONFLICT
    );
    let linked = s
        .list("/v1/channel-endpoints?connectionIdentifier=later-teams")
        .await;
    assert_eq!(
        (linked.len(), linked[0]["type"].clone()),
        (1, json!("ms_teams_user"))
    );
    assert!(
        s.list("/v1/channel-endpoints?connectionIdentifier=later-other")
            .await
            .is_empty()
    );

    // Slack: a user's sign-in answer names no workspace the record keeps, so
    // a link issued before its connection existed is refused: issue it again.
    let (_, _, v) = s
        .post(LINK, Some(DEMO_API_KEY), None, &link("slack", "later-slack"))
        .await;
    let (status, _) = send(
        &s,
        Method::POST,
        "/v1/channel-connections",
        Some(connection("later-slack", "slack", SLACK_TEAM)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        s.allow(v["url"].as_str().unwrap()).await.status(),
        StatusCode::CONFLICT
    );
    let (_, _, again) = s
        .post(LINK, Some(DEMO_API_KEY), None, &link("slack", "later-slack"))
        .await;
    assert!(
        again["url"]
            .as_str()
            .unwrap()
            .contains(&format!("team={SLACK_TEAM}")),
        "{again}"
    );
    assert_eq!(
        s.allow(again["url"].as_str().unwrap()).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_sender_reads_credentials_with_its_own_key_only() {
    credentials_rules(&start("credentials").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotating_token_is_refreshed_once_and_a_refused_one_asks_for_reconnection() {
    let s = start("rotation").await;
    let records = Store::open(
        &s.db,
        &Config::demo("http://127.0.0.1:1").unwrap().token_keys,
        os_entropy,
    )
    .unwrap();
    rotation_rules(&s, &records).await;
}

#[tokio::test]
async fn deleting_a_connection_revokes_its_token_at_slack() {
    revoke_rules(&start("revoke").await).await;
}

#[tokio::test]
async fn slack_events_are_verified_and_an_uninstall_removes_the_connection() {
    events_rules(&start("events").await).await;
}

#[tokio::test]
async fn the_teams_app_installed_for_a_user_is_shown_and_removed_with_the_connection() {
    teams_app_rules(&start("teams-app").await).await;
}

#[tokio::test]
async fn metrics_count_requests_flows_and_callbacks() {
    let s = start("metrics").await;
    assert_eq!(s.allow(&s.connect(SEED).await).await.status(), StatusCode::OK);
    let res = s.get("/metrics").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = res.text().await.unwrap();
    for line in [
        r#"channel_connect_callbacks_total{outcome="stored",status="200"} 1"#,
        r#"channel_connect_flows_issued_total{kind="connect"} 1"#,
        r#"channel_connect_http_requests_total{route="/v1/integrations/channel-connections/oauth",method="POST",status="201"} 1"#,
        "channel_connect_provider_exchange_seconds_count 1",
        "channel_connect_store_seconds_count 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
    // A forged callback is refused, and counted so.
    s.get("/v1/integrations/chat/oauth/callback?state=forged&code=x")
        .await;
    let text = s.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(r#"channel_connect_callbacks_total{outcome="refused",status="400"} 1"#),
        "{text}"
    );
    assert!(!text.contains("forged"), "no query in a label");
    // Ready: the SQLite file answers.
    let ready = s.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let v: Value = serde_json::from_slice(&ready.bytes().await.unwrap()).unwrap();
    assert_eq!(v, json!({"status": "ok", "stores": {"sqlite": "up"}}));
}

/// Every (method, path template) the router serves, kept here by hand so a
/// route added, removed or renamed shows in review. The router is built
/// from `http::ROUTES` (nothing else is served), which must equal this, and
/// so must the OpenAPI document's operations.
const SERVED: &[(&str, &str)] = &[
    ("POST", "/v1/integrations/channel-connections/oauth"),
    ("POST", "/v1/integrations/channel-endpoints/oauth"),
    ("POST", "/v1/integrations/chat/oauth"),
    ("POST", "/v1/integrations/channel-endpoints/link"),
    ("GET", "/v1/integrations/chat/oauth/callback"),
    ("HEAD", "/v1/integrations/chat/oauth/callback"),
    ("GET", "/v1/integrations/chat/oauth/start/{id}"),
    ("HEAD", "/v1/integrations/chat/oauth/start/{id}"),
    ("GET", "/v1/channel-connections"),
    ("POST", "/v1/channel-connections"),
    ("GET", "/v1/channel-connections/{identifier}"),
    ("PATCH", "/v1/channel-connections/{identifier}"),
    ("DELETE", "/v1/channel-connections/{identifier}"),
    ("GET", "/v1/channel-connections/{identifier}/credentials"),
    ("GET", "/v1/channel-endpoints"),
    ("POST", "/v1/channel-endpoints"),
    ("GET", "/v1/channel-endpoints/{identifier}"),
    ("PATCH", "/v1/channel-endpoints/{identifier}"),
    ("DELETE", "/v1/channel-endpoints/{identifier}"),
    ("POST", "/v1/integrations/slack/events/{integrationIdentifier}"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
];

/// `/openapi.json` is OpenAPI 3.1 and describes exactly the routes served:
/// the table the router is built from equals the list above and the
/// document's operations; each is served (not the 404 fallback, not a 405)
/// and no other method is on its path; an operation the document secures
/// answers 401 without a key. (`tests/openapi.rs` runs a real validator.)
#[tokio::test]
async fn the_openapi_document_lists_every_route_the_router_serves() {
    use channel_connect_server::http::ROUTES;
    use std::collections::BTreeSet;
    let s = start("openapi-routes").await;
    let res = s.get("/openapi.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    let doc: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(version.starts_with("3.1"), "openapi: {version}");

    let set = |pairs: &[(&str, &str)]| -> BTreeSet<(String, String)> {
        pairs
            .iter()
            .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
            .collect()
    };
    assert_eq!(set(ROUTES).len(), ROUTES.len(), "a route twice in ROUTES");
    let (routes, listed) = (set(ROUTES), set(SERVED));
    assert!(
        routes == listed,
        "in http::ROUTES only: {:?}; in SERVED only: {:?}",
        routes.difference(&listed).collect::<Vec<_>>(),
        listed.difference(&routes).collect::<Vec<_>>()
    );
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let mut documented = BTreeSet::new();
    let mut secured = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !methods.contains(&method.as_str()) {
                continue;
            }
            let pair = (method.to_uppercase(), path.clone());
            if let Some(security) = op.get("security") {
                let names: Vec<&str> = security
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|s| s.as_object().unwrap().keys().map(String::as_str))
                    .collect();
                let expected = match path.ends_with("/credentials") {
                    true => "CredentialsKey",
                    false => "ApiKey",
                };
                assert_eq!(names, [expected], "{method} {path}");
                secured.insert(pair.clone());
            }
            assert!(
                op["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{method} {path} has no description"
            );
            documented.insert(pair);
        }
    }
    let served = set(SERVED);
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not in /openapi.json: {undocumented:?}; in it but not served: {unserved:?}"
    );
    let open = [
        "/v1/integrations/chat/oauth/callback",
        "/v1/integrations/chat/oauth/start/{id}",
        "/v1/integrations/slack/events/{integrationIdentifier}",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ];
    for (method, path) in set(SERVED) {
        assert_eq!(
            secured.contains(&(method.clone(), path.clone())),
            !open.contains(&path.as_str()),
            "{method} {path}: the document's security"
        );
    }

    let concrete = |template: &str| {
        template
            .replace("{identifier}", "probe-none")
            .replace("{id}", "probe-none")
            .replace("{integrationIdentifier}", "slack")
    };
    let send = |method: &str, path: String| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        s.http.request(method, format!("{}{path}", s.base)).send()
    };
    for &(method, template) in ROUTES {
        let path = concrete(template);
        let res = send(method, path.clone()).await.unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        assert!(
            status != StatusCode::METHOD_NOT_ALLOWED && !body.contains(&format!("Cannot {method} {path}")),
            "{method} {template} is not served: {status} {body}"
        );
        if method == "HEAD" {
            assert_eq!(status, StatusCode::OK, "{method} {template}");
        }
        if secured.contains(&(method.to_owned(), template.to_owned())) {
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {template} without a key"
            );
        }
    }
    let paths: BTreeSet<&str> = ROUTES.iter().map(|(_, p)| *p).collect();
    for template in paths {
        let served: Vec<&str> = ROUTES
            .iter()
            .filter(|(_, p)| *p == template)
            .map(|(m, _)| *m)
            .collect();
        for method in ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] {
            // axum answers HEAD on a GET route with the GET handler.
            if served.contains(&method) || (method == "HEAD" && served.contains(&"GET")) {
                continue;
            }
            let res = send(method, concrete(template)).await.unwrap();
            assert_eq!(
                res.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {template} answers, but is not in ROUTES"
            );
        }
    }
}
