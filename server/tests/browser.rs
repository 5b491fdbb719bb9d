//! A real browser through the demo: headless Chromium, driven over
//! WebDriver (chromedriver, through `fantoccini`), clicks "Connect Slack",
//! "Connect Teams" and "Connect Webex" on `/` with browser binding on, "Allow" on each stand-in page, and lands on
//! the success page naming the workspace; then a used link, a "Cancel", and
//! a phone-sized window in dark mode. Screenshots go to `target/tmp/browser/`.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`$CHROMIUM` and
//! `$CHROMEDRIVER` override their paths). Without them the test fails under
//! CI and, for a developer, says plainly that it skipped. `bash .ci/run`
//! installs them and runs it.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use channel_connect_server::config::{Config, DEMO_BROWSER_API_KEY};
use channel_connect_server::sender::Sender;
use channel_connect_server::store::sqlite::Store;
use channel_connect_server::{AppState, app, install_crypto_provider, os_entropy};
use fantoccini::Locator;
use serde_json::{Value, json};

mod common;

use common::tools::{skip, tool};

fn chromedriver() -> PathBuf {
    tool("CHROMEDRIVER", "/usr/bin/chromedriver")
}

fn chromium() -> PathBuf {
    tool("CHROMIUM", "/usr/bin/chromium")
}
/// chromedriver (its process) and a WebDriver session on it, through
/// `fantoccini`.
struct Driver {
    child: Child,
    client: fantoccini::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver's DevTools passthrough (`goog/cdp/execute`), which
/// fantoccini has no method for.
#[derive(Debug)]
struct Cdp(Value);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::POST, Some(self.0.to_string()))
    }
}

impl Driver {
    async fn start(out: &std::path::Path) -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(res) = http.get(format!("{base}/status")).send().await
                && res.status().is_success()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = out.join("profile");
        let _ = std::fs::remove_dir_all(&profile);
        let chrome = json!({
            "binary": chromium(),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1000,700", format!("--user-data-dir={}", profile.display())
            ]
        });
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), chrome);
        // chromedriver on loopback: plain http, no TLS connector needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&base)
            .await
            .expect("a WebDriver session");
        Driver { child, client }
    }

    async fn go(&self, url: &str) {
        self.client.goto(url).await.expect("the page loads");
    }

    async fn click(&self, css: &str) {
        let found = self.client.find(Locator::Css(css)).await;
        found
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .expect("a click");
    }

    async fn text(&self, css: &str) -> String {
        let found = self.client.find(Locator::Css(css)).await;
        found
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap_or_default()
    }

    async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(String::from)
            .unwrap_or_default()
    }

    /// Waits (up to 10 s) for the page to reach a URL containing `part`;
    /// a form submission may still be loading when the click returns.
    async fn wait_for_url(&self, part: &str) -> String {
        let mut url = String::new();
        for _ in 0..100 {
            url = self.current_url().await;
            if url.contains(part) {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the browser is on {url}, not on a page with {part}");
    }

    /// The window's size (a phone's: 390 x 844).
    async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("a resize");
    }

    /// The pages' `prefers-color-scheme` (`dark`, `light`), through
    /// chromedriver's DevTools passthrough.
    async fn color_scheme(&self, scheme: &str) {
        let features = json!([{ "name": "prefers-color-scheme", "value": scheme }]);
        let cmd = Cdp(json!({ "cmd": "Emulation.setEmulatedMedia", "params": { "features": features } }));
        self.client.issue_cmd(cmd).await.expect("the emulated media");
    }

    /// The success page, naming what was connected (its message starts
    /// with `named`), photographed to `file`.
    async fn succeeded(&self, named: &str, file: &std::path::Path) {
        assert_eq!(self.text("#result").await, "You're all set");
        let message = self.text("#message").await;
        assert!(
            message.starts_with(named) && message.contains(" is connected"),
            "the page names what was connected: {message}"
        );
        self.screenshot(file).await;
    }

    async fn screenshot(&self, file: &std::path::Path) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(file, png).unwrap();
    }
}

#[tokio::test]
async fn chromium_connects_slack_teams_and_webex_through_the_demo_page() {
    if !chromedriver().exists() || !chromium().exists() {
        let needs = "Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)";
        return skip("the browser test", needs);
    }
    install_crypto_provider();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&out).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = Config::demo(&base).unwrap();
    let store = Store::in_memory(&config.token_keys, os_entropy).unwrap();
    let state = Arc::new(AppState::new(config, store, Sender::new().unwrap(), &base));
    let router = app(state, true, &base);
    tokio::spawn(channel_connect_server::serve::serve(
        listener,
        router,
        Default::default(),
        std::future::pending(),
        async {},
    ));

    let d = Driver::start(&out).await;
    d.go(&format!("{base}/")).await;
    d.screenshot(&out.join("demo-page.png")).await;

    d.click("#connect-slack").await;
    d.wait_for_url("/standin/slack/oauth/v2/authorize").await;
    d.screenshot(&out.join("slack-authorize.png")).await;
    d.click("#allow").await;
    let slack_done = d.wait_for_url("/oauth/callback").await;
    d.succeeded(
        "Slack workspace Demo Workspace is connected",
        &out.join("slack-success.png"),
    )
    .await;

    // The same callback again (a reload, a link kept): refused in plain words.
    d.go(&slack_done).await;
    assert_eq!(d.text("#result").await, "Connection failed");
    assert_eq!(
        d.text("#message").await,
        "This link has expired or was already used."
    );
    assert!(d.text("#request").await.starts_with("Request id: "));
    d.screenshot(&out.join("link-expired.png")).await;

    d.go(&format!("{base}/")).await;
    d.click("#connect-teams").await;
    d.wait_for_url("/v2.0/adminconsent").await;
    d.click("#allow").await;
    d.wait_for_url("/oauth2/v2.0/authorize").await;
    d.click("#allow").await;
    d.wait_for_url("/oauth/callback").await;
    d.succeeded("Microsoft Teams tenant 5d2e8f3a-", &out.join("teams-success.png"))
        .await;

    d.go(&format!("{base}/")).await;
    d.click("#connect-webex").await;
    d.wait_for_url("/standin/webex/v1/authorize").await;
    d.screenshot(&out.join("webex-authorize.png")).await;
    d.click("#allow").await;
    d.wait_for_url("/oauth/callback").await;
    d.succeeded("Webex organization ", &out.join("webex-success.png"))
        .await;

    // Cancelled at Slack: what happened and what to do.
    d.go(&format!("{base}/")).await;
    d.click("#connect-slack").await;
    d.wait_for_url("/standin/slack/oauth/v2/authorize").await;
    d.click("#cancel").await;
    d.wait_for_url("/oauth/callback").await;
    assert_eq!(d.text("#message").await, "The connection was cancelled.");
    d.screenshot(&out.join("slack-cancelled.png")).await;

    // On a phone, in the dark: the demo page, Slack's stand-in, and an
    // install into the other workspace.
    d.resize(390, 844).await;
    d.color_scheme("dark").await;
    d.go(&format!("{base}/")).await;
    d.screenshot(&out.join("phone-demo-page.png")).await;
    d.click("#connect-slack").await;
    d.wait_for_url("/standin/slack/oauth/v2/authorize").await;
    d.screenshot(&out.join("phone-slack-authorize.png")).await;
    d.click("#allow-other").await;
    d.wait_for_url("/oauth/callback").await;
    d.succeeded(
        "Slack workspace Other Workspace is connected",
        &out.join("phone-slack-success.png"),
    )
    .await;
    d.client.clone().close().await.expect("the session ends");

    // Both connections were stored in the browser environment.
    let res = reqwest::Client::new()
        .get(format!("{base}/v1/channel-connections"))
        .header("authorization", format!("ApiKey {DEMO_BROWSER_API_KEY}"))
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    let mut providers: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["providerId"].as_str())
        .collect();
    providers.sort_unstable();
    assert_eq!(
        providers,
        ["msteams", "slack", "slack", "webex-messaging"],
        "two Slack workspaces"
    );
    eprintln!("screenshots in {}", out.display());
}
