// Drives a channel-connect server with Novu's official TypeScript SDK,
// `@novu/api` (pinned in package.json; installed by ../sdk.rs into the
// target directory, where this file is copied to run next to node_modules).
//
//   node novu.mjs <base-url> [cases]
//
// `cases` (or env SDK_CASES when the argument is absent) is a comma-separated
// list of case names or group prefixes (`connections` selects every
// `connections.*` case); `all`, or nothing, selects every case. Each case
// prints `PASS <name>` or `FAIL <name>: <reason>`; the exit status is non-zero
// when any case failed or an entry of the list selects no case.
//
// The case names, and what each one asserts, are the same in novu.py.

import { Novu } from "@novu/api";
import { HTTPClient } from "@novu/api/lib/http.js";
import { ErrorDto, ValidationErrorDto } from "@novu/api/models/errors/index.js";

const SECRET_KEY = "demo-secret-key";
const base = process.argv[2];
if (!base) {
  console.error("usage: node novu.mjs <base-url> [case,case,...]");
  process.exit(2);
}
const selection = (process.argv[3] ?? process.env.SDK_CASES ?? "all")
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);

// Unique per run, so a run against a long-lived server (SDK_BASE_URL) never
// meets what an earlier run stored.
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const LANG = "ts";
const SUBSCRIBER = `sdk-${LANG}-sub-${RUN}`;
const TENANT = `sdk-${LANG}-${RUN}`;
const SECRET_TOKEN = `xoxb-sdk-${LANG}-${RUN}`;

// ---------------------------------------------------------------- clients

/** The status of the last response each client saw (the SDK hides it). */
const seen = { status: 0 };

/**
 * An SDK client: retries off (CONTRACT 1.7: a refusal must surface at
 * once), a bounded timeout, the last status recorded, and `tamper` applied
 * to every JSON request body before it leaves (to send what the SDK itself
 * refuses to build, such as a body without a required field).
 */
function client({ secretKey = SECRET_KEY, tamper } = {}) {
  const httpClient = new HTTPClient();
  if (tamper) {
    httpClient.addHook("beforeRequest", async (req) => {
      const text = await req.clone().text();
      if (!text) return req;
      const body = tamper(JSON.parse(text));
      return new Request(req, { body: JSON.stringify(body) });
    });
  }
  httpClient.addHook("response", (res) => {
    seen.status = res.status;
  });
  return new Novu({
    serverURL: base,
    secretKey,
    httpClient,
    retryConfig: { strategy: "none" },
    timeoutMs: 30000,
  });
}

const novu = client();
const without = (...fields) =>
  client({
    tamper: (body) => {
      for (const f of fields) delete body[f];
      return body;
    },
  });
const intruder = client({ secretKey: "not-a-demo-key" });

// ---------------------------------------------------------------- assertions

class Failure extends Error {}
function check(cond, what) {
  if (!cond) throw new Failure(what);
}
function eq(actual, expected, what) {
  check(
    actual === expected,
    `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
  );
}
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
function iso(value, what) {
  check(
    typeof value === "string" && ISO.test(value) && !Number.isNaN(Date.parse(value)),
    `${what}: expected an ISO-8601 date, got ${JSON.stringify(value)}`,
  );
}
function status(expected, what) {
  eq(seen.status, expected, `${what}: HTTP status`);
}

function describe(err) {
  if (err instanceof Failure) return err.message;
  const name = err?.constructor?.name ?? typeof err;
  let text = `${name}: ${err?.message ?? err}`;
  if (typeof err?.statusCode === "number") text += ` (HTTP ${err.statusCode})`;
  if (typeof err?.body === "string" && err.body && !text.includes(err.body)) {
    text += ` body=${err.body}`;
  }
  return text.replace(/\s+/g, " ").slice(0, 600);
}

/** Awaits `call`, which must fail with `Class` (ErrorDto / ValidationErrorDto) and `code`. */
async function refused(call, Class, code, what) {
  let err;
  try {
    await call();
  } catch (e) {
    err = e;
  }
  check(err !== undefined, `${what}: expected ${Class.name} ${code}, the call succeeded`);
  if (!(err instanceof Class)) {
    throw new Failure(`${what}: expected ${Class.name} ${code}, got ${describe(err)}`);
  }
  eq(err.statusCode, code, `${what}: HTTP status`);
  const data = err.data$;
  eq(data.statusCode, code, `${what}: body statusCode`);
  check(typeof data.timestamp === "string", `${what}: timestamp is a string`);
  check(typeof data.path === "string" && data.path.startsWith("/v1/"), `${what}: path ${data.path}`);
  // The route must exist: a fallback 404/405 is not the refusal asked for.
  check(
    !(typeof data.message === "string" && /^Cannot [A-Z]+ /.test(data.message)),
    `${what}: the route does not exist (${data.message})`,
  );
  return err;
}
const errorDto = (call, code, what) => refused(call, ErrorDto, code, what);

async function invalid(call, field, what) {
  const err = await refused(call, ValidationErrorDto, 422, what);
  const errors = err.data$.errors;
  check(errors && typeof errors === "object", `${what}: errors is an object`);
  for (const [k, v] of Object.entries(errors)) {
    check(
      Array.isArray(v.messages) && v.messages.every((m) => typeof m === "string"),
      `${what}: errors.${k}.messages is an array of strings`,
    );
  }
  check(field in errors, `${what}: errors names ${field}: ${JSON.stringify(errors)}`);
  return err;
}

function urlResult(res, code, what) {
  status(code, what);
  const url = res?.result?.url;
  check(typeof url === "string" && /^https?:\/\//.test(url), `${what}: url ${JSON.stringify(url)}`);
  return url;
}

function connectionOk(c, want, what) {
  check(c && typeof c === "object", `${what}: a connection`);
  if (want.identifier) eq(c.identifier, want.identifier, `${what}: identifier`);
  eq(c.channel, "chat", `${what}: channel`);
  eq(c.providerId, "slack", `${what}: providerId`);
  eq(c.integrationIdentifier, "slack", `${what}: integrationIdentifier`);
  if (want.subscriberId !== undefined) eq(c.subscriberId, want.subscriberId, `${what}: subscriberId`);
  check(Array.isArray(c.contextKeys), `${what}: contextKeys is an array`);
  for (const k of want.contextKeys ?? []) {
    check(c.contextKeys.includes(k), `${what}: contextKeys ${JSON.stringify(c.contextKeys)} has ${k}`);
  }
  check(typeof c.workspace?.id === "string", `${what}: workspace.id`);
  if (want.workspace) eq(c.workspace.id, want.workspace, `${what}: workspace.id`);
  const token = c.auth?.accessToken;
  check(typeof token === "string", `${what}: auth.accessToken is a string`);
  check(!token.startsWith("xoxb-") && !token.includes(RUN), `${what}: auth.accessToken is redacted, got ${token}`);
  iso(c.createdAt, `${what}: createdAt`);
  iso(c.updatedAt, `${what}: updatedAt`);
}

function endpointOk(e, want, what) {
  check(e && typeof e === "object", `${what}: an endpoint`);
  if (want.identifier) eq(e.identifier, want.identifier, `${what}: identifier`);
  check(typeof e.identifier === "string" && e.identifier, `${what}: identifier`);
  if (want.type) eq(e.type, want.type, `${what}: type`);
  eq(e.channel, "chat", `${what}: channel`);
  eq(e.providerId, "slack", `${what}: providerId`);
  eq(e.integrationIdentifier, "slack", `${what}: integrationIdentifier`);
  if (want.connectionIdentifier !== undefined) {
    eq(e.connectionIdentifier, want.connectionIdentifier, `${what}: connectionIdentifier`);
  }
  if (want.subscriberId !== undefined) eq(e.subscriberId, want.subscriberId, `${what}: subscriberId`);
  check(Array.isArray(e.contextKeys), `${what}: contextKeys is an array`);
  check(e.endpoint && typeof e.endpoint === "object", `${what}: endpoint is an object`);
  iso(e.createdAt, `${what}: createdAt`);
  iso(e.updatedAt, `${what}: updatedAt`);
}

function listOk(result, what) {
  check(Array.isArray(result?.data), `${what}: data is an array`);
  check(typeof result.totalCount === "number", `${what}: totalCount is a number`);
  check(typeof result.totalCountCapped === "boolean", `${what}: totalCountCapped is a boolean`);
  check(result.next === null || typeof result.next === "string", `${what}: next`);
  check(result.previous === null || typeof result.previous === "string", `${what}: previous`);
  return result.data;
}

// ---------------------------------------------------------------- fixtures

const UNKNOWN = `no-such-integration-${RUN}`;

/** A fixture, made once; a case that needs a failed one fails with its reason. */
const once = (label, make) => {
  let p;
  return () =>
    (p ??= make().catch((err) => {
      throw new Failure(`needs ${label}: ${describe(err)}`);
    }));
};

/** When the created connection's refresh token expires: no secret, answered as given. */
const REFRESH_TOKEN_EXPIRY = "2030-03-31T12:00:00.000Z";
/** A connection made through `channelConnections.create`, for the cases that need one. */
const CONN = `sdk-${LANG}-conn-${RUN}`;
const connectionBody = (identifier, workspace) => ({
  identifier,
  integrationIdentifier: "slack",
  subscriberId: SUBSCRIBER,
  context: { tenant: TENANT },
  connectionMode: "subscriber",
  workspace: { id: workspace, name: "SDK workspace" },
  auth: { accessToken: SECRET_TOKEN, refreshTokenExpiresAt: REFRESH_TOKEN_EXPIRY },
});
const connection = once("a connection (channelConnections.create)", async () => {
  const res = await novu.channelConnections.create(connectionBody(CONN, `T0SDK${LANG.toUpperCase()}1`));
  status(201, "channelConnections.create");
  return res.result;
});

const SLACK_USER_EP = `sdk-${LANG}-ep-user-${RUN}`;
const WEBHOOK_EP = `sdk-${LANG}-ep-hook-${RUN}`;
const slackUserEndpoint = once("a slack_user endpoint (channelEndpoints.create)", async () => {
  await connection();
  const res = await novu.channelEndpoints.create({
    identifier: SLACK_USER_EP,
    type: "slack_user",
    subscriberId: SUBSCRIBER,
    integrationIdentifier: "slack",
    connectionIdentifier: CONN,
    context: { tenant: TENANT },
    endpoint: { userId: "U0SDKUSER1" },
  });
  status(201, "channelEndpoints.create slack_user");
  return res.result;
});
const webhookEndpoint = once("a webhook endpoint (channelEndpoints.create)", async () => {
  await connection();
  const res = await novu.channelEndpoints.create({
    identifier: WEBHOOK_EP,
    type: "webhook",
    subscriberId: SUBSCRIBER,
    integrationIdentifier: "slack",
    connectionIdentifier: CONN,
    // Linked to a connection: the connection owner's context (its link rule).
    context: { tenant: TENANT },
    endpoint: { url: `https://hooks.example/sdk/${RUN}`, channel: "#alerts" },
  });
  status(201, "channelEndpoints.create webhook");
  return res.result;
});

/** The Slack flow of the seed body, completed through the stand-in. */
const FLOW_CONN = `sdk-${LANG}-flow-${RUN}`;
const FLOW_SUBSCRIBER = "subscriber-123";
// Run-unique owner: a re-install by the same owner in the same workspace
// updates that owner's connection instead of storing this one.
const FLOW_ORG = `org-${LANG}-${RUN}`;
const FLOW_CONTEXT = { property1: FLOW_ORG, property2: FLOW_ORG };
const slackFlow = once("the Slack flow", async () => {
  const res = await novu.integrations.generateConnectOAuthUrl({
    integrationIdentifier: "slack",
    subscriberId: FLOW_SUBSCRIBER,
    connectionIdentifier: FLOW_CONN,
    context: FLOW_CONTEXT,
    scope: ["chat:write", "chat:write.public", "channels:read"],
    connectionMode: "shared",
    autoLinkUser: true,
  });
  const url = urlResult(res, 201, "generateConnectOAuthUrl");
  const page = await fetch(url, { redirect: "manual" });
  eq(page.status, 200, "the stand-in authorize page: HTTP status");
  const html = await page.text();
  const m = html.match(/id="allow" href="([^"]*)"/);
  check(m, `the stand-in page has an Allow link: ${html.slice(0, 300)}`);
  const callback = new URL(m[1].replaceAll("&amp;", "&"), url).toString();
  const done = await fetch(callback, { redirect: "manual" });
  const text = await done.text();
  eq(done.status, 200, `the callback (${text.slice(0, 200)}): HTTP status`);
  check(text.includes("all set"), `the callback page says all set: ${text.slice(0, 300)}`);
  return FLOW_CONN;
});
// connectionMode shared: the connection is the context's, no subscriber's
// (its autoLinkUser endpoint is subscriber-123's).
const FLOW_WANT = {
  identifier: FLOW_CONN,
  subscriberId: null,
  contextKeys: [`property1:${FLOW_ORG}`, `property2:${FLOW_ORG}`],
};

// ---------------------------------------------------------------- cases

const cases = [];
const kase = (name, fn) => cases.push({ name, fn });

// integrations.generateConnectOAuthUrl
kase("connect_oauth_url.ok", async () => {
  const res = await novu.integrations.generateConnectOAuthUrl({
    integrationIdentifier: "slack",
    subscriberId: SUBSCRIBER,
    context: { tenant: TENANT },
    scope: ["chat:write"],
    connectionMode: "subscriber",
    autoLinkUser: false,
  });
  check(urlResult(res, 201, "generateConnectOAuthUrl").includes("state="), "the url has a state");
});
kase("connect_oauth_url.unknown_integration", () =>
  errorDto(() => novu.integrations.generateConnectOAuthUrl({ integrationIdentifier: UNKNOWN }), 404, "unknown integration"),
);
kase("connect_oauth_url.invalid_body", () =>
  invalid(
    () => without("integrationIdentifier").integrations.generateConnectOAuthUrl({ integrationIdentifier: "slack", subscriberId: SUBSCRIBER }),
    "integrationIdentifier",
    "no integrationIdentifier",
  ),
);

// integrations.generateLinkUserOAuthUrl
kase("link_user_oauth_url.ok", async () => {
  const res = await novu.integrations.generateLinkUserOAuthUrl({
    subscriberId: SUBSCRIBER,
    integrationIdentifier: "slack",
    context: { tenant: TENANT },
    userScope: ["identity.basic"],
  });
  check(urlResult(res, 201, "generateLinkUserOAuthUrl").includes("state="), "the url has a state");
});
kase("link_user_oauth_url.unknown_integration", () =>
  errorDto(
    () => novu.integrations.generateLinkUserOAuthUrl({ subscriberId: SUBSCRIBER, integrationIdentifier: UNKNOWN }),
    404,
    "unknown integration",
  ),
);
kase("link_user_oauth_url.invalid_body", () =>
  invalid(
    () => without("subscriberId").integrations.generateLinkUserOAuthUrl({ subscriberId: SUBSCRIBER, integrationIdentifier: "slack" }),
    "subscriberId",
    "no subscriberId",
  ),
);

// integrations.generateChatOAuthUrl (deprecated, both modes)
kase("chat_oauth_url.connect", async () => {
  const res = await novu.integrations.generateChatOAuthUrl({
    integrationIdentifier: "slack",
    subscriberId: SUBSCRIBER,
    context: { tenant: TENANT },
    scope: ["chat:write"],
    mode: "connect",
    connectionMode: "subscriber",
  });
  check(urlResult(res, 201, "generateChatOAuthUrl connect").includes("state="), "the url has a state");
});
kase("chat_oauth_url.link_user", async () => {
  const res = await novu.integrations.generateChatOAuthUrl({
    integrationIdentifier: "slack",
    subscriberId: SUBSCRIBER,
    userScope: ["identity.basic"],
    mode: "link_user",
  });
  check(urlResult(res, 201, "generateChatOAuthUrl link_user").includes("state="), "the url has a state");
});
kase("chat_oauth_url.unknown_integration", () =>
  errorDto(
    () => novu.integrations.generateChatOAuthUrl({ integrationIdentifier: UNKNOWN, subscriberId: SUBSCRIBER }),
    404,
    "unknown integration",
  ),
);

// integrations.linkChannelEndpoint
// As in Novu, only providers with subscriber chat linking (Telegram) answer a
// link here; Slack and Teams link users through the OAuth route above.
kase("link_channel_endpoint.slack_refused", () =>
  errorDto(
    () =>
      novu.integrations.linkChannelEndpoint({
        integrationIdentifier: "slack",
        subscriberId: SUBSCRIBER,
        context: { tenant: TENANT },
      }),
    400,
    "Slack has no subscriber chat linking",
  ),
);
kase("link_channel_endpoint.unknown_integration", () =>
  errorDto(
    () => novu.integrations.linkChannelEndpoint({ integrationIdentifier: UNKNOWN, subscriberId: SUBSCRIBER }),
    404,
    "unknown integration",
  ),
);

// The seed's Slack flow: issue, the stand-in's Allow, the callback; then the API sees it.
kase("slack_flow.callback", () => slackFlow());
kase("slack_flow.list", async () => {
  await slackFlow();
  const res = await novu.channelConnections.list({
    limit: 10,
    integrationIdentifier: "slack",
    // Exact context keys, order insensitive (Novu's filter).
    contextKeys: [`property2:${FLOW_ORG}`, `property1:${FLOW_ORG}`],
  });
  status(200, "channelConnections.list");
  const data = listOk(res.result, "channelConnections.list");
  const c = data.find((x) => x.identifier === FLOW_CONN);
  check(c, `the list has ${FLOW_CONN}: ${JSON.stringify(data.map((x) => x.identifier))}`);
  connectionOk(c, FLOW_WANT, "listed");
});
kase("slack_flow.retrieve", async () => {
  await slackFlow();
  const res = await novu.channelConnections.retrieve(FLOW_CONN);
  status(200, "channelConnections.retrieve");
  connectionOk(res.result, FLOW_WANT, "retrieved");
});
kase("slack_flow.endpoint", async () => {
  await slackFlow();
  const res = await novu.channelEndpoints.list({ limit: 10, connectionIdentifier: FLOW_CONN });
  status(200, "channelEndpoints.list");
  const data = listOk(res.result, "channelEndpoints.list");
  eq(data.length, 1, "the flow's autoLinkUser endpoints");
  endpointOk(data[0], { type: "slack_user", connectionIdentifier: FLOW_CONN, subscriberId: FLOW_SUBSCRIBER }, "linked user");
});

// channelConnections
kase("connections.create.ok", async () => {
  const c = await connection();
  connectionOk(c, { identifier: CONN, subscriberId: SUBSCRIBER, contextKeys: [`tenant:${TENANT}`], workspace: "T0SDKTS1" }, "created");
  eq(c.auth.refreshTokenExpiresAt, REFRESH_TOKEN_EXPIRY, "created: auth.refreshTokenExpiresAt");
});
kase("connections.create.unknown_integration", () =>
  errorDto(
    () => novu.channelConnections.create({ ...connectionBody(`sdk-${LANG}-x-${RUN}`, "T0SDKX"), integrationIdentifier: UNKNOWN }),
    404,
    "unknown integration",
  ),
);
kase("connections.create.invalid_body", () =>
  invalid(
    () => without("workspace").channelConnections.create(connectionBody(`sdk-${LANG}-y-${RUN}`, "T0SDKY")),
    "workspace",
    "no workspace",
  ),
);
kase("connections.list.ok", async () => {
  await connection();
  const res = await novu.channelConnections.list({ limit: 100 });
  status(200, "channelConnections.list");
  const data = listOk(res.result, "channelConnections.list");
  check(data.length <= 100, "at most limit items");
  check(res.result.totalCount >= data.length, "totalCount covers the page");
  const c = data.find((x) => x.identifier === CONN);
  check(c, `the list has ${CONN}`);
  connectionOk(c, { identifier: CONN }, "listed");
  for (const x of data) connectionOk(x, {}, `listed ${x.identifier}`);
});
kase("connections.list.filtered", async () => {
  await connection();
  const res = await novu.channelConnections.list({
    limit: 5,
    subscriberId: SUBSCRIBER,
    integrationIdentifier: "slack",
    contextKeys: [`tenant:${TENANT}`],
  });
  status(200, "channelConnections.list");
  const data = listOk(res.result, "filtered list");
  eq(JSON.stringify(data.map((x) => x.identifier)), JSON.stringify([CONN]), "the filtered list");
  const none = await novu.channelConnections.list({ limit: 5, subscriberId: `${SUBSCRIBER}-nobody` });
  eq(listOk(none.result, "another subscriber").length, 0, "another subscriber's connections");
});
kase("connections.retrieve.ok", async () => {
  await connection();
  const res = await novu.channelConnections.retrieve(CONN);
  status(200, "channelConnections.retrieve");
  connectionOk(res.result, { identifier: CONN, subscriberId: SUBSCRIBER, contextKeys: [`tenant:${TENANT}`] }, "retrieved");
});
kase("connections.retrieve.missing", () =>
  errorDto(() => novu.channelConnections.retrieve(`sdk-missing-${RUN}`), 404, "a missing connection"),
);
kase("connections.update.ok", async () => {
  await connection();
  const res = await novu.channelConnections.update(
    { workspace: { id: "T0SDKTS1", name: "SDK workspace, renamed" }, auth: { accessToken: `${SECRET_TOKEN}-2` } },
    CONN,
  );
  status(200, "channelConnections.update");
  connectionOk(res.result, { identifier: CONN, workspace: "T0SDKTS1" }, "updated");
  eq(res.result.workspace.name, "SDK workspace, renamed", "updated workspace.name");
  check(Date.parse(res.result.updatedAt) >= Date.parse(res.result.createdAt), "updatedAt >= createdAt");
});
kase("connections.update.missing", () =>
  errorDto(
    () => novu.channelConnections.update({ workspace: { id: "T0SDKZ" }, auth: { accessToken: "x" } }, `sdk-missing-${RUN}`),
    404,
    "a missing connection",
  ),
);

// channelEndpoints
kase("endpoints.create.slack_user", async () => {
  const e = await slackUserEndpoint();
  endpointOk(e, { identifier: SLACK_USER_EP, type: "slack_user", connectionIdentifier: CONN, subscriberId: SUBSCRIBER }, "created");
  eq(e.endpoint.userId, "U0SDKUSER1", "endpoint.userId");
  check(e.contextKeys.includes(`tenant:${TENANT}`), "contextKeys has the tenant");
});
kase("endpoints.create.webhook", async () => {
  const e = await webhookEndpoint();
  endpointOk(e, { identifier: WEBHOOK_EP, type: "webhook", connectionIdentifier: CONN, subscriberId: SUBSCRIBER }, "created");
  check(typeof e.endpoint.url === "string", "endpoint.url is a string");
  check(!e.endpoint.url.includes("hooks.example"), "the webhook URL (a credential) is never answered");
});
kase("endpoints.create.unknown_integration", () =>
  errorDto(
    () =>
      novu.channelEndpoints.create({
        type: "slack_user",
        subscriberId: SUBSCRIBER,
        integrationIdentifier: UNKNOWN,
        endpoint: { userId: "U0SDKX" },
      }),
    404,
    "unknown integration",
  ),
);
kase("endpoints.create.invalid_body", () =>
  invalid(
    () =>
      without("subscriberId").channelEndpoints.create({
        type: "slack_user",
        subscriberId: SUBSCRIBER,
        integrationIdentifier: "slack",
        endpoint: { userId: "U0SDKY" },
      }),
    "subscriberId",
    "no subscriberId",
  ),
);
kase("endpoints.list.ok", async () => {
  await slackUserEndpoint();
  await webhookEndpoint();
  const res = await novu.channelEndpoints.list({ limit: 10, connectionIdentifier: CONN });
  status(200, "channelEndpoints.list");
  const data = listOk(res.result, "channelEndpoints.list");
  const ids = data.map((x) => x.identifier).sort();
  eq(JSON.stringify(ids), JSON.stringify([SLACK_USER_EP, WEBHOOK_EP].sort()), "the connection's endpoints");
  for (const x of data) endpointOk(x, { connectionIdentifier: CONN }, `listed ${x.identifier}`);
});
kase("endpoints.retrieve.ok", async () => {
  await slackUserEndpoint();
  const res = await novu.channelEndpoints.retrieve(SLACK_USER_EP);
  status(200, "channelEndpoints.retrieve");
  endpointOk(res.result, { identifier: SLACK_USER_EP, type: "slack_user", connectionIdentifier: CONN }, "retrieved");
});
kase("endpoints.retrieve.missing", () =>
  errorDto(() => novu.channelEndpoints.retrieve(`sdk-missing-${RUN}`), 404, "a missing endpoint"),
);
kase("endpoints.update.ok", async () => {
  await slackUserEndpoint();
  const res = await novu.channelEndpoints.update({ endpoint: { userId: "U0SDKUSER2" } }, SLACK_USER_EP);
  status(200, "channelEndpoints.update");
  endpointOk(res.result, { identifier: SLACK_USER_EP, type: "slack_user" }, "updated");
  eq(res.result.endpoint.userId, "U0SDKUSER2", "updated endpoint.userId");
});
kase("endpoints.update.missing", () =>
  errorDto(
    () => novu.channelEndpoints.update({ endpoint: { userId: "U0SDKZ" } }, `sdk-missing-${RUN}`),
    404,
    "a missing endpoint",
  ),
);
kase("endpoints.delete.ok", async () => {
  await webhookEndpoint();
  await novu.channelEndpoints.delete(WEBHOOK_EP);
  status(204, "channelEndpoints.delete");
  await errorDto(() => novu.channelEndpoints.retrieve(WEBHOOK_EP), 404, "the deleted endpoint");
});
kase("endpoints.delete.missing", () =>
  errorDto(() => novu.channelEndpoints.delete(`sdk-missing-${RUN}`), 404, "a missing endpoint"),
);

// channelConnections.delete (its own connection, so the endpoints above keep theirs)
kase("connections.delete.ok", async () => {
  const id = `sdk-${LANG}-del-${RUN}`;
  await novu.channelConnections.create(connectionBody(id, "T0SDKTSDEL"));
  status(201, "channelConnections.create");
  await novu.channelConnections.delete(id);
  status(204, "channelConnections.delete");
  await errorDto(() => novu.channelConnections.retrieve(id), 404, "the deleted connection");
});
kase("connections.delete.missing", () =>
  errorDto(() => novu.channelConnections.delete(`sdk-missing-${RUN}`), 404, "a missing connection"),
);

// A wrong secret key: every operation answers a typed 401.
const unauthorized = {
  connect_oauth_url: () => intruder.integrations.generateConnectOAuthUrl({ integrationIdentifier: "slack", subscriberId: SUBSCRIBER }),
  link_user_oauth_url: () => intruder.integrations.generateLinkUserOAuthUrl({ subscriberId: SUBSCRIBER, integrationIdentifier: "slack" }),
  chat_oauth_url: () => intruder.integrations.generateChatOAuthUrl({ integrationIdentifier: "slack", subscriberId: SUBSCRIBER }),
  link_channel_endpoint: () => intruder.integrations.linkChannelEndpoint({ integrationIdentifier: "slack", subscriberId: SUBSCRIBER }),
  "connections.list": () => intruder.channelConnections.list({ limit: 10 }),
  "connections.create": () => intruder.channelConnections.create(connectionBody(`sdk-${LANG}-401-${RUN}`, "T0SDK401")),
  "connections.retrieve": () => intruder.channelConnections.retrieve(CONN),
  "connections.update": () => intruder.channelConnections.update({ workspace: { id: "T0SDK401" }, auth: { accessToken: "x" } }, CONN),
  "connections.delete": () => intruder.channelConnections.delete(CONN),
  "endpoints.list": () => intruder.channelEndpoints.list({ limit: 10 }),
  "endpoints.create": () =>
    intruder.channelEndpoints.create({ type: "slack_user", subscriberId: SUBSCRIBER, integrationIdentifier: "slack", endpoint: { userId: "U0SDK401" } }),
  "endpoints.retrieve": () => intruder.channelEndpoints.retrieve(SLACK_USER_EP),
  "endpoints.update": () => intruder.channelEndpoints.update({ endpoint: { userId: "U0SDK401" } }, SLACK_USER_EP),
  "endpoints.delete": () => intruder.channelEndpoints.delete(SLACK_USER_EP),
};
for (const [op, call] of Object.entries(unauthorized)) {
  kase(`unauthorized.${op}`, () => errorDto(call, 401, "a wrong secret key"));
}

// ---------------------------------------------------------------- run

const selects = (entry, name) => entry === "all" || name === entry || name.startsWith(`${entry}.`);
const unmatched = selection.filter((entry) => !cases.some((c) => selects(entry, c.name)));
const chosen = cases.filter((c) => selection.length === 0 || selection.some((entry) => selects(entry, c.name)));

let failed = 0;
for (const { name, fn } of chosen) {
  try {
    await fn();
    console.log(`PASS ${name}`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${name}: ${describe(err)}`);
  }
}
for (const entry of unmatched) {
  failed += 1;
  console.log(`FAIL ${entry}: selects no case`);
}
console.log(`@novu/api: ${chosen.length - (failed - unmatched.length)} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
