import assert from "node:assert/strict";
import { test } from "node:test";
import { aggregate, buildLines, columnsFor, formatNumber, relativeTime, shownByDefault, sortRows } from "../src/runs/table";
import type { RunRow } from "../src/wire";

function run(env: string, config: RunRow["config"] = {}, last?: number, extra: Partial<RunRow> = {}): RunRow {
  const metrics: RunRow["metrics"] = last === undefined ? {} : { "loss/val": { last, min: last / 2, max: last * 2, step: 10 } };
  return { env, config, summary: {}, color: null, metrics, status: "running", alerts: 0, steps: 10, created: 1, updated: 2, ...extra };
}

const col = (rows: RunRow[], id: string) => columnsFor(rows).find((c) => c.id === id)!;

test("columns: the run's own, then config keys, metrics (min and max hidden at first), summary keys", () => {
  const rows = [run("a", { lr: 0.1, opt: "sgd" }, 1, { summary: { acc: 0.5 } }), run("b", { seed: 1 })];
  const cols = columnsFor(rows);
  assert.deepEqual(
    cols.map((c) => c.id),
    ["env", "status", "steps", "updated", "alerts", "config.lr", "config.opt", "config.seed", "metric.loss/val", "metric.loss/val.min", "metric.loss/val.max", "summary.acc"],
  );
  assert.deepEqual(cols.filter((c) => !shownByDefault(c)).map((c) => c.id), ["metric.loss/val.min", "metric.loss/val.max"]);
  assert.equal(col(rows, "config.seed").get(rows[0]), undefined);
  assert.equal(col(rows, "metric.loss/val.min").get(rows[0]), 0.5);
});

test("sort: numbers numerically, strings naturally, missing values last both ways, ties by env", () => {
  const rows = [run("r10", { lr: 0.1, name: "run10" }), run("r2", { lr: 0.01, name: "run2" }), run("r3", {}), run("r1", { lr: 0.1, name: "Run1" }), run("r4", { lr: null })];
  const envs = (id: string, dir: 1 | -1) => sortRows(rows, col(rows, id), dir).map((r) => r.env);
  assert.deepEqual(envs("config.lr", 1), ["r2", "r1", "r10", "r3", "r4"]);
  assert.deepEqual(envs("config.lr", -1), ["r1", "r10", "r2", "r3", "r4"]);
  assert.deepEqual(envs("config.name", 1), ["r1", "r2", "r10", "r3", "r4"]);
  assert.deepEqual(envs("config.name", -1), ["r10", "r2", "r1", "r3", "r4"]);
  assert.deepEqual(sortRows(rows, null, 1).map((r) => r.env), ["r1", "r2", "r3", "r4", "r10"]);
  // numbers before strings in a column that holds both
  const mixed = [run("a", { x: "b" }), run("b", { x: 3 }), run("c", { x: true })];
  assert.deepEqual(sortRows(mixed, col(mixed, "config.x"), 1).map((r) => r.env), ["c", "b", "a"]);
});

test("sorting 1,000 runs by a metric is fast and stable", () => {
  const rows = Array.from({ length: 1000 }, (_, i) => run(`run-${i}`, { lr: (i * 7919) % 13 }, ((i * 104729) % 1000) / 10));
  const t0 = performance.now();
  const sorted = sortRows(rows, col(rows, "metric.loss/val"), 1);
  assert.ok(performance.now() - t0 < 100);
  for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i - 1].metrics["loss/val"].last <= sorted[i].metrics["loss/val"].last);
});

test("group cells: the value when all equal, mean ± std for numbers, else a count of values", () => {
  assert.equal(aggregate([0.1, 0.1, undefined]), "0.1");
  assert.equal(aggregate([1, 2, 3]), "2 ± 1");
  assert.equal(aggregate(["adam", "sgd", "adam"]), "2 values");
  assert.equal(aggregate([undefined]), "");
  assert.equal(aggregate([true, false]), "0.5 ± 0.7071");
});

test("group lines: one per value in natural order, before their runs; a collapsed group hides its runs", () => {
  const rows = [run("a", { opt: "sgd" }), run("b", { opt: "adam" }), run("c", { opt: "sgd" }), run("d", {})];
  const lines = buildLines(rows, "opt", new Set());
  assert.deepEqual(
    lines.map((l) => (l.kind === "group" ? `[${l.name} ${l.envs.length}]` : l.env)),
    ["[opt=(none) 1]", "d", "[opt=adam 1]", "b", "[opt=sgd 2]", "a", "c"],
  );
  const folded = buildLines(rows, "opt", new Set(["opt=sgd"]));
  assert.deepEqual(folded.map((l) => (l.kind === "group" ? l.name : l.env)), ["opt=(none)", "d", "opt=adam", "b", "opt=sgd"]);
  assert.equal(buildLines(rows, "", new Set()).length, 4);
});

test("numbers and times as the table writes them", () => {
  assert.equal(formatNumber(930), "930");
  assert.equal(formatNumber(0.123456), "0.1235");
  assert.equal(formatNumber(1e-5), "1e-5");
  assert.equal(formatNumber(12345678.9), "1.235e+7");
  assert.equal(formatNumber(NaN), "NaN");
  assert.equal(relativeTime(100, 112.5), "12 s ago");
  assert.equal(relativeTime(0, 3 * 3600 + 5), "3 h ago");
  assert.equal(relativeTime(0, 300), "5 min ago");
  assert.equal(relativeTime(0, 2 * 86400), "2 d ago");
});
