import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultAxes, defaultColorBy, dimGroup, valueText, type Dim } from "../src/runs/parcoords";
import { defaultXY } from "../src/runs/scatter";
import type { RunRow } from "../src/wire";

function row(env: string, config: Record<string, number | string | boolean | null>, loss?: number): RunRow {
  const metrics: RunRow["metrics"] = loss === undefined ? {} : { "loss/train": { last: loss, min: loss, max: loss, step: 10 } };
  return { env, config, summary: {}, color: null, metrics, status: "running", alerts: 0, steps: 10, created: 0, updated: 0 };
}

const cfg = (k: string): Dim => ({ key: `config.${k}`, label: k, get: (r) => r.config[k] ?? null });
const met = (k: string): Dim => ({ key: `metric.${k}`, label: k, get: (r) => r.metrics[k]?.last ?? null });

test("default axes: up to 6 config keys that vary, then the first metric", () => {
  const rows = [
    row("a", { lr: 0.1, opt: "sgd", seed: 0, bs: 32, k1: 1, k2: 1, k3: 1, k4: 1, k5: 1, same: 7 }, 0.5),
    row("b", { lr: 0.01, opt: "adam", seed: 1, bs: 32, k1: 2, k2: 2, k3: 2, k4: 2, k5: 2, same: 7 }, 0.4),
  ];
  const dims = [...["lr", "opt", "seed", "bs", "same", "k1", "k2", "k3", "k4", "k5"].map(cfg), met("loss/train")];
  assert.deepEqual(defaultAxes(dims, rows), ["config.lr", "config.opt", "config.seed", "config.k1", "config.k2", "config.k3", "metric.loss/train"]);
  assert.equal(defaultColorBy(dims), "metric.loss/train");
  // nothing varies and no metric: the first two candidates, coloured by run colour
  assert.deepEqual(defaultAxes([cfg("same"), cfg("bs")], rows), ["config.same", "config.bs"]);
  assert.equal(defaultColorBy([cfg("same")]), "");
  assert.deepEqual(defaultAxes([], rows), []);
});

test("a dim's group: its own when given, else its key's prefix", () => {
  assert.equal(dimGroup(cfg("lr")), "config");
  assert.equal(dimGroup(met("loss")), "metric");
  assert.equal(dimGroup({ key: "summary.acc", label: "acc", get: () => null }), "summary");
  assert.equal(dimGroup({ key: "lr", label: "lr", get: () => null, group: "config" }), "config");
  assert.equal(dimGroup({ key: "steps", label: "steps", get: () => null }), "other");
});

test("scatter default: a varying config key against the first metric", () => {
  const rows = [row("a", { bs: 32, lr: 0.1 }, 0.5), row("b", { bs: 32, lr: 0.01 }, 0.4)];
  assert.deepEqual(defaultXY([cfg("bs"), cfg("lr"), met("loss/train")], rows), ["config.lr", "metric.loss/train"]);
  assert.deepEqual(defaultXY([cfg("bs"), met("loss/train")], rows), ["config.bs", "metric.loss/train"]);
  assert.deepEqual(defaultXY([], rows), ["", ""]);
});

test("values in tooltips", () => {
  assert.equal(valueText(null), "—");
  assert.equal(valueText(NaN), "—");
  assert.equal(valueText(0.000123), "1.23e-4");
  assert.equal(valueText(true), "true");
  assert.equal(valueText("<b>adam</b>"), "<b>adam</b>");
});
