"""Drives a channel-connect server with Novu's official Python SDK, `novu-py`
(pinned in requirements.txt; installed by ../sdk.rs into a venv in the
target directory).

    <venv>/bin/python novu.py <base-url> [cases]

`cases` (or env SDK_CASES when the argument is absent) is a comma-separated
list of case names or group prefixes (`connections` selects every
`connections.*` case); `all`, or nothing, selects every case. Each case
prints `PASS <name>` or `FAIL <name>: <reason>`; the exit status is non-zero
when any case failed or an entry of the list selects no case.

The case names, and what each one asserts, are the same in novu.mjs.
"""

import json
import os
import random
import re
import string
import sys
import time
import warnings
from datetime import datetime
from urllib.parse import urljoin

import httpx
from novu_py import Novu, models
from novu_py.utils import BackoffStrategy, RetryConfig

# generate_chat_o_auth_url is deprecated; the route is still Novu's.
warnings.simplefilter("ignore", DeprecationWarning)

SECRET_KEY = "demo-secret-key"
if len(sys.argv) < 2:
    print("usage: novu.py <base-url> [case,case,...]", file=sys.stderr)
    sys.exit(2)
BASE = sys.argv[1]
SELECTION = [
    s.strip()
    for s in (sys.argv[2] if len(sys.argv) > 2 else os.environ.get("SDK_CASES", "all")).split(",")
    if s.strip()
]

# Unique per run, so a run against a long-lived server (SDK_BASE_URL) never
# meets what an earlier run stored.
RUN = format(int(time.time() * 1000), "x") + "".join(random.choices(string.ascii_lowercase + string.digits, k=4))
LANG = "py"
SUBSCRIBER = f"sdk-{LANG}-sub-{RUN}"
TENANT = f"sdk-{LANG}-{RUN}"
SECRET_TOKEN = f"xoxb-sdk-{LANG}-{RUN}"

# ---------------------------------------------------------------- clients

# The status of the last response any client saw (the SDK hides it).
seen = {"status": 0}


def _record(response):
    seen["status"] = response.status_code


class _Tamper(httpx.BaseTransport):
    """Rewrites every JSON request body before it leaves (to send what the
    SDK itself refuses to build, such as a body without a required field)."""

    def __init__(self, tamper):
        self.inner = httpx.HTTPTransport()
        self.tamper = tamper

    def handle_request(self, request):
        content = request.read()
        if content:
            body = json.dumps(self.tamper(json.loads(content))).encode()
            headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"content-length"]
            request = httpx.Request(request.method, request.url, headers=headers, content=body)
        return self.inner.handle_request(request)


def client(secret_key=SECRET_KEY, tamper=None):
    """An SDK client: retries off (CONTRACT 1.7: a refusal must surface at
    once), a bounded timeout, the last status recorded."""
    http = httpx.Client(
        follow_redirects=True,
        event_hooks={"response": [_record]},
        transport=_Tamper(tamper) if tamper else None,
    )
    return Novu(
        server_url=BASE,
        secret_key=secret_key,
        client=http,
        retry_config=RetryConfig("none", BackoffStrategy(1000, 1000, 1.0, 1000), False),
        timeout_ms=30000,
    )


novu = client()


def without(*fields):
    def strip(body):
        for f in fields:
            body.pop(f, None)
        return body

    return client(tamper=strip)


intruder = client(secret_key="not-a-demo-key")

# ---------------------------------------------------------------- assertions


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def eq(actual, expected, what):
    check(actual == expected, f"{what}: expected {expected!r}, got {actual!r}")


ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def iso(value, what):
    ok = isinstance(value, str) and ISO.match(value) is not None
    if ok:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            ok = False
    check(ok, f"{what}: expected an ISO-8601 date, got {value!r}")


def parse_iso(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def status(expected, what):
    eq(seen["status"], expected, f"{what}: HTTP status")


def describe(err):
    if isinstance(err, Failure):
        return str(err)
    text = f"{type(err).__name__}: {getattr(err, 'message', None) or err}"
    code = getattr(err, "status_code", None)
    if isinstance(code, int):
        text += f" (HTTP {code})"
    body = getattr(err, "body", None)
    if isinstance(body, str) and body and body not in text:
        text += f" body={body}"
    return " ".join(text.split())[:600]


def refused(call, cls, code, what):
    """Runs `call`, which must fail with `cls` (ErrorDto / ValidationErrorDto) and `code`."""
    try:
        call()
    except Exception as e:  # noqa: BLE001 - every failure is reported
        err = e
    else:
        raise Failure(f"{what}: expected {cls.__name__} {code}, the call succeeded")
    if not isinstance(err, cls):
        raise Failure(f"{what}: expected {cls.__name__} {code}, got {describe(err)}")
    eq(err.status_code, code, f"{what}: HTTP status")
    data = err.data
    eq(data.status_code, code, f"{what}: body statusCode")
    check(isinstance(data.timestamp, str), f"{what}: timestamp is a string")
    check(isinstance(data.path, str) and data.path.startswith("/v1/"), f"{what}: path {data.path!r}")
    # The route must exist: a fallback 404/405 is not the refusal asked for.
    message = data.message
    check(
        not (isinstance(message, str) and re.match(r"^Cannot [A-Z]+ ", message)),
        f"{what}: the route does not exist ({message})",
    )
    return err


def error_dto(call, code, what):
    return refused(call, models.ErrorDto, code, what)


def invalid(call, field, what):
    err = refused(call, models.ValidationErrorDto, 422, what)
    errors = err.data.errors
    check(isinstance(errors, dict), f"{what}: errors is an object")
    for k, v in errors.items():
        check(
            isinstance(v.messages, list) and all(isinstance(m, str) for m in v.messages),
            f"{what}: errors.{k}.messages is a list of strings",
        )
    check(field in errors, f"{what}: errors names {field}: {list(errors)}")
    return err


def url_result(res, code, what):
    status(code, what)
    url = getattr(getattr(res, "result", None), "url", None)
    check(isinstance(url, str) and re.match(r"^https?://", url), f"{what}: url {url!r}")
    return url


def connection_ok(c, what, identifier=None, subscriber_id=None, context_keys=(), workspace=None):
    check(c is not None, f"{what}: a connection")
    if identifier is not None:
        eq(c.identifier, identifier, f"{what}: identifier")
    eq(c.channel, "chat", f"{what}: channel")
    eq(c.provider_id, "slack", f"{what}: providerId")
    eq(c.integration_identifier, "slack", f"{what}: integrationIdentifier")
    if subscriber_id is not None:
        eq(c.subscriber_id, subscriber_id, f"{what}: subscriberId")
    check(isinstance(c.context_keys, list), f"{what}: contextKeys is a list")
    for k in context_keys:
        check(k in c.context_keys, f"{what}: contextKeys {c.context_keys} has {k}")
    check(isinstance(c.workspace.id, str), f"{what}: workspace.id")
    if workspace is not None:
        eq(c.workspace.id, workspace, f"{what}: workspace.id")
    token = c.auth.access_token
    check(isinstance(token, str), f"{what}: auth.accessToken is a string")
    check(not token.startswith("xoxb-") and RUN not in token, f"{what}: auth.accessToken is redacted, got {token}")
    iso(c.created_at, f"{what}: createdAt")
    iso(c.updated_at, f"{what}: updatedAt")


def payload(e):
    """An endpoint's `endpoint` as the wire has it (camelCase keys)."""
    ep = e.endpoint
    return ep.model_dump(by_alias=True, exclude_none=True) if hasattr(ep, "model_dump") else ep


def endpoint_ok(e, what, identifier=None, type_=None, connection_identifier=None, subscriber_id=None):
    check(e is not None, f"{what}: an endpoint")
    check(isinstance(e.identifier, str) and e.identifier, f"{what}: identifier")
    if identifier is not None:
        eq(e.identifier, identifier, f"{what}: identifier")
    if type_ is not None:
        eq(e.type, type_, f"{what}: type")
    eq(e.channel, "chat", f"{what}: channel")
    eq(e.provider_id, "slack", f"{what}: providerId")
    eq(e.integration_identifier, "slack", f"{what}: integrationIdentifier")
    if connection_identifier is not None:
        eq(e.connection_identifier, connection_identifier, f"{what}: connectionIdentifier")
    if subscriber_id is not None:
        eq(e.subscriber_id, subscriber_id, f"{what}: subscriberId")
    check(isinstance(e.context_keys, list), f"{what}: contextKeys is a list")
    check(isinstance(payload(e), dict), f"{what}: endpoint is an object")
    iso(e.created_at, f"{what}: createdAt")
    iso(e.updated_at, f"{what}: updatedAt")


def list_ok(result, what):
    check(result is not None and isinstance(result.data, list), f"{what}: data is a list")
    check(isinstance(result.total_count, (int, float)), f"{what}: totalCount is a number")
    check(isinstance(result.total_count_capped, bool), f"{what}: totalCountCapped is a boolean")
    check(result.next is None or isinstance(result.next, str), f"{what}: next")
    check(result.previous is None or isinstance(result.previous, str), f"{what}: previous")
    return result.data


# ---------------------------------------------------------------- fixtures

UNKNOWN = f"no-such-integration-{RUN}"


def once(label):
    """A fixture, made once; a case that needs a failed one fails with its reason."""

    def wrap(make):
        memo = {}

        def get():
            if "err" in memo:
                raise memo["err"]
            if "value" not in memo:
                try:
                    memo["value"] = make()
                except Exception as e:  # noqa: BLE001 - replayed to every case that needs it
                    memo["err"] = Failure(f"needs {label}: {describe(e)}")
                    raise memo["err"] from e
            return memo["value"]

        return get

    return wrap


CONN = f"sdk-{LANG}-conn-{RUN}"


# When the created connection's refresh token expires: no secret, answered as given.
REFRESH_TOKEN_EXPIRY = "2030-03-31T12:00:00.000Z"


def connection_body(identifier, workspace):
    return {
        "identifier": identifier,
        "integration_identifier": "slack",
        "subscriber_id": SUBSCRIBER,
        "context": {"tenant": TENANT},
        "connection_mode": "subscriber",
        "workspace": {"id": workspace, "name": "SDK workspace"},
        "auth": {"access_token": SECRET_TOKEN, "refresh_token_expires_at": REFRESH_TOKEN_EXPIRY},
    }


@once("a connection (channel_connections.create)")
def connection():
    res = novu.channel_connections.create(create_channel_connection_request_dto=connection_body(CONN, "T0SDKPY1"))
    status(201, "channel_connections.create")
    return res.result


SLACK_USER_EP = f"sdk-{LANG}-ep-user-{RUN}"
WEBHOOK_EP = f"sdk-{LANG}-ep-hook-{RUN}"


@once("a slack_user endpoint (channel_endpoints.create)")
def slack_user_endpoint():
    connection()
    res = novu.channel_endpoints.create(
        request_body={
            "identifier": SLACK_USER_EP,
            "type": "slack_user",
            "subscriber_id": SUBSCRIBER,
            "integration_identifier": "slack",
            "connection_identifier": CONN,
            "context": {"tenant": TENANT},
            "endpoint": {"user_id": "U0SDKUSER1"},
        }
    )
    status(201, "channel_endpoints.create slack_user")
    return res.result


@once("a webhook endpoint (channel_endpoints.create)")
def webhook_endpoint():
    connection()
    res = novu.channel_endpoints.create(
        request_body={
            "identifier": WEBHOOK_EP,
            "type": "webhook",
            "subscriber_id": SUBSCRIBER,
            "integration_identifier": "slack",
            "connection_identifier": CONN,
            # Linked to a connection: the connection owner's context (its link rule).
            "context": {"tenant": TENANT},
            "endpoint": {"url": f"https://hooks.example/sdk/{RUN}", "channel": "#alerts"},
        }
    )
    status(201, "channel_endpoints.create webhook")
    return res.result


# The Slack flow of the seed body, completed through the stand-in.
FLOW_CONN = f"sdk-{LANG}-flow-{RUN}"
FLOW_SUBSCRIBER = "subscriber-123"
# Run-unique owner: a re-install by the same owner in the same workspace
# updates that owner's connection instead of storing this one.
FLOW_ORG = f"org-{LANG}-{RUN}"
FLOW_CONTEXT = {"property1": FLOW_ORG, "property2": FLOW_ORG}
FLOW_KEYS = [f"property1:{FLOW_ORG}", f"property2:{FLOW_ORG}"]
# connectionMode shared: the connection is the context's, no subscriber's
# (its autoLinkUser endpoint is subscriber-123's).


@once("the Slack flow")
def slack_flow():
    res = novu.integrations.generate_connect_o_auth_url(
        generate_connect_oauth_url_request_dto={
            "integration_identifier": "slack",
            "subscriber_id": FLOW_SUBSCRIBER,
            "connection_identifier": FLOW_CONN,
            "context": FLOW_CONTEXT,
            "scope": ["chat:write", "chat:write.public", "channels:read"],
            "connection_mode": "shared",
            "auto_link_user": True,
        }
    )
    url = url_result(res, 201, "generate_connect_o_auth_url")
    page = httpx.get(url, follow_redirects=False, timeout=30)
    eq(page.status_code, 200, "the stand-in authorize page: HTTP status")
    m = re.search(r'id="allow" href="([^"]*)"', page.text)
    check(m, f"the stand-in page has an Allow link: {page.text[:300]}")
    callback = urljoin(url, m.group(1).replace("&amp;", "&"))
    done = httpx.get(callback, follow_redirects=False, timeout=30)
    eq(done.status_code, 200, f"the callback ({done.text[:200]}): HTTP status")
    check("all set" in done.text, f"the callback page says all set: {done.text[:300]}")
    return FLOW_CONN


# ---------------------------------------------------------------- cases

cases = []


def case(name):
    def register(fn):
        cases.append((name, fn))
        return fn

    return register


# integrations.generate_connect_o_auth_url
@case("connect_oauth_url.ok")
def _():
    res = novu.integrations.generate_connect_o_auth_url(
        generate_connect_oauth_url_request_dto={
            "integration_identifier": "slack",
            "subscriber_id": SUBSCRIBER,
            "context": {"tenant": TENANT},
            "scope": ["chat:write"],
            "connection_mode": "subscriber",
            "auto_link_user": False,
        }
    )
    check("state=" in url_result(res, 201, "generate_connect_o_auth_url"), "the url has a state")


@case("connect_oauth_url.unknown_integration")
def _():
    error_dto(
        lambda: novu.integrations.generate_connect_o_auth_url(
            generate_connect_oauth_url_request_dto={"integration_identifier": UNKNOWN}
        ),
        404,
        "unknown integration",
    )


@case("connect_oauth_url.invalid_body")
def _():
    invalid(
        lambda: without("integrationIdentifier").integrations.generate_connect_o_auth_url(
            generate_connect_oauth_url_request_dto={"integration_identifier": "slack", "subscriber_id": SUBSCRIBER}
        ),
        "integrationIdentifier",
        "no integrationIdentifier",
    )


# integrations.generate_link_user_o_auth_url
@case("link_user_oauth_url.ok")
def _():
    res = novu.integrations.generate_link_user_o_auth_url(
        generate_link_user_oauth_url_request_dto={
            "subscriber_id": SUBSCRIBER,
            "integration_identifier": "slack",
            "context": {"tenant": TENANT},
            "user_scope": ["identity.basic"],
        }
    )
    check("state=" in url_result(res, 201, "generate_link_user_o_auth_url"), "the url has a state")


@case("link_user_oauth_url.unknown_integration")
def _():
    error_dto(
        lambda: novu.integrations.generate_link_user_o_auth_url(
            generate_link_user_oauth_url_request_dto={"subscriber_id": SUBSCRIBER, "integration_identifier": UNKNOWN}
        ),
        404,
        "unknown integration",
    )


@case("link_user_oauth_url.invalid_body")
def _():
    invalid(
        lambda: without("subscriberId").integrations.generate_link_user_o_auth_url(
            generate_link_user_oauth_url_request_dto={"subscriber_id": SUBSCRIBER, "integration_identifier": "slack"}
        ),
        "subscriberId",
        "no subscriberId",
    )


# integrations.generate_chat_o_auth_url (deprecated, both modes)
@case("chat_oauth_url.connect")
def _():
    res = novu.integrations.generate_chat_o_auth_url(
        generate_chat_oauth_url_request_dto={
            "integration_identifier": "slack",
            "subscriber_id": SUBSCRIBER,
            "context": {"tenant": TENANT},
            "scope": ["chat:write"],
            "mode": "connect",
            "connection_mode": "subscriber",
        }
    )
    check("state=" in url_result(res, 201, "generate_chat_o_auth_url connect"), "the url has a state")


@case("chat_oauth_url.link_user")
def _():
    res = novu.integrations.generate_chat_o_auth_url(
        generate_chat_oauth_url_request_dto={
            "integration_identifier": "slack",
            "subscriber_id": SUBSCRIBER,
            "user_scope": ["identity.basic"],
            "mode": "link_user",
        }
    )
    check("state=" in url_result(res, 201, "generate_chat_o_auth_url link_user"), "the url has a state")


@case("chat_oauth_url.unknown_integration")
def _():
    error_dto(
        lambda: novu.integrations.generate_chat_o_auth_url(
            generate_chat_oauth_url_request_dto={"integration_identifier": UNKNOWN, "subscriber_id": SUBSCRIBER}
        ),
        404,
        "unknown integration",
    )


# integrations.link_channel_endpoint
# As in Novu, only providers with subscriber chat linking (Telegram) answer a
# link here; Slack and Teams link users through the OAuth route above.
@case("link_channel_endpoint.slack_refused")
def _():
    error_dto(
        lambda: novu.integrations.link_channel_endpoint(
            link_channel_endpoint_request_dto={
                "integration_identifier": "slack",
                "subscriber_id": SUBSCRIBER,
                "context": {"tenant": TENANT},
            }
        ),
        400,
        "Slack has no subscriber chat linking",
    )


@case("link_channel_endpoint.unknown_integration")
def _():
    error_dto(
        lambda: novu.integrations.link_channel_endpoint(
            link_channel_endpoint_request_dto={"integration_identifier": UNKNOWN, "subscriber_id": SUBSCRIBER}
        ),
        404,
        "unknown integration",
    )


# The seed's Slack flow: issue, the stand-in's Allow, the callback; then the API sees it.
@case("slack_flow.callback")
def _():
    slack_flow()


@case("slack_flow.list")
def _():
    slack_flow()
    res = novu.channel_connections.list(
        request={
            "limit": 10,
            "integration_identifier": "slack",
            # Exact context keys, order insensitive (Novu's filter).
            "context_keys": [f"property2:{FLOW_ORG}", f"property1:{FLOW_ORG}"],
        }
    )
    status(200, "channel_connections.list")
    data = list_ok(res.result, "channel_connections.list")
    found = [c for c in data if c.identifier == FLOW_CONN]
    check(found, f"the list has {FLOW_CONN}: {[c.identifier for c in data]}")
    connection_ok(found[0], "listed", FLOW_CONN, context_keys=FLOW_KEYS)
    eq(found[0].subscriber_id, None, "a shared connection's subscriberId")


@case("slack_flow.retrieve")
def _():
    slack_flow()
    res = novu.channel_connections.retrieve(identifier=FLOW_CONN)
    status(200, "channel_connections.retrieve")
    connection_ok(res.result, "retrieved", FLOW_CONN, context_keys=FLOW_KEYS)
    eq(res.result.subscriber_id, None, "a shared connection's subscriberId")


@case("slack_flow.endpoint")
def _():
    slack_flow()
    res = novu.channel_endpoints.list(request={"limit": 10, "connection_identifier": FLOW_CONN})
    status(200, "channel_endpoints.list")
    data = list_ok(res.result, "channel_endpoints.list")
    eq(len(data), 1, "the flow's autoLinkUser endpoints")
    endpoint_ok(data[0], "linked user", type_="slack_user", connection_identifier=FLOW_CONN, subscriber_id=FLOW_SUBSCRIBER)


# channel_connections
@case("connections.create.ok")
def _():
    c = connection()
    connection_ok(c, "created", CONN, SUBSCRIBER, [f"tenant:{TENANT}"], "T0SDKPY1")
    eq(c.auth.refresh_token_expires_at, REFRESH_TOKEN_EXPIRY, "created: auth.refreshTokenExpiresAt")


@case("connections.create.unknown_integration")
def _():
    body = {**connection_body(f"sdk-{LANG}-x-{RUN}", "T0SDKX"), "integration_identifier": UNKNOWN}
    error_dto(
        lambda: novu.channel_connections.create(create_channel_connection_request_dto=body),
        404,
        "unknown integration",
    )


@case("connections.create.invalid_body")
def _():
    invalid(
        lambda: without("workspace").channel_connections.create(
            create_channel_connection_request_dto=connection_body(f"sdk-{LANG}-y-{RUN}", "T0SDKY")
        ),
        "workspace",
        "no workspace",
    )


@case("connections.list.ok")
def _():
    connection()
    res = novu.channel_connections.list(request={"limit": 100})
    status(200, "channel_connections.list")
    data = list_ok(res.result, "channel_connections.list")
    check(len(data) <= 100, "at most limit items")
    check(res.result.total_count >= len(data), "totalCount covers the page")
    found = [c for c in data if c.identifier == CONN]
    check(found, f"the list has {CONN}")
    for c in data:
        connection_ok(c, f"listed {c.identifier}")


@case("connections.list.filtered")
def _():
    connection()
    res = novu.channel_connections.list(
        request={
            "limit": 5,
            "subscriber_id": SUBSCRIBER,
            "integration_identifier": "slack",
            "context_keys": [f"tenant:{TENANT}"],
        }
    )
    status(200, "channel_connections.list")
    data = list_ok(res.result, "filtered list")
    eq([c.identifier for c in data], [CONN], "the filtered list")
    none = novu.channel_connections.list(request={"limit": 5, "subscriber_id": f"{SUBSCRIBER}-nobody"})
    eq(len(list_ok(none.result, "another subscriber")), 0, "another subscriber's connections")


@case("connections.retrieve.ok")
def _():
    connection()
    res = novu.channel_connections.retrieve(identifier=CONN)
    status(200, "channel_connections.retrieve")
    connection_ok(res.result, "retrieved", CONN, SUBSCRIBER, [f"tenant:{TENANT}"])


@case("connections.retrieve.missing")
def _():
    error_dto(lambda: novu.channel_connections.retrieve(identifier=f"sdk-missing-{RUN}"), 404, "a missing connection")


@case("connections.update.ok")
def _():
    connection()
    res = novu.channel_connections.update(
        identifier=CONN,
        update_channel_connection_request_dto={
            "workspace": {"id": "T0SDKPY1", "name": "SDK workspace, renamed"},
            "auth": {"access_token": f"{SECRET_TOKEN}-2"},
        },
    )
    status(200, "channel_connections.update")
    connection_ok(res.result, "updated", CONN, workspace="T0SDKPY1")
    eq(res.result.workspace.name, "SDK workspace, renamed", "updated workspace.name")
    check(parse_iso(res.result.updated_at) >= parse_iso(res.result.created_at), "updatedAt >= createdAt")


@case("connections.update.missing")
def _():
    error_dto(
        lambda: novu.channel_connections.update(
            identifier=f"sdk-missing-{RUN}",
            update_channel_connection_request_dto={"workspace": {"id": "T0SDKZ"}, "auth": {"access_token": "x"}},
        ),
        404,
        "a missing connection",
    )


# channel_endpoints
@case("endpoints.create.slack_user")
def _():
    e = slack_user_endpoint()
    endpoint_ok(e, "created", SLACK_USER_EP, "slack_user", CONN, SUBSCRIBER)
    eq(payload(e).get("userId"), "U0SDKUSER1", "endpoint.userId")
    check(f"tenant:{TENANT}" in e.context_keys, "contextKeys has the tenant")


@case("endpoints.create.webhook")
def _():
    e = webhook_endpoint()
    endpoint_ok(e, "created", WEBHOOK_EP, "webhook", CONN, SUBSCRIBER)
    check(isinstance(payload(e).get("url"), str), "endpoint.url is a string")
    check("hooks.example" not in payload(e).get("url"), "the webhook URL (a credential) is never answered")


@case("endpoints.create.unknown_integration")
def _():
    error_dto(
        lambda: novu.channel_endpoints.create(
            request_body={
                "type": "slack_user",
                "subscriber_id": SUBSCRIBER,
                "integration_identifier": UNKNOWN,
                "endpoint": {"user_id": "U0SDKX"},
            }
        ),
        404,
        "unknown integration",
    )


@case("endpoints.create.invalid_body")
def _():
    invalid(
        lambda: without("subscriberId").channel_endpoints.create(
            request_body={
                "type": "slack_user",
                "subscriber_id": SUBSCRIBER,
                "integration_identifier": "slack",
                "endpoint": {"user_id": "U0SDKY"},
            }
        ),
        "subscriberId",
        "no subscriberId",
    )


@case("endpoints.list.ok")
def _():
    slack_user_endpoint()
    webhook_endpoint()
    res = novu.channel_endpoints.list(request={"limit": 10, "connection_identifier": CONN})
    status(200, "channel_endpoints.list")
    data = list_ok(res.result, "channel_endpoints.list")
    eq(sorted(e.identifier for e in data), sorted([SLACK_USER_EP, WEBHOOK_EP]), "the connection's endpoints")
    for e in data:
        endpoint_ok(e, f"listed {e.identifier}", connection_identifier=CONN)


@case("endpoints.retrieve.ok")
def _():
    slack_user_endpoint()
    res = novu.channel_endpoints.retrieve(identifier=SLACK_USER_EP)
    status(200, "channel_endpoints.retrieve")
    endpoint_ok(res.result, "retrieved", SLACK_USER_EP, "slack_user", CONN)


@case("endpoints.retrieve.missing")
def _():
    error_dto(lambda: novu.channel_endpoints.retrieve(identifier=f"sdk-missing-{RUN}"), 404, "a missing endpoint")


@case("endpoints.update.ok")
def _():
    slack_user_endpoint()
    res = novu.channel_endpoints.update(
        identifier=SLACK_USER_EP,
        update_channel_endpoint_request_dto={"endpoint": {"user_id": "U0SDKUSER2"}},
    )
    status(200, "channel_endpoints.update")
    endpoint_ok(res.result, "updated", SLACK_USER_EP, "slack_user")
    eq(payload(res.result).get("userId"), "U0SDKUSER2", "updated endpoint.userId")


@case("endpoints.update.missing")
def _():
    error_dto(
        lambda: novu.channel_endpoints.update(
            identifier=f"sdk-missing-{RUN}",
            update_channel_endpoint_request_dto={"endpoint": {"user_id": "U0SDKZ"}},
        ),
        404,
        "a missing endpoint",
    )


@case("endpoints.delete.ok")
def _():
    webhook_endpoint()
    novu.channel_endpoints.delete(identifier=WEBHOOK_EP)
    status(204, "channel_endpoints.delete")
    error_dto(lambda: novu.channel_endpoints.retrieve(identifier=WEBHOOK_EP), 404, "the deleted endpoint")


@case("endpoints.delete.missing")
def _():
    error_dto(lambda: novu.channel_endpoints.delete(identifier=f"sdk-missing-{RUN}"), 404, "a missing endpoint")


# channel_connections.delete (its own connection, so the endpoints above keep theirs)
@case("connections.delete.ok")
def _():
    ident = f"sdk-{LANG}-del-{RUN}"
    novu.channel_connections.create(create_channel_connection_request_dto=connection_body(ident, "T0SDKPYDEL"))
    status(201, "channel_connections.create")
    novu.channel_connections.delete(identifier=ident)
    status(204, "channel_connections.delete")
    error_dto(lambda: novu.channel_connections.retrieve(identifier=ident), 404, "the deleted connection")


@case("connections.delete.missing")
def _():
    error_dto(lambda: novu.channel_connections.delete(identifier=f"sdk-missing-{RUN}"), 404, "a missing connection")


# A wrong secret key: every operation answers a typed 401.
UNAUTHORIZED = {
    "connect_oauth_url": lambda: intruder.integrations.generate_connect_o_auth_url(
        generate_connect_oauth_url_request_dto={"integration_identifier": "slack", "subscriber_id": SUBSCRIBER}
    ),
    "link_user_oauth_url": lambda: intruder.integrations.generate_link_user_o_auth_url(
        generate_link_user_oauth_url_request_dto={"subscriber_id": SUBSCRIBER, "integration_identifier": "slack"}
    ),
    "chat_oauth_url": lambda: intruder.integrations.generate_chat_o_auth_url(
        generate_chat_oauth_url_request_dto={"integration_identifier": "slack", "subscriber_id": SUBSCRIBER}
    ),
    "link_channel_endpoint": lambda: intruder.integrations.link_channel_endpoint(
        link_channel_endpoint_request_dto={"integration_identifier": "slack", "subscriber_id": SUBSCRIBER}
    ),
    "connections.list": lambda: intruder.channel_connections.list(request={"limit": 10}),
    "connections.create": lambda: intruder.channel_connections.create(
        create_channel_connection_request_dto=connection_body(f"sdk-{LANG}-401-{RUN}", "T0SDK401")
    ),
    "connections.retrieve": lambda: intruder.channel_connections.retrieve(identifier=CONN),
    "connections.update": lambda: intruder.channel_connections.update(
        identifier=CONN,
        update_channel_connection_request_dto={"workspace": {"id": "T0SDK401"}, "auth": {"access_token": "x"}},
    ),
    "connections.delete": lambda: intruder.channel_connections.delete(identifier=CONN),
    "endpoints.list": lambda: intruder.channel_endpoints.list(request={"limit": 10}),
    "endpoints.create": lambda: intruder.channel_endpoints.create(
        request_body={
            "type": "slack_user",
            "subscriber_id": SUBSCRIBER,
            "integration_identifier": "slack",
            "endpoint": {"user_id": "U0SDK401"},
        }
    ),
    "endpoints.retrieve": lambda: intruder.channel_endpoints.retrieve(identifier=SLACK_USER_EP),
    "endpoints.update": lambda: intruder.channel_endpoints.update(
        identifier=SLACK_USER_EP, update_channel_endpoint_request_dto={"endpoint": {"user_id": "U0SDK401"}}
    ),
    "endpoints.delete": lambda: intruder.channel_endpoints.delete(identifier=SLACK_USER_EP),
}
for _op, _call in UNAUTHORIZED.items():
    case(f"unauthorized.{_op}")(lambda call=_call: error_dto(call, 401, "a wrong secret key"))

# ---------------------------------------------------------------- run


def selects(entry, name):
    return entry == "all" or name == entry or name.startswith(entry + ".")


def main():
    unmatched = [e for e in SELECTION if not any(selects(e, n) for n, _ in cases)]
    chosen = [(n, f) for n, f in cases if not SELECTION or any(selects(e, n) for e in SELECTION)]
    failed = 0
    for name, fn in chosen:
        try:
            fn()
            print(f"PASS {name}", flush=True)
        except Exception as err:  # noqa: BLE001 - every failure is reported
            failed += 1
            print(f"FAIL {name}: {describe(err)}", flush=True)
    for entry in unmatched:
        failed += 1
        print(f"FAIL {entry}: selects no case", flush=True)
    print(f"novu-py: {len(chosen) - (failed - len(unmatched))} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
