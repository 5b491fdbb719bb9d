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

    /// Sends one request; `None` when the provider could not be reached.
    pub async fn send(&self, req: &HttpRequest) -> Option<Answer> {
        let method = match req.method_kind() {
            Method::Get => reqwest::Method::GET,
            _ => reqwest::Method::POST,
        };
        let mut builder = self.client.request(method, req.url());
        for h in req.headers() {
            builder = builder.header(h.name(), h.value());
        }
        if !req.body().is_empty() {
            builder = builder.body(req.body().to_owned());
        }
        let mut res = builder.send().await.ok()?;
        let status = res.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.ok()? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_RESPONSE_BYTES {
                break; // the parser refuses it as too large
            }
        }
        Some(Answer { status, body })
    }
}
