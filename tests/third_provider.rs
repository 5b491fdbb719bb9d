//! A third provider, written here, outside the crate, through the public
//! API only: its authorize URL, its callback, its token request and the
//! records its answer yields. No core file knows it exists.

mod common;

use channel_connect::exchange::{
    Exchange, ExchangeError, FlowMismatch, ProviderError, ProviderErrorKind, parse_json,
};
use channel_connect::http::{HttpRequest, HttpResponse};
use channel_connect::records::{self, AuthRecord, Endpoint, StoredRecords, WorkspaceRecord};
use channel_connect::secret::{AccessToken, AuthorizationCode, RefreshToken};
use channel_connect::*;
use common::*;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

/// A Discord-like provider: a bot installed into a guild, OAuth 2 code flow.
#[derive(Debug)]
struct Discord {
    client_id: ClientId,
    client_secret: Secret,
    redirect_uri: RedirectUri,
}

impl Provider for Discord {
    fn id(&self) -> &str {
        "discord"
    }
    fn display_name(&self) -> &str {
        "Discord"
    }
    fn client_id(&self) -> &ClientId {
        &self.client_id
    }
    fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }
    fn authorize_url(&self, request: &AuthorizeRequest<'_>, out: &mut String) {
        out.push_str("https://discord.com/oauth2/authorize?response_type=code&client_id=");
        out.push_str(self.client_id.as_str());
        out.push_str("&scope=bot&state=");
        out.push_str(request.state);
        if let Some(guild) = request.workspace {
            out.push_str("&guild_id=");
            out.push_str(guild);
            out.push_str("&disable_guild_select=true");
        }
    }
    fn interpret<'q>(
        &self,
        _state: &VerifiedState,
        params: &CallbackParams<'q>,
    ) -> Result<ProviderOutcome<'q>, CallbackError> {
        match (&params.error, &params.code) {
            (Some(_), _) => Err(CallbackError::MissingParameters),
            (None, Some(code)) if !code.is_empty() => Ok(ProviderOutcome::Code {
                code: AuthorizationCode::new(code.clone()),
            }),
            _ => Err(CallbackError::MissingParameters),
        }
    }
    fn token_request(&self, exchange: &Exchange<'_>) -> Result<Option<HttpRequest>, ExchangeError> {
        let code = exchange
            .code()
            .ok_or(ExchangeError::WrongFlow(FlowMismatch::NoCode))?;
        Ok(Some(
            HttpRequest::post_form("https://discord.com/api/oauth2/token")
                .basic_auth(self.client_id.as_str(), &self.client_secret)
                .field("grant_type", "authorization_code")
                .secret_field("code", code)
                .field("redirect_uri", self.redirect_uri.as_str()),
        ))
    }
    fn records(
        &self,
        exchange: &Exchange<'_>,
        response: &HttpResponse<'_>,
        now: OffsetDateTime,
    ) -> Result<StoredRecords, ExchangeError> {
        #[derive(Deserialize)]
        struct Guild {
            id: String,
            name: Option<String>,
        }
        #[derive(Deserialize)]
        struct Answer {
            error: Option<String>,
            access_token: Option<AccessToken>,
            token_type: Option<String>,
            expires_in: Option<u64>,
            refresh_token: Option<RefreshToken>,
            guild: Option<Guild>,
        }
        let a: Answer = parse_json(response)?;
        if let Some(e) = a
            .error
            .as_deref()
            .or((!response.is_success()).then_some("http_error"))
        {
            return Err(ProviderError::new("Discord", Some(e), ProviderErrorKind::InvalidGrant).into());
        }
        let guild = a.guild.ok_or(ExchangeError::MissingField("guild"))?;
        let workspace = WorkspaceRecord {
            id: guild.id,
            name: guild.name,
            details: Map::new(),
        };
        let auth = AuthRecord {
            access_token: a
                .access_token
                .ok_or(ExchangeError::MissingField("access_token"))?,
            token_type: a.token_type,
            refresh_token: a.refresh_token,
            expires_at: channel_connect::exchange::expires_at(now, a.expires_in, "expires_in")?,
            refresh_token_expires_at: None,
            scopes: Vec::new(),
        };
        let connection = records::connection(exchange.state, workspace, Some(auth))?;
        let mut endpoints = Vec::new();
        if exchange.state.subscriber_id().is_some() {
            let mut m = Map::new();
            m.insert("channelId".into(), Value::String("general".into()));
            endpoints.push(records::endpoint(
                exchange.state,
                Endpoint::new("discord_channel", m),
            )?);
        }
        Ok(StoredRecords {
            connection: Some(connection),
            endpoints,
        })
    }
}

fn discord_core() -> ChannelConnect {
    let discord = Discord {
        client_id: ClientId::new("999000111").unwrap(),
        client_secret: Secret::new("discord-secret"),
        redirect_uri: RedirectUri::new(REDIRECT).unwrap(),
    };
    ChannelConnect::builder(ENV, ORG, KeyRing::new(key(1, 7)))
        .integration(Integration::new("discord", discord))
        .build()
        .unwrap()
}

fn answer(guild: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "access_token": "discord-access-token", "token_type": "Bearer", "expires_in": 604800,
        "refresh_token": "discord-refresh", "scope": "bot",
        "guild": {"id": guild, "name": "Acme"}
    }))
    .unwrap()
}

#[test]
fn a_third_provider_runs_the_whole_flow_through_the_public_api() {
    let core = discord_core();
    let url = issue(
        &core,
        r#"{"integrationIdentifier":"discord","subscriberId":"u1","connectionIdentifier":"dc-1"}"#,
    );
    assert!(url.starts_with("https://discord.com/oauth2/authorize?response_type=code&client_id=999000111"));
    let v = verify(
        &core,
        &format!("code=discord-code&state={}", state_of(&url)),
        T0 + 5,
    )
    .unwrap();
    assert_eq!(v.state.provider(), "discord");
    assert!(v.next.is_none());

    let req = v.token_request().unwrap().expect("a code is exchanged");
    assert_eq!(req.url(), "https://discord.com/api/oauth2/token");
    assert_eq!(req.form_field("code"), Some("discord-code"));
    assert!(!format!("{req:?}").contains("discord-code"));

    let stored = v
        .records(&HttpResponse::new(200, &answer("81384788765712384")), at(T0 + 6))
        .unwrap();
    let connection = stored.connection.unwrap();
    assert_eq!(
        (
            connection.identifier.as_str(),
            connection.provider_id.as_str(),
            connection.workspace.id.as_str()
        ),
        ("dc-1", "discord", "81384788765712384")
    );
    assert_eq!(connection.subscriber_id.as_deref(), Some("u1"));
    assert_eq!(stored.endpoints[0].endpoint.kind(), "discord_channel");
    let e = v
        .records(
            &HttpResponse::new(400, br#"{"error":"invalid_grant"}"#),
            at(T0 + 6),
        )
        .unwrap_err();
    assert_eq!(e.status(), 400);
}

#[test]
fn a_third_provider_gets_the_workspace_binding_for_free() {
    let core = discord_core();
    let issued = core
        .connect_url(
            &body(r#"{"integrationIdentifier":"discord","subscriberId":"u1"}"#),
            &IssueParams::new(at(T0), &entropy()).with_workspace("81384788765712384"),
        )
        .unwrap();
    assert!(issued.url.contains("&guild_id=81384788765712384"));
    let v = verify(
        &core,
        &format!("code=c&state={}", issued.state().unwrap()),
        T0 + 5,
    )
    .unwrap();
    // Installed into another guild: `records::connection` refuses it.
    assert_eq!(
        v.records(&HttpResponse::new(200, &answer("99999")), at(T0 + 6))
            .unwrap_err(),
        ExchangeError::WrongWorkspace
    );
    assert!(
        v.records(&HttpResponse::new(200, &answer("81384788765712384")), at(T0 + 6))
            .is_ok()
    );
}
