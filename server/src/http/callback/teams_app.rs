//! The Teams app installed for each linked user, so the bot can message
//! them (Graph, with an app-only token of the user's tenant).

use channel_connect::provider::msteams::{graph, token as microsoft};
use channel_connect::records::StoredRecords;
use channel_connect::{HttpResponse, MsTeams, Tenant};

use crate::sender::SendError;
use crate::state::AppState;

/// Installs the Teams app for each linked user so the bot can message them
/// (Graph, with an app-only token of the user's tenant). A failure is
/// logged, not fatal: the link itself is proven and stored.
pub(super) async fn install_for_linked_users(s: &AppState, app: &MsTeams, records: &StoredRecords) {
    for e in records
        .endpoints
        .iter()
        .filter(|e| e.endpoint.kind() == "ms_teams_user")
    {
        let (Some(user), Some(tenant)) = (e.endpoint.get("userId"), e.endpoint.get("tenantId")) else {
            continue;
        };
        match install(s, app, user, tenant).await {
            Ok(outcome) => tracing::info!(?outcome, "Teams app installed for the linked user"),
            Err(Failed { step, cause }) => tracing::warn!(
                provider = "msteams",
                operation = step,
                error = cause,
                "Teams app not installed for the linked user"
            ),
        }
    }
}

/// A step of the app installation that failed, and why (kinds only).
struct Failed {
    step: &'static str,
    cause: String,
}

async fn install(
    s: &AppState,
    app: &MsTeams,
    user: &str,
    tenant: &str,
) -> Result<graph::UserInstall, Failed> {
    let at = |step: &'static str| move |cause: String| Failed { step, cause };
    let answered = |step: &'static str| {
        move |e: SendError| Failed {
            step,
            cause: e.to_string(),
        }
    };
    let refused = |step: &'static str, status: u16| {
        move |_| Failed {
            step,
            cause: format!("answer refused (HTTP {status})"),
        }
    };
    let tenant = Tenant::new(tenant).map_err(|_| at("tenant")("not a tenant id".into()))?;
    let answer = s
        .sender
        .send(&microsoft::app_only_token_request(app, &tenant))
        .await
        .map_err(answered("app-only token"))?;
    let token = microsoft::parse_app_only_token(&HttpResponse::new(answer.status, &answer.body), s.now())
        .map_err(refused("app-only token", answer.status))?;
    let find = graph::find_app_request(app, token.access_token(), graph::AppDistribution::Organization);
    let answer = s.sender.send(&find).await.map_err(answered("find app"))?;
    let found = graph::parse_find_app(&HttpResponse::new(answer.status, &answer.body))
        .map_err(refused("find app", answer.status))?;
    let req = graph::install_for_user_request(app, token.access_token(), user, &found)
        .map_err(|_| at("install")("request not made".into()))?;
    let answer = s.sender.send(&req).await.map_err(answered("install"))?;
    graph::parse_install_for_user(&HttpResponse::new(answer.status, &answer.body))
        .map_err(refused("install", answer.status))
}
