import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULTS, overrides, relative, resolve, settingsFromQuery, settingsParams, xLabel, type Settings } from "../src/settings";

function query(s: Settings): string {
  const p = new URLSearchParams();
  for (const [k, vs] of Object.entries(settingsParams(s))) for (const v of vs) p.append(k, v);
  return p.toString();
}

test("page settings round-trip through the URL, defaults leave it out", () => {
  assert.deepEqual(settingsFromQuery(""), DEFAULTS);
  assert.equal(query(DEFAULTS), "");
  for (const s of [
    { smooth: 0.6, x: "time", logy: true },
    { smooth: 0, x: "rel", logy: false },
    { smooth: 0.99, x: "step", logy: true },
  ] as Settings[]) {
    assert.deepEqual(settingsFromQuery("?" + query(s)), s);
  }
  assert.equal(query({ smooth: 0.6, x: "time", logy: true }), "smooth=0.6&x=time&logy=1");
  assert.deepEqual(settingsFromQuery("?env=a&smooth=0.6&x=time&logy=1"), { smooth: 0.6, x: "time", logy: true });
});

test("malformed URL settings fall back to the defaults or the nearest valid value", () => {
  assert.deepEqual(settingsFromQuery("?smooth=abc&x=<script>&logy=yes"), DEFAULTS);
  assert.equal(settingsFromQuery("?smooth=5").smooth, 0.99);
  assert.equal(settingsFromQuery("?smooth=-1").smooth, 0);
  assert.equal(settingsFromQuery("?smooth=Infinity").smooth, 0);
  assert.equal(settingsFromQuery("?smooth=0.123").smooth, 0.12);
});

test("a window's own setting wins over the page's; the rest follows the page", () => {
  const page: Settings = { smooth: 0.6, x: "time", logy: true };
  assert.deepEqual(resolve(page, {}), page);
  assert.deepEqual(resolve(page, { smooth: 0 }), { smooth: 0, x: "time", logy: true });
  assert.deepEqual(resolve(page, { x: "step", logy: false }), { smooth: 0.6, x: "step", logy: false });
  assert.ok(!overrides({}));
  assert.ok(overrides({ smooth: 0 }));
  assert.ok(overrides({ logy: false }));
});

test("the x axis is labelled by its mode; relative time counts from t0", () => {
  assert.equal(xLabel("step"), "step");
  assert.equal(xLabel("step", "epoch"), "epoch");
  assert.equal(xLabel("step", ""), "");
  assert.equal(xLabel("time", "epoch"), "wall time");
  assert.equal(xLabel("rel"), "time since start");
  assert.deepEqual([...relative([100, 101.5, 103], 100)], [0, 1.5, 3]);
});
