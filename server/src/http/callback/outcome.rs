//! How a callback ended: well (a next redirect, or records stored) or
//! badly (what the browser is told, never a secret), and the plain words
//! the result page says about it.

use channel_connect::CallbackError;
use channel_connect::records::StoredRecords;

/// How the callback ended well.
pub(super) enum Done {
    /// A second redirect (the Teams tenant proof).
    Next(String),
    /// Records stored.
    Stored {
        env: String,
        integration: String,
        connection: Option<String>,
        /// What the success page names.
        connected: Connected,
    },
}

/// What the success page says was connected: the provider, the workspace
/// (its name, else its id) and whether the user's own account was linked.
pub(super) struct Connected {
    /// "Slack", "Microsoft Teams".
    provider: String,
    /// What the provider calls a workspace: "workspace", "tenant".
    place: &'static str,
    /// The connection's workspace; none for a user link alone.
    workspace: Option<String>,
    /// A user's account was linked (a `..._user` endpoint).
    user: bool,
}

impl Connected {
    /// From the stored records of a flow of provider `provider_id`
    /// (`display_name` the provider's own, for one this file does not know).
    pub(super) fn of(provider_id: &str, display_name: Option<&str>, records: &StoredRecords) -> Self {
        let (provider, place) = match provider_id {
            "slack" => ("Slack".to_owned(), "workspace"),
            "msteams" => ("Microsoft Teams".to_owned(), "tenant"),
            "webex-messaging" => ("Webex".to_owned(), "organization"),
            other => (display_name.unwrap_or(other).to_owned(), "workspace"),
        };
        // A Webex connection's name is its installer's display name (as
        // Novu stores it), not the organization's: the page names the id.
        let named = provider_id != "webex-messaging";
        let workspace = records.connection.as_ref().map(|c| {
            let w = &c.workspace;
            match w.name.as_deref().map(str::trim) {
                Some(name) if named && !name.is_empty() => name.to_owned(),
                _ => w.id.clone(),
            }
        });
        let user = records
            .endpoints
            .iter()
            .any(|e| e.endpoint.kind().ends_with("_user") || e.endpoint.kind() == "webex_person");
        Connected {
            provider,
            place,
            workspace,
            user,
        }
    }

    /// "Slack workspace Demo Workspace is connected.", "Your Slack account
    /// is linked.", or both.
    pub(super) fn sentence(&self) -> String {
        let Connected {
            provider: p,
            place,
            workspace,
            user,
        } = self;
        match (workspace, user) {
            (Some(w), false) => format!("{p} {place} {w} is connected."),
            (Some(w), true) => {
                format!("{p} {place} {w} is connected, and your {p} account is linked to it.")
            }
            (None, true) => format!("Your {p} account is linked."),
            (None, false) => format!("Your {p} connection is ready."),
        }
    }
}

/// Why a callback was refused, for the words the page says.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Why {
    /// The state is missing, forged, expired, used, or another browser's.
    Link,
    /// The user (or admin) declined at the provider.
    Cancelled,
    /// The provider came back with an error of its own.
    Provider,
    /// The callback names another workspace than the link is for.
    Workspace,
    /// A personal Microsoft account, which can connect no Teams.
    Personal,
    /// Anything else: told by the status.
    Other,
}

/// How the callback ended badly: what the browser is told (never a secret).
pub(super) struct Refusal {
    pub(super) status: u16,
    pub(super) message: String,
    pub(super) redirect: Option<url::Url>,
    pub(super) why: Why,
}

impl From<CallbackError> for Refusal {
    fn from(e: CallbackError) -> Self {
        match &e {
            CallbackError::State(s) => tracing::warn!(reason = ?s.kind(), "state refused"),
            other => tracing::warn!(refusal = %other, "callback refused"),
        }
        let why = match &e {
            CallbackError::State(_) | CallbackError::Unsolicited { .. } => Why::Link,
            CallbackError::Denied { .. } => Why::Cancelled,
            CallbackError::Provider { .. } => Why::Provider,
            CallbackError::WorkspaceMismatch => Why::Workspace,
            CallbackError::TenantNotAllowed => Why::Personal,
            _ => Why::Other,
        };
        Refusal {
            status: e.status(),
            message: e.to_string(),
            redirect: None,
            why,
        }
    }
}

impl Refusal {
    pub(super) fn plain(status: u16, message: &str) -> Self {
        Refusal {
            status,
            message: message.to_owned(),
            redirect: None,
            why: Why::Other,
        }
    }

    /// A state refused (Novu's message): expired, used, or not for this browser.
    pub(super) fn state() -> Self {
        Refusal {
            why: Why::Link,
            ..Refusal::plain(400, "Invalid OAuth state parameter")
        }
    }

    /// What went wrong in plain words, what to do, and whether the
    /// service's own message is worth showing below them.
    pub(super) fn words(&self) -> (String, &'static str, bool) {
        let again = "Go back to the app and start again.";
        let (said, todo) = match (self.why, self.status) {
            (Why::Link, _) => ("This link has expired or was already used.", again),
            (Why::Cancelled, _) => (
                "The connection was cancelled.",
                "Nothing was connected. To connect, go back to the app, start again and approve the request.",
            ),
            (Why::Provider, _) => (
                "The provider stopped the connection with an error.",
                "Nothing was connected. Go back to the app and start again; if it happens again, ask the workspace's owner.",
            ),
            (Why::Workspace, _) => (
                "You chose another workspace than the one this link is for.",
                "Go back to the app, start again and choose the workspace it asks for.",
            ),
            (Why::Personal, _) => (
                "A personal Microsoft account cannot connect Microsoft Teams.",
                "Go back to the app, start again and sign in with your work or school account.",
            ),
            // The conflicts' messages are plain words already.
            (_, 409) => {
                let said = format!("{}.", self.message.trim_end_matches('.'));
                return (
                    said,
                    "Nothing was changed. If this is not what you expected, ask the workspace's owner.",
                    false,
                );
            }
            (_, 403) => (
                "The provider did not allow this connection.",
                "Check that you chose the right workspace and may add apps to it, or ask the workspace's owner; then go back to the app and start again.",
            ),
            (_, 429) => (
                "The provider is busy right now.",
                "Try again in a minute: go back to the app and start again.",
            ),
            (_, 502 | 404) => (
                "The provider could not complete the connection.",
                "Try again in a minute: go back to the app and start again.",
            ),
            (_, 503) => (
                "The service is briefly unavailable.",
                "Try again in a minute: reload this page, or go back to the app and start again.",
            ),
            (_, 500..) => (
                "Something went wrong on our side.",
                "Try again in a minute. If it keeps happening, quote the request id below to support.",
            ),
            (_, 400) => ("This link is not valid or is incomplete.", again),
            _ => ("The connection could not be completed.", again),
        };
        (said.to_owned(), todo, true)
    }
}

#[cfg(test)]
mod tests {
    use super::{Connected, Refusal, Why};
    use channel_connect::CallbackError;
    use channel_connect::records::StoredRecords;
    use serde_json::json;

    #[test]
    fn each_refusal_says_what_to_do() {
        let says = |r: Refusal| {
            let (said, todo, detailed) = r.words();
            format!("{said} {todo} {detailed}")
        };
        let expired = says(Refusal::state());
        assert!(expired.starts_with("This link has expired or was already used. Go back to the app"));
        let denied = CallbackError::Denied {
            error: "access_denied".into(),
            description: None,
        };
        assert_eq!(Refusal::from(denied).why, Why::Cancelled);
        let conflict = says(Refusal::plain(
            409,
            "The connection belongs to another integration",
        ));
        assert!(
            conflict.starts_with("The connection belongs to another integration. Nothing was changed."),
            "{conflict}"
        );
        assert!(conflict.contains("ask the workspace's owner") && conflict.ends_with("false"));
        for status in [502, 503] {
            let busy = says(Refusal::plain(status, "Service unavailable, try again"));
            assert!(
                busy.contains("Try again in a minute") && busy.ends_with("true"),
                "{busy}"
            );
        }
    }

    #[test]
    fn the_success_names_the_provider_and_the_workspace() {
        let records = |v| serde_json::from_value::<StoredRecords>(v).unwrap();
        let connection = |name: serde_json::Value| {
            json!({"identifier": "c", "integrationIdentifier": "i", "providerId": "p",
                   "workspace": {"id": "T1", "name": name}})
        };
        let slack = records(json!({"connection": connection(json!("Acme <HQ>"))}));
        assert_eq!(
            Connected::of("slack", Some("Slack"), &slack).sentence(),
            "Slack workspace Acme <HQ> is connected."
        );
        let teams = records(json!({"connection": connection(json!(null)), "endpoints": [
            {"type": "ms_teams_user", "endpoint": {"userId": "u", "tenantId": "T1"},
             "subscriberId": "s", "integrationIdentifier": "i"}]}));
        assert_eq!(
            Connected::of("msteams", Some("MS Teams"), &teams).sentence(),
            "Microsoft Teams tenant T1 is connected, and your Microsoft Teams account is linked to it."
        );
        let link = records(
            json!({"endpoints": [{"type": "slack_user", "endpoint": {"userId": "U1"},
            "subscriberId": "s", "integrationIdentifier": "i"}]}),
        );
        assert_eq!(
            Connected::of("slack", None, &link).sentence(),
            "Your Slack account is linked."
        );
        let webex = records(
            json!({"connection": connection(json!("Megan Bowen")), "endpoints": [
            {"type": "webex_person", "endpoint": {"personId": "p"},
             "subscriberId": "s", "integrationIdentifier": "i"}]}),
        );
        assert_eq!(
            Connected::of("webex-messaging", Some("Webex"), &webex).sentence(),
            "Webex organization T1 is connected, and your Webex account is linked to it."
        );
        let other = records(json!({"connection": connection(json!(" "))}));
        assert_eq!(
            Connected::of("discord", Some("Discord"), &other).sentence(),
            "Discord workspace T1 is connected."
        );
    }
}
