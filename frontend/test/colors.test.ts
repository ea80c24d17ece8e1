import assert from "node:assert/strict";
import { test } from "node:test";
import { assignRunColors, DASHES, groupColor, groupColors, groupName, groupRuns, groupValue, nameHash, RUN_PALETTE, runColor, safeColor, traceDash, withAlpha } from "../src/runs/colors";
import type { RunRow } from "../src/wire";

function row(env: string, extra: Partial<RunRow> = {}): RunRow {
  return { env, config: {}, summary: {}, color: null, metrics: {}, status: "running", alerts: 0, steps: -1, created: null, updated: null, ...extra };
}

const rgb = (h: string) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));
const lin = (c: number) => ((c /= 255) <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
const luminance = (h: string) => {
  const [r, g, b] = rgb(h).map(lin);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const contrast = (a: number, b: number) => (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
function lab(h: string): number[] {
  const [r, g, b] = rgb(h).map(lin);
  const f = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  const X = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, Y = 0.2126 * r + 0.7152 * g + 0.0722 * b, Z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
  return [116 * f(Y) - 16, 500 * (f(X) - f(Y)), 200 * (f(Y) - f(Z))];
}

test("the run palette: at least 20 distinct colours, readable on the light and the dark panel", () => {
  assert.ok(RUN_PALETTE.length >= 20, `${RUN_PALETTE.length} colours`);
  assert.equal(new Set(RUN_PALETTE).size, RUN_PALETTE.length, "no colour twice");
  for (const c of RUN_PALETTE) {
    assert.match(c, /^#[0-9a-f]{6}$/);
    assert.ok(contrast(luminance(c), luminance("#ffffff")) >= 2, `${c} on white`);
    assert.ok(contrast(luminance(c), luminance("#181c22")) >= 2.5, `${c} on the dark panel`);
  }
  let closest = Infinity;
  for (let i = 0; i < RUN_PALETTE.length; i++)
    for (let j = i + 1; j < RUN_PALETTE.length; j++) {
      const [a, b] = [lab(RUN_PALETTE[i]), lab(RUN_PALETTE[j])];
      closest = Math.min(closest, Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]));
    }
  assert.ok(closest >= 9, `closest pair is ${closest.toFixed(1)} apart (CIELAB)`);
});

test("a run's colour: from its name, the same every time; a stored colour wins when it is a plain colour", () => {
  assignRunColors([]);
  assert.equal(runColor("mnist/adam"), RUN_PALETTE[nameHash("mnist/adam") % RUN_PALETTE.length]);
  assert.equal(runColor("mnist/adam", row("mnist/adam")), runColor("mnist/adam"));
  assert.equal(runColor("a", row("a", { color: "#123456" })), "#123456");
  for (const bad of ["url(x)", "red;background:url(x)", "", "var(--x)"]) assert.equal(runColor("a", row("a", { color: bad })), runColor("a"), bad);
  assert.ok(safeColor("rgb(1, 2, 3)") && !safeColor("url(x)") && !safeColor(5));
});

test("known runs never share a colour while the palette has free ones; older runs keep theirs", () => {
  const names = Array.from({ length: RUN_PALETTE.length }, (_, i) => `exp/run-${i}`);
  const rows = names.map((n, i) => row(n, { created: 1000 + i }));
  assignRunColors(rows);
  const colours = names.map((n) => runColor(n));
  assert.equal(new Set(colours).size, names.length, "every run its own colour");
  // the oldest run has its name's colour; a newer run does not move the older ones
  assert.equal(colours[0], RUN_PALETTE[nameHash(names[0]) % RUN_PALETTE.length]);
  assignRunColors([...rows, row("exp/new", { created: 5000 })]);
  assert.deepEqual(names.map((n) => runColor(n)), colours);
  // the same runs in another order (another page): the same colours
  assignRunColors([...rows].reverse());
  assert.deepEqual(names.map((n) => runColor(n)), colours);
  assignRunColors([]);
});

test("dashes: train solid, val dashed, test dotted; any other name the same pattern every time", () => {
  assert.deepEqual(traceDash("train"), []);
  assert.deepEqual(traceDash(""), []);
  assert.deepEqual(traceDash("val"), [...DASHES[1]]);
  assert.deepEqual(traceDash("Validation"), [...DASHES[1]]);
  assert.deepEqual(traceDash("test"), [...DASHES[2]]);
  for (const name of ["lr", "grad_norm", "ema", "x"]) {
    const d = traceDash(name);
    assert.ok(d.length > 0, `${name} is not solid (train is)`);
    assert.deepEqual(traceDash(name), d, "stable");
    assert.ok(DASHES.some((p) => JSON.stringify(p) === JSON.stringify(d)));
  }
  const a = traceDash("val");
  a.push(99); // a copy: the caller may keep or change it
  assert.deepEqual(traceDash("val"), [...DASHES[1]]);
});

test("groups: String(config[key]) or (none), named key=value, in order of first member", () => {
  const rows = new Map<string, RunRow>([
    ["a", row("a", { config: { opt: "adam", lr: 0.1 } })],
    ["b", row("b", { config: { opt: "sgd", lr: 0.1 } })],
    ["c", row("c", { config: { opt: "adam", lr: 0.01 } })],
    ["d", row("d", { config: { opt: null } })],
  ]);
  assert.equal(groupValue(rows.get("a"), "lr"), "0.1");
  assert.equal(groupValue(rows.get("d"), "opt"), "null");
  assert.equal(groupValue(undefined, "opt"), "(none)");
  assert.equal(groupName("opt", "adam"), "opt=adam");
  const g = groupRuns(["b", "a", "c", "d", "e"], rows, "opt");
  assert.deepEqual([...g.entries()], [
    ["opt=sgd", ["b"]],
    ["opt=adam", ["a", "c"]],
    ["opt=null", ["d"]],
    ["opt=(none)", ["e"]],
  ]);
  assert.equal(groupColor("opt=adam"), groupColor("opt=adam"));
  assert.ok(RUN_PALETTE.includes(groupColor("opt=adam")));
});

test("group colours: distinct within a set, the same for the same set in any order", () => {
  const names = Array.from({ length: RUN_PALETTE.length }, (_, i) => `lr=${i}`);
  const a = groupColors(names);
  assert.equal(new Set(a.values()).size, names.length);
  assert.deepEqual([...groupColors([...names].reverse())].sort(), [...a].sort());
  // the first group by name keeps its own colour
  assert.equal(a.get([...names].sort()[0]), groupColor([...names].sort()[0]));
});

test("withAlpha makes a translucent fill of a hex colour", () => {
  assert.equal(withAlpha("#ff0000", 0.2), "rgba(255, 0, 0, 0.2)");
  assert.equal(withAlpha("#0f0", 0.5), "rgba(0, 255, 0, 0.5)");
  assert.equal(withAlpha("red", 0.5), "red");
});
