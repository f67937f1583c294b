// Twilio's official Node SDK, unchanged, against a running verify-service: only the Verify
// domain's base URL is changed, as an application does. Driven by
// tests/api/twilio/test_twilio_node_sdk.py, which starts the server and reads the result.
//
// Environment: VERIFY_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_SERVICE_SID,
// TEST_NUMBER (a fresh E.164 number). The code sent is read from the test outbox
// (GET /v1/test/messages, test_mode), whose last word is the code.
// Prints one JSON line: {"steps": [...]} with what each call returned or raised.
import twilio from "twilio";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const base = env("VERIFY_BASE_URL");
const accountSid = env("TWILIO_ACCOUNT_SID");
const authToken = env("TWILIO_AUTH_TOKEN");
const serviceSid = env("TWILIO_SERVICE_SID");
const to = env("TEST_NUMBER");

const connect = (sid, token) => {
  const client = twilio(sid, token);
  client.verify.baseUrl = base;
  return client;
};
const client = connect(accountSid, authToken);
const service = client.verify.v2.services(serviceSid);
const steps = [];

// What the SDK raised: its RestException (`code`, `status`, `message`, `moreInfo`) or not.
const failure = (error) => ({
  rest_exception: error instanceof twilio.RestException,
  code: error.code,
  status: error.status,
  message: error.message,
  more_info: error.moreInfo,
});
const step = async (name, call) => {
  try {
    steps.push({ name, ok: true, value: await call() });
  } catch (error) {
    steps.push({ name, ok: false, error: failure(error) });
  }
};
const verification = (v) => ({
  sid: v.sid,
  status: v.status,
  valid: v.valid,
  to: v.to,
  channel: v.channel,
  date_created: v.dateCreated instanceof Date ? v.dateCreated.toISOString() : null,
  date_updated: v.dateUpdated instanceof Date ? v.dateUpdated.toISOString() : null,
  send_code_attempts: v.sendCodeAttempts,
});
const lastCode = async () => {
  const r = await fetch(`${base}/v1/test/messages?to=${encodeURIComponent(to)}`, {
    headers: { Authorization: `Bearer ${authToken}` },
  });
  const { messages } = await r.json();
  return messages[0].text.trim().split(/\s+/).pop();
};
const wrong = (code) => [...code].map((c) => (c === "1" ? "2" : "1")).join("");

let sid;
await step("create", async () => {
  const v = await service.verifications.create({ to, channel: "sms" });
  sid = v.sid;
  return verification(v);
});
const code = await lastCode();
await step("check_wrong", async () =>
  verification(await service.verificationChecks.create({ to, code: wrong(code) })),
);
await step("check_right", async () =>
  verification(await service.verificationChecks.create({ to, code })),
);
await step("fetch", async () => verification(await service.verifications(sid).fetch()));
await step("create_again", async () => {
  const v = await service.verifications.create({ to, channel: "sms" });
  sid = v.sid;
  return verification(v);
});
await step("cancel", async () =>
  verification(await service.verifications(sid).update({ status: "canceled" })),
);
await step("fetch_service", async () => {
  const s = await service.fetch();
  return { sid: s.sid, friendly_name: s.friendlyName, code_length: s.codeLength };
});
await step("list_services", async () =>
  (await client.verify.v2.services.list()).map((s) => s.sid),
);

// Error cases: each must be the SDK's RestException with Twilio's code.
await step("error_check_after_cancel", () => service.verificationChecks.create({ to, code }));
await step("error_unknown_sid", () => service.verifications("VE" + "0".repeat(32)).fetch());
await step("error_bad_channel", () => service.verifications.create({ to, channel: "carrier-pigeon" }));
await step("error_bad_number", () => service.verifications.create({ to: "12", channel: "sms" }));
await step("error_bad_status", () => service.verifications(sid).update({ status: "pending" }));
await step("error_wrong_token", () =>
  connect(accountSid, "not-a-key").verify.v2.services(serviceSid).fetch(),
);
await step("error_other_service", () =>
  client.verify.v2.services("VA" + "0".repeat(32)).fetch(),
);
await step("error_create_service", () => client.verify.v2.services.create({ friendlyName: "x" }));
await step("error_delete_service", () => service.remove());
await step("error_unsupported", () =>
  service.verifications.create({ to, channel: "sms", customCode: "123456" }),
);

console.log(JSON.stringify({ sdk: "twilio-node", steps }));
