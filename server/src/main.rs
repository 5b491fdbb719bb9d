//! `channel-connect-server [--config FILE] [--listen ADDR] [--db PATH] [--demo]`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use channel_connect_server::config::{Config, DEMO_API_KEY};
use channel_connect_server::postgres::{PgOptions, PgStore};
use channel_connect_server::redis::RedisStore;
use channel_connect_server::sender::Sender;
use channel_connect_server::sqlite::Store;
use channel_connect_server::{AppState, app, install_crypto_provider, os_entropy};

const USAGE: &str = "usage: channel-connect-server [--config FILE] [--listen ADDR] [--public-url URL] [--db PATH] [--redis URL] [--redis-prefix P] [--redis-ca FILE] [--database URL] [--database-pool N] [--database-ca FILE] [--demo]";

struct Args {
    config: Option<String>,
    listen: SocketAddr,
    db: PathBuf,
    demo: bool,
    /// How browsers reach this server (start URLs), when not the listen address.
    public_url: Option<String>,
    /// Replay marks and idempotency entries in Redis, shared by instances.
    redis: Option<String>,
    /// The Redis key prefix (deployments sharing one Redis each take their own).
    redis_prefix: String,
    /// The CA that signs a `rediss://` server's certificate (else the system's roots).
    redis_ca: Option<PathBuf>,
    /// Connections and endpoints in PostgreSQL (`postgres://...`).
    database: Option<String>,
    /// PostgreSQL connections per instance, and the CA that signs its certificate.
    database_options: PgOptions,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        config: None,
        listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
        db: PathBuf::from("channel-connect.db"),
        demo: false,
        public_url: None,
        redis: None,
        redis_prefix: "channel-connect".to_owned(),
        redis_ca: None,
        database: None,
        database_options: PgOptions::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value\n{USAGE}"));
        match flag.as_str() {
            "--config" => a.config = Some(value()?),
            "--listen" => a.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--db" => a.db = PathBuf::from(value()?),
            "--public-url" => a.public_url = Some(value()?.trim_end_matches('/').to_owned()),
            "--redis" => a.redis = Some(value()?),
            "--redis-prefix" => a.redis_prefix = value()?,
            "--redis-ca" => a.redis_ca = Some(PathBuf::from(value()?)),
            "--database-ca" => a.database_options.ca_file = Some(PathBuf::from(value()?)),
            "--database" => a.database = Some(value()?),
            "--database-pool" => {
                a.database_options.pool_size = value()?
                    .parse()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or("--database-pool: a number of connections, 1 to 1000")?
            }
            "--demo" => a.demo = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt().with_target(false).init();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), String> {
    install_crypto_provider();
    let a = args()?;
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", a.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let base = a.public_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let demo = a.demo || a.config.is_none();
    let config = match &a.config {
        Some(path) => Config::from_file(path)?,
        None => Config::demo(&base)?,
    };
    let store = Store::open(&a.db, &config.token_key, os_entropy).map_err(|e| e.to_string())?;
    let sender = Sender::new().map_err(|e| format!("HTTP client: {e}"))?;
    let token_key = config.token_key;
    let mut state = AppState::new(config, store, sender, &base);
    if let Some(url) = &a.database {
        let records = PgStore::connect_with(url, &token_key, os_entropy, &a.database_options)
            .await
            .map_err(|e| e.to_string())?;
        state = state.recording(records);
    }
    if let Some(url) = &a.redis {
        let shared = RedisStore::connect_with(url, &a.redis_prefix, a.redis_ca.as_deref())
            .await
            .map_err(|e| e.to_string())?;
        state = state.sharing(shared);
    }
    if a.database.is_some() && a.redis.is_none() {
        tracing::warn!(
            "--database without --redis: replay marks, parked records and idempotency entries stay in this instance's SQLite file; instances behind one address need --redis too"
        );
    }
    let state = Arc::new(state);
    tracing::info!(%addr, demo, db = %a.db.display(), redis = a.redis.is_some(), postgres = a.database.is_some(), "listening");
    if demo && a.config.is_none() {
        println!("channel-connect demo on {base}  (open {base}/ in a browser)");
        println!(
            "curl -s -X POST {base}/v1/integrations/channel-connections/oauth \\\n  -H 'Authorization: ApiKey {DEMO_API_KEY}' -H 'Content-Type: application/json' \\\n  -d '{{\"subscriberId\":\"subscriber-123\",\"integrationIdentifier\":\"slack\",\"connectionIdentifier\":\"slack-connection-abc123\",\"context\":{{\"key\":\"org-acme\"}},\"scope\":[\"chat:write\",\"chat:write.public\",\"channels:read\"],\"connectionMode\":\"shared\",\"autoLinkUser\":true}}'"
        );
    }
    axum::serve(listener, app(state, demo, &base))
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| e.to_string())
}

/// Ctrl-C or SIGTERM: stop accepting, finish the requests in flight.
async fn shutdown() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}
