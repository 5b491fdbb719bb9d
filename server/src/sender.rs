//! Sends the library's request values over HTTP: a timeout on every call,
//! redirects not followed, and the answer's body capped before it is read.

use std::time::Duration;

use channel_connect::exchange::MAX_RESPONSE_BYTES;
use channel_connect::http::{HttpRequest, Method};

/// An HTTP client for provider calls.
#[derive(Clone, Debug)]
pub struct Sender {
    client: reqwest::Client,
}

/// The status and body of a provider's answer.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body, at most [`MAX_RESPONSE_BYTES`] + 1 bytes (the parsers refuse more).
    pub body: Vec<u8>,
}

impl Sender {
    /// A client with a 10-second timeout.
    pub fn new() -> Result<Self, reqwest::Error> {
        Sender::with_timeout(Duration::from_secs(10))
    }

    /// A client whose every call (connect, send, read) ends within `timeout`.
    pub fn with_timeout(timeout: Duration) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Sender { client })
    }

    /// Sends one request; the kind of failure when no answer came.
    pub async fn send(&self, req: &HttpRequest) -> Result<Answer, SendError> {
        let method = match req.method_kind() {
            Method::Get => reqwest::Method::GET,
            Method::Delete => reqwest::Method::DELETE,
            Method::Post => reqwest::Method::POST,
            // A method this sender does not know is not sent as another.
            _ => {
                return Err(SendError {
                    kind: SendErrorKind::Request,
                    io: None,
                });
            }
        };
        let mut builder = self.client.request(method, req.url());
        for h in req.headers() {
            builder = builder.header(h.name(), h.value());
        }
        if !req.body().is_empty() {
            builder = builder.body(req.body().to_owned());
        }
        let mut res = builder.send().await.map_err(SendError::from)?;
        let status = res.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(SendError::from)? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_RESPONSE_BYTES {
                break; // the parser refuses it as too large
            }
        }
        Ok(Answer { status, body })
    }
}

/// Why a provider call got no answer: the kind only, fit for a log line
/// (reqwest's own message names the URL, which a log must not carry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendError {
    /// What failed.
    pub kind: SendErrorKind,
    /// The operating system's reason, when there was one (connection refused, reset).
    pub io: Option<std::io::ErrorKind>,
}

/// What part of a provider call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendErrorKind {
    /// No answer within the timeout.
    Timeout,
    /// No connection (DNS, refused, TLS handshake).
    Connect,
    /// The answer broke off while its body was read.
    Body,
    /// Anything else on the way (a redirect refused, a protocol error).
    Request,
}

impl From<reqwest::Error> for SendError {
    fn from(e: reqwest::Error) -> Self {
        let kind = if e.is_timeout() {
            SendErrorKind::Timeout
        } else if e.is_connect() {
            SendErrorKind::Connect
        } else if e.is_body() || e.is_decode() {
            SendErrorKind::Body
        } else {
            SendErrorKind::Request
        };
        let mut source = std::error::Error::source(&e);
        let mut io = None;
        while let Some(cause) = source {
            if let Some(os) = cause.downcast_ref::<std::io::Error>() {
                io = Some(os.kind());
                break;
            }
            source = cause.source();
        }
        SendError { kind, io }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            SendErrorKind::Timeout => "timed out",
            SendErrorKind::Connect => "could not connect",
            SendErrorKind::Body => "answer broke off",
            SendErrorKind::Request => "request failed",
        };
        match self.io {
            Some(io) => write!(f, "{what} ({io})"),
            None => f.write_str(what),
        }
    }
}

impl std::error::Error for SendError {}
