//! The second half: verify a provider's redirect back to the callback URL.
//!
//! ```text
//! cargo run --example callback -- [--config FILE] [--now UNIX_SECONDS] [--binding VALUE]
//!     [--token-response FILE] CALLBACK_URL_OR_QUERY
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

#[path = "demo/mod.rs"]
mod demo;

use std::process::ExitCode;

use channel_connect::{
    CallbackError, CallbackParams, ChannelConnect, HttpRequest, ProviderOutcome, VerifiedCallback,
    VerifyParams, exchange, records,
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
    let args = demo::Args::parse(&["config", "now", "binding", "token-response"])?;
    let [input] = args.positional.as_slice() else {
        return Err(
            "usage: callback [--config FILE] [--now UNIX_SECONDS] [--binding VALUE] \
                    [--token-response FILE] CALLBACK_URL_OR_QUERY"
                .to_owned()
                .into(),
        );
    };
    let core = demo::load(args.get("config"))?;
    let mut verify = VerifyParams::at(demo::now(args.get("now"))?);
    verify.binding = args.get("binding").map(str::as_bytes);
    let params = CallbackParams::parse(input)?;
    let verified = core.verify_callback(&params, &verify)?;
    let mut out = describe(&verified);
    let request = exchange::request_for(&core, &verified);
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
            _ => token_records(&core, &verified, path, verify.now)?,
        };
    }
    Ok(out)
}

/// Parses the provider's answer to the exchange and returns the records to store.
fn token_records(
    core: &ChannelConnect,
    verified: &VerifiedCallback,
    path: &str,
    now: time::OffsetDateTime,
) -> Result<Value, Failure> {
    let body = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let stored = records::from_token_response(core, verified, &body, now)
        .map_err(|e| format!("token response refused: {e}"))?;
    Ok(serde_json::to_value(&stored).expect("records serialize"))
}

/// The HTTP request the host sends next, secrets shown as `[redacted]`.
fn describe_request(req: &HttpRequest) -> Value {
    const SECRET_FIELDS: &[&str] = &["client_secret", "code", "code_verifier", "refresh_token"];
    let headers: Map<String, Value> = req
        .headers()
        .iter()
        .map(|h| {
            let v = if h.is_sensitive() { "[redacted]" } else { h.value() };
            (h.name().to_owned(), Value::String(v.to_owned()))
        })
        .collect();
    let form: Map<String, Value> = url::form_urlencoded::parse(req.body().as_bytes())
        .map(|(k, v)| {
            let v = if SECRET_FIELDS.contains(&k.as_ref()) {
                "[redacted]".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), Value::String(v))
        })
        .collect();
    json!({ "method": req.method(), "url": req.url(), "headers": headers, "form": form })
}

/// The verified facts as camelCase JSON.
fn describe(v: &VerifiedCallback) -> Value {
    let s = &v.state;
    let context: Map<String, Value> = s
        .context()
        .map(|e| {
            let value = match e.data {
                None => Value::String(e.id.to_owned()),
                Some(data) => {
                    json!({ "id": e.id, "data": serde_json::from_str::<Value>(data).unwrap_or(Value::Null) })
                }
            };
            (e.key.to_owned(), value)
        })
        .collect();
    let outcome = match &v.outcome {
        ProviderOutcome::Code { .. } => json!({ "type": "code", "code": "[redacted]" }),
        ProviderOutcome::AdminConsent { tenant, scope } => json!({
            "type": "adminConsent",
            "unverifiedTenant": tenant.claimed(),
            "scope": scope,
        }),
        _ => json!({ "type": "other" }),
    };
    let mut out = json!({
        "provider": s.provider(),
        "integrationIdentifier": s.integration_identifier(),
        "environmentId": s.environment_id(),
        "organizationId": s.organization_id(),
        "subscriberId": s.subscriber_id(),
        "connectionIdentifier": s.connection_identifier(),
        "context": context,
        "workspace": s.workspace(),
        "connectionMode": s.connection_mode(),
        "autoLinkUser": s.auto_link_user(),
        "purpose": s.purpose(),
        "replayId": s.replay_id().to_string(),
        "expiresAt": s.expires_at().unix_timestamp(),
        "outcome": outcome,
    });
    if let Some(next) = &v.next {
        out["nextUrl"] = Value::String(next.url.clone());
    }
    out
}
