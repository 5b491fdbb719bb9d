//! `channel-connect-server (--config FILE | --demo) [options]`: `--help` lists them;
//! `channel-connect-server --config FILE [--db PATH | --database URL] rekey`
//! seals every stored row again under the active token key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use channel_connect_server::config::{Config, DEMO_API_KEY};
use channel_connect_server::logs::{self, LogFormat};
use channel_connect_server::rate_limit::RateLimit;
use channel_connect_server::sender::Sender;
use channel_connect_server::serve::{Limits, serve};
use channel_connect_server::store::postgres::{PgOptions, PgStore};
use channel_connect_server::store::redis::RedisStore;
use channel_connect_server::store::rekey::{RekeyOptions, RekeyReport, rekey};
use channel_connect_server::store::sqlite::Store;
use channel_connect_server::{AppState, app, install_crypto_provider, os_entropy};

/// Novu's channel-connection OAuth API for Slack and Microsoft Teams.
///
/// Serve a configuration of your own with `--config FILE`, or try the
/// whole flow offline with `--demo` (published keys, stand-ins for Slack
/// and Microsoft: never for real use). Every flag can also be given by the
/// environment variable shown beside it.
#[derive(Parser)]
#[command(version, about, long_about, after_help = HINT)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// The configuration file (environments, API keys, integrations, keys).
    #[arg(long, env = "CHANNEL_CONNECT_CONFIG", value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Run the demo: stand-ins for Slack and Microsoft and a start page on
    /// `/`; with the embedded demo configuration unless `--config` is given.
    #[arg(long, env = "CHANNEL_CONNECT_DEMO")]
    demo: bool,
    /// The address to listen on.
    #[arg(long, env = "CHANNEL_CONNECT_LISTEN", default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// How browsers reach this server (start URLs, cookie path), when not
    /// the listen address (behind a proxy, say).
    #[arg(long, env = "CHANNEL_CONNECT_PUBLIC_URL", value_name = "URL")]
    public_url: Option<String>,
    /// The SQLite file (records; replay marks and idempotency without --redis).
    #[arg(
        long,
        env = "CHANNEL_CONNECT_DB",
        default_value = "channel-connect.db",
        value_name = "PATH",
        global = true
    )]
    db: PathBuf,
    /// Replay marks, parked records and idempotency entries in Redis,
    /// shared by every instance (`redis://` or `rediss://`).
    #[arg(long, env = "CHANNEL_CONNECT_REDIS", value_name = "URL")]
    redis: Option<String>,
    /// The prefix of every Redis key (deployments sharing one Redis each take their own).
    #[arg(long, env = "CHANNEL_CONNECT_REDIS_PREFIX", default_value = "channel-connect")]
    redis_prefix: String,
    /// The CA that signs a `rediss://` server's certificate (else the system's roots).
    #[arg(long, env = "CHANNEL_CONNECT_REDIS_CA", value_name = "FILE")]
    redis_ca: Option<PathBuf>,
    /// Connections, endpoints and start links in PostgreSQL (`postgres://...`).
    #[arg(long, env = "CHANNEL_CONNECT_DATABASE", value_name = "URL", global = true)]
    database: Option<String>,
    /// PostgreSQL connections per instance.
    #[arg(long, env = "CHANNEL_CONNECT_DATABASE_POOL", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    database_pool: u16,
    /// The CA that signs PostgreSQL's certificate (else the system's roots).
    #[arg(long, env = "CHANNEL_CONNECT_DATABASE_CA", value_name = "FILE", global = true)]
    database_ca: Option<PathBuf>,
    /// Connections served at once; more wait to be accepted. Lowered to
    /// what fits under the open-file limit (the soft limit is raised to the
    /// hard one first).
    #[arg(long, env = "CHANNEL_CONNECT_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Connections one client address may hold at once; 0 for no limit
    /// (behind a proxy, where every client has the proxy's address).
    #[arg(
        long,
        env = "CHANNEL_CONNECT_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 256
    )]
    max_connections_per_client: u32,
    /// Seconds a client has to send a request's headers, from connecting
    /// or from the previous answer (the keep-alive idle time).
    #[arg(long, env = "CHANNEL_CONNECT_HEADER_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_timeout: u64,
    /// Seconds a connection may make no read or write progress (at least 31:
    /// longer than a request may run).
    #[arg(long, env = "CHANNEL_CONNECT_IDLE_TIMEOUT", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(31..=86400))]
    idle_timeout: u64,
    /// Seconds requests in flight have to finish after SIGTERM or Ctrl-C
    /// before the process exits anyway.
    #[arg(long, env = "CHANNEL_CONNECT_SHUTDOWN_TIMEOUT", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    shutdown_timeout: u64,
    /// Seconds before a rotating token's expiry from which it is refreshed
    /// (on a credentials read, and by the sweep).
    #[arg(long, env = "CHANNEL_CONNECT_REFRESH_MARGIN", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    refresh_margin: u64,
    /// Seconds between two sweeps that refresh the tokens due (every
    /// instance sweeps; the store's lease lets one refresh each connection).
    #[arg(long, env = "CHANNEL_CONNECT_REFRESH_INTERVAL", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    refresh_interval: u64,
    /// Seconds between two passes over the Teams app installations still
    /// pending for linked users (also the first pause after a failed one;
    /// it doubles with each attempt).
    #[arg(long, env = "CHANNEL_CONNECT_APP_INSTALL_INTERVAL", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    app_install_interval: u64,
    /// Requests a minute each client address may make to the routes
    /// anyone can call (the callback, the start link); past it, 429 with
    /// `Retry-After`. 0 turns the limit off.
    #[arg(long, env = "CHANNEL_CONNECT_RATE_LIMIT_PER_MINUTE", default_value_t = 600)]
    rate_limit_per_minute: u32,
    /// Requests one address may make at once before the per-minute rate applies.
    #[arg(long, env = "CHANNEL_CONNECT_RATE_LIMIT_BURST", default_value_t = 120,
          value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit_burst: u32,
    /// Limit loopback addresses too (they are exempt by default: a proxy on
    /// the same host would be one client).
    #[arg(long, env = "CHANNEL_CONNECT_RATE_LIMIT_LOOPBACK")]
    rate_limit_loopback: bool,
    /// How log lines are written to stderr: `text` (colour on a terminal)
    /// or `json` (one object per line, with the request's id). `RUST_LOG`
    /// filters them (`info` when unset; `warn` silences the request lines).
    #[arg(long, env = "CHANNEL_CONNECT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Seal every stored connection and endpoint again under the active
    /// token key (`tokenKeys` in --config), in the SQLite file (--db) or in
    /// PostgreSQL (--database), a batch per transaction. A run that stops
    /// loses nothing: run it again to continue. Exits 0 once no row is under
    /// another key, 1 while some are (it says why), 2 on an error.
    Rekey(RekeyArgs),
}

#[derive(clap::Args)]
struct RekeyArgs {
    /// Rows sealed again per transaction.
    #[arg(long, env = "CHANNEL_CONNECT_REKEY_BATCH_SIZE", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch_size: u32,
    /// Stop after this many batches (to spread the work; a later run continues).
    #[arg(long, env = "CHANNEL_CONNECT_REKEY_MAX_BATCHES", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    max_batches: Option<u64>,
}

const HINT: &str = "channel-connect-server needs --config FILE (your configuration) or --demo (an offline trial); --help lists every flag";

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let _flush_on_exit = logs::init(args.log_format);
    if let Some(Command::Rekey(r)) = &args.command {
        return rekey_command(&args, r).await;
    }
    if args.config.is_none() && !args.demo {
        eprintln!("{HINT}");
        return ExitCode::from(2);
    }
    if args.demo && cfg!(not(feature = "demo")) {
        eprintln!("this build has no demo (feature `demo` is off): pass --config FILE");
        return ExitCode::from(2);
    }
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

async fn run(a: Args) -> Result<(), String> {
    install_crypto_provider();
    // Before the port opens: a SIGTERM that comes as soon as the server
    // listens must find the handler (the default action would kill it).
    let stop = Signals::install().map_err(|e| format!("signal handlers: {e}"))?;
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", a.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let base = match &a.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => format!("http://{addr}"),
    };
    if unroutable(&base) {
        tracing::warn!(
            public_url = %base,
            "browsers cannot reach this address: start links and redirect URIs would point at it; pass --public-url with the address browsers use"
        );
    }
    let config = match &a.config {
        Some(path) => Config::from_file(&path.to_string_lossy())?,
        None => Config::demo(&base)?,
    };
    let store = Store::open(&a.db, &config.token_keys, os_entropy).map_err(|e| e.to_string())?;
    let sender = Sender::new().map_err(|e| format!("HTTP client: {e}"))?;
    let token_keys = config.token_keys.clone();
    let mut state = AppState::new(config, store, sender, &base);
    if let Some(url) = &a.database {
        let options = PgOptions {
            pool_size: usize::from(a.database_pool),
            ca_file: a.database_ca.clone(),
        };
        let records = PgStore::connect_with(url, &token_keys, os_entropy, &options)
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
    state.refresh_margin = time::Duration::seconds(i64::try_from(a.refresh_margin).unwrap_or(600));
    state.app_install_interval = Duration::from_secs(a.app_install_interval);
    state.rate_limit = RateLimit::new(a.rate_limit_per_minute, a.rate_limit_burst, a.rate_limit_loopback);
    let state = Arc::new(state);
    let stopping = CancellationToken::new();
    state.tasks.spawn(channel_connect_server::refresh::sweep(
        state.clone(),
        Duration::from_secs(a.refresh_interval),
        stopping.clone(),
    ));
    state.tasks.spawn(channel_connect_server::teams_app::sweep(
        state.clone(),
        state.app_install_interval,
        stopping.clone(),
    ));
    tracing::info!(%addr, demo = a.demo, db = %a.db.display(), redis = a.redis.is_some(), postgres = a.database.is_some(), "listening");
    if a.demo {
        announce_demo(&base, &addr, a.config.is_none());
    }
    let wanted = Limits {
        max_connections: usize::try_from(a.max_connections).unwrap_or(usize::MAX),
        max_per_client: usize::try_from(a.max_connections_per_client).unwrap_or(usize::MAX),
        header_timeout: Duration::from_secs(a.header_timeout),
        idle_timeout: Duration::from_secs(a.idle_timeout),
        shutdown_timeout: Duration::from_secs(a.shutdown_timeout),
    };
    let (limits, open_files) = wanted.fitted_to_descriptors();
    if let Some(open_files) = open_files {
        tracing::warn!(
            open_files,
            max_connections = limits.max_connections,
            "--max-connections lowered to fit the open-file limit (raise it with ulimit -n or LimitNOFILE=)"
        );
    }
    let tasks = state.tasks.clone();
    let sweep_stop = stopping.clone();
    let drain = async move {
        stopping.cancel();
        tasks.close();
        tasks.wait().await;
    };
    serve(
        listener,
        app(state, a.demo, &base),
        limits,
        // The sweep stops taking new refreshes as soon as the signal comes.
        async move {
            stop.received().await;
            sweep_stop.cancel();
        },
        drain,
    )
    .await;
    Ok(())
}

/// `rekey`: runs it, prints what it did and what is left.
async fn rekey_command(a: &Args, r: &RekeyArgs) -> ExitCode {
    match run_rekey(a, r).await {
        Ok(done) => {
            print_rekey(&done, r);
            if done.0.remaining_rows() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

/// The report, and the active key's id.
async fn run_rekey(a: &Args, r: &RekeyArgs) -> Result<(RekeyReport, u8), String> {
    let Some(path) = &a.config else {
        return Err("rekey needs --config FILE (its tokenKeys say which key seals)".to_owned());
    };
    install_crypto_provider();
    let config = Config::from_file(&path.to_string_lossy())?;
    let options = RekeyOptions {
        batch_size: usize::try_from(r.batch_size).unwrap_or(500),
        max_batches: r.max_batches,
    };
    let keys = &config.token_keys;
    let report = match &a.database {
        Some(url) => {
            let options_pg = PgOptions {
                pool_size: 1,
                ca_file: a.database_ca.clone(),
            };
            let store = PgStore::connect_with(url, keys, os_entropy, &options_pg)
                .await
                .map_err(|e| e.to_string())?;
            rekey(&store, options).await
        }
        None => {
            // Opening creates a missing file: a mistyped path would rekey nothing, and say done.
            if !a.db.exists() {
                return Err(format!("no database at {} (--db)", a.db.display()));
            }
            let store = Store::open(&a.db, keys, os_entropy).map_err(|e| e.to_string())?;
            rekey(&store, options).await
        }
    };
    Ok((report.map_err(|e| e.to_string())?, keys.active()))
}

fn print_rekey((report, active): &(RekeyReport, u8), r: &RekeyArgs) {
    println!(
        "rekey: {} rows sealed again under token key {active} ({} batches)",
        report.resealed, report.batches
    );
    let left: Vec<String> = report
        .remaining
        .iter()
        .map(|(id, n)| format!("{n} under key {id}"))
        .collect();
    if left.is_empty() {
        println!("rekey: no row remains under another key");
    } else {
        println!(
            "rekey: {} rows remain: {}",
            report.remaining_rows(),
            left.join(", ")
        );
    }
    if report.unreadable > 0 {
        println!(
            "rekey: {} rows open with no configured key (logged above) and stay as they are",
            report.unreadable
        );
    }
    if report.stopped {
        let max = r.max_batches.unwrap_or_default();
        println!("rekey: stopped after {max} batches (--max-batches): run it again to continue");
    } else if report.remaining_rows() > report.unreadable {
        println!(
            "rekey: rows were written meanwhile under another key: run it again once every instance seals under key {active}"
        );
    }
}

/// The demo says what it is: loudly when anyone but this machine can reach
/// it (its keys are published), with a first request to try on loopback.
fn announce_demo(base: &str, addr: &SocketAddr, embedded: bool) {
    if !addr.ip().is_loopback() {
        let banner = "THIS IS THE DEMO: its API keys, signing and token keys are published and its Slack and Microsoft are stand-ins. Never expose it; serve your own configuration with --config FILE.";
        tracing::warn!("{banner}");
        println!("!!! {banner} !!!");
    }
    println!("channel-connect demo on {base}  (open {base}/ in a browser)");
    if embedded {
        println!(
            "curl -s -X POST {base}/v1/integrations/channel-connections/oauth \\\n  -H 'Authorization: ApiKey {DEMO_API_KEY}' -H 'Content-Type: application/json' \\\n  -d '{{\"subscriberId\":\"subscriber-123\",\"integrationIdentifier\":\"slack\",\"connectionIdentifier\":\"slack-connection-abc123\",\"context\":{{\"key\":\"org-acme\"}},\"scope\":[\"chat:write\",\"chat:write.public\",\"channels:read\"],\"connectionMode\":\"shared\",\"autoLinkUser\":true}}'"
        );
    }
}

/// SIGTERM and Ctrl-C (SIGINT), listened for from the start.
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Either signal: stop accepting, finish the requests in flight.
    async fn received(mut self) {
        tokio::select! {
            _ = self.terminate.recv() => {}
            _ = self.interrupt.recv() => {}
        }
        tracing::info!("shutting down");
    }
}

/// Whether a browser could not be sent to `base` (an any-address such as
/// `0.0.0.0` or `[::]` is where a server listens, not where it is reached).
fn unroutable(base: &str) -> bool {
    url::Url::parse(base).is_ok_and(|u| match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_unspecified(),
        _ => false,
    })
}
