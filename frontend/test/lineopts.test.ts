import assert from "node:assert/strict";
import { test } from "node:test";
import { axisLook, DASHES, parseSymbol, range, safeColor, splits, thin, tickText, traceLook, traceName, windowLook } from "../src/views/lineopts";

test("a trace's style is read from its own key; unsafe colours and unknown dashes are dropped", () => {
  const opts = {
    "trace:a": { color: "#ff0000", dash: "dashdot", markercolors: ["#00f", "url(x)", "rgb(1, 2, 3)"], text: ["p", 2] },
    "trace:b": { color: "url(http://x)", dash: "5px,10px", markercolor: "green" },
  };
  assert.deepEqual(traceLook(opts, "a"), { color: "#ff0000", dash: DASHES.dashdot, markercolors: ["#00f", undefined, "rgb(1, 2, 3)"], text: ["p", "2"] });
  assert.deepEqual(traceLook(opts, "b"), { markercolor: "green", dash: [] });
  assert.deepEqual(traceLook(opts, "c"), {});
  assert.deepEqual(traceLook({ "trace:a": "red" }, "a"), {});
  assert.equal(safeColor("expression(alert(1))"), undefined);
});

test("the legend renames traces by position only when asked to (Visdom's update_window_opts)", () => {
  assert.equal(traceName({ legend: ["p", "q"] }, 1, "b"), "b");
  assert.equal(traceName({ legend: ["p", "q"], relabel: true }, 1, "b"), "q");
  assert.equal(traceName({ legend: ["p"], relabel: true }, 1, "b"), "b");
  assert.equal(traceName({ legend: ["p", "q"] }, 0, ""), "p");
});

test("Plotly symbol names: known shapes, -open outlines, -dot ignored, the rest a circle", () => {
  assert.deepEqual(parseSymbol("diamond"), { shape: "diamond", open: false, known: true });
  assert.deepEqual(parseSymbol("triangle-up-open"), { shape: "triangle-up", open: true, known: true });
  assert.deepEqual(parseSymbol("square-open-dot"), { shape: "square", open: true, known: true });
  assert.deepEqual(parseSymbol("cross-thin-open"), { shape: "cross-thin", open: true, known: true });
  assert.deepEqual(parseSymbol("bowtie"), { shape: "circle", open: false, known: false });
  assert.deepEqual(parseSymbol("dot"), { shape: "circle", open: false, known: true });
  assert.equal(parseSymbol(undefined).shape, "circle");
});

test("ticks: given values with their labels, multiples of a step, bounded in count", () => {
  const x = axisLook({ xtickvals: [0, 5, 10, "x"], xticklabels: ["a", "b", "c"] }, "x");
  assert.deepEqual(splits(x, 0, 7), [0, 5]);
  assert.deepEqual([0, 5, 10].map((v) => tickText(x, v, String(v))), ["a", "b", "c"]);
  const y = axisLook({ ytickmin: -5, ytickmax: 15, ytickstep: 5 }, "y");
  assert.deepEqual(range(y, 0, 3), [-5, 15]);
  assert.deepEqual(splits(y, -5, 15), [-5, 0, 5, 10, 15]);
  assert.deepEqual(splits(axisLook({ ytickmin: 0.25, ytickstep: 0.5 }, "y"), 0.25, 2), [0.5, 1, 1.5, 2], "multiples of the step, as Plotly");
  assert.deepEqual(splits(axisLook({ ytickstep: 0.5 }, "y"), 0.1, 1.6), [0.5, 1, 1.5]);
  assert.equal(splits(axisLook({ ytickstep: 1e-9 }, "y"), 0, 1), null, "millions of ticks: the chart's own");
  assert.equal(splits(axisLook({}, "y"), 0, 1), null);
  assert.deepEqual(range(axisLook({ xtickmax: 3 }, "x"), 0, 10), [0, 3]);
  assert.equal(tickText(axisLook({ xtick: false }, "x"), 1, "1"), "", "xtick=False hides the labels");
  assert.equal(axisLook({ ytickfont: 16 }, "y").font, 16);
  const crowded = splits(axisLook({ ytickmin: -50, ytickmax: 50, ytickstep: 0.5 }, "y"), -50, 50)!;
  assert.equal(crowded.length, 201);
  assert.deepEqual(thin(crowded, 12), [-50, -40, -30, -20, -10, 0, 10, 20, 30, 40, 50], "every 20th: round numbers, 0 kept");
  assert.deepEqual(thin(crowded, 6), [-50, -25, 0, 25, 50]);
  assert.deepEqual(thin([0.5, 1, 1.5, 2, 2.5], 3), [1, 2], "no 0: every 2nd from the first");
  assert.deepEqual(thin([1, 2, 3], 10), [1, 2, 3]);
  assert.equal(axisLook({ ytickfont: 1e9 }, "y").font, 72);
});

test("window look: markers by kind and option, fill, legend, margins, marker size bounds", () => {
  const sc = windowLook("scatter", { markersymbol: "star", markersize: 100 });
  assert.equal(sc.markers, true);
  assert.equal(sc.lines, false);
  assert.equal(sc.symbol.shape, "star");
  assert.equal(sc.size, 30);
  const ln = windowLook("line", { markers: true, fillarea: true, showlegend: false, marginleft: 80, margintop: -3 });
  assert.deepEqual([ln.markers, ln.lines, ln.fill, ln.legend], [true, true, true, false]);
  assert.deepEqual(ln.margin, { left: 80 });
  const plain = windowLook("line", {});
  assert.deepEqual([plain.markers, plain.lines, plain.fill, plain.legend, plain.size], [false, true, false, true, 4]);
  assert.equal(windowLook("line", { mode: "markers" }).lines, false);
});
