#!/usr/bin/env python3
"""Independent generator of channel-connect state v1 test vectors.

Written from SPEC.md alone (no look at the Rust sources).
Python 3.11, standard library only.

    python3 tests/vectors/state_v1.gen.py > tests/vectors/state_v1.json

The output is deterministic: every random input (entropy, keys) is fixed.
"""

import base64
import hashlib
import hmac
import json
import struct
import sys

# --------------------------------------------------------------------------
# Constants (SPEC.md sections 1, 2, 3, 5, 8, 9)

LABEL_STATE = b"channel-connect/state/v1"
LABEL_PKCE = b"channel-connect/pkce/v1"
LABEL_FOLLOW_UP = b"channel-connect/follow-up-nonce/v1"
LABEL_BINDING = b"channel-connect/binding/v1"

VERSION = 0x01
TAG_LEN = 16
FIXED_LEN = 29
MAX_STATE_CHARS = 1792
MAX_STATE_BYTES = 1344
MAX_URL_CHARS = 1800
MAX_CONTEXT = 5
DEFAULT_LIFETIME = 300
DEFAULT_SKEW = 30

F_LINK_USER = 1 << 0
F_SHARED = 1 << 1
F_AUTO_LINK = 1 << 2
F_SUBSCRIBER = 1 << 3
F_CONNECTION = 1 << 4
F_BINDING = 1 << 5
F_KNOWN = 0x3F

SLACK_DEFAULT_SCOPES = [
    "chat:write",
    "chat:write.public",
    "channels:read",
    "groups:read",
    "users:read",
    "users:read.email",
]
SLACK_DEFAULT_USER_SCOPES = ["identity.basic"]

B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


# --------------------------------------------------------------------------
# Primitives


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def derive(key: bytes, label: bytes, m: bytes) -> bytes:
    """Section 1: derive(key, label, m) = HMAC(key, label || 0x00 || m)."""
    return hmac_sha256(key, label + b"\x00" + m)


def b64url_encode(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode("ascii").rstrip("=")


def b64url_decode_strict(s: str) -> bytes | None:
    """Section 2: URL-safe alphabet, no padding, canonical. None on failure."""
    if any(c not in B64_ALPHABET for c in s):
        return None  # includes '=' and every other character
    if len(s) % 4 == 1:
        return None
    pad = (-len(s)) % 4
    out = base64.urlsafe_b64decode(s + "=" * pad)
    # canonical: re-encoding gives the same string (unused low bits zero)
    if b64url_encode(out) != s:
        return None
    return out


def str8(s: str) -> bytes:
    b = s.encode("utf-8")
    assert len(b) <= 255
    return bytes([len(b)]) + b


def compact_json(d) -> str:
    return json.dumps(d, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def pct(s: str) -> str:
    """Section 9: RFC 3986 unreserved stays, every other byte %XX upper-case."""
    out = []
    for byte in s.encode("utf-8"):
        c = chr(byte)
        if c.isascii() and (c.isalnum() or c in "-._~"):
            out.append(c)
        else:
            out.append("%%%02X" % byte)
    return "".join(out)


# --------------------------------------------------------------------------
# Body encoding / decoding (section 2)


def encode_body(f: dict) -> bytes:
    flags = f["flags"]
    out = bytearray()
    out += bytes([f.get("version", VERSION), f["key_id"], flags])
    out += struct.pack(">Q", f["issued_at"])
    out += struct.pack(">H", f["lifetime"])
    assert len(f["nonce"]) == 16
    out += f["nonce"]
    if flags & F_BINDING:
        assert len(f["binding"]) == 16
        out += f["binding"]
    out += str8(f["provider"])
    out += str8(f["integration"])
    out += str8(f["environment"])
    out += str8(f["organization"])
    if flags & F_SUBSCRIBER:
        out += str8(f["subscriber"])
    if flags & F_CONNECTION:
        out += str8(f["connection"])
    ctx = f["context"]
    out += bytes([len(ctx)])
    for key, ident, data in ctx:
        out += str8(key) + str8(ident)
        if data is None:
            out += b"\x00"
        else:
            raw = data.encode("utf-8")
            out += b"\x01" + struct.pack(">H", len(raw)) + raw
    return bytes(out)


def tag_of(key: bytes, body: bytes) -> bytes:
    """Section 3."""
    return derive(key, LABEL_STATE, body)[:TAG_LEN]


def seal(key: bytes, body: bytes) -> str:
    return b64url_encode(body + tag_of(key, body))


class Refused(Exception):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class Reader:
    def __init__(self, b: bytes):
        self.b = b
        self.i = 0

    def take(self, n: int) -> bytes:
        if self.i + n > len(self.b):
            raise Refused("Malformed")
        r = self.b[self.i : self.i + n]
        self.i += n
        return r

    def u8(self) -> int:
        return self.take(1)[0]

    def str8(self, lo: int, hi: int) -> str:
        n = self.u8()
        if n < lo or n > hi:
            raise Refused("Malformed")
        try:
            return self.take(n).decode("utf-8", errors="strict")
        except UnicodeDecodeError:
            raise Refused("Malformed") from None


def parse_body(body: bytes) -> dict:
    """Layout checks of section 2 (after the MAC checked out)."""
    r = Reader(body)
    version = r.u8()
    key_id = r.u8()
    flags = r.u8()
    if flags & ~F_KNOWN:
        raise Refused("Malformed")
    issued_at = struct.unpack(">Q", r.take(8))[0]
    lifetime = struct.unpack(">H", r.take(2))[0]
    if lifetime == 0:
        raise Refused("Malformed")
    nonce = r.take(16)
    binding = r.take(16) if flags & F_BINDING else None
    provider = r.str8(1, 32)
    if any(c not in "abcdefghijklmnopqrstuvwxyz0123456789_-" for c in provider):
        raise Refused("Malformed")
    integration = r.str8(1, 255)
    environment = r.str8(1, 255)
    organization = r.str8(1, 255)
    subscriber = r.str8(1, 255) if flags & F_SUBSCRIBER else None
    connection = r.str8(1, 100) if flags & F_CONNECTION else None
    count = r.u8()
    if count > MAX_CONTEXT:
        raise Refused("Malformed")
    context = []
    for _ in range(count):
        # SPEC.md section 2 does not say whether a context key or id is a
        # "required string" (refused when empty); no vector depends on it.
        key = r.str8(0, 255)
        ident = r.str8(0, 255)
        kind = r.u8()
        if kind == 0:
            data = None
        elif kind == 1:
            n = struct.unpack(">H", r.take(2))[0]
            try:
                data = r.take(n).decode("utf-8", errors="strict")
            except UnicodeDecodeError:
                raise Refused("Malformed") from None
        else:
            raise Refused("Malformed")
        context.append((key, ident, data))
    if r.i != len(body):
        raise Refused("Malformed")
    return {
        "version": version,
        "key_id": key_id,
        "flags": flags,
        "issued_at": issued_at,
        "lifetime": lifetime,
        "nonce": nonce,
        "binding": binding,
        "provider": provider,
        "integration": integration,
        "environment": environment,
        "organization": organization,
        "subscriber": subscriber,
        "connection": connection,
        "context": context,
    }


def binding_of(value: str) -> bytes:
    """Section 5."""
    return hashlib.sha256(LABEL_BINDING + b"\x00" + value.encode("utf-8")).digest()[:16]


def open_state(token, ring: dict, now: int, skew: int, binding_value):
    """Section 8, in order. ring: {key_id: key bytes}. Returns fields or raises."""
    if token is None or token == "":
        raise Refused("Missing")
    if len(token) > MAX_STATE_CHARS:
        raise Refused("Oversized")
    raw = b64url_decode_strict(token)
    if raw is None or len(raw) < FIXED_LEN + TAG_LEN:
        raise Refused("Malformed")
    body, tag = raw[:-TAG_LEN], raw[-TAG_LEN:]
    if body[0] != VERSION:
        raise Refused("UnknownVersion")
    if body[1] not in ring:
        raise Refused("UnknownKey")
    if not hmac.compare_digest(tag, tag_of(ring[body[1]], body)):
        raise Refused("BadMac")
    f = parse_body(body)
    if f["issued_at"] > now + skew:
        raise Refused("NotYetValid")
    if now >= f["issued_at"] + f["lifetime"]:
        raise Refused("Expired")
    if f["flags"] & F_BINDING:
        if binding_value is None:
            raise Refused("BindingMissing")
        if not hmac.compare_digest(f["binding"], binding_of(binding_value)):
            raise Refused("BindingMismatch")
    return f


def fields_json(f: dict) -> dict:
    """The decoded fields as recorded in the vectors."""
    flags = f["flags"]
    return {
        "version": f["version"],
        "key_id": f["key_id"],
        "flags": flags,
        "purpose": "link-user" if flags & F_LINK_USER else "connect",
        "mode": "shared" if flags & F_SHARED else "subscriber",
        "auto_link_user": bool(flags & F_AUTO_LINK),
        "issued_at": f["issued_at"],
        "lifetime": f["lifetime"],
        "expires_at": f["issued_at"] + f["lifetime"],
        "nonce": f["nonce"].hex(),
        "binding": None if f["binding"] is None else f["binding"].hex(),
        "provider": f["provider"],
        "integration": f["integration"],
        "environment": f["environment"],
        "organization": f["organization"],
        "subscriber": f["subscriber"],
        "connection": f["connection"],
        "context": [{"key": k, "id": i, "data": d} for (k, i, d) in f["context"]],
    }


# --------------------------------------------------------------------------
# Issuing (sections 4, 5, 6, 7, 9)


def context_entries(ctx) -> list:
    out = []
    for key, v in (ctx or {}).items():
        if isinstance(v, str):
            out.append((key, v, None))
        else:
            data = v.get("data")
            out.append((key, v["id"], None if data is None else compact_json(data)))
    # ascending order of keys compared as bytes
    out.sort(key=lambda e: e[0].encode("utf-8"))
    assert len(out) <= MAX_CONTEXT
    return out


def generated_connection(entropy: bytes) -> str:
    """Section 4: 'chconn_' + 12 base64url chars of the 72 bits E[16..25]."""
    bits = int.from_bytes(entropy[16:25], "big")
    chars = [B64_ALPHABET[(bits >> (6 * (11 - i))) & 0x3F] for i in range(12)]
    out = "chconn_" + "".join(chars)
    assert out == "chconn_" + b64url_encode(entropy[16:25])
    return out


def connect_fields(req, integ, env, org, key_id, now, entropy, binding_value, lifetime):
    subscriber = req.get("subscriberId")
    mode = req.get("connectionMode") or ("subscriber" if subscriber is not None else "shared")
    auto = req.get("autoLinkUser")
    if auto is None:
        auto = mode == "subscriber"
    connection = req.get("connectionIdentifier")
    if connection is None:
        connection = generated_connection(entropy)
    flags = F_CONNECTION
    if mode == "shared":
        flags |= F_SHARED
    if auto:
        flags |= F_AUTO_LINK
    if subscriber is not None:
        flags |= F_SUBSCRIBER
    if binding_value is not None:
        flags |= F_BINDING
    return {
        "key_id": key_id,
        "flags": flags,
        "issued_at": now,
        "lifetime": lifetime,
        "nonce": entropy[:16],
        "binding": None if binding_value is None else binding_of(binding_value),
        "provider": integ["provider"],
        "integration": integ["identifier"],
        "environment": env,
        "organization": org,
        "subscriber": subscriber,
        "connection": connection,
        "context": context_entries(req.get("context")),
    }


def link_user_fields(req, integ, env, org, key_id, now, entropy, binding_value, lifetime):
    subscriber = req["subscriberId"]  # required
    connection = req.get("connectionIdentifier")
    ctx = context_entries(req.get("context"))
    flags = F_LINK_USER | F_AUTO_LINK | F_SUBSCRIBER
    if ctx:
        flags |= F_SHARED
    if connection is not None:
        flags |= F_CONNECTION
    if binding_value is not None:
        flags |= F_BINDING
    return {
        "key_id": key_id,
        "flags": flags,
        "issued_at": now,
        "lifetime": lifetime,
        "nonce": entropy[:16],
        "binding": None if binding_value is None else binding_of(binding_value),
        "provider": integ["provider"],
        "integration": integ["identifier"],
        "environment": env,
        "organization": org,
        "subscriber": subscriber,
        "connection": connection,
        "context": ctx,
    }


def pkce(key: bytes, nonce: bytes) -> tuple[str, str]:
    """Section 6."""
    verifier = b64url_encode(derive(key, LABEL_PKCE, nonce))
    assert len(verifier) == 43
    challenge = b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())
    return verifier, challenge


def authorize_url(integ, purpose: str, state: str, scopes, challenge=None) -> str:
    """Section 9."""
    c = pct(integ["client_id"])
    r = pct(integ["redirect_uri"])
    if integ["provider"] == "slack":
        if purpose == "connect":
            x = pct(",".join(scopes or SLACK_DEFAULT_SCOPES))
            url = f"https://slack.com/oauth/v2/authorize?state={state}&client_id={c}&redirect_uri={r}&scope={x}"
        else:
            x = pct(",".join(scopes or SLACK_DEFAULT_USER_SCOPES))
            url = f"https://slack.com/oauth/v2/authorize?state={state}&client_id={c}&redirect_uri={r}&user_scope={x}"
    else:
        t = integ.get("tenant") or "organizations"
        if purpose == "connect":
            url = (
                f"https://login.microsoftonline.com/{t}/v2.0/adminconsent?client_id={c}"
                f"&redirect_uri={r}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&state={state}"
            )
        else:
            url = (
                f"https://login.microsoftonline.com/{t}/oauth2/v2.0/authorize?client_id={c}"
                f"&response_type=code&redirect_uri={r}&response_mode=query"
                f"&scope=openid%20profile%20User.Read&state={state}"
                f"&code_challenge={challenge}&code_challenge_method=S256"
            )
    assert len(url) < MAX_URL_CHARS
    return url


def follow_up_fields(connect: dict, active_id: int, active_key: bytes, now: int) -> dict:
    """Section 7."""
    assert connect["flags"] & F_AUTO_LINK and connect["flags"] & F_SUBSCRIBER
    f = dict(connect)
    f["key_id"] = active_id
    f["flags"] = connect["flags"] | F_LINK_USER
    f["issued_at"] = now
    f["nonce"] = derive(active_key, LABEL_FOLLOW_UP, connect["nonce"])[:16]
    return f


# --------------------------------------------------------------------------
# Common inputs

KEY1 = bytes(range(0x00, 0x20))
KEY2 = bytes(range(0x20, 0x40))
ENV = "6615c4b2e0f3a1b2c3d4e5f6"
ORG = "6615c4b2e0f3a1b2c3d4e5f7"
REDIRECT = "http://localhost:3000/v1/integrations/chat/oauth/callback"
SLACK = {
    "identifier": "slack",
    "provider": "slack",
    "client_id": "1234567890.1234567890",
    "redirect_uri": REDIRECT,
    "tenant": None,
}
TEAMS = {
    "identifier": "msteams",
    "provider": "msteams",
    "client_id": "00000000-0000-0000-0000-000000000abc",
    "redirect_uri": REDIRECT,
    "tenant": "organizations",
}
NOW = 1767225600
ENTROPY = bytes(range(0x40, 0x60))
ENTROPY_B = bytes(range(0xA0, 0xC0))
TENANT_GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
BINDING_VALUE = "cookie-hash-0123456789abcdef0123456789abcdef"

RING1 = {1: KEY1}
RING_ROTATED = {2: KEY2, 1: KEY1}  # 2 active, 1 verify-only
RING_ONLY2 = {2: KEY2}

SEED_BODY = {
    "subscriberId": "subscriber-123",
    "integrationIdentifier": "slack",
    "connectionIdentifier": "slack-connection-abc123",
    "context": {"key": "org-acme"},
    "scope": ["chat:write", "chat:write.public", "channels:read"],
    "connectionMode": "shared",
    "autoLinkUser": True,
}


def ring_json(ring: dict, active: int) -> list:
    return [{"id": i, "key": k.hex(), "active": i == active} for i, k in sorted(ring.items())]


issue_vectors = []
issued = {}  # name -> (fields, state)


def add_issue(name, purpose, integ, request, *, entropy=ENTROPY, binding=None, now=NOW, note=None):
    key_id, key = 1, KEY1
    args = (request, integ, ENV, ORG, key_id, now, entropy, binding, DEFAULT_LIFETIME)
    f = connect_fields(*args) if purpose == "connect" else link_user_fields(*args)
    body = encode_body(f)
    state = seal(key, body)
    assert len(state) <= MAX_STATE_CHARS and len(body) + TAG_LEN <= MAX_STATE_BYTES
    expected = {"state": state}
    challenge = None
    if purpose == "link-user" and integ["provider"] == "msteams":
        verifier, challenge = pkce(key, f["nonce"])
        expected["pkce_verifier"] = verifier
        expected["code_challenge"] = challenge
    expected["url"] = authorize_url(integ, purpose, state, request.get("scope"), challenge)
    if purpose == "connect" and integ["provider"] == "msteams" and f["flags"] & F_AUTO_LINK and f["flags"] & F_SUBSCRIBER:
        # section 9: the follow-up URL must fit too (checked, not recorded here)
        fu = follow_up_fields(f, key_id, key, now)
        fs = seal(key, encode_body(fu))
        authorize_url(integ, "link-user", fs, None, pkce(key, fu["nonce"])[1])
    # self-check: it opens
    assert fields_json(open_state(state, {key_id: key}, now, DEFAULT_SKEW, binding)) == fields_json(
        {**f, "version": VERSION}
    )
    expected["fields"] = fields_json({**f, "version": VERSION})
    v = {
        "name": name,
        "purpose": purpose,
        "key_id": key_id,
        "key": key.hex(),
        "environment_id": ENV,
        "organization_id": ORG,
        "integration": integ,
        "now": now,
        "lifetime": DEFAULT_LIFETIME,
        "entropy": entropy.hex(),
        "binding": binding,
        "request": request,
        "expected": expected,
    }
    if note:
        v["note"] = note
    issue_vectors.append(v)
    issued[name] = ({**f, "version": VERSION}, state)
    return f, state


# ---- issue vectors -------------------------------------------------------

add_issue("slack connect, seed body", "connect", SLACK, SEED_BODY)
add_issue(
    "slack connect, curl seed body (two context keys)",
    "connect",
    SLACK,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "slack",
        "connectionIdentifier": "slack-connection-abc123",
        "context": {"property1": "org-acme", "property2": "org-acme"},
        "scope": ["chat:write", "chat:write.public", "channels:read"],
        "connectionMode": "shared",
        "autoLinkUser": True,
    },
)
add_issue(
    "slack connect, default scopes",
    "connect",
    SLACK,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "slack",
        "connectionIdentifier": "slack-connection-abc123",
        "context": {"key": "org-acme"},
        "connectionMode": "shared",
        "autoLinkUser": True,
    },
)
add_issue(
    "slack connect, generated connection id",
    "connect",
    SLACK,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "slack",
        "context": {"key": "org-acme"},
        "connectionMode": "shared",
        "autoLinkUser": True,
    },
)
add_issue(
    "slack connect, generated connection id, other entropy",
    "connect",
    SLACK,
    {"integrationIdentifier": "slack", "context": {"workspace": "ws-42"}},
    entropy=ENTROPY_B,
)
add_issue(
    "slack connect, subscriber mode defaults (mode and autoLinkUser absent)",
    "connect",
    SLACK,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "slack",
        "connectionIdentifier": "slack-connection-abc123",
    },
)
add_issue(
    "slack connect, shared mode defaults (no subscriberId, mode and autoLinkUser absent)",
    "connect",
    SLACK,
    {
        "integrationIdentifier": "slack",
        "connectionIdentifier": "slack-connection-abc123",
        "context": {"key": "org-acme"},
    },
)
add_issue(
    "slack connect, explicit subscriber mode with autoLinkUser false",
    "connect",
    SLACK,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "slack",
        "connectionIdentifier": "slack-connection-abc123",
        "connectionMode": "subscriber",
        "autoLinkUser": False,
    },
)
add_issue(
    "slack connect, context entity with data",
    "connect",
    SLACK,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "slack",
        "connectionIdentifier": "slack-connection-abc123",
        "context": {
            "tenant": {"id": "org-acme", "data": {"plan": "pro", "seats": 5, "name": "Acme Inc", "tags": {"z": 1, "a": 2}}},
            "key": {"id": "org-plain"},
            "nulldata": {"id": "org-null", "data": None},
        },
        "connectionMode": "shared",
    },
)
add_issue(
    "slack connect, five context keys (unordered input)",
    "connect",
    SLACK,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "slack",
        "connectionIdentifier": "slack-connection-abc123",
        "context": {
            "team": "team-1",
            "org": "org-acme",
            "project": {"id": "proj-9", "data": {"b": 2, "a": 1}},
            "Region": "eu-west",
            "env": "prod",
        },
    },
)
add_issue(
    "slack connect, bound to a browser",
    "connect",
    SLACK,
    SEED_BODY,
    binding=BINDING_VALUE,
)
add_issue(
    "teams connect, subscriber with autoLinkUser (follow-up source)",
    "connect",
    TEAMS,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "msteams",
        "connectionIdentifier": "teams-connection-abc123",
        "context": {"key": "org-acme"},
        "connectionMode": "subscriber",
        "autoLinkUser": True,
    },
)
add_issue(
    "teams connect, shared without autoLinkUser",
    "connect",
    TEAMS,
    {
        "integrationIdentifier": "msteams",
        "connectionIdentifier": "teams-connection-abc123",
        "context": {"key": "org-acme"},
        "connectionMode": "shared",
        "autoLinkUser": False,
    },
)
add_issue(
    "slack link-user, default user_scope",
    "link-user",
    SLACK,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "slack",
        "connectionIdentifier": "slack-connection-abc123",
        "context": {"key": "org-acme"},
    },
)
add_issue(
    "slack link-user, no context, no connection (subscriber mode)",
    "link-user",
    SLACK,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "slack"},
)
add_issue(
    "teams link-user, pkce",
    "link-user",
    TEAMS,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "msteams",
        "connectionIdentifier": "teams-connection-abc123",
        "context": {"key": "org-acme"},
    },
)
add_issue(
    "teams link-user, pkce, other entropy, bound",
    "link-user",
    TEAMS,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "msteams"},
    entropy=ENTROPY_B,
    binding=BINDING_VALUE,
)

# ---- Teams follow-up (section 7) ------------------------------------------

follow_up_vectors = []


def add_follow_up(name, source_name, ring, active_id, now):
    connect_f, connect_state = issued[source_name]
    active_key = ring[active_id]
    fu = follow_up_fields(connect_f, active_id, active_key, now)
    state = seal(active_key, encode_body(fu))
    assert len(state) == len(connect_state)
    verifier, challenge = pkce(active_key, fu["nonce"])
    url = authorize_url(TEAMS, "link-user", state, None, challenge)
    assert fields_json(open_state(state, ring, now, DEFAULT_SKEW, None)) == fields_json(fu)
    follow_up_vectors.append(
        {
            "name": name,
            "keys": ring_json(ring, active_id),
            "environment_id": ENV,
            "organization_id": ORG,
            "integration": TEAMS,
            "now": now,
            "connect_state": connect_state,
            "callback_query": f"?admin_consent=True&tenant={TENANT_GUID}&state={connect_state}",
            "expected": {
                "state": state,
                "url": url,
                "pkce_verifier": verifier,
                "code_challenge": challenge,
                "fields": fields_json(fu),
            },
        }
    )
    issued[name] = (fu, state)


add_follow_up(
    "teams follow-up at now+60",
    "teams connect, subscriber with autoLinkUser (follow-up source)",
    RING1,
    1,
    NOW + 60,
)
add_follow_up(
    "teams follow-up at now+60 after rotation (key 2 active, connect state under verify-only key 1)",
    "teams connect, subscriber with autoLinkUser (follow-up source)",
    RING_ROTATED,
    2,
    NOW + 60,
)

# ---- open vectors ----------------------------------------------------------

open_vectors = []


def add_open(name, state, ring, active, now, binding=None, expect_error=None, skew=DEFAULT_SKEW):
    try:
        got = {"ok": fields_json(open_state(state, ring, now, skew, binding))}
    except Refused as e:
        got = {"error": e.kind}
    if expect_error is None:
        assert "ok" in got, (name, got)
    else:
        assert got == {"error": expect_error}, (name, got)
    open_vectors.append(
        {
            "name": name,
            "keys": ring_json(ring, active),
            "state": state,
            "now": now,
            "skew": skew,
            "binding": binding,
            "expected": got,
        }
    )


def raw_of(state: str) -> bytes:
    r = b64url_decode_strict(state)
    assert r is not None
    return r


def flip(state: str, byte_index: int, bit: int) -> str:
    raw = bytearray(raw_of(state))
    raw[byte_index] ^= 1 << bit
    return b64url_encode(bytes(raw))


def remac(body: bytes, key: bytes = KEY1) -> str:
    return seal(key, body)


seed_f, seed = issued["slack connect, seed body"]
seed_body = raw_of(seed)[:-TAG_LEN]
bound_f, bound = issued["slack connect, bound to a browser"]
L = DEFAULT_LIFETIME

add_open("valid seed state", seed, RING1, 1, NOW)
add_open("valid, with an unneeded binding value presented", seed, RING1, 1, NOW, binding="anything")
for nm in [
    "slack connect, curl seed body (two context keys)",
    "slack connect, generated connection id",
    "slack connect, shared mode defaults (no subscriberId, mode and autoLinkUser absent)",
    "slack connect, context entity with data",
    "slack connect, five context keys (unordered input)",
    "slack link-user, no context, no connection (subscriber mode)",
    "teams link-user, pkce",
]:
    add_open("valid: " + nm, issued[nm][1], RING1, 1, NOW + 10)
add_open("valid follow-up state", issued["teams follow-up at now+60"][1], RING1, 1, NOW + 61)
add_open("expired at exactly issued_at+lifetime", seed, RING1, 1, NOW + L, expect_error="Expired")
add_open("valid at issued_at+lifetime-1", seed, RING1, 1, NOW + L - 1)
add_open("not yet valid beyond the skew (issued_at = now+31)", seed, RING1, 1, NOW - 31, expect_error="NotYetValid")
add_open("valid within the skew (issued_at = now+30)", seed, RING1, 1, NOW - 30)
add_open("skew 0: issued_at = now+1 is not yet valid", seed, RING1, 1, NOW - 1, skew=0, expect_error="NotYetValid")
add_open(
    "bad MAC: one bit flipped in the tag",
    flip(seed, len(raw_of(seed)) - 1, 0),
    RING1,
    1,
    NOW,
    expect_error="BadMac",
)
add_open("bad MAC: one bit flipped in the body (nonce)", flip(seed, 13, 7), RING1, 1, NOW, expect_error="BadMac")
add_open(
    "bad MAC: one bit flipped in issued_at (would be expired)",
    flip(seed, 3, 0),
    RING1,
    1,
    NOW,
    expect_error="BadMac",
)
add_open("bad MAC: right key id, wrong key bytes", seed, {1: KEY2}, 1, NOW, expect_error="BadMac")
add_open("unknown key id (ring has only key 2)", seed, RING_ONLY2, 2, NOW, expect_error="UnknownKey")
add_open(
    "unknown key id 9 (sealed with key 1 bytes under id 9)",
    remac(bytes([1, 9]) + seed_body[2:]),
    RING_ROTATED,
    2,
    NOW,
    expect_error="UnknownKey",
)
add_open("verify-only old key still opens", seed, RING_ROTATED, 2, NOW)
add_open(
    "state sealed by key 2 opens in the rotated ring",
    remac(bytes([1, 2]) + seed_body[2:], KEY2),
    RING_ROTATED,
    2,
    NOW,
)
add_open(
    "unknown version byte 0x02 (re-MACed)",
    remac(bytes([2]) + seed_body[1:]),
    RING1,
    1,
    NOW,
    expect_error="UnknownVersion",
)
add_open(
    "unknown version byte 0x00 with unknown key id (version checked first)",
    remac(bytes([0, 9]) + seed_body[2:]),
    RING1,
    1,
    NOW,
    expect_error="UnknownVersion",
)
add_open(
    "unknown flag bit 6 (re-MACed)",
    remac(seed_body[:2] + bytes([seed_body[2] | 0x40]) + seed_body[3:]),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)
add_open(
    "unknown flag bit 7 (re-MACed)",
    remac(seed_body[:2] + bytes([seed_body[2] | 0x80]) + seed_body[3:]),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)
add_open(
    "unknown flag bit, not re-MACed (MAC checked before layout)",
    flip(seed, 2, 6),
    RING1,
    1,
    NOW,
    expect_error="BadMac",
)
add_open("trailing byte (re-MACed)", remac(seed_body + b"\x00"), RING1, 1, NOW, expect_error="Malformed")
add_open("truncated body, last byte removed (re-MACed)", remac(seed_body[:-1]), RING1, 1, NOW, expect_error="Malformed")
add_open(
    "truncated string: 3 bytes dropped from the end (canonical, tag misplaced)",
    b64url_encode(raw_of(seed)[:-3]),
    RING1,
    1,
    NOW,
    expect_error="BadMac",
)
add_open("truncated below 45 bytes (first 40 chars)", seed[:40], RING1, 1, NOW, expect_error="Malformed")
add_open("44 decoded bytes", b64url_encode(raw_of(seed)[:44]), RING1, 1, NOW, expect_error="Malformed")
add_open(
    "45 decoded bytes (minimum length passes; then MAC fails)",
    b64url_encode(raw_of(seed)[:45]),
    RING1,
    1,
    NOW,
    expect_error="BadMac",
)
add_open(
    "45 bytes, correct MAC over the 29 fixed bytes (then layout fails)",
    remac(seed_body[:29]),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)
add_open(
    "string length 4k+1 (a dangling character: not base64)",
    seed[: len(seed) - (len(seed) - 1) % 4],
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)


def non_canonical(state: str) -> str:
    """Set an unused low bit in the last character."""
    rem = len(raw_of(state)) % 3
    assert rem != 0
    unused = 4 if rem == 1 else 2
    last = B64_ALPHABET.index(state[-1])
    assert last & ((1 << unused) - 1) == 0
    return state[:-1] + B64_ALPHABET[last | 1]


def with_padding(state: str) -> str:
    rem = len(raw_of(state)) % 3
    return state + {0: "=", 1: "==", 2: "="}[rem]


# a state whose decoded length is not a multiple of 3 (so there are unused bits)
nc_source_name = next(n for n, (_, s) in issued.items() if len(raw_of(s)) % 3 != 0)
nc_source = issued[nc_source_name][1]
add_open(
    "non-canonical base64: unused low bits of the last character set (" + nc_source_name + ")",
    non_canonical(nc_source),
    RING1,
    1,
    NOW + 60,
    expect_error="Malformed",
)
add_open("the same state, canonical, opens", nc_source, RING1, 1, NOW + 60)
add_open("padding '=' appended", with_padding(nc_source), RING1, 1, NOW + 60, expect_error="Malformed")
add_open("padding '=' on the seed state", with_padding(seed), RING1, 1, NOW, expect_error="Malformed")
add_open("invalid character '+' (standard alphabet)", seed[:10] + "+" + seed[11:], RING1, 1, NOW, expect_error="Malformed")
add_open("invalid character '.'", seed[:-1] + ".", RING1, 1, NOW, expect_error="Malformed")
add_open("invalid character ' ' (space)", " " + seed[1:], RING1, 1, NOW, expect_error="Malformed")
add_open("oversized (1793 chars)", "A" * 1793, RING1, 1, NOW, expect_error="Oversized")
add_open("oversized (1793 chars, invalid base64 too)", "=" * 1793, RING1, 1, NOW, expect_error="Oversized")
add_open(
    "1792 chars is not oversized (decodes, version 0 -> UnknownVersion)",
    "A" * 1792,
    RING1,
    1,
    NOW,
    expect_error="UnknownVersion",
)
add_open("empty", "", RING1, 1, NOW, expect_error="Missing")
add_open("binding missing", bound, RING1, 1, NOW, expect_error="BindingMissing")
add_open("binding mismatch", bound, RING1, 1, NOW, binding=BINDING_VALUE + "0", expect_error="BindingMismatch")
add_open("binding ok", bound, RING1, 1, NOW, binding=BINDING_VALUE)
add_open(
    "binding missing but expired (expiry checked first)",
    bound,
    RING1,
    1,
    NOW + L,
    expect_error="Expired",
)
add_open(
    "bound teams link-user: binding ok",
    issued["teams link-user, pkce, other entropy, bound"][1],
    RING1,
    1,
    NOW,
    binding=BINDING_VALUE,
)

# layout violations, each re-MACed so only the layout is wrong


def body_with(**changes) -> bytes:
    f = dict(seed_f)
    f.update(changes)
    return encode_body(f)


add_open("zero lifetime (re-MACed)", remac(body_with(lifetime=0)), RING1, 1, NOW, expect_error="Malformed")
add_open("lifetime 1, opened at issued_at", remac(body_with(lifetime=1)), RING1, 1, NOW)
add_open("lifetime 65535, opened 65534 s later", remac(body_with(lifetime=65535)), RING1, 1, NOW + 65534)
add_open("provider with an upper-case letter (re-MACed)", remac(body_with(provider="Slack")), RING1, 1, NOW, expect_error="Malformed")
add_open("provider of 33 bytes (re-MACed)", remac(body_with(provider="a" * 33)), RING1, 1, NOW, expect_error="Malformed")
add_open("empty integration (re-MACed)", remac(body_with(integration="")), RING1, 1, NOW, expect_error="Malformed")
add_open("empty subscriber with SUBSCRIBER flag (re-MACed)", remac(body_with(subscriber="")), RING1, 1, NOW, expect_error="Malformed")
add_open("connection of 101 bytes (re-MACed)", remac(body_with(connection="c" * 101)), RING1, 1, NOW, expect_error="Malformed")
add_open("connection of 100 bytes opens", remac(body_with(connection="c" * 100)), RING1, 1, NOW)
add_open(
    "invalid UTF-8 in the organization (re-MACed)",
    remac(encode_body({**seed_f, "organization": "ORG"}).replace(b"\x03ORG", b"\x03O\xffG")),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)
add_open(
    "context count 6 (re-MACed)",
    remac(body_with(context=[(f"k{i}", f"v{i}", None) for i in range(6)])),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)
add_open(
    "context kind byte 2 (re-MACed)",
    remac(body_with(context=[("key", "org-acme", None)])[:-1] + b"\x02"),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)
add_open(
    "context data length beyond the body (re-MACed)",
    remac(body_with(context=[("key", "org-acme", None)])[:-1] + b"\x01\x00\x05{}"),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)

# ---------------------------------------------------------------------------

FORMAT = (
    "channel-connect state v1 test vectors, generated by tests/vectors/state_v1.gen.py from SPEC.md alone. "
    "Top level: {format, issue, follow_up, open}. Hex strings are lower-case. "
    "issue[i]: {name, purpose: 'connect'|'link-user', key_id, key (hex, the active and only key), "
    "environment_id, organization_id, integration: {identifier, provider: 'slack'|'msteams', client_id, "
    "redirect_uri, tenant (string for msteams, null for slack)}, now (Unix s), lifetime (s, always the default 300), "
    "entropy (hex, 32 bytes), binding (UTF-8 value or null), request (the JSON request body as an object), "
    "note?, expected: {state, url, pkce_verifier? and code_challenge? (Teams link-user only), fields (as in open ok)}}. "
    "follow_up[i]: {name, keys (ring, see open), environment_id, organization_id, integration, now (the verifier's now), "
    "connect_state (a Teams connect state from issue[]), callback_query (query string of the admin-consent callback, "
    "starting with '?'), expected: {state, url, pkce_verifier, code_challenge, fields}}. "
    "open[i]: {name, keys: [{id, key (hex), active (exactly one true; others verify-only)}], state (string, "
    "possibly empty), now, skew (s), binding (presented value or null), expected: {ok: fields} | {error: kind}} "
    "with kind one of Missing, Oversized, Malformed, UnknownVersion, UnknownKey, BadMac, NotYetValid, Expired, "
    "BindingMissing, BindingMismatch (SPEC.md section 8). "
    "fields: {version, key_id, flags (the raw byte), purpose: 'connect'|'link-user' (LINK_USER), "
    "mode: 'shared'|'subscriber' (SHARED), auto_link_user (AUTO_LINK), issued_at, lifetime, "
    "expires_at (issued_at + lifetime), nonce (hex, 16 bytes), binding (hex of the 16-byte binding field or null), "
    "provider, integration, environment, organization, subscriber (or null), connection (or null), "
    "context: [{key, id, data (the exact JSON text of the data, or null for kind 0)}] in stored order}."
)

out = {
    "format": FORMAT,
    "issue": issue_vectors,
    "follow_up": follow_up_vectors,
    "open": open_vectors,
}
json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
