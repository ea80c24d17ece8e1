import assert from "node:assert/strict";
import { test } from "node:test";
import { DURATION_INCRS, fmtDuration } from "../src/duration";

test("durations read in their two largest units", () => {
  assert.equal(fmtDuration(0), "0s");
  assert.equal(fmtDuration(0.25), "0.25s");
  assert.equal(fmtDuration(45), "45s");
  assert.equal(fmtDuration(90), "1m 30s");
  assert.equal(fmtDuration(120), "2m");
  assert.equal(fmtDuration(3600), "1h");
  assert.equal(fmtDuration(9000), "2h 30m");
  assert.equal(fmtDuration(86400 * 2 + 6 * 3600 + 59), "2d 6h");
  assert.equal(fmtDuration(-90), "-1m 30s");
  assert.equal(fmtDuration(Number.NaN), "NaN");
});

test("tick steps rise and land on round units", () => {
  for (let i = 1; i < DURATION_INCRS.length; i++) assert.ok(DURATION_INCRS[i] > DURATION_INCRS[i - 1]);
  for (const s of [60, 3600, 86400]) assert.ok(DURATION_INCRS.includes(s));
});
