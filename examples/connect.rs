//! The main job: answer `POST /v1/integrations/channel-connections/oauth`.
//!
//! ```text
//! cargo run --example connect -- [--config FILE] [--now UNIX_SECONDS] [--entropy HEX64]
//!     [--binding VALUE] [--workspace ID] [--link-user] [--sign-context SECRET_KEY] [REQUEST_FILE|-]
//! ```
//!
//! Reads a request body (a file, stdin, or Novu's documented example body when
//! run from a terminal with no argument) and prints `{"url": "..."}`. On a bad
//! request it prints Novu's `{"statusCode": N, "message": ...}` on stderr and
//! exits 2. `--link-user` answers `POST /v1/integrations/channel-endpoints/oauth`
//! instead; `--sign-context KEY` adds the `contextHash` a customer backend
//! would compute with the environment secret key `KEY`; `--workspace ID`
//! restricts the flow to a Slack team or Teams tenant (the workspace of the
//! connection a user is being linked to).

#[path = "demo/mod.rs"]
mod demo;

use std::process::ExitCode;

use channel_connect::{
    ConnectRequestBody, ConnectResponse, Entropy, IssueParams, LinkUserRequestBody, RequestError,
};
use serde_json::Value;

fn main() -> ExitCode {
    match run() {
        Ok(url) => {
            demo::print_out(&serde_json::to_string(&ConnectResponse { url }).expect("serializes"));
            ExitCode::SUCCESS
        }
        Err(Failure::Request(e)) => {
            demo::print_err(&e.to_json().to_string());
            ExitCode::from(2)
        }
        Err(Failure::Usage(msg)) => demo::fail(400, &msg, None),
    }
}

enum Failure {
    Request(RequestError),
    Usage(String),
}

impl From<RequestError> for Failure {
    fn from(e: RequestError) -> Self {
        Failure::Request(e)
    }
}

impl From<String> for Failure {
    fn from(e: String) -> Self {
        Failure::Usage(e)
    }
}

fn run() -> Result<String, Failure> {
    let args = demo::Args::parse(&["config", "now", "entropy", "binding", "sign-context", "workspace"])?;
    let core = demo::load(args.get("config"))?;
    let now = demo::now(args.get("now"))?;
    let entropy = Entropy(demo::entropy(args.get("entropy"))?);
    let mut body = demo::read_body(args.positional.first().map(String::as_str))?;
    if let Some(key) = args.get("sign-context") {
        body = sign_context(&body, key)?;
    }
    let params = IssueParams {
        binding: args.get("binding").map(str::as_bytes),
        workspace: args.get("workspace"),
        ..IssueParams::new(now, &entropy)
    };
    let issued = if args.flag("link-user") {
        core.link_user_url(&LinkUserRequestBody::from_json(&body)?, &params)?
    } else {
        core.connect_url(&ConnectRequestBody::from_json(&body)?, &params)?
    };
    Ok(issued.url)
}

/// Adds `contextHash` over the body's `context`, as the customer's backend would.
fn sign_context(body: &[u8], key: &str) -> Result<Vec<u8>, Failure> {
    let mut v: Value =
        serde_json::from_slice(body).map_err(|e| format!("--sign-context needs a JSON body: {e}"))?;
    let ctx = v
        .get("context")
        .and_then(Value::as_object)
        .ok_or_else(|| "--sign-context needs a body with a context".to_owned())?;
    let hash = channel_connect::context_hash::context_hash(key.as_bytes(), ctx)
        .map_err(|e| format!("context cannot be signed: {e}"))?;
    v["contextHash"] = Value::String(hash);
    Ok(serde_json::to_vec(&v).expect("serializes"))
}
