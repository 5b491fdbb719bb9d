//! The second half: verify a provider's redirect back to the callback URL.
//!
//! ```text
//! cargo run --example callback -- [--config FILE] [--now UNIX_SECONDS] [--binding VALUE]
//!     [--token-response FILE [--token-status N] [--identity-response FILE]] CALLBACK_URL_OR_QUERY
//! ```
//!
//! Uses the same embedded demo configuration as `examples/connect`. Prints the
//! verified outcome as JSON (exit 0), or `{"statusCode": N, "message": ...}`
//! on stderr (exit 2); a refused state also says why under `reason`, as a
//! server would log it.
//!
//! A Teams admin consent prints `nextUrl`, the sign-in in the claimed tenant
//! that proves it, and no `exchange`: the consent alone proves nothing, so
//! `--token-response` on it prints `"records": null`. The sign-in's own
//! callback prints the delegated token request, and with `--token-response`
//! the connection (and user link) when the `id_token` names that tenant.
//!
//! A Webex answer does not say whose token it is: with `--token-response`
//! the example prints the `identity` request (`people/me`, with that token)
//! that must be sent next, and with `--identity-response` its answer too,
//! the records (the connection in the person's organization).

#[path = "demo/mod.rs"]
mod demo;

use std::process::ExitCode;

use channel_connect::exchange::ExchangeError;
use channel_connect::records::StoredRecords;
use channel_connect::{
    CallbackError, CallbackParams, HttpRequest, HttpResponse, VerifiedCallback, VerifyParams,
};
use serde_json::{Map, Value, json};

fn main() -> ExitCode {
    match run() {
        Ok(out) => {
            demo::print_out(&serde_json::to_string_pretty(&out).expect("serializes"));
            ExitCode::SUCCESS
        }
        Err(Failure::Callback(e)) => {
            let reason = match &e {
                CallbackError::State(s) => Some(json!({ "reason": format!("{:?}", s.kind()) })),
                CallbackError::Denied { error, description }
                | CallbackError::Provider { error, description } => {
                    Some(json!({ "error": error, "errorDescription": description }))
                }
                _ => None,
            };
            demo::fail(e.status(), &e.to_string(), reason)
        }
        Err(Failure::Usage(msg)) => demo::fail(400, &msg, None),
    }
}

enum Failure {
    Callback(CallbackError),
    Usage(String),
}

impl From<CallbackError> for Failure {
    fn from(e: CallbackError) -> Self {
        Failure::Callback(e)
    }
}

impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure::Usage(e)
    }
}

fn run() -> Result<Value, Failure> {
    let args = demo::Args::parse(&[
        "config",
        "now",
        "binding",
        "token-response",
        "token-status",
        "identity-response",
    ])?;
    let [input] = args.positional.as_slice() else {
        return Err(
            "usage: callback [--config FILE] [--now UNIX_SECONDS] [--binding VALUE] \
                    [--token-response FILE [--identity-response FILE]] CALLBACK_URL_OR_QUERY"
                .to_owned()
                .into(),
        );
    };
    let core = demo::load(args.get("config"))?;
    let mut verify = VerifyParams::at(demo::now(args.get("now"))?);
    verify.binding = args.get("binding").map(str::as_bytes);
    // The whole URL, the path and query, or the query: `parse` takes the
    // query out of it (after the first `?`, before a `#`) and applies the
    // 8 KiB limit to the query alone (SPEC.md section 8), as a server does.
    let params = CallbackParams::parse(input)?;
    let verified = core.verify_callback(&params, &verify)?;
    let mut out = describe(&verified);
    let request = verified
        .token_request()
        .map_err(|e| format!("no token request: {e}"))?;
    if let Some(req) = &request {
        out["exchange"] = describe_request(req);
    }
    if let Some(path) = args.get("token-response") {
        out["records"] = match (&request, &verified.next) {
            // Nothing was exchanged, so no answer can be about this flow.
            (None, Some(_)) => {
                out["recordsNote"] = Value::String(
                    "an admin consent proves no tenant and yields no records: follow nextUrl".into(),
                );
                Value::Null
            }
            _ => {
                let status = match args.get("token-status") {
                    Some(s) => s
                        .parse()
                        .map_err(|_| format!("--token-status takes an HTTP status, not {s:?}"))?,
                    None => 200,
                };
                let body = read(path)?;
                let token = HttpResponse::new(status, &body);
                match verified
                    .identity_request(&token)
                    .map_err(|e| format!("token response refused: {e}"))?
                {
                    // One answer says it all (Slack, Teams).
                    None => records(verified.records(&token, verify.now))?,
                    Some(identity) => {
                        out["identity"] = describe_request(&identity);
                        match args.get("identity-response") {
                            Some(path) => {
                                let body = read(path)?;
                                let answer = HttpResponse::new(200, &body);
                                records(verified.records_with_identity(&token, &answer, verify.now))?
                            }
                            None => {
                                out["recordsNote"] = Value::String(
                                    "send the identity request and pass its answer with --identity-response"
                                        .into(),
                                );
                                Value::Null
                            }
                        }
                    }
                }
            }
        };
    }
    Ok(out)
}

fn read(path: &str) -> Result<Vec<u8>, Failure> {
    Ok(std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?)
}

/// The records to store, from the provider's answers.
fn records(stored: Result<StoredRecords, ExchangeError>) -> Result<Value, Failure> {
    let stored = stored.map_err(|e| format!("token response refused: {e}"))?;
    Ok(serde_json::to_value(&stored).expect("records serialize"))
}

/// The HTTP request the host sends next, secrets shown as `[redacted]`.
fn describe_request(req: &HttpRequest) -> Value {
    let headers: Map<String, Value> = req
        .headers()
        .iter()
        .map(|h| {
            let v = if h.is_sensitive() { "[redacted]" } else { h.value() };
            (h.name().to_owned(), Value::String(v.to_owned()))
        })
        .collect();
    // `Debug` knows which form fields are secret: reuse its redaction.
    let form: Map<String, Value> = url::form_urlencoded::parse(req.body().as_bytes())
        .map(|(k, v)| {
            let secret = matches!(
                k.as_ref(),
                "client_secret" | "code" | "code_verifier" | "refresh_token"
            );
            let v = if secret {
                "[redacted]".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), Value::String(v))
        })
        .collect();
    json!({ "method": req.method(), "url": req.url(), "headers": headers, "form": form })
}

/// The verified facts as camelCase JSON (the state's own serialization),
/// the outcome (never the code) and the next URL.
fn describe(v: &VerifiedCallback<'_>) -> Value {
    let mut out = serde_json::to_value(&v.state).expect("a state serializes");
    out["outcome"] = serde_json::to_value(&v.outcome).expect("an outcome serializes");
    if let Some(next) = &v.next {
        out["nextUrl"] = Value::String(next.url.clone());
    }
    out
}
