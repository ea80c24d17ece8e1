import assert from "node:assert/strict";
import { test } from "node:test";
import { badge, level, mostSevere, newestFirst, severity, where } from "../src/alerts";
import type { Alert } from "../src/wire";

function alert(id: number, kind: string, extra: Partial<Alert> = {}): Alert {
  return { id, kind, env: "e", win: "loss", trace: "train", step: 10 * id, detected: 10 * id, message: `m${id}`, suggestion: `s${id}`, key: `k${id}`, t: id, evidence: `e${id}`, dismissed: false, ...extra };
}

test("severity: NaN first, unknown kinds last; levels", () => {
  assert.ok(severity("nonfinite") < severity("divergence"));
  assert.ok(severity("overfitting") < severity("not_learning"));
  assert.ok(severity("something_new") > severity("not_learning"));
  assert.equal(level("exploding_gradients"), "bad");
  assert.equal(level("not_learning"), "warn");
  assert.equal(mostSevere([]), null);
  assert.equal(mostSevere([alert(1, "not_learning"), alert(2, "divergence"), alert(3, "overfitting")])!.id, 2);
});

test("badge: count, most severe kind, every message and suggestion in the title", () => {
  assert.equal(badge([], false), null);
  const one = badge([alert(1, "nonfinite")], false)!;
  assert.equal(one.text, "⚠ NaN/Inf");
  assert.equal(one.kind, "nonfinite");
  assert.match(one.title, /m1/);
  assert.match(one.title, /s1/);
  assert.match(one.title, /e1/); // the evidence too
  assert.doesNotMatch(one.title, /\be\b ·/); // one env: not named
  const two = badge([alert(1, "overfitting", { env: "a" }), alert(2, "divergence", { env: "b" })], true)!;
  assert.equal(two.text, "⚠ 2 · diverging");
  assert.equal(two.kind, "divergence");
  assert.ok(two.title.indexOf("b · loss / train") < two.title.indexOf("a · loss / train")); // most severe first
  assert.equal(where(alert(1, "nonfinite", { trace: "" }), false), "loss");
  assert.deepEqual(newestFirst([alert(1, "x"), alert(3, "x"), alert(2, "x")]).map((a) => a.id), [3, 2, 1]);
});
