import assert from "node:assert/strict";
import { test } from "node:test";
import { decode, encode } from "@msgpack/msgpack";
import { State } from "../src/state";
import { toF64, typed, type ServerMessage } from "../src/wire";
import { arr, unaligned } from "./helpers";

const hello: ServerMessage = { type: "hello", version: "0.1.0", store: "S1", envs: [{ name: "a", seq: 3, windows: 1 }] };

function snap(env = "a", seq = 3): ServerMessage {
  return {
    type: "snapshot",
    env,
    seq,
    layout: { loss: { order: 1, w: 500, h: 300 } },
    windows: [{ win: "loss", kind: "line", opts: { title: "Loss" }, seq, traces: [{ name: "train", n: 3, x: arr([0, 1, 2]), y: arr([3, 2, 1], "f4"), t: arr([10, 11, 12]), decimated: false }] }],
  };
}

function change(seq: number, op: Record<string, unknown>, env = "a"): ServerMessage {
  return { type: "change", env, seq, op: { env, ...op } as ServerMessage & { op: string } as never };
}

test("arrays decode from aligned and unaligned bytes, every dtype", () => {
  assert.deepEqual([...typed(arr([1.5, -2], "f4"))], [1.5, -2]);
  assert.deepEqual([...toF64(unaligned(arr([1.5, -2, NaN])))], [1.5, -2, NaN]);
  assert.deepEqual([...toF64(unaligned(arr([-7, 9], "i2")))], [-7, 9]);
  assert.deepEqual([...toF64(arr([2 ** 40, -3], "i8"))], [2 ** 40, -3]);
  assert.deepEqual([...toF64(arr([255, 0], "u1"))], [255, 0]);
});

test("a msgpack round trip keeps arrays intact", () => {
  const msg = decode(encode(snap())) as ServerMessage;
  const s = new State();
  s.apply(hello);
  s.apply(msg);
  assert.deepEqual([...s.envs.get("a")!.windows.get("loss")!.traces[0].y.values], [3, 2, 1]);
});

test("hello and snapshot", () => {
  const s = new State();
  const h = s.apply(hello);
  assert.equal(h.envs, true);
  assert.equal(s.store, "S1");
  const r = s.apply(snap());
  assert.deepEqual(r.windows, ["loss"]);
  assert.equal(r.structure, true);
  const w = s.envs.get("a")!.windows.get("loss")!;
  assert.equal(w.kind, "line");
  assert.equal(w.opts.title, "Loss");
  assert.deepEqual([...w.traces[0].x.values], [0, 1, 2]);
  assert.deepEqual([...w.traces[0].t.values], [10, 11, 12]);
  assert.deepEqual(s.order(["a"]), ["loss"]);
  assert.deepEqual(s.cell("loss", ["a"]), { order: 1, w: 500, h: 300 });
});

test("line append, replace, remove; old and repeated seqs are ignored", () => {
  const s = new State();
  s.apply(hello);
  s.apply(snap());
  let r = s.apply(change(4, { op: "line", win: "loss", name: "train", update: "append", x: arr([3, 4]), y: arr([0.5, 0.25]), t: arr([13, 14]) }));
  assert.deepEqual(r.windows, ["loss"]);
  assert.equal(r.structure, false);
  const tr = () => s.envs.get("a")!.windows.get("loss")!.traces[0];
  assert.deepEqual([...tr().y.values], [3, 2, 1, 0.5, 0.25]);
  assert.deepEqual([...tr().t.values], [10, 11, 12, 13, 14]);
  assert.equal(tr().n, 5);
  // the same seq again (a resume overlap) changes nothing
  r = s.apply(change(4, { op: "line", win: "loss", name: "train", x: arr([5]), y: arr([9]) }));
  assert.deepEqual(r.windows, []);
  assert.equal(tr().y.len, 5);
  // a new trace, then replace and remove
  s.apply(change(5, { op: "line", win: "loss", name: "val", x: arr([0, 4]), y: arr([3, 1]) }));
  assert.equal(s.envs.get("a")!.windows.get("loss")!.traces.length, 2);
  s.apply(change(6, { op: "line", win: "loss", name: "train", update: "replace", x: arr([0]), y: arr([7]) }));
  assert.deepEqual([...tr().y.values], [7]);
  s.apply(change(7, { op: "line", win: "loss", name: "val", update: "remove" }));
  assert.deepEqual(s.envs.get("a")!.windows.get("loss")!.traces.map((t) => t.name), ["train"]);
  assert.equal(s.envs.get("a")!.seq, 7);
  assert.equal(s.envs.get("a")!.broken, false);
});

test("many appends grow the columns without losing points", () => {
  const s = new State();
  s.apply(hello);
  s.apply(snap());
  for (let i = 0; i < 1000; i++) s.apply(change(4 + i, { op: "line", win: "loss", name: "train", x: arr([3 + i]), y: arr([i]) }));
  const y = s.envs.get("a")!.windows.get("loss")!.traces[0].y.values;
  assert.equal(y.length, 1003);
  assert.equal(y[1002], 999);
});

test("a gap in seq marks the env for a fresh subscription", () => {
  const s = new State();
  s.apply(hello);
  s.apply(snap());
  assert.deepEqual(s.subscription(["a", "b"]), [{ env: "a", seq: 3, store: "S1" }, { env: "b" }]);
  s.apply(change(9, { op: "text", win: "notes", text: "hi" }));
  assert.equal(s.envs.get("a")!.broken, true);
  assert.deepEqual(s.subscription(["a"]), [{ env: "a" }]);
  s.apply(snap("a", 20));
  assert.equal(s.envs.get("a")!.broken, false);
});

test("window kinds: bar, histogram, heatmap, image, text, opts, close", () => {
  const s = new State();
  s.apply(hello);
  s.apply({ type: "snapshot", env: "a", seq: 0, windows: [] });
  s.apply(change(1, { op: "bar", win: "b", y: arr([1, 2, 3, 4, 5, 6], "f8", [3, 2]), labels: ["x", "y", "z"] }));
  const b = s.envs.get("a")!.windows.get("b")!.bar!;
  assert.equal(b.rows, 3);
  assert.equal(b.cols, 2);
  assert.deepEqual(b.labels, ["x", "y", "z"]);
  s.apply(change(2, { op: "histogram", win: "h", counts: arr([1, 2]), edges: arr([0, 1, 2]), step: 5, t: 1 }));
  s.apply(change(3, { op: "histogram", win: "h", counts: arr([3, 4]), edges: arr([0, 1, 2]), step: 2, t: 2 }));
  s.apply(change(4, { op: "histogram", win: "h", counts: arr([9, 9]), edges: arr([0, 1, 2]), step: 5, t: 3 }));
  const h = s.envs.get("a")!.windows.get("h")!.hist;
  assert.deepEqual(h.map((x) => x.step), [2, 5]);
  assert.deepEqual([...h[1].counts], [9, 9]);
  s.apply(change(5, { op: "heatmap", win: "m", z: arr([1, 2, 3, 4, 5, 6], "f4", [2, 3]) }));
  const m = s.envs.get("a")!.windows.get("m")!.heatmap!;
  assert.equal(m.rows, 2);
  assert.equal(m.cols, 3);
  assert.equal(m.data[5], 6);
  s.apply(change(6, { op: "image", win: "i", step: 0, images: [{ format: "png", width: 2, height: 2, caption: "c" }] }));
  s.apply(change(7, { op: "image", win: "i", step: 1, images: [{ format: "png", width: 2, height: 2 }, { format: "png", width: 2, height: 2 }] }));
  assert.deepEqual(s.envs.get("a")!.windows.get("i")!.images.map((x) => x.images.length), [1, 2]);
  s.apply(change(8, { op: "text", win: "t", text: "a" }));
  s.apply(change(9, { op: "text", win: "t", text: "b", update: "append" }));
  assert.equal(s.envs.get("a")!.windows.get("t")!.text, "ab");
  s.apply(change(10, { op: "opts", win: "t", opts: { title: "T", xlabel: "x" } }));
  s.apply(change(11, { op: "opts", win: "t", opts: { xlabel: null } }));
  assert.deepEqual(s.envs.get("a")!.windows.get("t")!.opts, { title: "T" });
  const r = s.apply(change(12, { op: "close", win: "t" }));
  assert.equal(r.structure, true);
  assert.equal(s.envs.get("a")!.windows.has("t"), false);
  assert.deepEqual(s.order(["a"]), ["b", "h", "m", "i"]);
});

test("layout changes order; delete_env empties the env", () => {
  const s = new State();
  s.apply(hello);
  s.apply({ type: "snapshot", env: "a", seq: 0, windows: [] });
  s.apply(change(1, { op: "text", win: "one", text: "1" }));
  s.apply(change(2, { op: "text", win: "two", text: "2" }));
  const r = s.apply(change(3, { op: "layout", layout: { one: { order: 2, w: 300, h: 200 }, two: { order: 1, w: 300, h: 200 } } }));
  assert.equal(r.structure, true);
  assert.deepEqual(s.order(["a"]), ["two", "one"]);
  s.apply(change(4, { op: "delete_env" }));
  assert.deepEqual(s.order(["a"]), []);
});

test("a window message replaces the window; several envs share window ids", () => {
  const s = new State();
  s.apply(hello);
  s.apply(snap("a"));
  s.apply(snap("b"));
  s.apply({ type: "window", env: "b", seq: 4, window: { win: "loss", kind: "line", opts: {}, traces: [{ name: "train", n: 100000, x: arr([0, 50000]), y: arr([1, 2]), decimated: true }] } });
  const ws = s.windowsById("loss", ["a", "b"]);
  assert.equal(ws.length, 2);
  assert.equal(ws[1].traces[0].decimated, true);
  assert.equal(ws[1].traces[0].n, 100000);
  assert.deepEqual(s.order(["b", "a"]), ["loss"]);
  s.retain(["b"]);
  assert.deepEqual([...s.envs.keys()], ["b"]);
});

test("changes for envs not subscribed are ignored", () => {
  const s = new State();
  s.apply(hello);
  const r = s.apply(change(1, { op: "text", win: "x", text: "x" }, "zzz"));
  assert.deepEqual(r.windows, []);
  assert.equal(s.envs.size, 0);
});

test("a decimated append counts the points it really added", () => {
  const s = new State();
  s.apply(hello);
  s.apply(snap());
  s.apply(change(4, { op: "line", win: "loss", name: "train", update: "append", x: arr([3, 90000]), y: arr([1, 2]), t: arr([13, 14]), n: 100000, decimated: true }));
  const tr = s.envs.get("a")!.windows.get("loss")!.traces[0];
  assert.equal(tr.n, 100003);
  assert.equal(tr.decimated, true);
  assert.equal(tr.y.len, 5);
});

function alertOf(id: number, win = "loss", extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, kind: "nonfinite", env: "a", win, trace: "train", step: 200, detected: 200, message: "loss is NaN", suggestion: "lower the lr", key: `k${id}`, t: 1e9 + id, ...extra };
}

test("alerts: from the snapshot, then live; no window of their own", () => {
  const s = new State();
  s.apply(hello);
  const r0 = s.apply({ ...snap(), alerts: [alertOf(1) as never] } as ServerMessage);
  assert.equal(r0.alerts, true);
  assert.deepEqual(s.alerts(["a"]).map((a) => a.id), [1]);
  // live: an alert op names its window inside the alert, not at the op level
  const r = s.apply(change(4, { op: "alert", alert: alertOf(2, "loss", { kind: "divergence", step: 150, detected: 180 }) }));
  assert.equal(r.alerts, true);
  assert.equal(r.structure, false);
  assert.deepEqual(r.windows, ["loss"]); // the window whose badge and marker change
  assert.deepEqual([...s.envs.get("a")!.windows.keys()], ["loss"]); // no phantom window
  assert.deepEqual(s.order(["a"]), ["loss"]);
  const a = s.alerts(["a"], "loss");
  assert.deepEqual(a.map((x) => [x.id, x.kind, x.step, x.detected]), [[1, "nonfinite", 200, 200], [2, "divergence", 150, 180]]);
  assert.equal(s.envs.get("a")!.seq, 4);
  // an alert about a window this viewer does not hold changes no window
  const r2 = s.apply(change(5, { op: "alert", alert: alertOf(3, "elsewhere") }));
  assert.deepEqual(r2.windows, []);
  assert.equal(s.envs.get("a")!.windows.has("elsewhere"), false);
  assert.deepEqual(s.alerts(["a"], "elsewhere").map((x) => x.id), [3]);
});

test("alerts: an unknown op never creates a window; malformed alerts are dropped", () => {
  const s = new State();
  s.apply(hello);
  s.apply(snap());
  const r = s.apply(change(4, { op: "something_new", win: "ghost" }));
  assert.deepEqual(r.windows, []);
  assert.equal(r.structure, false);
  assert.equal(s.envs.get("a")!.windows.has("ghost"), false);
  s.apply(change(5, { op: "alert", alert: { kind: "nonfinite", win: "loss" } })); // no id
  s.apply(change(6, { op: "alert", alert: "not a map" }));
  assert.deepEqual(s.alerts(["a"]), []);
  assert.equal(s.envs.get("a")!.seq, 6);
});

test("alerts: closing the window or deleting the env drops them", () => {
  const s = new State();
  s.apply(hello);
  s.apply({ ...snap(), alerts: [alertOf(1), alertOf(2, "other")] } as unknown as ServerMessage);
  s.apply(change(4, { op: "text", win: "other", text: "x" }));
  const r = s.apply(change(5, { op: "close", win: "loss" }));
  assert.equal(r.alerts, true);
  assert.deepEqual(s.alerts(["a"]).map((a) => a.win), ["other"]);
  s.apply(change(6, { op: "delete_env" }));
  assert.deepEqual(s.alerts(["a"]), []);
});

test("alerts: a resume that overlaps does not add an alert twice (seq rule); ids dedupe too", () => {
  const s = new State();
  s.apply(hello);
  s.apply(snap());
  s.apply(change(4, { op: "alert", alert: alertOf(7) }));
  // the replay after a reconnect starts at or before seq 4
  const again = s.apply(change(4, { op: "alert", alert: alertOf(7) }));
  assert.deepEqual(again.windows, []);
  assert.equal(again.alerts, false);
  assert.equal(s.alerts(["a"]).length, 1);
  // a snapshot replaces the env's alerts wholly (no duplicates either)
  s.apply({ ...snap("a", 10), alerts: [alertOf(7), alertOf(7)] } as unknown as ServerMessage);
  assert.deepEqual(s.alerts(["a"]).map((a) => a.id), [7]);
  // several envs: one list, env by env
  s.apply({ ...snap("b", 2), alerts: [{ ...alertOf(1), env: "b" }] } as unknown as ServerMessage);
  assert.deepEqual(s.alerts(["b", "a"]).map((a) => `${a.env}:${a.id}`), ["b:1", "a:7"]);
  s.retain(["b"]);
  assert.deepEqual(s.alerts(["a", "b"]).map((a) => a.env), ["b"]);
});

test("alerts: dismiss hides one alert for good; it is kept, with its evidence", () => {
  const s = new State();
  s.apply(hello);
  s.apply({ ...snap(), alerts: [alertOf(1, "loss", { evidence: "loss/train is NaN at step 200" }), alertOf(2, "loss", { kind: "divergence" })] } as unknown as ServerMessage);
  assert.equal(s.alerts(["a"])[0].evidence, "loss/train is NaN at step 200");
  assert.equal(s.alerts(["a"])[0].dismissed, false);
  const r = s.apply(change(4, { op: "dismiss", id: 1 }));
  assert.equal(r.alerts, true);
  assert.deepEqual(r.windows, ["loss"]); // its badge and marker change
  assert.equal(r.structure, false);
  assert.deepEqual(s.alerts(["a"]).map((a) => a.id), [2]);
  assert.deepEqual(s.alerts(["a"], "loss", true).map((a) => [a.id, a.dismissed]), [[1, true], [2, false]]);
  // an unknown id, or one dismissed already, changes no window
  assert.deepEqual(s.apply(change(5, { op: "dismiss", id: 99 })).windows, []);
  assert.deepEqual(s.apply(change(6, { op: "dismiss", id: 1 })).windows, []);
  // a snapshot (a page that opens later, or a resume too far behind) says dismissed
  s.apply({ ...snap("a", 7), alerts: [{ ...alertOf(1), dismissed: true }, alertOf(2, "loss", { kind: "divergence" })] } as unknown as ServerMessage);
  assert.deepEqual(s.alerts(["a"]).map((a) => a.id), [2]);
});

test("alerts: a kind muted on a window (mute op, opts) or in the env is hidden there", () => {
  const s = new State();
  s.apply(hello);
  s.apply({ ...snap(), alerts: [alertOf(1), alertOf(2, "other"), alertOf(3, "loss", { kind: "overfitting" })] } as unknown as ServerMessage);
  s.apply(change(4, { op: "text", win: "other", text: "x" }));
  const r = s.apply(change(5, { op: "mute", win: "loss", kind: "nonfinite", muted: true }));
  assert.equal(r.alerts, true);
  assert.deepEqual(r.windows, ["loss"]);
  assert.deepEqual(s.envs.get("a")!.windows.get("loss")!.opts.mute, ["nonfinite"]);
  assert.deepEqual(s.alerts(["a"]).map((a) => a.id), [2, 3]); // the other window's NaN still shows
  // the env: every window, and the windows with alerts of that kind change
  const e = s.apply(change(6, { op: "mute", kind: "nonfinite", muted: true }));
  assert.deepEqual(e.windows.sort(), ["loss", "other"]);
  assert.deepEqual(s.envs.get("a")!.mute, ["nonfinite"]);
  assert.deepEqual(s.alerts(["a"]).map((a) => a.id), [3]);
  // unmuted: shown again (a window mute still holds on its window)
  s.apply(change(7, { op: "mute", kind: "nonfinite", muted: false }));
  assert.deepEqual(s.alerts(["a"]).map((a) => a.id), [2, 3]);
  s.apply(change(8, { op: "mute", win: "loss", kind: "nonfinite", muted: false }));
  assert.equal("mute" in s.envs.get("a")!.windows.get("loss")!.opts, false);
  assert.deepEqual(s.alerts(["a"]).map((a) => a.id), [1, 2, 3]);
  // the window's mute option set by an opts op (or with its points) counts the same
  const o = s.apply(change(9, { op: "opts", win: "loss", opts: { mute: ["overfitting"] } }));
  assert.equal(o.alerts, true);
  assert.deepEqual(s.alerts(["a"]).map((a) => a.id), [1, 2]);
  // a mute of a window this viewer does not hold creates none
  assert.deepEqual(s.apply(change(10, { op: "mute", win: "ghost", kind: "nonfinite", muted: true })).windows, []);
  assert.equal(s.envs.get("a")!.windows.has("ghost"), false);
  // the env's mutes come with its snapshot, and go with delete_env
  s.apply({ ...snap("a", 11), alerts: [alertOf(1)], mute: ["nonfinite"] } as unknown as ServerMessage);
  assert.deepEqual(s.alerts(["a"]), []);
  s.apply(change(12, { op: "delete_env" }));
  assert.deepEqual(s.envs.get("a")!.mute, []);
});
