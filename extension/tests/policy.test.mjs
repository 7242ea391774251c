import assert from "node:assert/strict";
import { test } from "node:test";

import { decide, decisionKey, describeOrigin, normalizeOrigin, registrableDomain } from "../background/policy.js";

test("origins are normalised; plain http only on loopback", () => {
  assert.equal(normalizeOrigin("https://Portal.Example.gov.cn/path?q=1"), "https://portal.example.gov.cn");
  assert.equal(normalizeOrigin("http://127.0.0.1:8080/x"), "http://127.0.0.1:8080");
  assert.equal(normalizeOrigin("http://portal.example.gov.cn"), null);
  assert.equal(normalizeOrigin("javascript:alert(1)"), null);
  assert.equal(normalizeOrigin("https://user:pw@portal.example.gov.cn"), null);
  assert.equal(normalizeOrigin("not a url"), null);
});

test("the administrator decides first, then the user's decisions; unknown sites are asked about", () => {
  const decisions = { "https://b.gov.cn": { decision: "allow" }, "https://no.gov.cn": { decision: "deny" } };
  const policy = { managedAllowed: ["https://a.gov.cn"], managedDenied: ["https://bad.gov.cn"], decisions };
  assert.deepEqual(decide({ top: "https://a.gov.cn", frame: "https://a.gov.cn" }, policy), { verdict: "allowed", grant: "managed" });
  assert.deepEqual(decide({ top: "https://b.gov.cn" }, policy), { verdict: "allowed", grant: "always" });
  assert.deepEqual(decide({ top: "https://no.gov.cn" }, policy), { verdict: "denied", why: "user" });
  assert.deepEqual(decide({ top: "https://new.gov.cn" }, policy), { verdict: "ask" });
  // a frame is its own question: the portal's "allow" is not lent to what it embeds
  assert.deepEqual(decide({ top: "https://b.gov.cn", frame: "https://ads.example" }, policy), { verdict: "ask" });
  assert.deepEqual(decide({ top: "https://a.gov.cn", frame: "https://bad.gov.cn" }, policy), { verdict: "denied", why: "managed" });
  assert.deepEqual(decide({ top: "null" }, policy), { verdict: "denied", why: "opaque" });
  // the managed denial wins over the user's "allow"
  const allowBad = { ...policy, decisions: { "https://bad.gov.cn": { decision: "allow" } } };
  assert.equal(decide({ top: "https://bad.gov.cn" }, allowBad).verdict, "denied");
  // plain http off loopback is never asked about (the agent refuses it anyway)
  assert.deepEqual(decide({ top: "http://portal.example.cn" }, policy), { verdict: "denied", why: "insecure" });
  // an inherited property name is no decision
  assert.deepEqual(decide({ top: "constructor" }, policy), { verdict: "denied", why: "insecure" });
});

test("prompting off: only the administrator's sites, the user's earlier answers no longer count", () => {
  const policy = { managedAllowed: ["https://a.gov.cn"], prompt: false, decisions: { "https://b.gov.cn": { decision: "allow" } } };
  assert.equal(decide({ top: "https://a.gov.cn" }, policy).verdict, "allowed");
  assert.deepEqual(decide({ top: "https://b.gov.cn" }, policy), { verdict: "denied", why: "managed" });
  assert.deepEqual(decide({ top: "https://new.gov.cn" }, policy), { verdict: "denied", why: "managed" });
});

test("decisions are kept per top-level origin, and per pair for a framed request", () => {
  assert.equal(decisionKey({ top: "https://a.cn", frame: "https://a.cn" }), "https://a.cn");
  assert.equal(decisionKey({ top: "https://a.cn" }), "https://a.cn");
  assert.equal(decisionKey({ top: "https://a.cn", frame: "https://b.cn" }), "https://a.cn https://b.cn");
});

test("the registrable domain is what the prompt emphasises", () => {
  assert.deepEqual(registrableDomain("www.zwfw.jiangsu.gov.cn"), { before: "www.zwfw.", domain: "jiangsu.gov.cn" });
  assert.deepEqual(registrableDomain("oa.example.com.cn"), { before: "oa.", domain: "example.com.cn" });
  assert.deepEqual(registrableDomain("portal.example.com"), { before: "portal.", domain: "example.com" });
  assert.deepEqual(registrableDomain("example.com."), { before: "", domain: "example.com" });
  assert.deepEqual(registrableDomain("127.0.0.1"), { before: "", domain: "127.0.0.1" });
  assert.deepEqual(registrableDomain("localhost"), { before: "", domain: "localhost" });
  assert.deepEqual(describeOrigin("https://sso.gov.cn.attacker.com"), { scheme: "https://", before: "sso.gov.cn.", domain: "attacker.com", port: "", secure: true });
  assert.deepEqual(describeOrigin("http://127.0.0.1:8080"), { scheme: "http://", before: "", domain: "127.0.0.1", port: ":8080", secure: false });
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
