// Graph windows: a model's structure (livepanel/model_graph.py), laid out and drawn by static/graph.js
// (dagre and a canvas, src/graph/index.ts), which loads only when a page shows such a window. This part
// holds the controls: search, the statistic that shades the layers, open and close of module groups,
// the legend and the details of the clicked box. The graph is live: layers are shaded by the newest
// value of the chosen per-layer statistic that watch() logs in the same env (a window such as
// `grad_norm` with one trace per layer, named by module path), and layers an alert names are marked.
// Every string of the graph is user data: it is shown with textContent only.

import { loadScript } from "../lazy";
import { colorRange, countText, graphFrom, GraphModel, shapeText, type GNode, type VNode, type WireGraph } from "../graph/model";
import type { GraphLib, Scene, SceneStyle } from "../graph/index";
import { shown, type EnvState, type WindowState } from "../state";
import type { Alert } from "../wire";
import { css, table } from "../colormap";
import "../graph/graph.css";
import { el, theme, type Ctx, type View } from "./common";

/** Per-layer statistics watch() logs (one trace per layer, named by module path), in the chooser's order. */
export const STATS = ["grad_norm", "weight_norm", "update_ratio", "act_mean", "act_std", "dead_frac"];
const LINEAR = new Set(["act_mean", "dead_frac"]); // may be 0 or negative: a linear scale
/** Boxes shown at first: groups open level by level while this many boxes fit. */
const BUDGET = 250;

async function graphLib(): Promise<GraphLib> {
  await loadScript("static/graph.js");
  const lib = (globalThis as typeof globalThis & { LivepanelGraph?: GraphLib }).LivepanelGraph;
  if (!lib) throw new Error("static/graph.js loaded but defined no LivepanelGraph");
  return lib;
}

/** The newest value of each trace of a line window (trace name -> value). */
export function latest(w: WindowState | undefined): Map<string, number> {
  const out = new Map<string, number>();
  if (!w) return out;
  for (const t of w.traces) if (t.name && t.y.len) out.set(t.name, t.y.buf[t.y.len - 1]);
  return out;
}

/** One value for a box: its layer's, or for a group the geometric (log scale) or plain mean of its layers'. */
export function boxValue(v: VNode, values: Map<string, number>, log: boolean): number {
  let sum = 0;
  let n = 0;
  for (const m of v.modules) {
    const x = values.get(m);
    if (x === undefined || !Number.isFinite(x) || (log && x <= 0)) continue;
    sum += log ? Math.log10(x) : x;
    n++;
  }
  return n ? (log ? Math.pow(10, sum / n) : sum / n) : NaN;
}

/** The layer (module path) an alert names: its trace in a per-layer window, or the tail of `<kind>/<layer>`. */
export function alertLayer(a: Alert): string {
  if (a.trace) return a.trace;
  const slash = a.win.indexOf("/");
  return slash >= 0 ? a.win.slice(slash + 1) : "";
}

export class GraphView implements View {
  readonly el = el("div", "lp-graph");
  readonly tools = el("span", "lp-graph-tools");
  private stage = el("div", "lp-graph-stage");
  private head = el("div", "lp-graph-head");
  private details = el("div", "lp-graph-details");
  private legend = el("div", "lp-graph-legend");
  private tip = el("div", "lp-graph-tip");
  private search = el("input", "lp-graph-search");
  private count = el("span", "lp-graph-count");
  private statSel = el("select", "lp-graph-stat");
  private scene: Scene | null = null;
  private model: GraphModel | null = null;
  private raw: unknown = undefined;
  private env = "";
  private boxes: VNode[] = [];
  private selected: string | null = null;
  private found: string[] = [];
  private foundAt = -1;
  private stat = "";
  private signature = "";
  private timer = 0;
  private w = 400;
  private h = 300;
  private gone = false;
  private loading: Promise<void> | null = null;

  constructor(private readonly ctx: Ctx, private readonly win: string) {
    this.el.dataset.state = "loading";
    this.search.type = "search";
    this.search.placeholder = "find a layer";
    this.search.setAttribute("aria-label", "find a node by name, op or module");
    this.search.addEventListener("input", () => this.find(false));
    this.search.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        this.find(true, ev.shiftKey ? -1 : 1);
      }
    });
    this.statSel.setAttribute("aria-label", "the per-layer statistic that shades the graph");
    this.statSel.title = "shade the layers by the newest value of a statistic watch() logs";
    this.statSel.addEventListener("change", () => {
      this.statSel.dataset.touched = "1"; // the user's choice stays, "no shading" too
      this.stat = this.statSel.value;
      this.restyle(true);
    });
    const btn = (text: string, title: string, fn: () => void) => {
      const b = el("button", "lp-graph-btn", text);
      b.type = "button";
      b.title = title;
      b.addEventListener("click", fn);
      return b;
    };
    this.tools.append(
      this.search,
      this.count,
      this.statSel,
      btn("open all", "open every module group", () => this.openAll(true)),
      btn("close all", "close the module groups to the first levels", () => this.openAll(false)),
      btn("fit", "show the whole graph", () => this.scene?.fit()),
    );
    this.details.hidden = true;
    this.legend.hidden = true;
    this.details.setAttribute("aria-label", "details of the selected node");
    this.tip.hidden = true;
    this.stage.append(this.head, this.legend, this.details, this.tip);
    this.el.append(this.stage);
    this.timer = window.setInterval(() => this.restyle(false), 400);
  }

  update(wins: WindowState[]): void {
    const first = wins.find((w) => w.graph != null);
    this.env = first?.env ?? "";
    this.el.dataset.env = this.env;
    if (first && first.graph !== this.raw) {
      this.raw = first.graph;
      const g = graphFrom(first.graph);
      if (g) void this.show(g);
    } else this.restyle(false);
  }

  private async show(g: WireGraph): Promise<void> {
    this.model = new GraphModel(g);
    this.model.collapseToFit(BUDGET);
    this.selected = null;
    this.details.hidden = true;
    const params = g.modules.find((m) => m.path === "")?.params ?? g.nodes.reduce((s, n) => s + n.params.reduce((t, p) => t + p.count, 0), 0);
    this.head.textContent = `${g.name || "model"} · ${g.source} · ${g.nodes.length} nodes · ${countText(params)} parameters`;
    this.head.title = g.note;
    this.el.dataset.source = g.source;
    this.el.dataset.total = String(g.nodes.length);
    try {
      if (!this.scene) await (this.loading ??= this.load());
    } catch (err) {
      this.el.dataset.state = "error";
      this.head.textContent = `cannot draw this graph: ${err instanceof Error ? err.message : String(err)}`;
      return;
    }
    if (this.gone || !this.scene) return;
    this.scene.forget();
    this.relayout(null);
  }

  private async load(): Promise<void> {
    const lib = await graphLib();
    if (this.gone) return;
    this.scene = lib.create(this.stage, { click: (key) => this.choose(key), dblclick: (key) => this.toggle(key), hover: (key, x, y) => this.hover(key, x, y) });
    this.scene.frameLabel = (path) => {
      const type = this.model?.moduleInfo.get(path)?.type;
      return type ? `${path} · ${type}` : path;
    };
    this.stage.prepend(this.scene.canvas);
    this.scene.resize(this.w, this.h);
  }

  /** Lay out what shows now and draw it (keeping `keep` in place on screen). */
  private relayout(keep: string | null): void {
    if (!this.model || !this.scene) return;
    const t0 = performance.now();
    const vis = this.model.visible();
    this.boxes = vis.nodes;
    const th = theme();
    this.scene.setTheme({ fg: th.fg, muted: th.muted, bg: th.bg, node: mix(th.bg, th.fg, 0.06), border: mix(th.bg, th.fg, 0.45), accent: th.accent, bad: th.bad, find: "#ff9800" });
    this.scene.layout(vis.nodes, vis.edges, keep);
    this.restyle(true);
    this.scene.draw();
    this.el.dataset.state = "drawn";
    this.el.dataset.nodes = String(vis.nodes.length);
    this.el.dataset.layoutMs = this.scene.layoutMs.toFixed(1);
    this.el.dataset.segments = String(this.scene.segments);
    this.el.dataset.drawMs = (performance.now() - t0).toFixed(1);
    this.ctx.drew(this.win);
  }

  private envState(): EnvState | undefined {
    return this.ctx.envState?.(this.env);
  }

  /** Shade, marks and search highlights from the env's statistics and alerts; redraws when they changed. */
  private restyle(force: boolean): void {
    if (!this.model || !this.scene || this.gone) return;
    const env = this.envState();
    const present = STATS.filter((s) => (env?.windows.get(s)?.traces.length ?? 0) > 0);
    const alerts = env ? env.alerts.filter((a) => shown(env, a)) : [];
    // the first statistic the env has shades until the user picks one ("no shading" too)
    if (!this.stat && present.length && !this.statSel.dataset.touched) this.stat = present[0];
    if (this.stat && !present.includes(this.stat)) this.stat = "";
    const statWin = this.stat ? env?.windows.get(this.stat) : undefined;
    const sig = [present.join(","), this.stat, statWin?.version ?? -1, alerts.map((a) => a.id).join(","), this.found.join("\u0000"), this.selected ?? ""].join("|");
    if (!force && sig === this.signature) return;
    this.signature = sig;
    // the chooser lists the statistics this env has; the first one shades until the user picks
    const options = ["", ...present];
    if ([...this.statSel.options].map((o) => o.value).join(",") !== options.join(",")) {
      this.statSel.replaceChildren(...options.map((s) => new Option(s ? "shade: " + s : "no shading", s)));
    }
    this.statSel.value = this.stat;
    this.statSel.hidden = present.length === 0;
    const style: SceneStyle = { fill: new Map(), ink: new Map(), marks: new Set(), found: new Set(), selected: this.selected };
    const values = latest(statWin);
    const log = !LINEAR.has(this.stat) && [...values.values()].every((v) => v > 0 || !Number.isFinite(v));
    let lo = NaN;
    let hi = NaN;
    let clipped = false;
    const byBox = new Map<string, number>();
    if (this.stat) {
      for (const b of this.boxes) {
        const v = boxValue(b, values, log);
        if (Number.isFinite(v)) byBox.set(b.key, v);
      }
      const t = (v: number) => (log ? Math.log10(v) : v);
      ({ lo, hi, clipped } = colorRange([...byBox.values()].map(t)));
      [lo, hi] = log ? [Math.pow(10, lo), Math.pow(10, hi)] : [lo, hi];
      if (this.stat === "dead_frac") [lo, hi, clipped] = [0, 1, false];
      for (const [key, v] of byBox) {
        const fill = css("viridis", t(v), t(lo), t(hi));
        style.fill.set(key, fill);
        const i = Math.round(((t(v) - t(lo)) / (t(hi) - t(lo) || 1)) * 255);
        style.ink.set(key, i > 150 ? "#111" : "#fff");
      }
    }
    this.showLegend(byBox.size ? this.stat : "", lo, hi, log, clipped);
    const keyOfModule = new Map<string, string>();
    for (const b of this.boxes) for (const m of b.modules) if (!keyOfModule.has(m)) keyOfModule.set(m, b.key);
    for (const a of alerts) {
      const key = keyOfModule.get(alertLayer(a));
      if (key) style.marks.add(key);
    }
    for (const id of this.found) style.found.add(this.model.keyOf(id));
    this.scene.setStyle(style);
    this.el.dataset.shaded = String(byBox.size);
    this.el.dataset.marked = String(style.marks.size);
    this.el.dataset.stat = this.stat;
    if (this.selected && !this.details.hidden) this.showDetails(this.selected);
  }

  private showLegend(stat: string, lo: number, hi: number, log: boolean, clipped: boolean): void {
    this.legend.hidden = !stat;
    if (!stat) return;
    const bar = document.createElement("canvas");
    bar.width = 120;
    bar.height = 10;
    const c = bar.getContext("2d");
    const t = table("viridis");
    if (c)
      for (let x = 0; x < 120; x++) {
        const i = Math.round((x / 119) * 255);
        c.fillStyle = `rgb(${t[i * 3]},${t[i * 3 + 1]},${t[i * 3 + 2]})`;
        c.fillRect(x, 0, 1, 10);
      }
    const fmt = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : v.toPrecision(3));
    this.legend.title = clipped ? "the scale spans the 5th to the 95th percentile of the layers' values; the rest take its end colours" : "";
    this.legend.replaceChildren(el("span", "lp-graph-legend-name", stat + (log ? " (log)" : "")), el("span", "", (clipped ? "≤ " : "") + fmt(lo)), bar, el("span", "", (clipped ? "≥ " : "") + fmt(hi)));
  }

  /** A tooltip for the box under the pointer: its name, op and shape (labels are not drawn when zoomed out). */
  private hover(key: string | null, cx: number, cy: number): void {
    const box = key ? this.boxes.find((b) => b.key === key) : undefined;
    if (!box) {
      this.tip.hidden = true;
      return;
    }
    const value = this.stat ? boxValue(box, latest(this.envState()?.windows.get(this.stat)), false) : NaN;
    const lines = [box.label, box.node ? box.node.op + (box.node.shape ? " " + shapeText(box.node.shape) : "") : box.sub];
    if (Number.isFinite(value)) lines.push(`${this.stat} ${value.toPrecision(3)}`);
    this.tip.textContent = lines.join("\n");
    const r = this.stage.getBoundingClientRect();
    this.tip.style.left = `${Math.min(cx - r.left + 12, r.width - 160)}px`;
    this.tip.style.top = `${cy - r.top + 14}px`;
    this.tip.hidden = false;
  }

  private choose(key: string | null): void {
    this.selected = key;
    if (key) this.showDetails(key);
    else this.details.hidden = true;
    if (key && !this.details.hidden) this.scene?.keepVisible(key, this.details.offsetWidth + 6);
    this.restyle(true);
  }

  private toggle(key: string): void {
    if (!this.model) return;
    if (key.startsWith("g:")) this.model.collapsed.delete(key.slice(2));
    else if (key.startsWith("x:")) {
      this.model.collapsed.add(key.slice(2)); // an open group's frame: close it
      key = "g:" + key.slice(2);
    } else {
      const chain = this.model.chain.get(key.slice(2)) ?? [];
      const inner = chain[chain.length - 1];
      if (!inner) return;
      this.model.collapsed.add(inner); // a double click on a node closes its group
      key = "g:" + inner;
    }
    this.selected = null;
    this.details.hidden = true;
    this.relayout(key);
  }

  private openAll(open: boolean): void {
    if (!this.model) return;
    if (open) this.model.collapsed.clear();
    else this.model.collapseToFit(Math.min(BUDGET, 40));
    this.relayout(null);
  }

  /** Highlight the nodes the search finds; `go`: open the groups around the next one and bring it into view. */
  private find(go: boolean, dir = 1): void {
    if (!this.model || !this.scene) return;
    this.found = this.model.search(this.search.value);
    if (!this.found.length) {
      this.foundAt = -1;
      this.count.textContent = this.search.value.trim() ? "0" : "";
      this.search.classList.toggle("bad", !!this.search.value.trim());
      this.restyle(true);
      return;
    }
    this.search.classList.remove("bad");
    if (go || this.foundAt < 0) this.foundAt = (this.foundAt + (go ? dir : 1) + this.found.length) % this.found.length;
    if (this.foundAt >= this.found.length) this.foundAt = 0;
    this.count.textContent = `${this.foundAt + 1}/${this.found.length}`;
    if (go) {
      const id = this.found[this.foundAt];
      if (this.model.hiddenIn(id) !== null) {
        this.model.reveal(id);
        this.relayout(null);
      }
      this.choose("n:" + id);
      this.scene.center("n:" + id, this.details.hidden ? 0 : this.details.offsetWidth + 6);
    } else this.restyle(true);
  }

  /** The layer windows of a module: `<anything>/<module>` and windows with a trace named by it. */
  private layerWindows(modules: string[]): string[] {
    const env = this.envState();
    if (!env || !modules.length) return [];
    const out: string[] = [];
    for (const [name, w] of env.windows) {
      if (name === this.win) continue;
      const tail = name.slice(name.indexOf("/") + 1);
      if ((name.includes("/") && modules.includes(tail)) || w.traces.some((t) => modules.includes(t.name))) out.push(name);
    }
    return out;
  }

  private showDetails(key: string): void {
    const m = this.model;
    const box = key.startsWith("x:") ? this.openGroup(key.slice(2)) : this.boxes.find((b) => b.key === key);
    if (!m || !box) {
      this.details.hidden = true;
      return;
    }
    const d = this.details;
    d.replaceChildren();
    d.hidden = false;
    const close = el("button", "lp-graph-close", "×");
    close.type = "button";
    close.title = "close the details";
    close.addEventListener("click", () => this.choose(null));
    d.append(close, el("h4", "lp-graph-name", box.label));
    const row = (k: string, v: string) => {
      const r = el("div", "lp-graph-row");
      r.append(el("span", "lp-graph-key", k), el("span", "lp-graph-val", v));
      d.append(r);
    };
    const env = this.envState();
    const n: GNode | null = box.node;
    if (n) {
      row("op", n.op);
      if (n.module) row("module", n.module);
      if (n.shape) row("output", shapeText(n.shape));
      const ins = m.inputs(n.id);
      if (ins.length) row("inputs", ins.map((e) => `${m.byId.get(e.from)?.name ?? e.from}${e.shape ? " " + shapeText(e.shape) : ""}`).join(", "));
      const outs = m.outputs(n.id);
      if (outs.length) row("outputs", outs.map((e) => m.byId.get(e.to)?.name ?? e.to).join(", "));
      const total = n.params.reduce((s, p) => s + p.count, 0);
      if (n.params.length) {
        row("parameters", countText(total) + ` (${total})`);
        for (const p of n.params) row("  " + p.name, `${shapeText(p.shape)} · ${p.count}`);
      }
      for (const [k, v] of Object.entries(n.attrs)) row(k, typeof v === "string" ? v : JSON.stringify(v));
    } else if (box.group !== null) {
      const info = m.moduleInfo.get(box.group);
      if (info?.type) row("module", info.type);
      row("nodes", String(m.groups.get(box.group)?.length ?? 0));
      if (info) row("parameters", `${countText(info.params)} (${info.params})`);
      const open = el("button", "lp-graph-btn", key.startsWith("x:") ? "close group" : "open group");
      open.type = "button";
      open.addEventListener("click", () => this.toggle(key));
      d.append(open);
    }
    // the live part: this layer's newest statistics, its alerts, its windows
    for (const s of STATS) {
      const w = env?.windows.get(s);
      if (!w) continue;
      const v = boxValue(box, latest(w), false);
      if (Number.isFinite(v)) row(s, v.toPrecision(4));
    }
    for (const a of env ? env.alerts.filter((x) => shown(env, x) && box.modules.includes(alertLayer(x))) : []) {
      d.append(el("div", "lp-graph-alert", `${a.kind.replace(/_/g, " ")}: ${a.message}`));
    }
    const wins = this.layerWindows(box.modules);
    if (wins.length) {
      const list = el("div", "lp-graph-wins");
      list.append(el("span", "lp-graph-key", "windows"));
      for (const win of wins) {
        const b = el("button", "lp-graph-win", win);
        b.type = "button";
        b.title = "show this window";
        b.addEventListener("click", () => this.ctx.reveal?.(win));
        list.append(b);
      }
      d.append(list);
    }
    if (box.node && m.chain.get(box.node.id)?.length) {
      const chain = m.chain.get(box.node.id)!;
      const closeBtn = el("button", "lp-graph-btn", `close ${chain[chain.length - 1]}`);
      closeBtn.type = "button";
      closeBtn.addEventListener("click", () => this.toggle(key));
      d.append(closeBtn);
    }
  }

  /** An open group as a box for the details panel: its path, and the layers of its nodes. */
  private openGroup(path: string): VNode | null {
    const ids = this.model?.groups.get(path);
    if (!this.model || !ids) return null;
    const modules = [...new Set(ids.map((id) => this.model!.byId.get(id)!.module).filter((x) => x))];
    return { key: "x:" + path, label: path, sub: "", node: null, group: path, modules, count: ids.length, parents: [] };
  }

  /** What tests and benchmarks read: boxes shown, timings, a box's place on screen. */
  info(): { boxes: number; layoutMs: number; runs: number; draws: number[]; zoom: number } | null {
    const s = this.scene;
    return s ? { boxes: s.boxCount, layoutMs: s.layoutMs, runs: s.runs, draws: [...s.drawTimes], zoom: s.zoom } : null;
  }

  box(id: string): { x: number; y: number; w: number; h: number } | null {
    if (!this.model || !this.scene) return null;
    if (this.model.byId.has(id)) return this.scene.screenBox(this.model.keyOf(id));
    return this.scene.screenBox("g:" + id) ?? this.scene.screenFrame(id); // a closed group, or an open one's frame
  }

  resize(width: number, height: number): void {
    this.w = Math.max(50, Math.floor(width));
    this.h = Math.max(50, Math.floor(height));
    this.scene?.resize(this.w, this.h);
  }

  async png(): Promise<Blob | null> {
    return this.scene ? this.scene.png() : null;
  }

  destroy(): void {
    this.gone = true;
    clearInterval(this.timer);
    this.scene?.destroy();
    this.el.remove();
  }
}

/** A colour between two CSS hex colours (for the boxes' fill and border from the theme). */
function mix(a: string, b: string, f: number): string {
  const p = (c: string) => {
    const m = /^#([0-9a-f]{6})$/i.exec(c.trim());
    return m ? [0, 2, 4].map((i) => parseInt(m[1].slice(i, i + 2), 16)) : null;
  };
  const x = p(a);
  const y = p(b);
  if (!x || !y) return f < 0.5 ? a : b;
  return `rgb(${x.map((v, i) => Math.round(v * (1 - f) + y[i] * f)).join(",")})`;
}
