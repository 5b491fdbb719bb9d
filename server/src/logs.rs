//! The service's log: one line per event on stderr, as text for a person
//! (colour on a terminal only) or JSON for a machine, filtered by
//! `RUST_LOG` (`info` when unset), through a non-blocking writer so the
//! request path never waits on the terminal or a pipe. Each request's
//! lines carry its id ([`crate::http`] sets it and echoes it in
//! `x-request-id`).

use std::io::IsTerminal;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event (colour on a terminal).
    #[default]
    Text,
    /// One JSON object per line, with the request's span fields.
    Json,
}

/// Installs the log for the process; keep the guard until exit (it flushes
/// the lines still queued).
pub fn init(format: LogFormat) -> WorkerGuard {
    let (writer, guard) = tracing_appender::non_blocking(std::io::stderr());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    guard
}
