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
