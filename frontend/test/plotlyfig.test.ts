import assert from "node:assert/strict";
import { test } from "node:test";
import { hasTex, plotlyArray, toFigure, traceCount } from "../src/plotlyfig";
import { applyOp, type EnvState } from "../src/state";
import { hasTexText, texPieces } from "../src/tex";
import { arr, unaligned } from "./helpers";

test("wire arrays in a figure become typed arrays; 2-D ones rows of typed arrays", () => {
  const fig = toFigure({
    data: [{ type: "surface", z: arr([1, 2, 3, 4, 5, 6], "f4", [2, 3]), name: "s" }, { x: unaligned(arr([7, 8])), y: [1, 2], marker: { color: arr([1, 2], "i8") } }],
    layout: { title: { text: "t" } },
  });
  const z = fig.data[0].z as Float32Array[];
  assert.equal(z.length, 2);
  assert.ok(z[0] instanceof Float32Array);
  assert.deepEqual([...z[1]], [4, 5, 6]);
  assert.deepEqual([...(fig.data[1].x as Float64Array)], [7, 8]);
  assert.deepEqual(fig.data[1].y, [1, 2]);
  assert.ok((fig.data[1].marker as { color: unknown }).color instanceof Float64Array); // 64-bit ints as doubles
  assert.deepEqual(fig.layout, { title: { text: "t" } });
  const cube = plotlyArray(arr([0, 1, 2, 3, 4, 5, 6, 7], "u1", [2, 2, 2])) as Uint8Array[][];
  assert.deepEqual([...cube[1][0]], [4, 5]);
});

test("a figure of the wrong shape draws nothing rather than throwing", () => {
  assert.deepEqual(toFigure(null), { data: [], layout: {} });
  assert.deepEqual(toFigure({ data: [1, null, { y: [1] }], layout: [] }), { data: [{ y: [1] }], layout: {} });
  const f = toFigure(JSON.parse('{"data":[{"__proto__":{"polluted":1},"y":[1]}]}'));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(f.data[0], { y: [1] });
});

test("LaTeX between dollars anywhere in the figure asks for MathJax; arrays are not searched", () => {
  assert.equal(hasTex({ data: [{ name: "$\\alpha$" }] }), true);
  assert.equal(hasTex({ data: [], layout: { xaxis: { title: { text: "$x^2$" } } } }), true);
  assert.equal(hasTex({ data: [{ name: "costs $5 and $" }], layout: { title: "US$" } }), true);
  assert.equal(hasTex({ data: [{ name: "5 $" }, { text: ["a", "b"] }], layout: { title: "plain" } }), false);
  assert.equal(hasTex({ data: [{ y: arr([36, 36]) }] }), false);
  assert.equal(traceCount({ data: [{}, {}] }), 2);
});

test("a plotly op replaces the window's figure (an append arrives as the whole figure)", () => {
  const env: EnvState = { name: "e", seq: 0, store: "", windows: new Map(), layout: {}, alerts: [], mute: [], broken: false };
  assert.deepEqual(applyOp(env, { op: "plotly", env: "e", win: "p", figure: { data: [{ y: [1] }] }, update: "replace" }, 1), ["p"]);
  applyOp(env, { op: "plotly", env: "e", win: "p", figure: { data: [{ y: [1] }, { y: [2] }] }, update: "replace" }, 2);
  const w = env.windows.get("p")!;
  assert.equal(w.kind, "plotly");
  assert.equal(traceCount(w.figure), 2);
});

test("a title's $...$ pieces are TeX, the rest text", () => {
  assert.deepEqual(texPieces("loss $\\alpha_t$ at $x^2$"), [
    { tex: false, text: "loss " },
    { tex: true, text: "\\alpha_t" },
    { tex: false, text: " at " },
    { tex: true, text: "x^2" },
  ]);
  assert.deepEqual(texPieces("costs 5$"), [{ tex: false, text: "costs 5$" }]);
  assert.equal(hasTexText("plain"), false);
  assert.equal(hasTexText("$$"), false);
});
