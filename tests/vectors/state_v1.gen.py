#!/usr/bin/env python3
"""Independent generator of channel-connect state v1 test vectors.

Written from SPEC.md alone (no look at the Rust sources), first from its first
edition, then updated for the revision that defines flag bits 6 (PROOF) and 7
(WORKSPACE): the workspace field, connect-proof states and the Teams proof
follow-up (SPEC.md sections 2, 4, 7 and 9), then for the revision that states
the request rules in full (section 11: the body, its fields, the context, the
order of the checks), how the `data` JSON is written (section 2: key order at
every depth, escapes, integral numbers written as integers) and the
state-less callback (section 8, `Unsolicited`). Python 3.11, standard library
only.

Every request reaches the issuer as JSON text (a vector's `request_json`, or
its `request` object written as JSON) and is parsed and checked here by
section 11, numbers kept as their literal text, so that the generator refuses
what SPEC.md refuses and writes `data` by section 2's own rules rather than by
`json.dumps`.

Where SPEC.md is silent or ambiguous, the reading taken is the most literal one
and is recorded in a comment marked "SPEC reading:".

    python3 tests/vectors/state_v1.gen.py > tests/vectors/state_v1.json

The output is deterministic: every random input (entropy, keys) is fixed.
"""

import base64
import decimal
import hashlib
import hmac
import json
import math
import re
import struct
import sys
import urllib.parse

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
F_PROOF = 1 << 6
F_WORKSPACE = 1 << 7
# All eight flag bits are defined (section 2): there are no unknown bits.

WORKSPACE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"
MAX_WORKSPACE = 64
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
# Section 9: the stand-in for the workspace of a Teams connect state that has
# none, when checking the length of its proof follow-up URL (any 36 characters).
TENANT_STAND_IN = "00000000-0000-0000-0000-000000000000"

GUID_RE = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
# Section 4: Slack workspaces match [TE][A-Z0-9]{1,31} (a team id "T..." or an
# Enterprise Grid id "E..."), written and compared exactly as given.
SLACK_TEAM_RE = re.compile(r"[TE][A-Z0-9]{1,31}")

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


# --------------------------------------------------------------------------
# JSON values of a request, and the `data` JSON of section 2
#
# A request is parsed with its numbers kept as their literal text (Num), and
# its objects as JObj: a dict holding the last value of each key (section
# 11.2: "a repeated key keeps its last value and counts once") that also
# remembers which keys were given more than once (a listed member repeated at
# the top level refuses the body, section 11.1).


class Num:
    """A JSON number as its literal text (RFC 8259 section 6 grammar)."""

    __slots__ = ("raw",)

    def __init__(self, raw: str):
        self.raw = raw

    def __repr__(self):
        return f"Num({self.raw!r})"


class JObj(dict):
    def __init__(self, pairs):
        super().__init__()
        self.repeated = set()
        for k, v in pairs:
            if k in self:
                self.repeated.add(k)
            self[k] = v


# Section 11.3: the number's value is the decimal value of its literal. SPEC
# reading: "must have an integer value from -2^53 to 2^53 ... read as
# JavaScript reads a JSON number" and "beyond the range (`1e300`, 2^53 + 1,
# ...) is refused" agree on every literal whose exact value is an integer in
# the range (JavaScript reads those exactly), and section 11.3 refuses 2^53 + 1
# although JavaScript reads it as 2^53; so the exact value of the literal is
# what is checked, and a literal whose exact value is a fraction or beyond the
# range is refused even where a double would round it to an integer in range
# (`1.0000000000000000001`, `9007199254740992.5`, `1e-400`). Every literal
# accepted this way is read identically by JavaScript, and no vector depends
# on the literals where the two readings part.
_DEC = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
_MAX_SAFE = decimal.Decimal(2**53)


def number_value(n: Num):
    """The integer a data number is written as (section 2), or None when
    section 11.3 refuses it (a fraction, or beyond -2^53 to 2^53)."""
    d = decimal.Decimal(n.raw)
    if d != d.to_integral_value(context=_DEC) or d.copy_abs() > _MAX_SAFE:
        return None
    return int(d)  # never -0: int(Decimal("-0.0")) == 0


def numbers_ok(v) -> bool:
    """Section 11.3: every number in data, at any depth, is an integer from
    -2^53 to 2^53."""
    if isinstance(v, Num):
        return number_value(v) is not None
    if isinstance(v, list):
        return all(numbers_ok(x) for x in v)
    if isinstance(v, dict):
        return all(numbers_ok(x) for x in v.values())
    return True


# Section 2, strings: these seven characters have their short escapes; every
# other character from U+0000 to U+001F is \u00xx in lower-case hex; nothing
# else is escaped.
_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def write_string(s: str) -> str:
    out = ['"']
    for ch in s:
        e = _SHORT_ESCAPES.get(ch)
        if e is not None:
            out.append(e)
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def write_json(v) -> str:
    """Section 2: the `data` JSON, compact, keys in ascending byte order of
    their UTF-8 at every depth, arrays in order, numbers as the integer their
    value is. Only called on values whose numbers passed numbers_ok."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, Num):
        i = number_value(v)
        assert i is not None, v
        return str(i)
    if isinstance(v, str):
        return write_string(v)
    if isinstance(v, list):
        return "[" + ",".join(write_json(x) for x in v) + "]"
    assert isinstance(v, dict), v
    items = sorted(v.items(), key=lambda kv: kv[0].encode("utf-8"))
    return "{" + ",".join(write_string(k) + ":" + write_json(x) for k, x in items) + "}"


def plain_value(v):
    """A parsed value with its numbers as Python ints (for self-checks)."""
    if isinstance(v, Num):
        return number_value(v)
    if isinstance(v, list):
        return [plain_value(x) for x in v]
    if isinstance(v, dict):
        return {k: plain_value(x) for k, x in v.items()}
    return v


def pct_scopes(scopes) -> str:
    """Section 9: a Slack scope list, joined by a bare `,`, each scope's `:` kept."""
    return ",".join(pct(x).replace("%3A", ":") for x in scopes)


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
    if flags & F_WORKSPACE:
        out += str8(f["workspace"])
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


def body_length(f: dict) -> int:
    """The length encode_body(f) has, computed without packing (a `data` of
    more than 65,535 bytes has no u16be length; it is refused for size)."""
    flags = f["flags"]
    n = FIXED_LEN + (16 if flags & F_BINDING else 0)
    for name, flag in [
        ("provider", None),
        ("integration", None),
        ("environment", None),
        ("organization", None),
        ("subscriber", F_SUBSCRIBER),
        ("connection", F_CONNECTION),
        ("workspace", F_WORKSPACE),
    ]:
        if flag is None or flags & flag:
            n += 1 + len(f[name].encode("utf-8"))
    n += 1
    for key, ident, data in f["context"]:
        n += 2 + len(key.encode("utf-8")) + len(ident.encode("utf-8")) + 1
        if data is not None:
            n += 2 + len(data.encode("utf-8"))
    return n


def tag_of(key: bytes, body: bytes) -> bytes:
    """Section 3."""
    return derive(key, LABEL_STATE, body)[:TAG_LEN]


def seal(key: bytes, body: bytes) -> str:
    return b64url_encode(body + tag_of(key, body))


class Refused(Exception):
    def __init__(self, kind: str, detail: str | None = None):
        super().__init__(kind if detail is None else f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


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
    # Section 2: PROOF together with LINK_USER, and PROOF without WORKSPACE,
    # are refused (purpose is read from the two bits).
    if flags & F_PROOF and flags & F_LINK_USER:
        raise Refused("Malformed")
    if flags & F_PROOF and not flags & F_WORKSPACE:
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
    workspace = None
    if flags & F_WORKSPACE:
        # 1 to 64 bytes of [A-Za-z0-9._-]. SPEC reading: the decoder checks
        # only length and alphabet, not the GUID / team-id shape of section 4
        # ("the other ranges of the table ... bind the issuer").
        workspace = r.str8(1, MAX_WORKSPACE)
        if any(c not in WORKSPACE_CHARS for c in workspace):
            raise Refused("Malformed")
    count = r.u8()
    if count > MAX_CONTEXT:
        raise Refused("Malformed")
    context = []
    for _ in range(count):
        # Section 2: every string field, context keys and ids included, is at
        # least 1 byte.
        key = r.str8(1, 255)
        ident = r.str8(1, 255)
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
        "workspace": workspace,
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


def purpose_of(flags: int) -> str:
    """Section 2: purpose from LINK_USER and PROOF (both together never decode)."""
    assert not (flags & F_PROOF and flags & F_LINK_USER)
    if flags & F_PROOF:
        return "connect-proof"
    if flags & F_LINK_USER:
        return "link-user"
    return "connect"


def fields_json(f: dict) -> dict:
    """The decoded fields as recorded in the vectors."""
    flags = f["flags"]
    return {
        "version": f["version"],
        "key_id": f["key_id"],
        "flags": flags,
        "purpose": purpose_of(flags),
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
        "workspace": f.get("workspace"),
        "context": [{"key": k, "id": i, "data": d} for (k, i, d) in f["context"]],
    }


# --------------------------------------------------------------------------
# Issuing (sections 4, 5, 6, 7, 9)


def generated_connection(entropy: bytes) -> str:
    """Section 4: 'chconn_' + 12 base64url chars of the 72 bits E[16..25]."""
    bits = int.from_bytes(entropy[16:25], "big")
    chars = [B64_ALPHABET[(bits >> (6 * (11 - i))) & 0x3F] for i in range(12)]
    out = "chconn_" + "".join(chars)
    assert out == "chconn_" + b64url_encode(entropy[16:25])
    return out


def workspace_at_issue(integ, expected):
    """Section 4: the workspace the flow is restricted to, or None.

    Raises Refused("InvalidWorkspace") for an expected workspace of the wrong
    shape (consumer tenant included) or one that differs from the
    integration's own restriction.
    """
    if integ["provider"] == "slack":
        restriction = integ.get("team")
        # SPEC reading: a configured team is integration configuration; it is
        # only used here when well formed (all vectors configure valid ones).
        assert restriction is None or SLACK_TEAM_RE.fullmatch(restriction)
        if expected is None:
            return restriction
        if not SLACK_TEAM_RE.fullmatch(expected):
            raise Refused("InvalidWorkspace")
        # "written as given": compared byte for byte.
        if restriction is not None and expected != restriction:
            raise Refused("InvalidWorkspace")
        return expected
    # msteams
    tenant = integ.get("tenant") or "organizations"
    # SPEC reading: the configured tenant segment is a restriction when it is
    # a GUID (either case), lower-cased. No vector configures the consumer
    # tenant (section 4 does not say what that does at issue).
    restriction = tenant.lower() if GUID_RE.fullmatch(tenant) else None
    assert restriction != CONSUMER_TENANT
    if expected is None:
        return restriction
    if not GUID_RE.fullmatch(expected):
        raise Refused("InvalidWorkspace")
    w = expected.lower()
    # SPEC reading: the consumer tenant is recognised in either case.
    if w == CONSUMER_TENANT:
        raise Refused("InvalidWorkspace")
    # SPEC reading: Teams workspaces are "written in lower case", so the
    # comparison with the restriction is made on the lower-cased forms.
    if restriction is not None and w != restriction:
        raise Refused("InvalidWorkspace")
    return w


def connect_fields(req, integ, env, org, key_id, now, entropy, binding_value, lifetime, workspace):
    """Section 4. req: the request as validate_request returns it (a member
    that was absent or null is None)."""
    subscriber = req["subscriberId"]
    mode = req["connectionMode"] or ("subscriber" if subscriber is not None else "shared")
    auto = req["autoLinkUser"]
    if auto is None:
        auto = mode == "subscriber"
    connection = req["connectionIdentifier"]
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
    if workspace is not None:
        flags |= F_WORKSPACE
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
        "workspace": workspace,
        "context": req["context"] or [],
    }


def link_user_fields(req, integ, env, org, key_id, now, entropy, binding_value, lifetime, workspace):
    subscriber = req["subscriberId"]  # required (section 11.2)
    assert subscriber is not None
    connection = req["connectionIdentifier"]
    ctx = req["context"] or []
    flags = F_LINK_USER | F_AUTO_LINK | F_SUBSCRIBER
    # "mode shared when a context with at least one key is given": section
    # 11.3 admits only contexts of 1 to 5 keys, so every context given.
    if ctx:
        flags |= F_SHARED
    if connection is not None:
        flags |= F_CONNECTION
    if binding_value is not None:
        flags |= F_BINDING
    if workspace is not None:
        flags |= F_WORKSPACE
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
        "workspace": workspace,
        "context": ctx,
    }


# --------------------------------------------------------------------------
# Inputs the vectors may use: a valid integration configuration (section 9).
# The generator asserts on it, so that no vector is built from a configuration
# the crate would refuse before issuing anything. (Requests are checked by
# section 11, below: a request SPEC.md refuses gives a refusal vector.)

MAX_REDIRECT_URI = 256
LOOPBACK_V4_RE = re.compile(r"127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")
REDIRECT_RE = re.compile(r"(https|http)://([^/?#]*)([^#]*)")
AUTHORITY_RE = re.compile(r"(\[[^\]]*\]|[^:\[\]]*)(?::(\d*))?")


def is_loopback_host(host: str) -> bool:
    """Section 9: `localhost`, 127.0.0.0/8 or [::1]."""
    if host == "localhost" or host == "[::1]":
        return True
    m = LOOPBACK_V4_RE.fullmatch(host)
    return m is not None and all(int(o) <= 255 for o in m.groups())


def check_integration(integ: dict) -> None:
    """Section 9: the configuration checks of the redirect URI and client id.

    Section 9 counts "at most 256 bytes as configured, before any encoding";
    the generator's redirect URIs are ASCII, so bytes and characters agree.
    The generator keeps to a narrower
    envelope than section 9 needs (printable ASCII, lower-case scheme and
    host, no '@' anywhere), so no vector depends on how a parser reads the
    edges of these rules."""
    r = integ["redirect_uri"]
    assert isinstance(r, str) and len(r.encode("utf-8")) <= MAX_REDIRECT_URI, ("redirect URI over 256 bytes", len(r))
    assert all("\x21" <= c <= "\x7e" for c in r), "redirect URI: printable ASCII only"
    assert "#" not in r, "redirect URI: no fragment"
    assert "@" not in r, "redirect URI: no userinfo"
    m = REDIRECT_RE.fullmatch(r)
    assert m is not None, "redirect URI: absolute https or http"
    scheme, authority = m.group(1), m.group(2)
    a = AUTHORITY_RE.fullmatch(authority)
    assert a is not None and a.group(1) != "", "redirect URI: a host"
    host = a.group(1)
    assert host == host.lower()
    if scheme == "http":
        assert is_loopback_host(host), "redirect URI: http only on a loopback host"
    c = integ["client_id"]
    assert isinstance(c, str) and 1 <= len(c) <= 255 and all("\x21" <= ch <= "\x7e" for ch in c)
    if integ["provider"] == "slack":
        assert integ.get("tenant") is None
        assert integ.get("team") is None or SLACK_TEAM_RE.fullmatch(integ["team"])
    elif integ["provider"] == "webex":
        # Only refused requests: this generator writes no Webex URL.
        assert integ.get("tenant") is None and integ.get("team") is None
    else:
        assert integ["provider"] == "msteams" and integ.get("team") is None
        assert (integ.get("tenant") or "organizations").lower() != CONSUMER_TENANT


# --------------------------------------------------------------------------
# Requests (section 11)
#
# Each vector's request is JSON text (`request_json`, or `request` written as
# JSON). It is parsed and checked here in the order of section 11.4; a refusal
# is Refused(kind, detail). The vectors use only the kinds TooManyContexts,
# ContextKeyInvalid, ContextDataNumber and ContextDataTooLarge (all of step 1,
# HTTP 422) and LinkWithoutConnection (step 3, HTTP 400, on a Webex
# integration); the other kinds below exist so that the generator refuses what
# SPEC.md refuses, and no vector is built from a request SPEC.md refuses.

MAX_BODY = 409_600
MAX_CONTEXT_KEY = 100
MAX_DATA = 65_536
MAX_SCOPES = 50
CONTEXT_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,100}")
CONNECTION_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")
# Unicode White_Space (PropList.txt).
WHITE_SPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

# Section 11.2: the listed members of each body and their JSON types.
LISTED = {
    "connect": {
        "integrationIdentifier": "string",
        "subscriberId": "string",
        "connectionIdentifier": "string",
        "context": "object",
        "contextHash": "string",
        "scope": "array",
        "connectionMode": "string",
        "autoLinkUser": "boolean",
    },
    # SPEC reading: contextHash is listed for both bodies (the table of 11.2
    # does not mark it connect-only, and step 6 of 11.4 applies to both).
    "link-user": {
        "integrationIdentifier": "string",
        "subscriberId": "string",
        "connectionIdentifier": "string",
        "context": "object",
        "contextHash": "string",
        "userScope": "array",
    },
}


def is_control(ch: str) -> bool:
    """Notation: Unicode general category Cc, U+0000 to U+001F and U+007F to U+009F."""
    o = ord(ch)
    return o <= 0x1F or 0x7F <= o <= 0x9F


def json_type_ok(v, t: str) -> bool:
    if t == "string":
        return isinstance(v, str)
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    assert t == "boolean"
    return v is True or v is False


def has_lone_surrogate(v) -> bool:
    """Python's json decodes "\\ud800" to a lone surrogate; JSON refuses it
    (section 11.1). A surrogate pair escape is decoded to one character, and
    valid UTF-8 holds no surrogate, so any surrogate left came from a lone
    escape."""
    if isinstance(v, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in v)
    if isinstance(v, list):
        return any(has_lone_surrogate(x) for x in v)
    if isinstance(v, dict):
        return any(has_lone_surrogate(k) or has_lone_surrogate(x) for k, x in v.items())
    return False


def parse_request_json(body: bytes):
    """Section 11.1: at most 409,600 bytes, UTF-8, one JSON text whose first
    byte other than white space is `{`. Numbers are kept as Num (their literal),
    objects as JObj."""
    if len(body) > MAX_BODY:
        raise Refused("BodyInvalid", "body over 409,600 bytes")
    try:
        text = body.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Refused("BodyInvalid", "invalid UTF-8") from None
    # SPEC reading: "ASCII white space" before the `{` is the white space JSON
    # admits there (space, tab, LF, CR); any other byte there is not JSON.
    if not text.lstrip(" \t\n\r").startswith("{"):
        raise Refused("BodyInvalid", "not a JSON object")

    def number(raw: str) -> Num:
        # "a number beyond the range of a double (1e400)" is not JSON here.
        if math.isinf(float(raw)):
            raise ValueError("number beyond the range of a double: " + (raw if len(raw) <= 40 else raw[:40] + "..."))
        return Num(raw)

    def constant(name: str):
        raise ValueError("not JSON: " + name)  # NaN, Infinity, -Infinity

    try:
        # strict=True (the default) refuses raw control characters in strings;
        # json.loads refuses anything but white space after the value.
        v = json.loads(text, object_pairs_hook=JObj, parse_int=number, parse_float=number, parse_constant=constant)
    except (ValueError, RecursionError) as e:
        raise Refused("BodyInvalid", f"not JSON: {e}") from None
    if has_lone_surrogate(v):
        raise Refused("BodyInvalid", "lone surrogate escape")
    assert isinstance(v, JObj)
    # Section 11.1: at most 127 levels, the body object being level 1, in
    # every member, ignored ones included; `data` is held to its own limit
    # (section 11.3), so a `data` too deep is that refusal, not this one.
    if depth_outside_data(v, 1) > MAX_BODY_DEPTH:
        raise Refused("BodyInvalid", "nested deeper than 127 levels")
    return v


MAX_BODY_DEPTH = 127
MAX_DATA_DEPTH = 64


def depth_of(v, level: int) -> int:
    """The deepest level in v, v being at `level` (arrays and objects count)."""
    if isinstance(v, list):
        return max([level] + [depth_of(x, level + 1) for x in v])
    if isinstance(v, dict):
        return max([level] + [depth_of(x, level + 1) for x in v.values()])
    return level - 1


def depth_outside_data(body, level: int) -> int:
    """The body's depth, each context entity's `data` counted as a leaf."""
    deepest = level
    for name, x in body.items():
        if name == "context" and isinstance(x, dict):
            deepest = max(deepest, level + 1)
            for ent in x.values():
                if isinstance(ent, dict):
                    rest = {k: y for k, y in ent.items() if k != "data"}
                    deepest = max(deepest, depth_of(rest, level + 2))
                else:
                    deepest = max(deepest, depth_of(ent, level + 2))
        else:
            deepest = max(deepest, depth_of(x, level + 1))
    return deepest


def plain_key(key: str) -> str:
    """Section 11.3: KEY as plain text in the 422 details."""
    # Markup: a `<` and everything up to and including the next `>` become
    # one space; a `<` with no `>` after it drops the rest of the key.
    s = re.sub(r"<[^>]*>", " ", key)
    s = s.split("<", 1)[0]
    s = "".join(" " if (c in "\"'&>" or is_control(c) or c in WHITE_SPACE) else c for c in s)
    s = re.sub(" +", " ", s).strip(" ")
    b = s.encode("utf-8")
    if len(b) > 256:
        s = b[:256].decode("utf-8", errors="ignore")  # cut at a character boundary
    return s or "?"


def check_context(ctx: dict, bad) -> list:
    """Section 11.3. Returns the entries (key, id, data JSON text or None) in
    the order of section 2; calls bad(kind, detail) for each rule broken."""
    # "1 to 5 keys (counted after repeats collapse)": ctx is a JObj, one
    # member per key. SPEC reading: N in "Too many contexts: N provided" is
    # that same count (keys given, once each); no vector repeats a key there.
    if len(ctx) == 0:
        bad("ContextInvalid", "context must have 1 to 5 keys")
    elif len(ctx) > MAX_CONTEXT:
        bad("TooManyContexts", f"Too many contexts: {len(ctx)} provided, maximum allowed is 5")
    entries = []
    for key, val in ctx.items():
        if not 1 <= len(key.encode("utf-8")) <= MAX_CONTEXT_KEY:
            bad("ContextKeyInvalid", f"context key of {len(key.encode('utf-8'))} bytes")
        data = None
        if isinstance(val, str):
            ident = val
        elif isinstance(val, dict):
            ident = val.get("id")
            if not isinstance(ident, str):
                bad("ContextInvalid", "an entity object without a string id")
                continue
            data = val.get("data")  # absent or null: no data
            if data is not None and not isinstance(data, dict):
                bad("ContextInvalid", "data that is not an object")
                continue
        else:
            bad("ContextInvalid", "a context value that is neither a string nor an object")
            continue
        if not CONTEXT_ID_RE.fullmatch(ident):
            bad("ContextInvalid", "a context id outside 1 to 100 bytes of [A-Za-z0-9_-]")
        text = None
        if data is not None:
            if depth_of(data, 1) > MAX_DATA_DEPTH:
                bad("ContextDataTooDeep", f"Context '{plain_key(key)}' data is nested too deeply: at most 64 levels")
                continue
            if not numbers_ok(data):
                bad(
                    "ContextDataNumber",
                    f"Context '{plain_key(key)}' data may hold only integers between -2^53 and 2^53",
                )
                continue
            text = write_json(data)
            n = len(text.encode("utf-8"))
            if n > MAX_DATA:
                bad("ContextDataTooLarge", f"Context '{plain_key(key)}' data is too large: {-(-n // 1024)}KB exceeds 64KB limit")
                continue
            # self-check: where Python's json agrees with section 2 (integers
            # only, no surrogates), it writes the same text.
            assert text == json.dumps(plain_value(data), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        entries.append((key, ident, text))
    # Section 2: ascending order of the keys' UTF-8 bytes.
    entries.sort(key=lambda e: e[0].encode("utf-8"))
    return entries


def check_scopes(name: str, scopes: list, bad) -> None:
    """Section 11.2: 1 to 50 strings, each 1 to 100 bytes of 0x21 to 0x7E other than `,`."""
    if not all(isinstance(x, str) for x in scopes):
        bad("BodyInvalid", f"{name} is not an array of strings")
    elif not 1 <= len(scopes) <= MAX_SCOPES or not all(
        1 <= len(x) <= 100 and all("\x21" <= c <= "\x7e" and c != "," for c in x) for x in scopes
    ):
        bad("FieldInvalid", f"{name} outside its rule")


def validate_request(purpose: str, body: bytes, integ: dict) -> dict:
    """Section 11.4 steps 1 to 6 for a connect or link-user body. Returns the
    request with each listed member (None when absent or null), context as
    the entries of section 2 and scopes the connect `scope` or link-user
    `userScope`; raises Refused at the first failing step.

    Step 1 ("which detail is given when several rules are broken is not
    fixed"): all of its rules are checked, and the generator asserts that a
    refused request breaks exactly one, so that no vector depends on which
    detail comes first."""
    v = parse_request_json(body)
    problems = []

    def bad(kind, detail):
        problems.append((kind, detail))

    listed = LISTED[purpose]
    for name in sorted(v.repeated & set(listed)):
        bad("BodyInvalid", f"member {name} given twice")
    req = {}
    for name, t in listed.items():
        x = v.get(name)  # absent, or null: None (section 11.1)
        if x is not None and not json_type_ok(x, t):
            bad("BodyInvalid", f"{name} is not a JSON {t}")
            x = ...  # checked no further
        req[name] = x

    ii = req["integrationIdentifier"]
    if ii is None or (ii is not ... and all(c in WHITE_SPACE for c in ii)):  # "" included
        bad("FieldInvalid", "Integration identifier is required")
    elif ii is not ... and (len(ii.encode("utf-8")) > 255 or any(is_control(c) for c in ii)):
        bad("FieldInvalid", "integrationIdentifier outside its rule")
    sub = req["subscriberId"]
    if sub is None:
        if purpose == "link-user":
            bad("FieldInvalid", "subscriberId is required")
    elif sub is not ... and not (1 <= len(sub.encode("utf-8")) <= 255 and not any(is_control(c) for c in sub)):
        bad("FieldInvalid", "subscriberId outside its rule")
    conn = req["connectionIdentifier"]
    if conn is not None and conn is not ... and not CONNECTION_ID_RE.fullmatch(conn):
        bad("FieldInvalid", "connectionIdentifier outside its rule")
    scope_name = "scope" if purpose == "connect" else "userScope"
    if req[scope_name] is not None and req[scope_name] is not ...:
        check_scopes(scope_name, req[scope_name], bad)
    if purpose == "connect":
        mode = req["connectionMode"]
        if mode is not None and mode is not ... and mode not in ("subscriber", "shared"):
            bad("FieldInvalid", "connectionMode outside its rule")
    entries = None
    if req["context"] is not None and req["context"] is not ...:
        entries = check_context(req["context"], bad)

    if problems:
        assert len(set(problems)) == 1, ("a refused request must break exactly one rule", problems)
        raise Refused(*problems[0])

    out = {
        "integrationIdentifier": ii,
        "subscriberId": sub,
        "connectionIdentifier": conn,
        "context": entries,
        "contextHash": req["contextHash"],
        "scopes": req[scope_name],
        "connectionMode": req.get("connectionMode"),
        "autoLinkUser": req.get("autoLinkUser"),
    }
    # Step 2 (404): an integration of this environment with exactly this
    # identifier (byte for byte), a chat integration.
    if ii != integ["identifier"]:
        raise Refused("IntegrationNotFound", f"Integration not found: {ii} in environment {ENV}")
    # Step 3 (400). check_integration asserts the client id, so the step is
    # never skipped here.
    if purpose == "connect" and integ["provider"] == "slack":
        if out["scopes"] is not None and "incoming-webhook" in out["scopes"] and sub is None:
            raise Refused("IncomingWebhookNeedsSubscriber", "subscriberId is required for incoming webhook")
    if purpose == "link-user" and integ["provider"] == "webex" and conn is None:
        raise Refused("LinkWithoutConnection", "connectionIdentifier is required to link a Webex user")
    # Step 4 (400), connect only; "context" is a context member present and
    # not null.
    if purpose == "connect":
        mode = out["connectionMode"]
        if mode == "shared" and entries is None:
            raise Refused("ConnectionModeInvalid", 'context is required when connectionMode is "shared"')
        if mode == "subscriber" and sub is None:
            raise Refused("ConnectionModeInvalid", 'subscriberId is required when connectionMode is "subscriber"')
        if mode is None and sub is None and entries is None:
            raise Refused("ConnectionModeInvalid", "Either subscriberId or context must be provided")
    # Step 5 (404): every integration of the vectors has its client id
    # (check_integration). Step 6 (400): no integration of the vectors
    # requires a contextHash, so contextHash is ignored (section 11.5).
    assert integ.get("client_id")
    assert not integ.get("context_hash_required")
    return out


def request_text(request) -> bytes:
    """The body of a vector given as an object: that object written as JSON.
    Such objects hold no floats, so the text is exactly what any JSON writer
    makes of it (the exact-literal cases are given as request_json)."""

    def no_float(x):
        assert not isinstance(x, float), x
        if isinstance(x, dict):
            for y in x.values():
                no_float(y)
        elif isinstance(x, list):
            for y in x:
                no_float(y)

    no_float(request)
    return json.dumps(request, ensure_ascii=False).encode("utf-8")


def pkce(key: bytes, nonce: bytes) -> tuple[str, str]:
    """Section 6."""
    verifier = b64url_encode(derive(key, LABEL_PKCE, nonce))
    assert len(verifier) == 43
    challenge = b64url_encode(hashlib.sha256(verifier.encode("ascii")).digest())
    return verifier, challenge


SCOPE_SIGN_IN_LINK = "openid%20profile%20User.Read"
SCOPE_SIGN_IN_PROOF_ONLY = "openid%20profile"


def proof_scope(flags: int) -> str:
    """Section 7: User.Read when the state has both AUTO_LINK and a subscriber."""
    if flags & F_AUTO_LINK and flags & F_SUBSCRIBER:
        return SCOPE_SIGN_IN_LINK
    return SCOPE_SIGN_IN_PROOF_ONLY


def authorize_url(integ, f: dict, state: str, scopes, challenge=None) -> str:
    """Section 9, for the state whose fields are f. Length is checked by callers."""
    purpose = purpose_of(f["flags"])
    workspace = f.get("workspace")
    c = pct(integ["client_id"])
    r = pct(integ["redirect_uri"])
    if integ["provider"] == "slack":
        assert purpose != "connect-proof"
        if purpose == "connect":
            x = pct_scopes(scopes or SLACK_DEFAULT_SCOPES)
            url = f"https://slack.com/oauth/v2/authorize?state={state}&client_id={c}&redirect_uri={r}&scope={x}"
        else:
            x = pct_scopes(scopes or SLACK_DEFAULT_USER_SCOPES)
            url = f"https://slack.com/oauth/v2/authorize?state={state}&client_id={c}&redirect_uri={r}&user_scope={x}"
        # SPEC reading: "&team=W follows" the whole Slack URL, link-user
        # ("the same with user_scope") included; W percent-encoded like any
        # value (its alphabet is unreserved, so it stays as it is).
        if workspace is not None:
            url += f"&team={pct(workspace)}"
    else:
        t = workspace if workspace is not None else (integ.get("tenant") or "organizations")
        if purpose == "connect":
            url = (
                f"https://login.microsoftonline.com/{t}/v2.0/adminconsent?client_id={c}"
                f"&redirect_uri={r}&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default&state={state}"
            )
        else:
            scope = SCOPE_SIGN_IN_LINK if purpose == "link-user" else proof_scope(f["flags"])
            url = (
                f"https://login.microsoftonline.com/{t}/oauth2/v2.0/authorize?client_id={c}"
                f"&response_type=code&redirect_uri={r}&response_mode=query"
                f"&scope={scope}&state={state}"
                f"&code_challenge={challenge}&code_challenge_method=S256"
            )
    return url


def follow_up_fields(parent: dict, active_id: int, active_key: bytes, now: int, tenant: str) -> dict:
    """Section 7: the connect-proof state for an admin-consent callback.

    parent: the opened connect state (already checked by section 8 at now).
    Raises Refused(TenantNotAllowed | MalformedTenant | WorkspaceMismatch), in
    the order of section 7: the consumer tenant in either case, then any other
    value that is not a GUID, then a tenant that differs from the connect
    state's workspace (compared case-insensitively).
    """
    assert purpose_of(parent["flags"]) == "connect" and parent["provider"] == "msteams"
    if tenant.lower() == CONSUMER_TENANT:
        raise Refused("TenantNotAllowed")
    if not GUID_RE.fullmatch(tenant):
        raise Refused("MalformedTenant")
    if parent.get("workspace") is not None:
        if tenant.lower() != parent["workspace"].lower():
            raise Refused("WorkspaceMismatch")
        workspace = parent["workspace"]
    else:
        workspace = tenant.lower()
    f = dict(parent)
    f["key_id"] = active_id
    f["flags"] = parent["flags"] | F_PROOF | F_WORKSPACE
    f["issued_at"] = max(now, parent["issued_at"])
    f["lifetime"] = parent["issued_at"] + parent["lifetime"] - f["issued_at"]
    assert 1 <= f["lifetime"] <= parent["lifetime"]
    f["nonce"] = derive(active_key, LABEL_FOLLOW_UP, parent["nonce"])[:16]
    f["workspace"] = workspace
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
    "team": None,
}
WEBEX = {
    "identifier": "webex",
    "provider": "webex",
    "client_id": "C64ab04639eefee4798f58e7bc3fe01d47161be0d97ff0d31e040a6ffe66d7f0a",
    "redirect_uri": REDIRECT,
    "tenant": None,
    "team": None,
}
TEAMS = {
    "identifier": "msteams",
    "provider": "msteams",
    "client_id": "00000000-0000-0000-0000-000000000abc",
    "redirect_uri": REDIRECT,
    "tenant": "organizations",
    "team": None,
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
issued = {}  # name -> (fields, state, integration)


def url_lengths(purpose, integ, request, workspace=None, entropy=ENTROPY, binding=None, now=NOW):
    """(length of the authorize URL, length of the proof follow-up URL or None),
    as section 9 computes them at issue; used to pick boundary inputs."""
    lengths = []
    issue(purpose, integ, request_text(request), 1, KEY1, now, entropy, binding, workspace, lengths)
    return lengths[0], lengths[1] if len(lengths) > 1 else None


def issue(purpose, integ, body_text: bytes, key_id, key, now, entropy, binding, workspace, lengths=None):
    """Sections 11, 4, 6 and 9. Returns the expected success object or raises Refused.

    body_text is the request body (JSON text). With a list as lengths, the URL
    lengths are appended to it and nothing is refused for length."""
    check_integration(integ)
    request = validate_request(purpose, body_text, integ)
    # Then this library's checks at issue (section 11.4): the expected
    # workspace, the clock (the vectors' now is never before 1970), the sizes.
    ws = workspace_at_issue(integ, workspace)
    assert now >= 0
    args = (request, integ, ENV, ORG, key_id, now, entropy, binding, DEFAULT_LIFETIME, ws)
    f = connect_fields(*args) if purpose == "connect" else link_user_fields(*args)
    # Section 9: "a state whose body and tag would exceed 1,344 bytes" is
    # refused (UrlTooLong); section 2 allows data of up to 64 KiB in the
    # request, more than a state can carry (or a u16be can count).
    if body_length(f) + TAG_LEN > MAX_STATE_BYTES:
        assert lengths is None
        raise Refused("UrlTooLong")
    body = encode_body(f)
    assert len(body) == body_length(f)
    state = seal(key, body)
    expected = {"state": state}
    challenge = None
    if purpose == "link-user" and integ["provider"] == "msteams":
        verifier, challenge = pkce(key, f["nonce"])
        expected["pkce_verifier"] = verifier
        expected["code_challenge"] = challenge
    # Section 4: a link-user request names its (Slack user) scopes userScope.
    scopes = request["scopes"]
    url = authorize_url(integ, f, state, scopes, challenge)
    if lengths is not None:
        lengths.append(len(url))
    elif len(url) >= MAX_URL_CHARS:
        raise Refused("UrlTooLong")
    # A URL under 1,800 characters implies a state under 1,792 characters
    # (and so at most 1,344 decoded bytes, checked above).
    assert len(state) <= MAX_STATE_CHARS and len(body) + TAG_LEN <= MAX_STATE_BYTES
    expected["url"] = url
    if purpose == "connect" and integ["provider"] == "msteams":
        # Section 9: every Teams connect (whatever its mode, subscriber,
        # autoLinkUser, workspace or binding), after its own URL passed, is
        # refused too when its proof state would exceed 1,344 bytes or its
        # sign-in URL would be 1,800 characters or more. That URL is computed
        # with the proof state (the workspace, or a 36-character stand-in
        # tenant), a 43-character challenge and the scope section 7 picks.
        proof = follow_up_fields(f, key_id, key, now, ws if ws is not None else TENANT_STAND_IN)
        proof_state = seal(key, encode_body(proof))
        assert len(b64url_decode_strict(proof_state)) == len(body) + TAG_LEN + (0 if ws is not None else 37)
        proof_url = authorize_url(integ, proof, proof_state, None, pkce(key, proof["nonce"])[1])
        if lengths is not None:
            lengths.append(len(proof_url))
        elif len(proof_url) >= MAX_URL_CHARS:
            raise Refused("UrlTooLong")
    if lengths is not None:
        return None
    # self-check: it opens
    assert fields_json(open_state(state, {key_id: key}, now, DEFAULT_SKEW, binding)) == fields_json(
        {**f, "version": VERSION}
    )
    expected["fields"] = fields_json({**f, "version": VERSION})
    return f, state, expected


# The refusal kinds a vector may expect: the issuer's own (sections 4, 9) and
# the field refusals of section 11.3 whose inputs the vectors exercise. The
# details SPEC.md fixes (section 11.4 step 1) are recorded in the note.
ISSUE_ERROR_KINDS = {
    "InvalidWorkspace",
    "UrlTooLong",
    "BodyInvalid",
    "TooManyContexts",
    "ContextKeyInvalid",
    "ContextDataNumber",
    "ContextDataTooLarge",
    "ContextDataTooDeep",
    "LinkWithoutConnection",
}
# Refusals of steps 2 to 6 (HTTP 400 or 404), whose message SPEC.md fixes.
FIXED_MESSAGE_KINDS = {"LinkWithoutConnection"}
FIXED_DETAIL_KINDS = {"TooManyContexts", "ContextDataNumber", "ContextDataTooLarge", "ContextDataTooDeep"}


def add_issue(
    name,
    purpose,
    integ,
    request=None,
    *,
    request_json=None,
    request_bytes=None,
    entropy=ENTROPY,
    binding=None,
    now=NOW,
    note=None,
    workspace=None,
    expect_error=None,
):
    """request: the body as an object (no floats); or request_json: the exact
    body text, when the literal text matters (numbers, escapes, repeated keys,
    white space)."""
    assert [request, request_json, request_bytes].count(None) == 2
    if request_bytes is not None:
        body_text = request_bytes
    elif request_json is not None:
        body_text = request_json.encode("utf-8")
    else:
        body_text = request_text(request)
    key_id, key = 1, KEY1
    try:
        f, state, expected = issue(purpose, integ, body_text, key_id, key, now, entropy, binding, workspace)
    except Refused as e:
        assert e.kind == expect_error, (name, e.kind, e.detail)
        assert e.kind in ISSUE_ERROR_KINDS, e.kind
        f = state = None
        expected = {"error": e.kind}
        if e.kind in FIXED_DETAIL_KINDS:
            expected["detail"] = e.detail
            d = f"HTTP 422 detail (SPEC.md section 11.3): {e.detail}"
            note = d if note is None else note + "; " + d
        if e.kind in FIXED_MESSAGE_KINDS:
            expected["message"] = e.detail
            d = f"HTTP 400 message (SPEC.md section 11.4 step 3): {e.detail}"
            note = d if note is None else note + "; " + d
    else:
        assert expect_error is None, (name, "issued, expected", expect_error)
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
        "workspace": workspace,
        "request": request,
    }
    if request_json is not None:
        v["request_json"] = request_json
    if request_bytes is not None:
        v["request_base64"] = base64.b64encode(request_bytes).decode("ascii")
    v["expected"] = expected
    if note:
        v["note"] = note
    issue_vectors.append(v)
    if state is not None:
        issued[name] = ({**f, "version": VERSION}, state, integ)
    return expected


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
    "slack connect, scopes with bytes a URL must encode: their ':' and the joining ',' stay, the rest is %XX",
    "connect",
    SLACK,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "slack",
        "scope": ["chat:write", "a&b=c#d%e+f/g?h:~", "x%3Ay"],
    },
    note="section 9: only ':' is kept beside the unreserved bytes; a literal %3A is %253A",
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

# ---- workspace (section 4) and URL length (section 9) ----------------------

SLACK_TEAM_ID = "T0123ABCD"
SLACK_TEAM = {
    "identifier": "slack-acme",
    "provider": "slack",
    "client_id": "1234567890.1234567890",
    "redirect_uri": REDIRECT,
    "tenant": None,
    "team": SLACK_TEAM_ID,
}
TEAMS_TENANT_GUID = "3f1c2a9e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"  # a configured tenant
TEAMS_GUID = {
    "identifier": "msteams-contoso",
    "provider": "msteams",
    "client_id": "00000000-0000-0000-0000-000000000abc",
    "redirect_uri": REDIRECT,
    "tenant": TEAMS_TENANT_GUID,
    "team": None,
}
TEAMS_SUBSCRIBER_AUTO = {
    "subscriberId": "subscriber-123",
    "integrationIdentifier": "msteams",
    "connectionIdentifier": "teams-connection-abc123",
    "context": {"key": "org-acme"},
    "connectionMode": "subscriber",
    "autoLinkUser": True,
}

add_issue(
    "slack connect, configured team (state carries the workspace, URL gets &team=)",
    "connect",
    SLACK_TEAM,
    {**SEED_BODY, "integrationIdentifier": "slack-acme"},
)
add_issue(
    "slack connect, host-expected team equal to the configured team",
    "connect",
    SLACK_TEAM,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "slack-acme"},
    workspace=SLACK_TEAM_ID,
)
add_issue(
    "slack link-user, host-expected team (no configured team)",
    "link-user",
    SLACK,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "slack",
        "connectionIdentifier": "slack-connection-abc123",
        "context": {"key": "org-acme"},
    },
    workspace=SLACK_TEAM_ID,
)
add_issue(
    "slack link-user, configured team, host-expected team equal, userScope given (user_scope then &team=)",
    "link-user",
    SLACK_TEAM,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "slack-acme", "userScope": ["identity.basic", "identity.email"]},
    workspace=SLACK_TEAM_ID,
)
add_issue(
    "slack connect, host-expected Enterprise Grid id (E...)",
    "connect",
    SLACK,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "slack", "connectionIdentifier": "slack-connection-abc123"},
    workspace="E0456WXYZ",
)
add_issue(
    "slack connect, host-expected team of 32 characters (longest)",
    "connect",
    SLACK,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "slack", "connectionIdentifier": "slack-connection-abc123"},
    workspace="T" + "0123456789ABCDEFGHIJKLMNOPQRSTU",
)
add_issue(
    "webex link-user without connectionIdentifier (a person endpoint belongs to a connection)",
    "link-user",
    WEBEX,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "webex"},
    expect_error="LinkWithoutConnection",
)
add_issue(
    "webex link-user with connectionIdentifier null (as absent)",
    "link-user",
    WEBEX,
    request_json='{"subscriberId":"subscriber-123","integrationIdentifier":"webex","connectionIdentifier":null}',
    expect_error="LinkWithoutConnection",
)
add_issue(
    "slack connect, host-expected team differs from the configured team",
    "connect",
    SLACK_TEAM,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "slack-acme"},
    workspace="T9999ZZZZ",
    expect_error="InvalidWorkspace",
)
add_issue(
    "slack link-user, host-expected team in lower case (wrong shape)",
    "link-user",
    SLACK,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "slack"},
    workspace="t0123abcd",
    expect_error="InvalidWorkspace",
)
add_issue(
    "slack connect, host-expected team of 1 character (wrong shape)",
    "connect",
    SLACK,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "slack"},
    workspace="T",
    expect_error="InvalidWorkspace",
)
add_issue(
    "slack connect, host-expected team of 33 characters (wrong shape)",
    "connect",
    SLACK,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "slack"},
    workspace="T" + "0123456789ABCDEFGHIJKLMNOPQRSTUV",
    expect_error="InvalidWorkspace",
)
add_issue(
    "slack connect, host-expected workspace is a Teams tenant GUID (wrong shape for Slack)",
    "connect",
    SLACK,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "slack"},
    workspace=TENANT_GUID,
    expect_error="InvalidWorkspace",
)
add_issue(
    "teams link-user, host-expected tenant in upper case (sealed lower case, URL path uses it)",
    "link-user",
    TEAMS,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "msteams",
        "connectionIdentifier": "teams-connection-abc123",
        "context": {"key": "org-acme"},
    },
    workspace=TENANT_GUID.upper(),
)
add_issue(
    "teams connect, integration configured with a GUID tenant (connect state carries the workspace)",
    "connect",
    TEAMS_GUID,
    {**TEAMS_SUBSCRIBER_AUTO, "integrationIdentifier": "msteams-contoso"},
)
add_issue(
    "teams link-user, integration configured with a GUID tenant, host-expected tenant equal in upper case",
    "link-user",
    TEAMS_GUID,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "msteams-contoso"},
    workspace=TEAMS_TENANT_GUID.upper(),
)
add_issue(
    "teams connect, host-expected tenant (integration tenant 'organizations'; adminconsent URL uses it)",
    "connect",
    TEAMS,
    {
        "integrationIdentifier": "msteams",
        "connectionIdentifier": "teams-connection-abc123",
        "context": {"key": "org-acme"},
    },
    workspace=TENANT_GUID,
)
add_issue(
    "teams connect, host-expected tenant is the consumer tenant",
    "connect",
    TEAMS,
    TEAMS_SUBSCRIBER_AUTO,
    workspace=CONSUMER_TENANT,
    expect_error="InvalidWorkspace",
)
add_issue(
    "teams link-user, host-expected tenant is the consumer tenant in upper case",
    "link-user",
    TEAMS,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "msteams"},
    workspace=CONSUMER_TENANT.upper(),
    expect_error="InvalidWorkspace",
)
add_issue(
    "teams connect, host-expected tenant is not a GUID (domain name)",
    "connect",
    TEAMS,
    TEAMS_SUBSCRIBER_AUTO,
    workspace="contoso.onmicrosoft.com",
    expect_error="InvalidWorkspace",
)
add_issue(
    "teams link-user, host-expected tenant is not a GUID (braces)",
    "link-user",
    TEAMS,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "msteams"},
    workspace="{" + TENANT_GUID + "}",
    expect_error="InvalidWorkspace",
)
add_issue(
    "teams connect, host-expected tenant differs from the configured GUID tenant",
    "connect",
    TEAMS_GUID,
    {**TEAMS_SUBSCRIBER_AUTO, "integrationIdentifier": "msteams-contoso"},
    workspace=TENANT_GUID,
    expect_error="InvalidWorkspace",
)
add_issue(
    "teams connect, bound to a browser (follow-up source)",
    "connect",
    TEAMS,
    TEAMS_SUBSCRIBER_AUTO,
    entropy=ENTROPY_B,
    binding=BINDING_VALUE,
)
add_issue(
    "teams connect, subscriber mode without autoLinkUser",
    "connect",
    TEAMS,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "msteams",
        "connectionIdentifier": "teams-connection-abc123",
        "connectionMode": "subscriber",
        "autoLinkUser": False,
    },
)
add_issue(
    "teams connect, shared mode with a subscriber and autoLinkUser",
    "connect",
    TEAMS,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "msteams",
        "connectionIdentifier": "teams-connection-abc123",
        "context": {"key": "org-acme"},
        "connectionMode": "shared",
        "autoLinkUser": True,
    },
)


# URL length boundaries (section 9). The configuration stays an ordinary,
# valid one (check_integration: the redirect URI is at most 256 characters);
# the length is made up inside the request, which stays a valid one too
# (validate_request): a connection identifier of 64 characters and five context
# keys, four of them entities with ids of 64 characters and a `data` object
# whose "notes" string is lengthened one byte at a time.
#
# A state of n bytes is ceil(4n/3) base64url characters, so one more byte adds
# one character when n is not a multiple of 3 and two when it is; no state is
# 4k+1 characters long. For the "1799 accepted" and "1800 refused" vectors to
# differ by one byte of request, the rest of the URL must have the right length
# modulo 4. The edge redirect URIs are ordinary https redirect URIs picked for
# that: with the 57-character loopback REDIRECT the URL goes from 1799 straight
# to 1801.

EDGE_REDIRECT = "https://novu.example.com/v1/integrations/chat/oauth/callback"
SLACK_EDGE = {**SLACK, "redirect_uri": "https://eu.novu.example.com/v1/integrations/chat/oauth/callback"}
TEAMS_EDGE = {**TEAMS, "redirect_uri": EDGE_REDIRECT}
EDGE_NOTES = "abcdefghijklmnopqrstuvwxyz" * 20
EDGE_ENTITIES = ["project", "team", "tenant", "workspace"]


def edge_id(prefix: str, n: int = 64) -> str:
    out = (prefix + "-" + "0123456789abcdefghijklmnopqrstuvwxyz" * 3)[:n]
    assert len(out) == n and CONTEXT_ID_RE.fullmatch(out)
    return out


def edge_context(k: int) -> dict:
    """Five context keys; k bytes of notes spread over the four entities'
    data, so that k + 1 is the same context with one more byte in one of them."""
    ctx = {"key": "org-acme"}
    for i, name in enumerate(EDGE_ENTITIES):
        share = k // 4 + (1 if i < k % 4 else 0)
        assert share <= len(EDGE_NOTES)
        ctx[name] = {"id": edge_id(name), "data": {"name": name.title() + " of Acme", "notes": EDGE_NOTES[:share]}}
    return ctx


def edge_request(base: dict, k: int, connection: str) -> dict:
    return {**base, "connectionIdentifier": edge_id(connection), "context": edge_context(k)}


def edge_pair(integ: dict, base: dict, connection: str, which: int) -> int:
    """The k for which URL `which` (0: authorize, 1: proof follow-up) is
    1799 characters and, with k + 1, 1800."""
    k = 0
    while url_lengths("connect", integ, edge_request(base, k, connection))[which] < MAX_URL_CHARS - 1:
        k += 1
    assert url_lengths("connect", integ, edge_request(base, k, connection))[which] == MAX_URL_CHARS - 1
    assert url_lengths("connect", integ, edge_request(base, k + 1, connection))[which] == MAX_URL_CHARS
    return k


SLACK_SHORT = {"subscriberId": "subscriber-123", "integrationIdentifier": "slack"}
k = edge_pair(SLACK_EDGE, SLACK_SHORT, "slack-connection", 0)
add_issue(
    "slack connect, URL of 1799 characters (longest accepted)",
    "connect",
    SLACK_EDGE,
    edge_request(SLACK_SHORT, k, "slack-connection"),
    note="a 63-character redirect URI; the request's connection identifier and five context keys "
    "(four entities with data) make the authorize URL 1799 characters",
)
add_issue(
    "slack connect, URL of 1800 characters",
    "connect",
    SLACK_EDGE,
    edge_request(SLACK_SHORT, k + 1, "slack-connection"),
    note="the request of the 1799-character vector with one more byte in a context entity's data: "
    "the authorize URL would be 1800 characters",
    expect_error="UrlTooLong",
)
k = edge_pair(TEAMS_EDGE, TEAMS_SUBSCRIBER_AUTO, "teams-connection", 1)
assert url_lengths("connect", TEAMS_EDGE, edge_request(TEAMS_SUBSCRIBER_AUTO, k + 1, "teams-connection"))[0] < MAX_URL_CHARS
add_issue(
    "teams connect, proof follow-up URL would be 1799 characters (longest accepted)",
    "connect",
    TEAMS_EDGE,
    edge_request(TEAMS_SUBSCRIBER_AUTO, k, "teams-connection"),
    note="a 60-character redirect URI; the request's connection identifier and five context keys "
    "(four entities with data) make the proof follow-up URL (36-character stand-in workspace, "
    "37 more state bytes, scope openid profile User.Read) 1799 characters",
)
add_issue(
    "teams connect, proof follow-up URL would be 1800 characters (the adminconsent URL itself is shorter)",
    "connect",
    TEAMS_EDGE,
    edge_request(TEAMS_SUBSCRIBER_AUTO, k + 1, "teams-connection"),
    note="the request of the 1799-character vector with one more byte in a context entity's data: "
    "the proof follow-up URL would be 1800 characters; the adminconsent URL is well under 1800",
    expect_error="UrlTooLong",
)
TEAMS_SHARED_NO_LINK = {
    "integrationIdentifier": "msteams",
    "connectionMode": "shared",
    "autoLinkUser": False,
}
k = edge_pair(TEAMS_EDGE, TEAMS_SHARED_NO_LINK, "teams-connection", 1)
req = edge_request(TEAMS_SHARED_NO_LINK, k, "teams-connection")
_, proof_len = url_lengths("connect", TEAMS_EDGE, req)
link_scope_len = proof_len + len(SCOPE_SIGN_IN_LINK) - len(SCOPE_SIGN_IN_PROOF_ONLY)
add_issue(
    "teams connect, shared without autoLinkUser, proof follow-up URL would be 1799 characters (scope openid profile)",
    "connect",
    TEAMS_EDGE,
    req,
    note="a 60-character redirect URI; the request's connection identifier and five context keys "
    "(four entities with data) make the proof follow-up URL with scope openid%20profile 1799 characters "
    f"(with openid%20profile%20User.Read it would be {link_scope_len})",
)
add_issue(
    "teams connect, shared without autoLinkUser, proof follow-up URL would be 1800 characters",
    "connect",
    TEAMS_EDGE,
    edge_request(TEAMS_SHARED_NO_LINK, k + 1, "teams-connection"),
    note="the request of the 1799-character vector with one more byte in a context entity's data",
    expect_error="UrlTooLong",
)


# ---- request rules (section 11) and the data JSON (section 2) --------------
#
# Context keys are any 1 to 100 bytes of UTF-8 (section 11.3); entries are in
# ascending byte order of their UTF-8 (section 2), which is not the UTF-16
# order of contextHash. `data` numbers must be integers from -2^53 to 2^53 by
# value and are written as that integer; strings escape only C0 controls, `"`
# and `\`. Requests whose exact text matters are given as request_json.

SLACK_SUB = {"subscriberId": "subscriber-123", "integrationIdentifier": "slack", "connectionIdentifier": "slack-connection-abc123"}
SLACK_SUB_JSON = '"subscriberId":"subscriber-123","integrationIdentifier":"slack","connectionIdentifier":"slack-connection-abc123"'
KEY_100 = "k" * 100
KEY_100_E = "é" * 50  # 100 bytes, 50 characters
assert len(KEY_100.encode()) == 100 and len(KEY_100_E.encode()) == 100
ROCKET = "\U0001f680"  # 4 bytes in UTF-8, a surrogate pair in UTF-16
FULLWIDTH_A = "\uff21"  # 3 bytes in UTF-8; after ROCKET in UTF-8, before it in UTF-16


def first_data(name: str) -> str:
    """The data JSON text of the first context entry with data, as issued."""
    for entry in issued[name][0]["context"]:
        if entry[2] is not None:
            return entry[2]
    raise AssertionError(name)


for nm, key in [
    ("'é' (2 bytes)", "é"),
    ("'team.name' (a dot)", "team.name"),
    ("'a b' (a space)", "a b"),
    ("an emoji (U+1F680, 4 bytes)", ROCKET),
    ("of 100 ASCII bytes (the longest)", KEY_100),
    ("of 100 bytes in 50 characters ('é' x 50)", KEY_100_E),
]:
    add_issue(f"slack connect, context key {nm}", "connect", SLACK, {**SLACK_SUB, "context": {key: "org-acme"}})
add_issue(
    "slack connect, context keys é, team.name, a b, an emoji and a 100-byte key (UTF-8 byte order)",
    "connect",
    SLACK,
    {
        **SLACK_SUB,
        "context": {
            ROCKET: "rocket",
            "é": {"id": "e-acute", "data": {"é": 1, "e": 2}},
            "team.name": "team-1",
            KEY_100: "long-key",
            "a b": "space",
        },
    },
)
assert [e[0] for e in issued["slack connect, context keys é, team.name, a b, an emoji and a 100-byte key (UTF-8 byte order)"][0]["context"]] == [
    "a b",
    KEY_100,
    "team.name",
    "é",
    ROCKET,
]
add_issue(
    "slack connect, context keys and data keys in UTF-8 byte order, not UTF-16 order (U+FF21 before U+1F680)",
    "connect",
    SLACK,
    {
        **SLACK_SUB,
        "context": {
            ROCKET: {"id": "rocket", "data": {ROCKET: 1, FULLWIDTH_A: 2, "z": 3}},
            FULLWIDTH_A: "fullwidth-a",
            "z": "zed",
        },
    },
    note="UTF-8 byte order is z, U+FF21, U+1F680; UTF-16 code unit order (contextHash's) would be z, U+1F680, U+FF21",
)
assert first_data("slack connect, context keys and data keys in UTF-8 byte order, not UTF-16 order (U+FF21 before U+1F680)") == (
    '{"z":3,"' + FULLWIDTH_A + '":2,"' + ROCKET + '":1}'
)
add_issue(
    "teams link-user, non-ASCII context key with data (pkce)",
    "link-user",
    TEAMS,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "msteams", "context": {"équipe": {"id": "team-7", "data": {"nom": "Équipe 7"}}}},
)
add_issue(
    "teams connect, context keys of any characters (follow-up source)",
    "connect",
    TEAMS,
    {
        "subscriberId": "subscriber-123",
        "integrationIdentifier": "msteams",
        "connectionIdentifier": "teams-connection-abc123",
        "context": {"team.name": "team-1", "a b": {"id": "org-acme", "data": {"n": 7}}, ROCKET: "rocket"},
    },
)

# Numbers in data (sections 2 and 11.3), one literal per vector, then together.
NUMBER_LITERALS = [
    ("1.0", "1"),
    ("1e3", "1000"),
    ("1E3", "1000"),
    ("1e+3", "1000"),
    ("-0", "0"),
    ("-0.0", "0"),
    ("2.0e1", "20"),
    ("1.5e1", "15"),
    ("100e-2", "1"),
    ("0e-5", "0"),
    ("9007199254740992", "9007199254740992"),
    ("-9007199254740992", "-9007199254740992"),
    ("9.007199254740992e15", "9007199254740992"),
]
for lit, written in NUMBER_LITERALS:
    nm = f"slack connect, data number {lit} written {written}"
    add_issue(
        nm,
        "connect",
        SLACK,
        request_json='{' + SLACK_SUB_JSON + ',"context":{"tenant":{"id":"org-acme","data":{"n":' + lit + '}}}}',
    )
    assert first_data(nm) == '{"n":' + written + "}", (nm, first_data(nm))
nm = "slack connect, data numbers 1.0, 1e3, 1E3, -0, -0.0, 2.0e1, 2^53 and -2^53 together"
add_issue(
    nm,
    "connect",
    SLACK,
    request_json='{' + SLACK_SUB_JSON + ',"context":{"tenant":{"id":"org-acme","data":'
    '{"one": 1.0, "thousand": 1e3, "Thousand": 1E3, "negzero": -0, "negzerofloat": -0.0, '
    '"twenty": 2.0e1, "max": 9007199254740992, "min": -9007199254740992}}}}',
)
assert first_data(nm) == (
    '{"Thousand":1000,"max":9007199254740992,"min":-9007199254740992,"negzero":0,"negzerofloat":0,"one":1,"thousand":1000,"twenty":20}'
)
nm = "slack connect, data numbers in nested arrays and objects (keys sorted at every depth, arrays in order)"
add_issue(
    nm,
    "connect",
    SLACK,
    request_json='{' + SLACK_SUB_JSON + ',"context":{"tenant":{"id":"org-acme","data":'
    '{"list": [1.0, [2.0e1, {"z": -0, "a": 1E3}], -0.0, {"b": [9007199254740992], "a": -9007199254740992}], '
    '"obj": {"y": {"x": 1e0, "w": [0.0e5, []]}, "a": true, "m": null, "k": "s", "e": {}}}}}}',
)
assert first_data(nm) == (
    '{"list":[1,[20,{"a":1000,"z":0}],0,{"a":-9007199254740992,"b":[9007199254740992]}],'
    '"obj":{"a":true,"e":{},"k":"s","m":null,"y":{"w":[0,[]],"x":1}}}'
)
nm = "slack connect, repeated keys in data at every depth keep their last value"
add_issue(
    nm,
    "connect",
    SLACK,
    request_json='{' + SLACK_SUB_JSON + ',"context":{"tenant":{"id":"org-acme","data":'
    '{"b": 1, "a": {"y": 1, "x": 2, "y": 3}, "b": 2.0, "arr": [{"k": 1, "k": -0}]}}}}',
)
assert first_data(nm) == '{"a":{"x":2,"y":3},"arr":[{"k":0}],"b":2}'

# Strings in data (section 2).
nm = "slack connect, data string with U+007F, U+0085, U+2028, U+2029 and '/' (written unescaped)"
add_issue(
    nm,
    "connect",
    SLACK,
    {**SLACK_SUB, "context": {"tenant": {"id": "org-acme", "data": {"s": "a\u007fb\u0085c\u2028d\u2029e/f", "\u2028": "0.5"}}}},
)
assert first_data(nm) == '{"s":"a\u007fb\u0085c\u2028d\u2029e/f","\u2028":"0.5"}'
nm = "slack connect, data string with U+001F (written \\u001f)"
add_issue(nm, "connect", SLACK, {**SLACK_SUB, "context": {"tenant": {"id": "org-acme", "data": {"s": "unit\u001fseparator"}}}})
assert first_data(nm) == '{"s":"unit\\u001fseparator"}'
ALL_C0 = "".join(chr(c) for c in range(0x20))
nm = "slack connect, data string with every character U+0000 to U+001F, '\"' and '\\' (and in a key)"
add_issue(nm, "connect", SLACK, {**SLACK_SUB, "context": {"tenant": {"id": "org-acme", "data": {"c": ALL_C0 + '"\\', "k\"\\\u000b": 1}}}})
assert first_data(nm) == (
    '{"c":"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f'
    '\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\\"\\\\",'
    '"k\\"\\\\\\u000b":1}'
)
nm = "slack connect, escapes in the request are decoded (\\u00e9, \\/, a surrogate pair, \\u2028, \\u001F upper case)"
add_issue(
    nm,
    "connect",
    SLACK,
    request_json='{' + SLACK_SUB_JSON + ',"context":{"tenant":{"id":"org-acme","data":'
    '{"s": "\\u00e9\\/\\ud83d\\ude80\\u2028\\u0041\\u001F", "\\u006b": "\\"\\\\"}}}}',
)
assert first_data(nm) == '{"k":"\\"\\\\","s":"é/' + ROCKET + '\u2028A\\u001f"}'
nm = "slack connect, data {} (kind 1, written {}) beside data null (kind 0)"
add_issue(
    nm,
    "connect",
    SLACK,
    {**SLACK_SUB, "context": {"empty": {"id": "org-empty", "data": {}}, "none": {"id": "org-none", "data": None}}},
)
assert issued[nm][0]["context"] == [("empty", "org-empty", "{}"), ("none", "org-none", None)]

# Repeated keys inside context (section 11.2), null members (11.1), unknown
# members (11.1) and entity members other than id and data (11.3).
nm = "slack connect, repeated context key and repeated entity id keep their last value"
add_issue(
    nm,
    "connect",
    SLACK,
    request_json='{' + SLACK_SUB_JSON + ',"context":{"org": "first", "team": {"id": "a", "data": {"x": 1}, "id": "b"}, "org": "second"}}',
)
assert issued[nm][0]["context"] == [("org", "second", None), ("team", "b", '{"x":1}')]
nm = "slack connect, six context keys given, one repeated: five after repeats collapse"
add_issue(
    nm,
    "connect",
    SLACK,
    request_json='{' + SLACK_SUB_JSON + ',"context":{"a": "a1", "b": "b1", "c": "c1", "d": "d1", "e": "e1", "a": "a2"}}',
)
assert [e[1] for e in issued[nm][0]["context"]] == ["a2", "b1", "c1", "d1", "e1"]
add_issue(
    "slack connect, entity members other than id and data are ignored (a fraction there too)",
    "connect",
    SLACK,
    request_json='{' + SLACK_SUB_JSON + ',"context":{"tenant": {"name": "Acme", "id": "org-acme", "meta": {"weight": 0.5}, "data": {"plan": "pro"}}}}',
)
add_issue(
    "slack connect, null members count as absent (subscriber mode, generated connection, default scopes)",
    "connect",
    SLACK,
    {
        "integrationIdentifier": "slack",
        "subscriberId": "subscriber-123",
        "connectionIdentifier": None,
        "context": None,
        "contextHash": None,
        "scope": None,
        "connectionMode": None,
        "autoLinkUser": None,
    },
)
add_issue(
    "slack connect, subscriberId null with a context (shared mode)",
    "connect",
    SLACK,
    {"integrationIdentifier": "slack", "subscriberId": None, "context": {"key": "org-acme"}, "connectionIdentifier": "slack-connection-abc123"},
)
add_issue(
    "teams link-user, null members count as absent (no connection, no context, default scope)",
    "link-user",
    TEAMS,
    {
        "integrationIdentifier": "msteams",
        "subscriberId": "subscriber-123",
        "connectionIdentifier": None,
        "context": None,
        "contextHash": None,
        "userScope": None,
    },
)
add_issue(
    "slack connect, unknown members ignored (userScope, a repeated unknown member), contextHash not required",
    "connect",
    SLACK,
    request_json='\n\t {' + SLACK_SUB_JSON + ',"context":{"key":"org-acme"},"userScope":["identity.email"],'
    '"contextHash":"not-checked","extra":1.5,"extra":[0.5]} \r\n',
    note="white space before and after the body; the integration does not require a contextHash, so it is ignored",
)
add_issue(
    "slack link-user, scope is unknown in a link-user body (ignored; default user_scope)",
    "link-user",
    SLACK,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "slack", "scope": ["incoming-webhook"]},
)

# data size (section 11.3): at most 65,536 bytes in the compact form of
# section 2. A state cannot carry that much (1,344 bytes), so a data that
# passes the request rule but not the state's size is UrlTooLong (section 2,
# Limits), and one over 65,536 bytes is ContextDataTooLarge.


def data_request(data_json: str) -> str:
    return '{' + SLACK_SUB_JSON + ',"context":{"tenant":{"id":"org-acme","data":' + data_json + '}}}'


def compact_len(data_json: str) -> int:
    v = parse_request_json(data_request(data_json).encode("utf-8"))
    return len(write_json(v["context"]["tenant"]["data"]).encode("utf-8"))


d = '{"s":"' + "x" * (MAX_DATA - 8) + '"}'
assert compact_len(d) == MAX_DATA
add_issue(
    "slack connect, data of 65,536 bytes (the request limit) passes the request rules but not the state size",
    "connect",
    SLACK,
    request_json=data_request(d),
    expect_error="UrlTooLong",
)
# The same 65,536 bytes of compact data from a longer request text: white
# space, escapes that decode to one byte, a number literal written shorter,
# and a repeated key whose first value is dropped.
pad = "\\u0078" * 1000
head = '{ "s" : "' + "y" * 2000 + '" ,\n  "n" : 1.0e0 ,\n  "s" : "' + pad
tail = '" }'
fill = MAX_DATA - compact_len(head + tail)
d = head + "x" * fill + tail
assert compact_len(d) == MAX_DATA and len(d.encode()) > MAX_DATA + 7000
add_issue(
    "slack connect, request data text over 65,536 bytes whose compact form is 65,536 bytes (not too large; UrlTooLong)",
    "connect",
    SLACK,
    request_json=data_request(d),
    note=f"the data is {len(d.encode())} bytes as written in the request and {MAX_DATA} bytes in the compact form of "
    "section 2 (white space dropped, \\u0078 escapes decoded, 1.0e0 written 1, the first of the repeated key 's' dropped)",
    expect_error="UrlTooLong",
)
d = '{"s":"' + "x" * (MAX_DATA - 7) + '"}'
assert compact_len(d) == MAX_DATA + 1
add_issue(
    "slack connect, data of 65,537 bytes",
    "connect",
    SLACK,
    request_json=data_request(d),
    expect_error="ContextDataTooLarge",
)
d = '{"s":"' + "\\u001f" * 10921 + "xxx" + '"}'
assert compact_len(d) == MAX_DATA + 1
add_issue(
    "slack connect, data of 10,924 characters and 65,537 bytes compact (U+001F written \\u001f, 6 bytes each)",
    "connect",
    SLACK,
    request_json=data_request(d),
    expect_error="ContextDataTooLarge",
)
d = '{"s":"' + "é" * 32764 + 'x"}'
assert compact_len(d) == MAX_DATA + 1
add_issue(
    "slack connect, data of 32,773 characters and 65,537 bytes (é is 2 bytes)",
    "connect",
    SLACK,
    request_json=data_request(d),
    expect_error="ContextDataTooLarge",
)

# Refusals of section 11.3 (HTTP 422, step 1); each request breaks one rule.
add_issue(
    "slack connect, six context keys",
    "connect",
    SLACK,
    {**SLACK_SUB, "context": {"a": "a1", "b": "b1", "c": "c1", "d": "d1", "e": "e1", "f": "f1"}},
    expect_error="TooManyContexts",
)
add_issue(
    "teams link-user, six context keys",
    "link-user",
    TEAMS,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "msteams", "context": {k: "id-" + str(i) for i, k in enumerate(["é", "team.name", "a b", ROCKET, "x", "y"])}},
    expect_error="TooManyContexts",
)
add_issue(
    "slack connect, empty context key",
    "connect",
    SLACK,
    {**SLACK_SUB, "context": {"": "org-acme"}},
    expect_error="ContextKeyInvalid",
)
add_issue(
    "slack connect, context key of 101 ASCII bytes",
    "connect",
    SLACK,
    {**SLACK_SUB, "context": {"k" * 101: "org-acme"}},
    expect_error="ContextKeyInvalid",
)
add_issue(
    "slack connect, context key of 101 bytes in 51 characters ('é' x 50 + 'k')",
    "connect",
    SLACK,
    {**SLACK_SUB, "context": {KEY_100_E + "k": "org-acme"}},
    expect_error="ContextKeyInvalid",
)
add_issue(
    "teams link-user, empty context key beside a valid one",
    "link-user",
    TEAMS,
    {"subscriberId": "subscriber-123", "integrationIdentifier": "msteams", "context": {"key": "org-acme", "": {"id": "org-empty"}}},
    expect_error="ContextKeyInvalid",
)
for lit, why in [
    ("0.5", "a fraction"),
    ("1e-7", "a fraction"),
    ("1.5", "a fraction"),
    ("1e300", "beyond 2^53"),
    ("9007199254740993", "2^53 + 1"),
    ("-9007199254740993", "-(2^53 + 1)"),
    ("9007199254740994", "2^53 + 2, a double"),
    ("18446744073709551616", "2^64"),
    ("100000000000000000000", "an integer literal beyond 2^64"),
]:
    add_issue(
        f"slack connect, data number {lit} ({why})",
        "connect",
        SLACK,
        request_json=data_request('{"n": ' + lit + "}"),
        expect_error="ContextDataNumber",
    )
add_issue(
    "slack connect, data number 0.5 nested in an array in an object",
    "connect",
    SLACK,
    request_json=data_request('{"a": {"b": [1, 2.0, {"c": 0.5}]}}'),
    expect_error="ContextDataNumber",
)
add_issue(
    "teams link-user, data number 1e-7",
    "link-user",
    TEAMS,
    request_json='{"subscriberId":"subscriber-123","integrationIdentifier":"msteams","context":{"tenant":{"id":"org-acme","data":{"n":1e-7}}}}',
    expect_error="ContextDataNumber",
)
add_issue(
    "slack connect, data number 9007199254740993 in a key 'a b' entity beside a valid entity",
    "connect",
    SLACK,
    request_json='{' + SLACK_SUB_JSON + ',"context":{"key":"org-acme","a b":{"id":"org-ab","data":{"n":[9007199254740993]}}}}',
    expect_error="ContextDataNumber",
)


# Section 11.1: the whole body obeys JSON, ignored members and entity members
# other than id and data included.
ENTITY = '{' + SLACK_SUB_JSON + ',"context":{"tenant":{"id":"org-acme",'
for label, body in [
    ("a number beyond a double (1e400) in an ignored member", '{' + SLACK_SUB_JSON + ',"clientVersion":1e400}'),
    ("a lone surrogate escape in an ignored member", '{' + SLACK_SUB_JSON + ',"note":"\\ud800"}'),
    ("a lone trailing surrogate escape in an ignored member's key", '{' + SLACK_SUB_JSON + ',"\\udc00":1}'),
    ("an ignored member of 127 levels (the body 128)", '{' + SLACK_SUB_JSON + ',"deep":' + "[" * 127 + "]" * 127 + '}'),
    ("invalid UTF-8 inside an ignored member's string", b'{' + SLACK_SUB_JSON.encode() + b',"note":"caf\xc3"}'),
    ("invalid UTF-8 inside a context id", b'{' + SLACK_SUB_JSON.encode() + b',"context":{"tenant":"org-\xff"}}'),
    ("1e400 in an entity member other than id and data", ENTITY + '"seats":1e400}}}'),
    ("a lone surrogate escape in an entity member other than id and data", ENTITY + '"name":"\\ud800"}}}'),
    ("1e400 in data (a body refusal, not a data one)", data_request('{"n":1e400}')),
]:
    add_issue(
        f"slack connect refused: {label}",
        "connect",
        SLACK,
        request_json=body if isinstance(body, str) else None,
        request_bytes=body if isinstance(body, bytes) else None,
        expect_error="BodyInvalid",
    )
add_issue(
    "slack connect, an ignored member of 126 levels (the body 127, the limit)",
    "connect",
    SLACK,
    request_json='{' + SLACK_SUB_JSON + ',"deep":' + "[" * 125 + "]" * 125 + '}',
)
# Section 11.3: numbers JavaScript rounds are judged by the literal as written.
for lit in ["9007199254740993.0", "1e-400", "-1e-400", "1.0000000000000001", "9007199254740992.5"]:
    add_issue(
        f"slack connect refused: data number {lit} (JavaScript rounds it to an integer; its value is none in range)",
        "connect",
        SLACK,
        request_json=data_request('{"n":' + lit + '}'),
        expect_error="ContextDataNumber",
    )
add_issue(
    "slack connect, numbers JavaScript rounds outside data (9007199254740993.0, 1e-400, 1e16) are allowed and not in the state",
    "connect",
    SLACK,
    request_json='{' + SLACK_SUB_JSON + ',"context":{"tenant":{"id":"org-acme","big":9007199254740993.0,"tiny":1e-400,'
    '"e16":1e16,"data":{"n":9007199254740992.0}}},"clientVersion":1e-400}',
)
# Section 11.3: data nests at most 64 levels, data itself level 1.
add_issue(
    "slack connect, data nested 64 levels (the limit)",
    "connect",
    SLACK,
    request_json=data_request('{"a":' + "[" * 63 + "]" * 63 + '}'),
)
add_issue(
    "slack connect refused: data nested 65 levels",
    "connect",
    SLACK,
    request_json=data_request('{"a":' + "[" * 64 + "]" * 64 + '}'),
    expect_error="ContextDataTooDeep",
)
add_issue(
    "slack connect refused: data nested 65 levels through objects, key shown with its markup removed",
    "connect",
    SLACK,
    request_json='{' + SLACK_SUB_JSON + ',"context":{"<b>team</b>&name":{"id":"t1","data":' + '{"a":' * 64 + "{}" + "}" * 64 + '}}}',
    expect_error="ContextDataTooDeep",
)
# Section 11.3: how a key holding `<` is shown in the details.
for key, shown_as in [
    ("a<b>c", "a c"),
    ("x<y", "x"),
    ("<script>", "?"),
    ("1 < 2 > 0", "1 0"),
    ("a<<b>c>d", "a c d"),
    # The key's JSON text: escapes are decoded before the key is shown.
    (r'it\u00e9m \\ \"q\"\t&amp; >', "itém \\ q amp;"),
]:
    e = add_issue(
        f"slack connect refused: data number 0.5 under the key {key!r} (shown as {shown_as!r})",
        "connect",
        SLACK,
        request_json='{' + SLACK_SUB_JSON + ',"context":{"' + key + '":{"id":"t1","data":{"n":0.5}}}}',
        expect_error="ContextDataNumber",
    )
    assert e["detail"] == f"Context '{shown_as}' data may hold only integers between -2^53 and 2^53", e


# ---- Teams proof follow-up (section 7) -------------------------------------

follow_up_vectors = []


CALLBACK_PARAMS = ("state", "code", "error", "error_description", "admin_consent", "tenant", "scope")
MAX_CALLBACK_QUERY = 8192


def form_decode(s: str):
    """application/x-www-form-urlencoded decoding: '+' is a space, %XX a byte.
    None when the bytes are not UTF-8."""
    try:
        return urllib.parse.unquote_to_bytes(s.replace("+", " ")).decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return None


def read_callback_query(query: str) -> dict:
    """Section 8, *Callbacks*: the known parameters of the query. Raises
    Refused("QueryRefused") for the query's own refusals (HTTP 400 with their
    own messages; no vector expects them)."""
    assert query.startswith("?")
    q = query[1:]
    # Section 8: the limit counts the query's bytes as received, after the
    # '?' (not counted) and before a fragment.
    if len(q.encode("utf-8")) > MAX_CALLBACK_QUERY:
        raise Refused("QueryTooLarge", "query over 8 KiB")
    params = {}
    for part in q.split("&"):
        if part == "":
            continue
        raw_name, _, raw_value = part.partition("=")
        name = form_decode(raw_name)
        if name not in CALLBACK_PARAMS:
            continue  # other parameters are ignored
        if name in params:
            raise Refused("QueryRefused", f"{name} given more than once")
        value = form_decode(raw_value)
        if value is None:
            raise Refused("QueryRefused", f"{name} is not UTF-8")
        params[name] = value
    return params


def follow_up(query, integ, ring, active_id, now, binding):
    """The verifier at the admin-consent callback (sections 8 and 7): read the
    query; a callback without a state, or with an empty one, is Unsolicited;
    open the connect state (section 8, default skew, the presented binding
    value) and make the service checks; then read the rest of the callback
    and issue the connect-proof state (section 7) and its sign-in URL
    (sections 6, 9)."""
    check_integration(integ)
    params = read_callback_query(query)
    if params.get("state", "") == "":
        raise Refused("Unsolicited")
    connect_state = params["state"]
    parent = open_state(connect_state, ring, now, DEFAULT_SKEW, binding)
    # Service checks (section 8), in order, bytes compared.
    if parent["environment"] != ENV:
        raise Refused("WrongEnvironment")
    if parent["organization"] != ORG:
        raise Refused("WrongOrganization")
    if parent["integration"] != integ["identifier"]:
        raise Refused("UnknownIntegration")
    if parent["provider"] != integ["provider"]:
        raise Refused("WrongProvider")
    # The admin-consent callback acts on connect states (section 7).
    if purpose_of(parent["flags"]) != "connect":
        raise Refused("WrongPurpose")
    # Section 7, a Teams callback on a connect state, in order: a provider
    # error wins (no vector expects it); a `code` (even empty, with or
    # without admin_consent) is CodeOnAdminConsent; admin_consent absent is
    # MissingParameters, and any value but `True` in any ASCII case is
    # MalformedAdminConsent; then tenant absent is MissingParameters.
    if "error" in params:
        raise Refused("ProviderError")
    if "code" in params:
        raise Refused("CodeOnAdminConsent")
    consent = params.get("admin_consent")
    if consent is None:
        raise Refused("MissingParameters")
    if consent.encode("utf-8").lower() != b"true":  # bytes.lower() folds ASCII only
        raise Refused("MalformedAdminConsent")
    if "tenant" not in params:
        raise Refused("MissingParameters")
    tenant = params["tenant"]
    active_key = ring[active_id]
    fu = follow_up_fields(parent, active_id, active_key, now, tenant)
    body = encode_body(fu)
    state = seal(active_key, body)
    # Section 9: the proof state is the connect state plus 37 bytes when a
    # workspace field was inserted.
    grown = 0 if parent["workspace"] is not None else 37
    assert len(b64url_decode_strict(state)) == len(b64url_decode_strict(connect_state)) + grown
    verifier, challenge = pkce(active_key, fu["nonce"])
    url = authorize_url(integ, fu, state, None, challenge)
    # Section 7: should it not fit at the callback, Oversized (section 9
    # refused every such connect at issue, so no vector gets here).
    if len(body) + TAG_LEN > MAX_STATE_BYTES or len(url) >= MAX_URL_CHARS:
        raise Refused("Oversized")
    # self-check: the proof state opens at now, to the same fields
    assert fields_json(open_state(state, ring, now, DEFAULT_SKEW, binding)) == fields_json(fu)
    return fu, state, {
        "state": state,
        "url": url,
        "pkce_verifier": verifier,
        "code_challenge": challenge,
        "fields": fields_json(fu),
    }


FOLLOW_UP_ERROR_KINDS = {
    "Expired",
    "WorkspaceMismatch",
    "TenantNotAllowed",
    "MalformedTenant",
    "Unsolicited",
    "CodeOnAdminConsent",
    "MissingParameters",
    "MalformedAdminConsent",
    "QueryTooLarge",
}


def add_follow_up(
    name,
    source_name,
    ring,
    active_id,
    now,
    *,
    tenant=TENANT_GUID,
    binding=None,
    query=None,
    integ=None,
    expect_error=None,
    pad_to=None,
):
    """source_name: the issue vector whose state the callback carries (query,
    when given, is the callback query with STATE in its place); or None with
    query (the whole callback query) and integ, for a state-less callback."""
    if source_name is not None:
        _, connect_state, integ = issued[source_name]
        if query is None:
            query = f"?admin_consent=True&tenant={tenant}&state={connect_state}"
        else:
            query = query.replace("STATE", connect_state)
    else:
        connect_state = None
        assert query is not None and integ is not None
    if pad_to is not None:
        # An ignored parameter makes the query (after '?') pad_to bytes long.
        query += "&pad="
        query += "x" * (pad_to - len(query[1:].encode("utf-8")))
        assert len(query[1:].encode("utf-8")) == pad_to
    try:
        fu, state, expected = follow_up(query, integ, ring, active_id, now, binding)
    except Refused as e:
        assert e.kind == expect_error, (name, e.kind)
        assert e.kind in FOLLOW_UP_ERROR_KINDS, e.kind
        fu = state = None
        expected = {"error": e.kind}
    else:
        assert expect_error is None, (name, "issued, expected", expect_error)
    follow_up_vectors.append(
        {
            "name": name,
            "keys": ring_json(ring, active_id),
            "environment_id": ENV,
            "organization_id": ORG,
            "integration": integ,
            "now": now,
            "binding": binding,
            "connect_state": connect_state,
            "callback_query": query,
            "expected": expected,
        }
    )
    if state is not None:
        issued[name] = (fu, state, integ)
    return expected


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
SRC = "teams connect, subscriber with autoLinkUser (follow-up source)"
add_follow_up(
    "teams follow-up, shared mode without autoLinkUser (scope openid profile)",
    "teams connect, shared without autoLinkUser",
    RING1,
    1,
    NOW + 60,
)
add_follow_up(
    "teams follow-up, subscriber mode without autoLinkUser (scope openid profile)",
    "teams connect, subscriber mode without autoLinkUser",
    RING1,
    1,
    NOW + 60,
)
add_follow_up(
    "teams follow-up, subscriber mode with autoLinkUser (scope openid profile User.Read)",
    SRC,
    RING1,
    1,
    NOW + 5,
)
add_follow_up(
    "teams follow-up, shared mode with a subscriber and autoLinkUser (scope openid profile User.Read)",
    "teams connect, shared mode with a subscriber and autoLinkUser",
    RING1,
    1,
    NOW + 60,
)
add_follow_up(
    "teams follow-up of a bound connect state (binding carries over)",
    "teams connect, bound to a browser (follow-up source)",
    RING1,
    1,
    NOW + 60,
    binding=BINDING_VALUE,
)
e = add_follow_up(
    "teams follow-up at the parent's last second (now = issued_at + lifetime - 1, proof lifetime 1)",
    SRC,
    RING1,
    1,
    NOW + DEFAULT_LIFETIME - 1,
)
assert e["fields"]["lifetime"] == 1 and e["fields"]["issued_at"] == NOW + DEFAULT_LIFETIME - 1
e = add_follow_up(
    "teams follow-up at now = issued_at - 20, within the skew (issued_at stays the parent's, lifetime 300)",
    SRC,
    RING1,
    1,
    NOW - 20,
)
assert e["fields"]["issued_at"] == NOW and e["fields"]["lifetime"] == DEFAULT_LIFETIME
e = add_follow_up(
    "teams follow-up, parent with a workspace (configured GUID tenant), callback tenant equal in upper case",
    "teams connect, integration configured with a GUID tenant (connect state carries the workspace)",
    RING1,
    1,
    NOW + 60,
    tenant=TEAMS_TENANT_GUID.upper(),
)
assert e["fields"]["workspace"] == TEAMS_TENANT_GUID
e = add_follow_up(
    "teams follow-up, parent with a host-expected workspace, callback tenant equal",
    "teams connect, host-expected tenant (integration tenant 'organizations'; adminconsent URL uses it)",
    RING1,
    1,
    NOW + 60,
)
e = add_follow_up(
    "teams follow-up, parent without a workspace, callback tenant in upper case (inserted lower case)",
    SRC,
    RING1,
    1,
    NOW + 60,
    tenant=TENANT_GUID.upper(),
)
assert e["fields"]["workspace"] == TENANT_GUID
e = add_follow_up(
    "teams follow-up whose URL is 1799 characters (source padded to the longest accepted)",
    "teams connect, proof follow-up URL would be 1799 characters (longest accepted)",
    RING1,
    1,
    NOW + 60,
)
assert len(e["url"]) == MAX_URL_CHARS - 1
e = add_follow_up(
    "teams follow-up, shared without autoLinkUser, URL 1799 characters",
    "teams connect, shared without autoLinkUser, proof follow-up URL would be 1799 characters (scope openid profile)",
    RING1,
    1,
    NOW + 60,
)
assert len(e["url"]) == MAX_URL_CHARS - 1
add_follow_up(
    "teams follow-up refused: parent expired at now (now = issued_at + lifetime)",
    SRC,
    RING1,
    1,
    NOW + DEFAULT_LIFETIME,
    expect_error="Expired",
)
add_follow_up(
    "teams follow-up refused: callback tenant differs from the parent's workspace",
    "teams connect, integration configured with a GUID tenant (connect state carries the workspace)",
    RING1,
    1,
    NOW + 60,
    tenant=TENANT_GUID,
    expect_error="WorkspaceMismatch",
)
add_follow_up(
    "teams follow-up refused: callback tenant is the consumer tenant",
    SRC,
    RING1,
    1,
    NOW + 60,
    tenant=CONSUMER_TENANT,
    expect_error="TenantNotAllowed",
)
add_follow_up(
    "teams follow-up refused: callback tenant is not a GUID",
    SRC,
    RING1,
    1,
    NOW + 60,
    tenant="contoso.onmicrosoft.com",
    expect_error="MalformedTenant",
)
add_follow_up(
    "teams follow-up refused: callback tenant 'organizations' is not a GUID",
    "teams connect, shared without autoLinkUser",
    RING1,
    1,
    NOW + 60,
    tenant="organizations",
    expect_error="MalformedTenant",
)

add_follow_up(
    "teams follow-up, context keys of any characters and data carry over",
    "teams connect, context keys of any characters (follow-up source)",
    RING1,
    1,
    NOW + 60,
)
add_follow_up(
    "teams follow-up, the state parameter's name percent-encoded (%73tate is state)",
    SRC,
    RING1,
    1,
    NOW + 60,
    query=f"?admin_consent=True&tenant={TENANT_GUID}&%73tate=STATE",
)
# Section 8: a callback whose state is absent or empty is Unsolicited,
# whatever else it carries.
add_follow_up(
    "teams callback refused: no state parameter (Unsolicited)",
    None,
    RING1,
    1,
    NOW + 60,
    query=f"?admin_consent=True&tenant={TENANT_GUID}",
    integ=TEAMS,
    expect_error="Unsolicited",
)
add_follow_up(
    "teams callback refused: empty state parameter (Unsolicited, not Missing)",
    None,
    RING1,
    1,
    NOW + 60,
    query=f"?admin_consent=True&tenant={TENANT_GUID}&state=",
    integ=TEAMS,
    expect_error="Unsolicited",
)
add_follow_up(
    "teams callback refused: a state-less provider error (Unsolicited)",
    None,
    RING1,
    1,
    NOW + 60,
    query="?error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent&admin_consent=True",
    integ=TEAMS,
    expect_error="Unsolicited",
)

# Section 7: the Teams callbacks on a connect state that are not an admin
# consent; section 8: the query's size.
for label, q, kind in [
    ("a code beside the admin consent", f"?admin_consent=True&tenant={TENANT_GUID}&code=0.AX4A&state=STATE", "CodeOnAdminConsent"),
    ("a code alone (a sign-in's answer on a connect state)", "?code=0.AX4A&state=STATE", "CodeOnAdminConsent"),
    ("an empty code", f"?admin_consent=True&tenant={TENANT_GUID}&code=&state=STATE", "CodeOnAdminConsent"),
    ("no code, no admin_consent, no tenant", "?state=STATE", "MissingParameters"),
    ("admin_consent=True without a tenant", "?admin_consent=True&state=STATE", "MissingParameters"),
    ("a tenant without admin_consent", f"?tenant={TENANT_GUID}&state=STATE", "MissingParameters"),
    ("admin_consent=False (capital F)", f"?admin_consent=False&tenant={TENANT_GUID}&state=STATE", "MalformedAdminConsent"),
    ("admin_consent=false", f"?admin_consent=false&tenant={TENANT_GUID}&state=STATE", "MalformedAdminConsent"),
    ("admin_consent=False without a tenant", "?admin_consent=False&state=STATE", "MalformedAdminConsent"),
    ("admin_consent empty", f"?admin_consent=&tenant={TENANT_GUID}&state=STATE", "MalformedAdminConsent"),
    ("admin_consent=yes", f"?admin_consent=yes&tenant={TENANT_GUID}&state=STATE", "MalformedAdminConsent"),
    ("an empty tenant", "?admin_consent=True&tenant=&state=STATE", "MalformedTenant"),
]:
    add_follow_up(f"teams callback refused: {label} ({kind})", SRC, RING1, 1, NOW + 60, query=q, expect_error=kind)
add_follow_up(
    "teams follow-up, admin_consent=TRUE (any ASCII case)",
    SRC,
    RING1,
    1,
    NOW + 60,
    query=f"?admin_consent=TRUE&tenant={TENANT_GUID}&state=STATE",
)
add_follow_up(
    "teams follow-up, a query of exactly 8192 bytes after the '?'",
    SRC,
    RING1,
    1,
    NOW + 60,
    query=f"?admin_consent=True&tenant={TENANT_GUID}&state=STATE",
    pad_to=MAX_CALLBACK_QUERY,
)
add_follow_up(
    "teams callback refused: a query of 8193 bytes after the '?' (QueryTooLarge)",
    SRC,
    RING1,
    1,
    NOW + 60,
    query=f"?admin_consent=True&tenant={TENANT_GUID}&state=STATE",
    pad_to=MAX_CALLBACK_QUERY + 1,
    expect_error="QueryTooLarge",
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


seed_f, seed, _ = issued["slack connect, seed body"]
seed_body = raw_of(seed)[:-TAG_LEN]
bound_f, bound, _ = issued["slack connect, bound to a browser"]
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
    # Bits 6 and 7 were unknown in the first edition; now defined, these two
    # bodies are still refused, by the PROOF and WORKSPACE layout rules.
    "flag bit 6 (PROOF) set on the seed, no WORKSPACE (re-MACed)",
    remac(seed_body[:2] + bytes([seed_body[2] | 0x40]) + seed_body[3:]),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)
add_open(
    "flag bit 7 (WORKSPACE) set on the seed with no workspace field: the context count 0x01 and 0x03 read as a workspace (re-MACed)",
    remac(seed_body[:2] + bytes([seed_body[2] | 0x80]) + seed_body[3:]),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)
add_open(
    "flag bit 6 flipped, not re-MACed (MAC checked before layout)",
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
nc_source_name = next(n for n, (_, s, _) in issued.items() if len(raw_of(s)) % 3 != 0)
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
add_open(
    "empty context key (re-MACed)",
    remac(body_with(context=[("", "org-acme", None)])),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)
add_open(
    "empty context id (re-MACed)",
    remac(body_with(context=[("key", "", None)])),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)

# ---- workspace field and connect-proof states (flag bits 6 and 7) ----------

for nm in [
    "slack connect, configured team (state carries the workspace, URL gets &team=)",
    "slack link-user, host-expected team (no configured team)",
    "teams link-user, host-expected tenant in upper case (sealed lower case, URL path uses it)",
    "teams connect, integration configured with a GUID tenant (connect state carries the workspace)",
    "teams follow-up, shared mode without autoLinkUser (scope openid profile)",
    "teams follow-up, subscriber mode without autoLinkUser (scope openid profile)",
]:
    add_open("valid: " + nm, issued[nm][1], RING1, 1, NOW + 61)

proof_f, proof, _ = issued["teams follow-up at now+60"]
proof_body = raw_of(proof)[:-TAG_LEN]
assert proof_f["flags"] & F_PROOF and proof_f["issued_at"] + proof_f["lifetime"] == NOW + L
add_open("proof state at its last second (parent's expiry - 1)", proof, RING1, 1, NOW + L - 1)
add_open("proof state at exactly its expiry (the parent's)", proof, RING1, 1, NOW + L, expect_error="Expired")
add_open(
    "proof state under key 2 opens in the rotated ring",
    issued["teams follow-up at now+60 after rotation (key 2 active, connect state under verify-only key 1)"][1],
    RING_ROTATED,
    2,
    NOW + 61,
)
last_f, last, _ = issued["teams follow-up at the parent's last second (now = issued_at + lifetime - 1, proof lifetime 1)"]
add_open("proof state of lifetime 1 at its issued_at", last, RING1, 1, NOW + L - 1)
add_open("proof state of lifetime 1 one second later", last, RING1, 1, NOW + L, expect_error="Expired")
bound_proof = issued["teams follow-up of a bound connect state (binding carries over)"][1]
add_open("bound proof state: binding ok", bound_proof, RING1, 1, NOW + 61, binding=BINDING_VALUE)
add_open("bound proof state: binding missing", bound_proof, RING1, 1, NOW + 61, expect_error="BindingMissing")


def proof_with(**changes) -> bytes:
    f = dict(proof_f)
    f.update(changes)
    return encode_body(f)


add_open(
    "PROOF together with LINK_USER (re-MACed)",
    remac(proof_with(flags=proof_f["flags"] | F_LINK_USER)),
    RING1,
    1,
    NOW + 61,
    expect_error="Malformed",
)
add_open(
    "PROOF without WORKSPACE, workspace field removed (re-MACed)",
    remac(proof_with(flags=proof_f["flags"] & ~F_WORKSPACE)),
    RING1,
    1,
    NOW + 61,
    expect_error="Malformed",
)
add_open(
    "WORKSPACE without PROOF on the proof body (a connect state with a workspace) opens",
    remac(proof_with(flags=proof_f["flags"] & ~F_PROOF)),
    RING1,
    1,
    NOW + 61,
)
add_open(
    "workspace of 65 bytes (re-MACed)",
    remac(proof_with(workspace="w" * 65)),
    RING1,
    1,
    NOW + 61,
    expect_error="Malformed",
)
add_open(
    "workspace of 64 bytes of the whole alphabet, not a GUID, opens (the decoder checks only length and bytes)",
    remac(proof_with(workspace=("AZaz09._-" * 8)[:64])),
    RING1,
    1,
    NOW + 61,
)
add_open(
    "workspace of 1 byte opens",
    remac(proof_with(workspace="T")),
    RING1,
    1,
    NOW + 61,
)
add_open(
    "empty workspace (re-MACed)",
    remac(proof_with(workspace="")),
    RING1,
    1,
    NOW + 61,
    expect_error="Malformed",
)
add_open(
    "workspace with '~' (unreserved in URLs, outside [A-Za-z0-9._-]) (re-MACed)",
    remac(proof_with(workspace=TENANT_GUID[:8] + "~" + TENANT_GUID[9:])),
    RING1,
    1,
    NOW + 61,
    expect_error="Malformed",
)
add_open(
    "workspace with '/' (re-MACed)",
    remac(proof_with(workspace="organizations/" + TENANT_GUID)),
    RING1,
    1,
    NOW + 61,
    expect_error="Malformed",
)
add_open(
    "workspace with a non-ASCII character (valid UTF-8 'é') (re-MACed)",
    remac(proof_with(workspace="T0123ABCé")),
    RING1,
    1,
    NOW + 61,
    expect_error="Malformed",
)
add_open(
    "workspace of a connect state with a space (re-MACed)",
    remac(body_with(flags=seed_f["flags"] | F_WORKSPACE, workspace="T0123 ABCD")),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)
add_open(
    "PROOF|LINK_USER, not re-MACed (MAC checked before layout)",
    flip(proof, 2, 0),
    RING1,
    1,
    NOW + 61,
    expect_error="BadMac",
)

# ---- context entries and data (sections 2 and 11) --------------------------

for nm in [
    "slack connect, context keys é, team.name, a b, an emoji and a 100-byte key (UTF-8 byte order)",
    "slack connect, context keys and data keys in UTF-8 byte order, not UTF-16 order (U+FF21 before U+1F680)",
    "slack connect, data numbers in nested arrays and objects (keys sorted at every depth, arrays in order)",
    "slack connect, data string with U+007F, U+0085, U+2028, U+2029 and '/' (written unescaped)",
    "slack connect, data string with every character U+0000 to U+001F, '\"' and '\\' (and in a key)",
    "slack connect, data {} (kind 1, written {}) beside data null (kind 0)",
    "teams link-user, non-ASCII context key with data (pkce)",
    "teams follow-up, context keys of any characters and data carry over",
]:
    add_open("valid: " + nm, issued[nm][1], RING1, 1, NOW + 61)

# Section 2: the decoder "does not re-check the order of context keys, the
# data JSON (beyond UTF-8), nor the other ranges of the table, which bind the
# issuer" (keys of 1 to 100 bytes, ids of [A-Za-z0-9_-]); it does refuse a
# zero-length key or id and invalid UTF-8.
add_open(
    "context key of 101 bytes opens (the 1-to-100 range binds the issuer) (re-MACed)",
    remac(body_with(context=[("k" * 101, "org-acme", None)])),
    RING1,
    1,
    NOW,
)
add_open(
    "context key of 255 bytes opens (re-MACed)",
    remac(body_with(context=[("k" * 255, "org-acme", None)])),
    RING1,
    1,
    NOW,
)
add_open(
    "context id outside [A-Za-z0-9_-] opens ('org.acme/é') (re-MACed)",
    remac(body_with(context=[("key", "org.acme/é", None)])),
    RING1,
    1,
    NOW,
)
add_open(
    "context keys in descending byte order open (the order binds the issuer) (re-MACed)",
    remac(body_with(context=[("é", "e-acute", None), ("b", "bee", None), ("a", "ay", None)])),
    RING1,
    1,
    NOW,
)
add_open(
    "data not in the form of section 2 opens as its exact bytes (white space, 1.0, a fraction, unsorted keys) (re-MACed)",
    remac(body_with(context=[("key", "org-acme", '{ "b": 1.0, "a": 0.5 }')])),
    RING1,
    1,
    NOW,
)
add_open(
    "data that is not JSON opens (re-MACed)",
    remac(body_with(context=[("key", "org-acme", "not json")])),
    RING1,
    1,
    NOW,
)
add_open(
    "data with invalid UTF-8 (re-MACed)",
    remac(body_with(context=[("key", "org-acme", '{"s":"ab"}')]).replace(b'"ab"', b'"a\xff"')),
    RING1,
    1,
    NOW,
    expect_error="Malformed",
)
add_open(
    "context key with invalid UTF-8 (re-MACed)",
    remac(body_with(context=[("k\u00e9y", "org-acme", None)]).replace(b"k\xc3\xa9y", b"k\xa9\xc3y")),
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
    "environment_id, organization_id, integration: {identifier, provider: 'slack'|'msteams'|'webex' "
    "(webex only in refused requests), client_id, "
    "redirect_uri, tenant (the configured tenant segment: string for msteams, null for slack), "
    "team (Slack's configured team, string or null; null for msteams)}, now (Unix s), "
    "lifetime (s, always the default 300), entropy (hex, 32 bytes), binding (UTF-8 value or null), "
    "workspace (the host's expected workspace given at issue, string as given, or null), "
    "request (the JSON request body as an object; null when request_json is given), "
    "request_json? (present when the exact text of the body matters: number literals such as 1.0, 1e3 or -0, "
    "escapes, repeated keys, white space; a string holding the whole body, which the issuer parses as sent; "
    "use it instead of request), request_base64? (present instead when the body is not UTF-8: its bytes, standard "
    "base64), note? (informative; for a refusal whose HTTP 422 detail SPEC.md section 11.3 "
    "fixes, that detail), "
    "expected: {state, url, pkce_verifier? and code_challenge? (Teams link-user only), fields (as in open ok)} "
    "| {error: kind, detail? (the HTTP 422 detail, for the kinds whose detail SPEC.md section 11.3 fixes), "
    "message? (the HTTP 400 message, for the kinds of steps 2 to 6 of section 11.4 whose message it fixes)} "
    "with kind one of InvalidWorkspace (expected workspace of the wrong shape, the consumer tenant, "
    "or differing from the integration's restriction; SPEC.md section 4), UrlTooLong (the authorize URL, "
    "or for a Teams connect its proof follow-up URL, would be 1800 characters or more, or the state would exceed "
    "1344 bytes; SPEC.md sections 2 and 9), and the request refusals of SPEC.md section 11.3 (HTTP 422, step 1 of "
    "section 11.4; each such request breaks that one rule only): BodyInvalid (the body is not JSON by SPEC.md "
    "section 11.1: a number beyond a double, a lone surrogate escape, invalid UTF-8, nesting deeper than 127 "
    "levels, wherever it is, ignored members included), TooManyContexts (context has more than 5 keys, "
    "counted after repeated keys collapse), ContextKeyInvalid (a context key of 0 bytes or more than 100 bytes of "
    "UTF-8), ContextDataNumber (a number anywhere in an entity's data whose value is not an integer from -2^53 to "
    "2^53: a fraction, or beyond), ContextDataTooLarge (an entity's data is more than 65536 bytes in the compact "
    "form of SPEC.md section 2, the form the state carries, not the request's text), ContextDataTooDeep (an "
    "entity's data nests deeper than 64 levels, data itself being level 1), and LinkWithoutConnection (HTTP 400, "
    "step 3 of section 11.4: a link-user request on a Webex integration without connectionIdentifier)}. "
    "follow_up[i]: {name, keys (ring, see open), environment_id, organization_id, integration (as in issue), "
    "now (the verifier's now; the skew is the default 30 s), binding (the value the browser presents at the "
    "callback, or null), connect_state (a Teams connect state from issue[], or null when the callback carries "
    "none), callback_query (the whole query string of the admin-consent callback, starting with '?', as the "
    "callback receives it (names and values form-urlencoded); its tenant is the claimed tenant, its state the "
    "connect_state; the size vectors pad it with an ignored parameter `pad`), "
    "expected: {state, url, pkce_verifier, code_challenge, fields} (the connect-proof state of SPEC.md section 7 "
    "and its sign-in URL) | {error: kind} with kind one of Expired (the connect state had expired at now), "
    "WorkspaceMismatch (callback tenant differs from the connect state's workspace), TenantNotAllowed (the "
    "consumer tenant), MalformedTenant (the tenant is not a GUID), Unsolicited (the callback has no state "
    "parameter or an empty one; SPEC.md section 8), CodeOnAdminConsent (a code on a connect state's callback, "
    "with or without admin_consent), MissingParameters (admin_consent or tenant absent), MalformedAdminConsent "
    "(admin_consent other than True in any ASCII case, False included), QueryTooLarge (more than 8192 bytes "
    "after the '?'; SPEC.md section 8)}. "
    "open[i]: {name, keys: [{id, key (hex), active (exactly one true; others verify-only)}], state (string, "
    "possibly empty), now, skew (s), binding (presented value or null), expected: {ok: fields} | {error: kind}} "
    "with kind one of Missing, Oversized, Malformed, UnknownVersion, UnknownKey, BadMac, NotYetValid, Expired, "
    "BindingMissing, BindingMismatch (SPEC.md section 8). "
    "fields: {version, key_id, flags (the raw byte), purpose: 'connect'|'link-user'|'connect-proof' "
    "(from LINK_USER and PROOF), mode: 'shared'|'subscriber' (SHARED), auto_link_user (AUTO_LINK), issued_at, "
    "lifetime, expires_at (issued_at + lifetime), nonce (hex, 16 bytes), binding (hex of the 16-byte binding "
    "field or null), provider, integration, environment, organization, subscriber (or null), connection (or null), "
    "workspace (or null), context: [{key, id, data (the exact JSON text of the data as the state carries it, "
    "written as SPEC.md section 2 says when issued here, or null for kind 0)}] in stored order}."
)

out = {
    "format": FORMAT,
    "issue": issue_vectors,
    "follow_up": follow_up_vectors,
    "open": open_vectors,
}
json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
