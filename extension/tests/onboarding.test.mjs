// The onboarding-era helpers of the approval window and the chunk reassembler: sizes, seal status, choices.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { Reassembler, chunksOf } from "../common/chunks.js";
import { formatSize, pickSeal, sealStatus } from "../ui/approve-view.js";

test("sizes read as B, KB or MB, never KiB with five digits", () => {
  assert.equal(formatSize(512), "512 B");
  assert.equal(formatSize(1536), "1.5 KB");
  assert.equal(formatSize(40975.9 * 1024), "40.0 MB");
  assert.equal(formatSize(150 * 1024 * 1024), "150 MB");
  assert.equal(formatSize(-1), "?");
  assert.equal(formatSize("x"), "?");
});

test("a seal's platform status: unusable ones are never chosen, a refusal takes a seal out", () => {
  const seals = [
    { id: "revoked", status: { state: "revoked", usable: false, code: "SEAL_REVOKED" } },
    { id: "a", status: { state: "active", usable: true, code: null } },
    { id: "b" }, // listed without a status (no platform asked): usable
  ];
  assert.deepEqual(sealStatus(seals[0]), { state: "revoked", usable: false, code: "SEAL_REVOKED" });
  assert.deepEqual(sealStatus(seals[2]), { state: "unknown", usable: true, code: null });
  assert.equal(pickSeal(seals, null, "revoked"), "a"); // the page's suggestion is revoked
  assert.equal(pickSeal(seals, "b", "a"), "b"); // the clerk's choice stays
  assert.equal(pickSeal(seals, "a", null, new Set(["a"])), "b"); // refused at approve: the next usable
  assert.equal(pickSeal([seals[0]], null, null), ""); // nothing usable: nothing chosen
});

test("the reassembler tells how much of a document has arrived", () => {
  const doc = new Uint8Array(9 * 1024 * 1024).fill(7);
  const chunks = [...chunksOf(doc)];
  const r = new Reassembler(chunks.length, doc.length);
  assert.equal(r.fraction(), 0);
  r.add(0, chunks[0].b64);
  assert.ok(r.fraction() > 0.4 && r.fraction() < 0.5);
  for (const c of chunks.slice(1)) r.add(c.index, c.b64);
  assert.equal(r.fraction(), 1);
});

test("every message key the onboarding pages use exists in both locales", () => {
  const keys = (loc) => Object.keys(JSON.parse(readFileSync(new URL(`../_locales/${loc}/messages.json`, import.meta.url), "utf8")));
  const wanted = ["siteTitle", "siteOnce", "siteAlways", "siteDeny", "siteAsks_stamp", "siteAsks_verify", "siteAsks_seals_list", "approvePreparing", "approveSigner", "sealState_revoked", "sealState_authorization_ended", "sealUnusable"];
  for (const loc of ["zh_CN", "en"]) for (const k of wanted) assert.ok(keys(loc).includes(k), `${loc}: ${k}`);
  // Chrome refuses a message name with anything but letters, digits, _ and @.
  for (const loc of ["zh_CN", "en"]) for (const k of keys(loc)) assert.match(k, /^[A-Za-z0-9_@]+$/);
});
