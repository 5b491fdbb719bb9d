//! Slack request signatures (SPEC.md section 12.1): Slack's documented
//! example and fixed vectors, as data another implementation can reuse.
//!
//! Every `header` here was computed outside this crate, with Python's
//! `hmac.new(secret, b"v0:" + timestamp + b":" + body, hashlib.sha256)`
//! (and the first is Slack's own, from
//! <https://api.slack.com/authentication/verifying-requests-from-slack>).
//! Each vector verifies at `now` = its timestamp, and fails once the body,
//! the timestamp or the secret changes.

use channel_connect::provider::slack::events::{self, REPLAY_WINDOW_SECS, SignatureError, SigningSecret};
use time::OffsetDateTime;

/// One signed request: the signing secret, the `X-Slack-Request-Timestamp`
/// value, the raw body, and the `X-Slack-Signature` value Slack sends.
struct Vector {
    name: &'static str,
    secret: &'static str,
    timestamp: &'static str,
    body: &'static [u8],
    header: &'static str,
}

const VECTORS: &[Vector] = &[
    Vector {
        name: "Slack's documented example (a slash command, form-encoded)",
        secret: "8f742231b10e8888abcd99yyyzzz85a5",
        timestamp: "1531420618",
        body: b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
        header: "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    },
    Vector {
        name: "url_verification (JSON)",
        secret: "e6b19c573432dcc6b075501d51b51bb8",
        timestamp: "1767225600",
        body: br#"{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#,
        header: "v0=b971f02fea990746913f825006dfa962381af7bbdf297b8d4880ba02c3c6bc8b",
    },
    Vector {
        name: "empty body",
        secret: "e6b19c573432dcc6b075501d51b51bb8",
        timestamp: "1767225600",
        body: b"",
        header: "v0=1299cdb0bcdbf0062c14919f810648f6e3be0407dbe2013d008cd7d40cdea775",
    },
    Vector {
        name: "tokens_revoked event_callback",
        secret: "e6b19c573432dcc6b075501d51b51bb8",
        timestamp: "1767225601",
        body: br#"{"token":"XXYYZZ","team_id":"T061EG9R6","api_app_id":"A0PNCHHK2","event":{"type":"tokens_revoked","tokens":{"oauth":["U061F7AUR"],"bot":["U0KRQLJ9H"]}},"type":"event_callback","event_id":"Ev0PV52K21","event_time":1767225601}"#,
        header: "v0=e787e3e30f361a7a00d61edefc41f0d13a52e018d32ff5ebedaf778f37e9eeeb",
    },
    Vector {
        name: "non-ASCII UTF-8 and CR LF in the body, hashed as raw bytes",
        secret: "e6b19c573432dcc6b075501d51b51bb8",
        timestamp: "1767225600",
        body: "{\"text\":\"café ☕\r\nline two\"}".as_bytes(),
        header: "v0=9661a50df24373392a9e06969b2543477f119abaf7cefedb77ad4a647daabdbe",
    },
    Vector {
        name: "secret longer than the SHA-256 block (80 bytes, hashed first by HMAC)",
        secret: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        timestamp: "1767225600",
        body: b"payload=%7B%22type%22%3A%22block_actions%22%7D",
        header: "v0=bfe7edad9c24df082b636c268da38807b667a522f4c49fed7f042a78daa8f084",
    },
    Vector {
        name: "one-character secret and timestamp",
        secret: "a",
        timestamp: "1",
        body: b"x",
        header: "v0=74381c16c978f9100e9c4015eae37ceea5a58a2b313f615ed247230786e86c60",
    },
];

fn at(timestamp: &str) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(timestamp.parse().unwrap()).unwrap()
}

fn check(
    v: &Vector,
    secret: &str,
    timestamp: &str,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(), SignatureError> {
    let secret = SigningSecret::new(secret).unwrap();
    events::verify_request(&secret, Some(timestamp), Some(v.header), body, now)
}

#[test]
fn every_vector_verifies_at_its_timestamp() {
    for v in VECTORS {
        assert_eq!(
            check(v, v.secret, v.timestamp, v.body, at(v.timestamp)),
            Ok(()),
            "{}",
            v.name
        );
    }
}

#[test]
fn sign_writes_every_header() {
    for v in VECTORS {
        let secret = SigningSecret::new(v.secret).unwrap();
        assert_eq!(
            events::sign(&secret, v.timestamp.parse().unwrap(), v.body),
            v.header,
            "{}",
            v.name
        );
    }
}

#[test]
fn the_window_holds_for_every_vector() {
    for v in VECTORS {
        let sent = at(v.timestamp);
        let window = time::Duration::seconds(REPLAY_WINDOW_SECS);
        let second = time::Duration::SECOND;
        assert_eq!(
            check(v, v.secret, v.timestamp, v.body, sent + window),
            Ok(()),
            "{}",
            v.name
        );
        assert_eq!(
            check(v, v.secret, v.timestamp, v.body, sent - window),
            Ok(()),
            "{}",
            v.name
        );
        assert!(
            matches!(
                check(v, v.secret, v.timestamp, v.body, sent + window + second),
                Err(SignatureError::Stale { .. })
            ),
            "{}",
            v.name
        );
        assert!(
            matches!(
                check(v, v.secret, v.timestamp, v.body, sent - window - second),
                Err(SignatureError::Stale { .. })
            ),
            "{}",
            v.name
        );
    }
}

#[test]
fn a_changed_body_timestamp_or_secret_does_not_match() {
    for v in VECTORS {
        let now = at(v.timestamp);
        let mut body = v.body.to_vec();
        match body.first_mut() {
            Some(b) => *b ^= 0x01,
            None => body.push(b' '),
        }
        assert_eq!(
            check(v, v.secret, v.timestamp, &body, now),
            Err(SignatureError::Mismatch),
            "{}",
            v.name
        );

        let next = (v.timestamp.parse::<i64>().unwrap() + 1).to_string();
        assert_eq!(
            check(v, v.secret, &next, v.body, now),
            Err(SignatureError::Mismatch),
            "{}",
            v.name
        );

        let other_secret = format!("{}0", v.secret);
        assert_eq!(
            check(v, &other_secret, v.timestamp, v.body, now),
            Err(SignatureError::Mismatch),
            "{}",
            v.name
        );
    }
}
