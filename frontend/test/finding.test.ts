import assert from "node:assert/strict";
import { test } from "node:test";
import { exportName, MAX_ZOOM, nextZoom, zoomLabel } from "../src/finding";

test("PNG and CSV downloads share the server's naming: env-win, / made _", () => {
  assert.equal(exportName(["exp"], "loss", "png"), "exp-loss.png");
  assert.equal(exportName(["runs/a"], "loss/train", "csv"), "runs_a-loss_train.csv");
  assert.equal(exportName(["a", "b"], "loss", "png"), "a+b-loss.png");
  assert.equal(exportName([], "loss", "png"), "loss.png");
});

test("image zoom: + always enlarges (beyond the steps, powers of 2), - shrinks, shown as a number", () => {
  assert.equal(nextZoom(1, 1), 2);
  assert.equal(nextZoom(0.7, 1), 1);
  assert.equal(nextZoom(20, 1), 32, "a fit above the last step: + still enlarges");
  assert.equal(nextZoom(35.25, 1), 64);
  assert.equal(nextZoom(16, 1), 32);
  assert.equal(nextZoom(32, 1), 64);
  assert.equal(nextZoom(MAX_ZOOM, 1), MAX_ZOOM);
  for (let s = 0.1; s < MAX_ZOOM; s *= 1.7) assert.ok(nextZoom(s, 1) > s, String(s));
  assert.equal(nextZoom(20, -1), 16);
  assert.equal(nextZoom(0.25, -1), 0.25);
  assert.equal(zoomLabel(2), "2×");
  assert.equal(zoomLabel(2.3456), "2.35×");
  assert.equal(zoomLabel(0.375), "0.38×");
});
