//! Serving the router on a TCP listener with the limits a public listener
//! needs: a connection cap, a deadline for each request's headers (and so
//! for a keep-alive connection left idle), an I/O idle backstop, and a
//! bounded graceful shutdown.
//!
//! Written on hyper-util's connection builder, as axum's own low-level
//! serving example does, because `axum::serve` sets no timer (a client that
//! sends half a request line holds its connection, and its file descriptor,
//! forever) and has neither a connection cap nor a shutdown deadline.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

/// The listener's limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Connections one client address may hold at once (0: no limit);
    /// past it, a new connection from that address is closed at once.
    /// Behind a proxy every client has the proxy's address: set 0 there.
    pub max_per_client: usize,
    /// Time to receive a request's headers, counted from the connection's
    /// start or from the end of the previous answer (the keep-alive idle time).
    pub header_timeout: Duration,
    /// A connection whose reads or writes make no progress for this long
    /// is closed (a client that stops reading its answer, say). Longer than
    /// any request may run.
    pub idle_timeout: Duration,
    /// After a shutdown signal, how long requests in flight may take to be
    /// answered before the process stops serving anyway.
    pub shutdown_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_per_client: 256,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// The most bytes a request's head may take (hyper's default is ~400 KB,
/// times every connection).
const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Descriptors kept for the process's own use beside its connections: the
/// database, provider calls, Redis, PostgreSQL, the log.
fn reserved_descriptors(limit: u64) -> u64 {
    (limit / 4).clamp(32, 256)
}

impl Limits {
    /// Raises the soft open-file limit to the hard one and lowers
    /// [`Limits::max_connections`] to what fits under it, so that accepting
    /// connections never leaves a callback without a descriptor for its
    /// provider call. Answers the limit when the cap had to come down.
    pub fn fitted_to_descriptors(mut self) -> (Limits, Option<u64>) {
        let Ok(limit) = rlimit::increase_nofile_limit(u64::MAX) else {
            return (self, None);
        };
        let fits = usize::try_from(limit.saturating_sub(reserved_descriptors(limit)))
            .unwrap_or(usize::MAX)
            .max(1);
        if fits < self.max_connections {
            self.max_connections = fits;
            return (self, Some(limit));
        }
        (self, None)
    }
}

/// Connections held per client address.
#[derive(Default)]
struct PerClient(std::sync::Mutex<HashMap<IpAddr, usize>>);

impl PerClient {
    /// Counts one more connection from `ip`, unless it holds `max` already.
    fn admit(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(ip).or_insert(0);
        if max != 0 && *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot(self.clone(), ip))
    }
}

/// One connection of a client address, given back when dropped.
struct ClientSlot(Arc<PerClient>, IpAddr);

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut held = self.0.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.1);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops
/// accepting, and lets connections finish their requests in flight, and
/// `drain` (work the handlers left running) complete, for up to
/// [`Limits::shutdown_timeout`] in all, and returns. Handlers see the
/// peer's address as [`ConnectInfo<std::net::SocketAddr>`].
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
    drain: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let clients = Arc::new(PerClient::default());
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(MAX_HEAD_BYTES);
    let mut shutdown = pin!(shutdown);
    let mut last_accept_warning: Option<std::time::Instant> = None;
    loop {
        // A permit first: past the cap, connections wait in the backlog
        // instead of taking file descriptors.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors (or a connection reset before accept): wait, go on,
                    // saying so once a second at most.
                    if last_accept_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        tracing::warn!(error = %e, "accept failed");
                        last_accept_warning = Some(std::time::Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // One address holding too many: closed at once, its permit given back.
        let Some(slot) = clients.admit(peer.ip(), limits.max_per_client) else {
            tracing::debug!("connection refused: its client address holds its share");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut stream = TimeoutStream::new(stream);
        stream.set_read_timeout(Some(limits.idle_timeout));
        stream.set_write_timeout(Some(limits.idle_timeout));
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req)
        });
        let conn = http.serve_connection(TokioIo::new(Box::pin(stream)), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // A client that goes away, times out or speaks no HTTP: nothing to do.
            let _ = conn.await;
            drop((slot, permit));
        });
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "stopped accepting; finishing requests in flight"
    );
    let finished = async {
        graceful.shutdown().await;
        drain.await;
    };
    if tokio::time::timeout(limits.shutdown_timeout, finished)
        .await
        .is_err()
    {
        tracing::warn!(
            after_secs = limits.shutdown_timeout.as_secs(),
            "shutdown deadline reached with connections still open; stopping anyway"
        );
    }
}
