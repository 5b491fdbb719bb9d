//! How a callback ended: well (a next redirect, or records stored) or
//! badly (what the browser is told, never a secret).

use channel_connect::CallbackError;

/// How the callback ended well.
pub(super) enum Done {
    /// A second redirect (the Teams tenant proof).
    Next(String),
    /// Records stored.
    Stored {
        env: String,
        integration: String,
        connection: Option<String>,
    },
}

/// How the callback ended badly: what the browser is told (never a secret).
pub(super) struct Refusal {
    pub(super) status: u16,
    pub(super) message: String,
    pub(super) redirect: Option<url::Url>,
}

impl From<CallbackError> for Refusal {
    fn from(e: CallbackError) -> Self {
        match &e {
            CallbackError::State(s) => tracing::warn!(reason = ?s.kind(), "state refused"),
            other => tracing::warn!(refusal = %other, "callback refused"),
        }
        Refusal {
            status: e.status(),
            message: e.to_string(),
            redirect: None,
        }
    }
}

impl Refusal {
    pub(super) fn plain(status: u16, message: &str) -> Self {
        Refusal {
            status,
            message: message.to_owned(),
            redirect: None,
        }
    }
}
