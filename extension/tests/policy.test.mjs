import assert from "node:assert/strict";
import { test } from "node:test";

import { decide, normalizeOrigin } from "../background/policy.js";

test("origins are normalised; plain http only on loopback", () => {
  assert.equal(normalizeOrigin("https://Portal.Example.gov.cn/path?q=1"), "https://portal.example.gov.cn");
  assert.equal(normalizeOrigin("http://127.0.0.1:8080/x"), "http://127.0.0.1:8080");
  assert.equal(normalizeOrigin("http://portal.example.gov.cn"), null);
  assert.equal(normalizeOrigin("javascript:alert(1)"), null);
  assert.equal(normalizeOrigin("https://user:pw@portal.example.gov.cn"), null);
  assert.equal(normalizeOrigin("not a url"), null);
});

test("both the top-level and the frame origin must be allowed; managed deny wins", () => {
  const policy = { managedAllowed: ["https://a.gov.cn"], userAllowed: ["https://b.gov.cn"], managedDenied: ["https://bad.gov.cn"] };
  assert.equal(decide({ top: "https://a.gov.cn", frame: "https://a.gov.cn" }, policy), "allowed");
  assert.equal(decide({ top: "https://b.gov.cn" }, policy), "allowed");
  assert.equal(decide({ top: "https://a.gov.cn", frame: "https://ads.example" }, policy), "denied");
  assert.equal(decide({ top: "https://evil.example", frame: "https://a.gov.cn" }, policy), "denied");
  assert.equal(decide({ top: "null" }, policy), "denied");
  assert.equal(decide({ top: "https://bad.gov.cn" }, { ...policy, userAllowed: ["https://bad.gov.cn"] }), "denied");
});

test("pairing codes printed by `sealbridge pair` decode to port and secret", async () => {
  const { parsePairingCode } = await import("../background/policy.js");
  // bytes 0..31, port 18600, as agent.pairing.pairing_code prints them
  const code = "SBP1-18600-AAAQ-EAYE-AUDA-OCAJ-BIFQ-YDIO-B4IB-CEQT-CQKR-MFYY-DENB-WHA5-DYPQ";
  const expected = Array.from({ length: 32 }, (_, i) => i.toString(16).padStart(2, "0")).join("");
  assert.deepEqual(parsePairingCode(code), { port: 18600, secret: expected });
  assert.deepEqual(parsePairingCode(` ${code.toLowerCase()} `), { port: 18600, secret: expected });
  assert.throws(() => parsePairingCode("SBP1-18600-AAAQ"), (e) => e.data.code === "BAD_REQUEST");
  assert.throws(() => parsePairingCode("XYZ-1-AAAA"), (e) => e.data.code === "BAD_REQUEST");
  assert.throws(() => parsePairingCode(code.replace("AAAQ", "AA1Q")), (e) => e.data.code === "BAD_REQUEST");
});
