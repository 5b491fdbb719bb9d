//! Webex through the demo server and its Webex stand-in, over real HTTP on
//! loopback: a connect (authorize, `access_token`, `people/me`) that
//! stores the connection in the person's organization with its token pair
//! and a `webex_person` endpoint, a user link pinned to that organization,
//! and the token refresh.

mod common;

use channel_connect_server::config::DEMO_API_KEY;
use channel_connect_server::demo::standin::WEBEX_PERSON_ID;
use reqwest::StatusCode;
use serde_json::Value;
use time::OffsetDateTime;

use common::*;

/// The organization's key: the UUID inside the stand-in's `orgId`
/// (`channel_connect_server::demo::standin::WEBEX_ORG_ID`).
const ORG_KEY: &str = "0d0c5e4a-7f0e-4b7c-9a3e-6f1b2c3d4e5f";

/// An answer's time, which must be RFC 3339 in UTC.
fn time_of(t: &Value) -> OffsetDateTime {
    let s = t.as_str().unwrap_or_else(|| panic!("a time: {t}"));
    assert!(s.ends_with('Z'), "{s}");
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
}

/// Whole days from now until an answer's time.
fn days_until(t: &Value) -> i64 {
    (time_of(t) - OffsetDateTime::now_utc()).whole_days()
}

fn connect_body() -> &'static str {
    r#"{"integrationIdentifier":"webex","subscriberId":"subscriber-1","connectionIdentifier":"webex-acme","context":{"tenant":"acme"},"connectionMode":"shared","autoLinkUser":true}"#
}

#[tokio::test]
async fn a_webex_connect_and_a_link_end_in_a_connection_and_person_endpoints() {
    let s = start("webex-connect").await;
    let url = s.connect(connect_body()).await;
    assert!(
        url.starts_with(&format!("{}/standin/webex/v1/authorize?state=", s.base)),
        "{url}"
    );
    assert!(url.contains("&response_type=code&"), "{url}");
    assert!(url.ends_with("&scope=spark%3Amessages_write%20spark%3Arooms_read%20spark%3Apeople_read%20spark%3Amemberships_read%20spark%3Akms"), "{url}");
    let done = s.allow(&url).await;
    assert_eq!(done.status(), StatusCode::OK);
    let page = done.text().await.unwrap();
    assert!(page.contains("You&#39;re all set"), "{page}");
    assert!(page.contains("Webex"), "{page}");

    let one = s.get_with_key("/v1/channel-connections/webex-acme").await;
    assert_eq!(one.status(), StatusCode::OK);
    let v: Value = serde_json::from_slice(&one.bytes().await.unwrap()).unwrap();
    let c = &v["data"];
    assert_eq!(c["providerId"], "webex-messaging");
    assert_eq!(c["integrationIdentifier"], "webex");
    assert_eq!(c["workspace"]["id"], ORG_KEY);
    assert_eq!(c["auth"]["accessToken"], "[redacted]");
    assert!(!v.to_string().contains("standin-webex"), "{v}");
    // When the tokens expire is no secret: the refresh token in about 90
    // days (connect again before), the access token in 14.
    assert_eq!(days_until(&c["auth"]["refreshTokenExpiresAt"]), 89, "{c}");
    assert_eq!(days_until(&c["auth"]["expiresAt"]), 13, "{c}");
    let filtered = s.list("/v1/channel-connections?providerId=webex-messaging").await;
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0]["auth"], c["auth"], "a list shows the same");

    let endpoints = s
        .list("/v1/channel-endpoints?connectionIdentifier=webex-acme")
        .await;
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    assert_eq!(endpoints[0]["type"], "webex_person");
    assert_eq!(endpoints[0]["endpoint"]["personId"], WEBEX_PERSON_ID);
    assert_eq!(endpoints[0]["subscriberId"], "subscriber-1");

    // The stored tokens: a pair that expires in 14 days (read as a sender does).
    let (status, creds) = read_credentials(&s, "webex-acme").await;
    assert_eq!(status, StatusCode::OK, "{creds}");
    let auth = &creds["data"]["auth"];
    assert!(
        auth["accessToken"]
            .as_str()
            .unwrap()
            .starts_with("standin-webex-")
    );
    assert!(
        auth.get("refreshToken").is_none(),
        "a sender never needs it: {auth}"
    );
    let expires = OffsetDateTime::parse(
        auth["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (expires - OffsetDateTime::now_utc()).whole_days();
    assert!((13..=14).contains(&days), "{auth}");
    assert_eq!(
        auth["refreshTokenExpiresAt"], c["auth"]["refreshTokenExpiresAt"],
        "{auth}"
    );

    // A second subscriber links their own Webex person to the connection,
    // the link pinned to its organization.
    let link = r#"{"integrationIdentifier":"webex","subscriberId":"subscriber-2","connectionIdentifier":"webex-acme","context":{"tenant":"acme"}}"#;
    let (status, _, v) = s
        .post(
            "/v1/integrations/channel-endpoints/oauth",
            Some(DEMO_API_KEY),
            None,
            link,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let link_url = v["url"].as_str().unwrap();
    assert!(link_url.ends_with("&scope=spark%3Apeople_read"), "{link_url}");
    let done = s.allow(link_url).await;
    assert_eq!(done.status(), StatusCode::OK);
    let endpoints = s.list("/v1/channel-endpoints?subscriberId=subscriber-2").await;
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    assert_eq!(endpoints[0]["type"], "webex_person");
    assert_eq!(endpoints[0]["connectionIdentifier"], "webex-acme");
    assert_eq!(s.list("/v1/channel-connections").await.len(), 1);

    // "Cancel" at Webex stores nothing more.
    let url = s.connect(connect_body()).await;
    let cancel = s.link(&url, "cancel").await;
    let res = s.get(&cancel).await;
    assert_ne!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("cancelled"));
    // A used code is refused by Webex: nothing stored twice, the state spent once.
    let url = s.connect(connect_body()).await;
    let allow = s.link(&url, "allow").await;
    assert_eq!(s.get(&allow).await.status(), StatusCode::OK);
    assert_ne!(s.get(&allow).await.status(), StatusCode::OK);
    assert_eq!(s.list("/v1/channel-connections").await.len(), 1);

    // Deleted: Webex lets no token holder revoke its grant, and the answer
    // says the token was not revoked.
    let res = s.delete_connection("webex-acme").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(res.headers()["x-not-revoked"], "webex_token");
    assert!(res.headers().get("x-revoked").is_none());
    assert!(s.list("/v1/channel-connections").await.is_empty());
}

#[tokio::test]
async fn webex_tokens_are_refreshed_before_they_expire() {
    // Fifteen days on: the 14-day access token is due, the refresh token is not.
    fn later() -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::days(15)
    }
    let db = db_path("webex-refresh");
    let s = start_on(db.clone(), None, |s| s).await;
    assert_eq!(
        s.allow(&s.connect(connect_body()).await).await.status(),
        StatusCode::OK
    );
    let (_, before) = read_credentials(&s, "webex-acme").await;
    let before = before["data"]["auth"].clone();

    // Another instance on the same database, its clock two weeks ahead.
    let ahead = start_on(db, Some(&s.base), |st| st.with_clock(later)).await;
    let (status, after) = read_credentials(&ahead, "webex-acme").await;
    assert_eq!(status, StatusCode::OK, "{after}");
    let after = &after["data"]["auth"];
    assert_ne!(after["accessToken"], before["accessToken"], "refreshed");
    assert_ne!(after["expiresAt"], before["expiresAt"]);
    // Webex extended the refresh token: 90 days from the refresh, stored
    // and shown on the connection (read on either instance).
    let extended = time_of(&after["refreshTokenExpiresAt"]) - time_of(&before["refreshTokenExpiresAt"]);
    assert!((14..=15).contains(&extended.whole_days()), "{before} {after}");
    for server in [&s, &ahead] {
        let one = server.get_with_key("/v1/channel-connections/webex-acme").await;
        let v: Value = serde_json::from_slice(&one.bytes().await.unwrap()).unwrap();
        assert_eq!(
            (
                &v["data"]["auth"]["refreshTokenExpiresAt"],
                &v["data"]["auth"]["expiresAt"]
            ),
            (&after["refreshTokenExpiresAt"], &after["expiresAt"]),
            "{v}"
        );
    }
    // Read again: the new token serves, no second refresh.
    let (_, again) = read_credentials(&ahead, "webex-acme").await;
    assert_eq!(&again["data"]["auth"]["accessToken"], &after["accessToken"]);
}
