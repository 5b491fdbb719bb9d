//! Forgeries of the seed request's state: exhaustive single-bit flips,
//! truncations, insertions and character substitutions, then every cross-
//! check (key, provider, purpose, environment, binding, time, size, replay).
//! Zero may be accepted. Counts print with `cargo test --test forgery -- --nocapture`.

mod common;

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use channel_connect::state;
use channel_connect::*;
use common::*;
use proptest::prelude::*;

fn seed_state(core: &ChannelConnect) -> String {
    state_of(&issue(core, SEED_PHP))
}

fn ring() -> KeyRing {
    KeyRing::new(key(1, 7))
}

fn open_at(token: &str, ring: &KeyRing, now: i64) -> Result<VerifiedState, StateError> {
    open_with(token, ring, now, 30, None)
}

/// Asserts every candidate is refused; returns how many were tried.
fn none_accepted(candidates: impl Iterator<Item = String>, ring: &KeyRing, original: &str) -> usize {
    let mut n = 0;
    for c in candidates {
        if c == original {
            continue;
        }
        n += 1;
        assert!(open_at(&c, ring, T0 + 1).is_err(), "forgery accepted: {c}");
    }
    n
}

#[test]
fn the_unmodified_state_opens() {
    let core = core();
    assert!(open_at(&seed_state(&core), &ring(), T0 + 1).is_ok());
}

#[test]
fn every_single_bit_flip_is_refused() {
    let s = seed_state(&core());
    let raw = URL_SAFE_NO_PAD.decode(&s).unwrap();
    let flips = (0..raw.len() * 8).map(|bit| {
        let mut r = raw.clone();
        r[bit / 8] ^= 1 << (bit % 8);
        URL_SAFE_NO_PAD.encode(r)
    });
    let n = none_accepted(flips, &ring(), &s);
    assert_eq!(n, raw.len() * 8);
    println!("bit flips: {n} tried, 0 accepted ({} bytes)", raw.len());
}

#[test]
fn every_truncation_is_refused() {
    let s = seed_state(&core());
    let raw = URL_SAFE_NO_PAD.decode(&s).unwrap();
    let bytes = (0..raw.len()).map(|n| URL_SAFE_NO_PAD.encode(&raw[..n]));
    let chars = (0..s.len()).map(|n| s[..n].to_owned());
    let suffixes = (1..s.len()).map(|n| s[n..].to_owned());
    let n = none_accepted(bytes.chain(chars).chain(suffixes), &ring(), &s);
    println!("truncations: {n} tried, 0 accepted");
}

#[test]
fn every_one_byte_insertion_is_refused() {
    let s = seed_state(&core());
    let raw = URL_SAFE_NO_PAD.decode(&s).unwrap();
    let inserts = (0..=raw.len()).flat_map(|pos| {
        let raw = raw.clone();
        (0..=255u8).map(move |b| {
            let mut r = raw.clone();
            r.insert(pos, b);
            URL_SAFE_NO_PAD.encode(r)
        })
    });
    let n = none_accepted(inserts, &ring(), &s);
    assert_eq!(n, (raw.len() + 1) * 256);
    println!("one-byte insertions: {n} tried, 0 accepted");
}

#[test]
fn every_character_substitution_is_refused() {
    let s = seed_state(&core());
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=.";
    let subs = (0..s.len()).flat_map(|i| {
        let s = s.clone();
        ALPHABET.iter().map(move |&c| {
            let mut b = s.clone().into_bytes();
            b[i] = c;
            String::from_utf8(b).unwrap()
        })
    });
    let n = none_accepted(subs, &ring(), &s);
    println!("character substitutions: {n} tried, 0 accepted");
}

#[test]
fn another_key_is_refused_and_a_rotated_key_still_opens() {
    let s = seed_state(&core());
    // Same id, other bytes: the MAC fails.
    let other = KeyRing::new(key(1, 8));
    assert_eq!(
        open_at(&s, &other, T0).unwrap_err().kind(),
        StateErrorKind::BadMac
    );
    // Another id: unknown key.
    let other = KeyRing::new(key(2, 7));
    assert_eq!(
        open_at(&s, &other, T0).unwrap_err().kind(),
        StateErrorKind::UnknownKey
    );
    // Rotation: key 2 active, key 1 verify-only: old states still open, new
    // ones are sealed with key 2.
    let rotated = KeyRing::new(key(2, 9)).with_verify_only(key(1, 7)).unwrap();
    assert!(open_at(&s, &rotated, T0 + 1).is_ok());
    let core2 = builder(rotated).build().unwrap();
    let s2 = seed_state(&core2);
    let (v, _) = core2.open_state(&s2, &VerifyParams::at(at(T0))).unwrap();
    assert_eq!(v.key_id(), KeyId(2));
    // Once key 1 leaves the ring, its states stop opening.
    assert_eq!(
        open_at(&s, &KeyRing::new(key(2, 9)), T0).unwrap_err().kind(),
        StateErrorKind::UnknownKey
    );
}

#[test]
fn another_provider_is_refused() {
    let s = seed_state(&core());
    // The same identifier now served by Teams (same key, same environment).
    let swapped = ChannelConnect::builder(ENV, ORG, ring())
        .integration(Integration::new("slack", teams()))
        .build()
        .unwrap();
    let q = format!("admin_consent=True&tenant={TENANT}&state={s}");
    assert_eq!(
        state_kind(verify(&swapped, &q, T0 + 1)),
        StateErrorKind::WrongProvider
    );
    // A route for Teams callbacks refuses a Slack state.
    let core = core();
    let p = CallbackParams::parse(&q).unwrap();
    let mut vp = VerifyParams::at(at(T0 + 1));
    vp.expect_provider = Some("msteams");
    assert_eq!(
        state_kind(core.verify_callback(&p, &vp)),
        StateErrorKind::WrongProvider
    );
    // An integration that is gone.
    let gone = ChannelConnect::builder(ENV, ORG, ring()).build().unwrap();
    assert_eq!(
        state_kind(verify(&gone, &q, T0 + 1)),
        StateErrorKind::UnknownIntegration
    );
}

#[test]
fn another_purpose_is_refused() {
    let core = core();
    let link = core
        .link_user_url(
            &LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"slack","subscriberId":"u"}"#)
                .unwrap(),
            &IssueParams::new(at(T0), &entropy()),
        )
        .unwrap();
    let link = state_of(&link.url);
    let connect = seed_state(&core);
    let route = |state: &str, purpose| {
        let q = format!("code=c&state={state}");
        let p = CallbackParams::parse(&q).unwrap();
        let mut vp = VerifyParams::at(at(T0 + 1));
        vp.expect_purpose = Some(purpose);
        core.verify_callback(&p, &vp).map(|v| v.state.purpose())
    };
    assert_eq!(
        state_kind(route(&link, Purpose::Connect).map(|_| unreachable!())),
        StateErrorKind::WrongPurpose
    );
    assert_eq!(
        state_kind(route(&connect, Purpose::LinkUser).map(|_| unreachable!())),
        StateErrorKind::WrongPurpose
    );
    assert_eq!(route(&link, Purpose::LinkUser).unwrap(), Purpose::LinkUser);
    assert_eq!(route(&connect, Purpose::Connect).unwrap(), Purpose::Connect);
}

#[test]
fn another_environment_is_refused() {
    let s = seed_state(&core());
    let other = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5ff", ORG, ring())
        .integration(Integration::new("slack", slack()))
        .build()
        .unwrap();
    assert_eq!(
        state_kind(verify(&other, &format!("code=c&state={s}"), T0 + 1)),
        StateErrorKind::WrongEnvironment
    );
}

#[test]
fn missing_and_other_bindings_are_refused() {
    let core = core();
    let issued = core
        .connect_url(
            &body(SEED_PHP),
            &IssueParams::new(at(T0), &entropy()).with_binding(b"cookie-a-0123456789abcdef"),
        )
        .unwrap();
    let s = state_of(&issued.url);
    let r = ring();
    let open = |b: Option<&[u8]>| open_with(&s, &r, T0 + 1, 30, b);
    assert_eq!(open(None).unwrap_err().kind(), StateErrorKind::BindingMissing);
    assert_eq!(
        open(Some(b"cookie-b-0123456789abcdef")).unwrap_err().kind(),
        StateErrorKind::BindingMismatch
    );
    assert_eq!(
        open(Some(b"")).unwrap_err().kind(),
        StateErrorKind::BindingMismatch
    );
    assert!(open(Some(b"cookie-a-0123456789abcdef")).is_ok());
}

#[test]
fn expired_and_future_states_are_refused() {
    let s = seed_state(&core());
    let r = ring();
    assert!(open_at(&s, &r, T0 + 299).is_ok());
    assert_eq!(
        open_at(&s, &r, T0 + 300).unwrap_err().kind(),
        StateErrorKind::Expired
    );
    assert_eq!(
        open_at(&s, &r, time::PrimitiveDateTime::MAX.assume_utc().unix_timestamp())
            .unwrap_err()
            .kind(),
        StateErrorKind::Expired
    );
    // Issued in the future: allowed within the 30 s skew, refused beyond.
    assert!(open_at(&s, &r, T0 - 30).is_ok());
    assert_eq!(
        open_at(&s, &r, T0 - 31).unwrap_err().kind(),
        StateErrorKind::NotYetValid
    );
    assert_eq!(
        open_at(&s, &r, time::PrimitiveDateTime::MIN.assume_utc().unix_timestamp())
            .unwrap_err()
            .kind(),
        StateErrorKind::NotYetValid
    );
}

#[test]
fn oversized_and_malformed_encodings_are_refused() {
    let s = seed_state(&core());
    let r = ring();
    let kind = |t: &str| open_at(t, &r, T0 + 1).unwrap_err().kind();
    assert_eq!(kind(""), StateErrorKind::Missing);
    assert_eq!(
        kind(&"A".repeat(state::MAX_STATE_CHARS + 1)),
        StateErrorKind::Oversized
    );
    assert_eq!(
        kind(&format!("{s}{}", "A".repeat(state::MAX_STATE_CHARS))),
        StateErrorKind::Oversized
    );
    assert_eq!(kind(&format!("{s}=")), StateErrorKind::Malformed);
    assert_eq!(
        kind(&s.replace('-', "+")),
        if s.contains('-') {
            StateErrorKind::Malformed
        } else {
            StateErrorKind::BadMac
        }
    );
    // When the length is not a multiple of 3, the last character has unused
    // low bits: setting one makes a non-canonical encoding.
    let raw_len = URL_SAFE_NO_PAD.decode(&s).unwrap().len();
    if !raw_len.is_multiple_of(3) {
        let mut b = s.clone().into_bytes();
        let last = b.last_mut().unwrap();
        let idx = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            .iter()
            .position(|c| c == last)
            .unwrap();
        *last = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[idx ^ 1];
        assert_eq!(kind(std::str::from_utf8(&b).unwrap()), StateErrorKind::Malformed);
    }
    // Version byte changed: refused before the MAC is even computed.
    let mut raw = URL_SAFE_NO_PAD.decode(&s).unwrap();
    raw[0] = 2;
    assert_eq!(
        kind(&URL_SAFE_NO_PAD.encode(&raw)),
        StateErrorKind::UnknownVersion
    );
}

#[test]
fn a_replayed_state_is_caught_by_the_hosts_set_if_absent() {
    let core = core();
    let s = seed_state(&core);
    let q = format!("code=c&state={s}");
    let mut seen = HashSet::new(); // the host's store (Redis SET NX EXAT in production)
    let first = verify(&core, &q, T0 + 1).unwrap();
    assert!(seen.insert(first.state.replay_id()));
    let second = verify(&core, &q, T0 + 2).unwrap();
    assert!(
        !seen.insert(second.state.replay_id()),
        "the second use has the same id and is refused"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Sampled: for arbitrary valid requests, a random bit flip or truncation
    /// of the state is refused, and another key refuses it.
    #[test]
    fn sampled_forgeries_of_arbitrary_states(
        subscriber in "[a-z0-9-]{1,30}",
        ctx_id in "[A-Za-z0-9_-]{1,100}",
        nonce in any::<[u8; 32]>(),
        bit in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let core = core();
        let json = format!(r#"{{"integrationIdentifier":"slack","subscriberId":"{subscriber}","context":{{"k":"{ctx_id}"}}}}"#);
        let url = core.connect_url(&body(&json), &IssueParams::new(at(T0), &Entropy(nonce))).unwrap().url;
        let s = state_of(&url);
        let raw = URL_SAFE_NO_PAD.decode(&s).unwrap();
        let b = bit.index(raw.len() * 8);
        let mut flipped = raw.clone();
        flipped[b / 8] ^= 1 << (b % 8);
        prop_assert!(open_at(&URL_SAFE_NO_PAD.encode(&flipped), &ring(), T0 + 1).is_err());
        let c = cut.index(raw.len());
        prop_assert!(open_at(&URL_SAFE_NO_PAD.encode(&raw[..c]), &ring(), T0 + 1).is_err());
        prop_assert!(open_at(&s, &KeyRing::new(key(1, 8)), T0 + 1).is_err());
        prop_assert!(open_at(&s, &ring(), T0 + 1).is_ok());
    }

    /// No panic on arbitrary bytes and strings as a state.
    #[test]
    fn arbitrary_states_never_panic(s in any::<String>(), b in proptest::collection::vec(any::<u8>(), 0..400)) {
        prop_assert!(open_at(&s, &ring(), T0).is_err());
        prop_assert!(open_at(&URL_SAFE_NO_PAD.encode(&b), &ring(), T0).is_err());
    }

    /// No panic on arbitrary request bodies.
    #[test]
    fn arbitrary_bodies_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400), s in any::<String>()) {
        let core = core();
        for bytes in [b.as_slice(), s.as_bytes()] {
            if let Ok(body) = ConnectRequestBody::from_json(bytes) {
                let _ = core.connect_url(&body, &IssueParams::new(at(T0), &entropy()));
            }
            if let Ok(body) = LinkUserRequestBody::from_json(bytes) {
                let _ = core.link_user_url(&body, &IssueParams::new(at(T0), &entropy()));
            }
        }
    }
}

#[test]
fn another_environment_gets_no_pkce_verifier() {
    let core = core();
    let link = core
        .link_user_url(
            &LinkUserRequestBody::from_json(br#"{"integrationIdentifier":"msteams","subscriberId":"u"}"#)
                .unwrap(),
            &IssueParams::new(at(T0), &entropy()),
        )
        .unwrap();
    let (state, _) = core
        .open_state(&state_of(&link.url), &VerifyParams::at(at(T0 + 1)))
        .unwrap();
    assert!(core.pkce_verifier(&state).is_some());
    // Same key, same integration name, another environment: no verifier.
    let other = ChannelConnect::builder("6615c4b2e0f3a1b2c3d4e5ff", ORG, ring())
        .integration(Integration::new("msteams", teams()))
        .build()
        .unwrap();
    assert!(other.pkce_verifier(&state).is_none());
}
