//! Heap allocations of the hot paths, counted exactly (no timing): a
//! counting global allocator that counts only on the thread that asked, only
//! while asked, so other tests' threads never disturb a count.
//!
//! Budget: issuing a Slack URL from a deserialized body allocates at most 2
//! times (today: the URL string); parsing and verifying a Slack code
//! callback at most 3 (today: the state bytes and the code).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use channel_connect::{
    CallbackParams, ChannelConnect, ClientId, ConnectRequestBody, Entropy, Integration, IssueParams, KeyId,
    KeyRing, MsTeams, RedirectUri, Secret, SigningKey, Slack, StateError, StateErrorKind, VerifyParams,
};
use time::OffsetDateTime;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: no panic while thread locals are torn down.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    }
}

// SAFETY: forwards every call to `System` unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations (alloc, alloc_zeroed and realloc) made by `f` on this thread.
fn count<T>(f: impl FnOnce() -> T) -> (usize, T) {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (COUNT.with(Cell::get), out)
}

const SEED_PHP: &str = r#"{"subscriberId":"subscriber-123","integrationIdentifier":"slack","connectionIdentifier":"slack-connection-abc123","context":{"key":"org-acme"},"scope":["chat:write","chat:write.public","channels:read"],"connectionMode":"shared","autoLinkUser":true}"#;
const REDIRECT: &str = "http://localhost:3000/v1/integrations/chat/oauth/callback";
const T0: i64 = 1_767_225_600;

fn core() -> ChannelConnect {
    let key = SigningKey::new(KeyId(1), b"demo-signing-key-not-for-product").unwrap();
    let slack = Slack::new(
        ClientId::new("1234567890.1234567890").unwrap(),
        Secret::new("slack-client-secret"),
        RedirectUri::new(REDIRECT).unwrap(),
    );
    let teams = MsTeams::new(
        ClientId::new("00000000-0000-0000-0000-000000000abc").unwrap(),
        Secret::new("teams-client-secret"),
        RedirectUri::new(REDIRECT).unwrap(),
    );
    ChannelConnect::builder(
        "6615c4b2e0f3a1b2c3d4e5f6",
        "6615c4b2e0f3a1b2c3d4e5f7",
        KeyRing::new(key),
    )
    .integration(Integration::new("slack", slack))
    .integration(Integration::new("msteams", teams))
    .build()
    .unwrap()
}

fn at(unix: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(unix).unwrap()
}

#[test]
fn hot_paths_stay_within_their_allocation_budget() {
    let core = core();
    let body = ConnectRequestBody::from_json(SEED_PHP.as_bytes()).unwrap();
    let entropy = Entropy([42; 32]);

    // Warm up once outside the count (lazy statics, CPU feature detection).
    let issued = core
        .connect_url(&body, &IssueParams::new(at(T0), &entropy))
        .unwrap();
    let (issue_allocs, again) = count(|| core.connect_url(&body, &IssueParams::new(at(T0), &entropy)));
    assert_eq!(again.unwrap(), issued);

    let state = issued
        .url
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let query = format!("code=4724369.8123.abc123def&state={state}");
    let verify = VerifyParams::at(at(T0 + 20));
    let params = CallbackParams::parse(&query).unwrap();
    core.verify_callback(&params, &verify).unwrap();
    // The answer borrows the query: it is read where it is made.
    let (verify_allocs, subscriber) = count(|| {
        let params = CallbackParams::parse(&query)?;
        let verified = core.verify_callback(&params, &verify)?;
        Ok::<_, channel_connect::CallbackError>(verified.state.subscriber_id().map(str::len))
    });
    assert_eq!(subscriber.unwrap(), Some("subscriber-123".len()));

    println!(
        "allocations: connect_url (Slack, seed body) {issue_allocs}; parse + verify_callback (Slack code) {verify_allocs}"
    );
    assert!(
        issue_allocs <= 2,
        "connect_url allocated {issue_allocs} times (budget 2)"
    );
    // None: the state's bytes are inline, the code and the provider borrowed.
    assert_eq!(
        verify_allocs, 0,
        "parse + verify_callback allocated {verify_allocs} times (budget 0)"
    );
}

/// A state longer than any state can be is refused by its length before
/// anything is allocated for it: a caller's 10 MB token costs no memory.
#[test]
fn an_oversized_state_is_refused_without_allocating() {
    let core = core();
    let verify = VerifyParams::at(at(T0 + 20));
    let huge = "A".repeat(10 << 20);
    let params = CallbackParams {
        code: Some("4724369.8123.abc123def".into()),
        state: Some(huge.as_str().into()),
        ..CallbackParams::default()
    };
    let (callback_allocs, refused) = count(|| core.verify_callback(&params, &verify).err());
    let (open_allocs, opened) = count(|| core.platform().open_state(&huge, &verify).err());
    assert_eq!(
        (refused.map(|e| e.to_string()), opened.map(|e| e.kind())),
        (
            Some(StateError::from(StateErrorKind::Oversized).to_string()),
            Some(StateErrorKind::Oversized)
        )
    );
    assert_eq!((callback_allocs, open_allocs), (0, 0));
}

#[test]
fn counter_counts_exactly() {
    let (n, v) = count(|| vec![1u8; 64]);
    assert_eq!((n, v.len()), (1, 64));
    let (n, ()) = count(|| ());
    assert_eq!(n, 0);
}
