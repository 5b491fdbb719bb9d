//! The Teams app for linked users: installed so the bot can message them,
//! removed when their connection is deleted (Microsoft Graph, with an
//! app-only token of the user's tenant:
//! <https://learn.microsoft.com/graph/api/userteamwork-post-installedapps>,
//! <https://learn.microsoft.com/graph/api/userteamwork-delete-installedapps>).
//!
//! An installation is not lost: a stored Teams user link is `pending`
//! ([`crate::store::app_installs`]) until an attempt installs the app. The
//! callback tries at once; what fails (a slow Graph, a link stored by a
//! retried callback) is tried again by [`sweep`] after a pause that doubles
//! each time, up to [`MAX_ATTEMPTS`] attempts.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use channel_connect::http::HttpRequest;
use channel_connect::provider::msteams::graph::{self, TeamsAppId, UserInstall};
use channel_connect::provider::msteams::token as microsoft;
use channel_connect::secret::AccessToken;
use channel_connect::{HttpResponse, MsTeams, Tenant};

use crate::sender::Answer;
use crate::state::AppState;
use crate::store::DueInstall;
use crate::store::app_installs::{ALREADY_INSTALLED, FAILED, INSTALLED, PENDING};

/// Attempts before an installation is given up (`failed`; a new link tries again).
pub const MAX_ATTEMPTS: i64 = 8;
/// How long an attempt holds its installation (past the Graph calls' timeouts).
const CLAIM_SECS: i64 = 120;
/// At most this many installations per pass.
const BATCH: i64 = 20;

/// A step that failed, and why (kinds and statuses only: fit for a log and
/// for the endpoint's visible status).
#[derive(Debug)]
pub struct Failed {
    /// `app-only token`, `find app`, `install`, `list installs`, `uninstall`.
    pub step: &'static str,
    /// What went wrong.
    pub cause: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.step, self.cause)
    }
}

/// Installs the app for `user` of `tenant`.
pub async fn install(s: &AppState, app: &MsTeams, user: &str, tenant: &str) -> Result<UserInstall, Failed> {
    let (token, found) = token_and_app(s, app, tenant).await?;
    let req = graph::install_for_user_request(app, &token, user, &found)
        .map_err(|_| failed("install", "not an object id"))?;
    let answer = send(s, "install", &req).await?;
    graph::parse_install_for_user(&HttpResponse::new(answer.status, &answer.body))
        .map_err(refused("install", answer.status))
}

/// Removes every installation of the app for `user` of `tenant`; how many
/// there were (none: already gone).
pub async fn uninstall(s: &AppState, app: &MsTeams, user: &str, tenant: &str) -> Result<usize, Failed> {
    let (token, found) = token_and_app(s, app, tenant).await?;
    let req = graph::user_installs_request(app, &token, user, &found)
        .map_err(|_| failed("list installs", "not an object id"))?;
    let answer = send(s, "list installs", &req).await?;
    let installs = graph::parse_user_installs(&HttpResponse::new(answer.status, &answer.body), &found)
        .map_err(refused("list installs", answer.status))?;
    for installation in &installs {
        let req = graph::uninstall_for_user_request(app, &token, user, installation)
            .map_err(|_| failed("uninstall", "not an object id"))?;
        let answer = send(s, "uninstall", &req).await?;
        graph::parse_uninstall_for_user(&HttpResponse::new(answer.status, &answer.body))
            .map_err(refused("uninstall", answer.status))?;
    }
    Ok(installs.len())
}

/// An app-only token for `tenant`, and the app's id in its catalog.
async fn token_and_app(
    s: &AppState,
    app: &MsTeams,
    tenant: &str,
) -> Result<(AccessToken, TeamsAppId), Failed> {
    let tenant = Tenant::new(tenant).map_err(|_| failed("tenant", "not a tenant id"))?;
    let answer = send(
        s,
        "app-only token",
        &microsoft::app_only_token_request(app, &tenant),
    )
    .await?;
    let token = microsoft::parse_app_only_token(&HttpResponse::new(answer.status, &answer.body), s.now())
        .map_err(refused("app-only token", answer.status))?;
    let token = token.access_token().clone();
    let find = graph::find_app_request(app, &token, graph::AppDistribution::Organization);
    let answer = send(s, "find app", &find).await?;
    let found = graph::parse_find_app(&HttpResponse::new(answer.status, &answer.body))
        .map_err(refused("find app", answer.status))?;
    Ok((token, found))
}

async fn send(s: &AppState, step: &'static str, req: &HttpRequest) -> Result<Answer, Failed> {
    s.sender.send(req).await.map_err(|e| Failed {
        step,
        cause: e.to_string(),
    })
}

fn failed(step: &'static str, cause: &str) -> Failed {
    Failed {
        step,
        cause: cause.to_owned(),
    }
}

/// Graph's refusal, by status only (its message may name the user).
fn refused<E>(step: &'static str, status: u16) -> impl FnOnce(E) -> Failed {
    move |_| Failed {
        step,
        cause: format!("answer refused (HTTP {status})"),
    }
}

/// Attempts the installations due now, the longest waiting first, a batch
/// at a time; `base` is the first pause after a failure (it doubles with
/// each attempt, at most an hour).
pub async fn install_due(s: &AppState, base: Duration) {
    attempt_due(s, base, BATCH, false).await;
}

/// Attempts the `count` installations made due last: a callback's own
/// (the browser waits for them, not for a backlog).
pub async fn install_newest(s: &AppState, base: Duration, count: usize) {
    attempt_due(s, base, i64::try_from(count).unwrap_or(BATCH).min(BATCH), true).await;
}

async fn attempt_due(s: &AppState, base: Duration, limit: i64, newest: bool) {
    let now = s.now().unix_timestamp();
    let due = match s.app_installs.due_installs(now, limit, newest).await {
        Ok(due) => due,
        Err(e) => {
            tracing::warn!(error = %e, "Teams app installs: the store did not answer");
            return;
        }
    };
    for d in due {
        if let Err(e) = attempt(s, &d, base).await {
            tracing::warn!(error = %e, "Teams app install: the store did not answer");
        }
    }
}

/// One attempt at one installation, claimed first (another instance may be
/// at the same row).
async fn attempt(s: &AppState, d: &DueInstall, base: Duration) -> Result<(), crate::store::StoreError> {
    let claimed = s.now().unix_timestamp() + CLAIM_SECS;
    if !s.app_installs.claim_install(d, claimed).await? {
        return Ok(());
    }
    let app = s.config.by_id(&d.env).and_then(|e| e.teams.get(&d.integration));
    let outcome = match app {
        Some(app) => install(s, app, &d.user_id, &d.tenant_id).await,
        None => Err(failed("configuration", "the Teams integration is not configured")),
    };
    let attempts = d.attempts + 1;
    let (status, next) = match outcome {
        Ok(UserInstall::Installed) => (INSTALLED, None),
        // A 409 after an attempt of ours that failed: that attempt may have
        // installed it (an answer lost on the way), so it counts as ours.
        Ok(UserInstall::AlreadyInstalled) if d.attempts > 0 => (INSTALLED, None),
        Ok(UserInstall::AlreadyInstalled) => (ALREADY_INSTALLED, None),
        Err(e) if attempts >= MAX_ATTEMPTS => {
            tracing::warn!(endpoint = %d.endpoint, attempts, error = %e, "Teams app not installed: given up");
            (FAILED, None)
        }
        Err(e) => {
            let pause = base
                .as_secs()
                .max(1)
                .saturating_mul(1 << attempts.min(12))
                .min(3600);
            tracing::warn!(endpoint = %d.endpoint, attempts, retry_in = pause, error = %e, "Teams app not installed yet");
            (PENDING, Some(s.now().unix_timestamp() + pause as i64))
        }
    };
    if status != PENDING {
        tracing::info!(endpoint = %d.endpoint, status, "Teams app installation settled");
    }
    s.app_installs.settle_install(d, claimed, status, next).await
}

/// Every `every`, the installations due, until `stop` is cancelled (an
/// attempt under way finishes).
pub async fn sweep(s: Arc<AppState>, every: Duration, stop: CancellationToken) {
    crate::periodic::every(every, stop, || install_due(&s, every)).await;
}
