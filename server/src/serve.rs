//! Serving the router on a TCP listener with the limits a public listener
//! needs: a connection cap, a deadline for each request's headers (and so
//! for a keep-alive connection left idle), an I/O idle backstop, and a
//! bounded graceful shutdown.
//!
//! Written on hyper-util's connection builder, as axum's own low-level
//! serving example does, because `axum::serve` sets no timer (a client that
//! sends half a request line holds its connection, and its file descriptor,
//! forever) and has neither a connection cap nor a shutdown deadline.

use std::future::Future;
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
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops
/// accepting, lets connections finish their requests in flight for up to
/// [`Limits::shutdown_timeout`], and returns. Handlers see the peer's
/// address as [`ConnectInfo<std::net::SocketAddr>`].
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut shutdown = pin!(shutdown);
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
                    // Out of descriptors (or a connection reset before accept): wait, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
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
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "stopped accepting; finishing requests in flight"
    );
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            after_secs = limits.shutdown_timeout.as_secs(),
            "shutdown deadline reached with connections still open; stopping anyway"
        );
    }
}
