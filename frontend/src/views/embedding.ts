// Embedding windows: the points of one step projected to 2-D or 3-D (PCA from the server at once; t-SNE and
// UMAP computed by the server on request, with their progress), drawn by static/fast3d.js (fast3d/points.ts:
// three.js in WebGL), loaded on first need like the plotly path's renderer. Colour by label or a metadata
// column, a label search that highlights matches, hover for a point's label, metadata and thumbnail, a click
// for its nearest neighbours in the original space, and a step slider to watch the clusters form.
// The window's state holds each step's meta only; its points load from api/v1/embedding for the step shown.
// Several envs with the window: the first one's is shown.

import { decode } from "@msgpack/msgpack";
import type { EmbedStep } from "../embedstate";
import { table as colormap } from "../colormap";
import { loadScript } from "../lazy";
import type { WindowState } from "../state";
import { typed, isWireArray, type WireArray } from "../wire";
import type { Fast3dLib } from "../fast3d/index";
import type { PointsScene } from "../fast3d/points";
import { el, PALETTE, StepSlider, theme, type Ctx, type View } from "./common";

interface StepData {
  step: number;
  n: number;
  labels: string[] | null;
  metadata: Record<string, string[] | Float64Array>;
  coords: Map<string, Float32Array>;
}

const METHODS: [string, string][] = [["pca", "PCA"], ["tsne", "t-SNE"], ["umap", "UMAP"]];
const NEIGHBOURS = 10;
const KEEP_STEPS = 3;

function keyFor(method: string, dims: number): string {
  return method === "pca" ? "pca" : `${method}-${dims}d`;
}

function rgb(css: string): [number, number, number] {
  const m = /^#([0-9a-f]{6})$/i.exec(css);
  if (!m) return [120, 120, 120];
  const n = parseInt(m[1], 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** A distinct colour for category k: the palette, then golden-angle hues. */
function category(k: number): [number, number, number] {
  if (k < PALETTE.length) return rgb(PALETTE[k]);
  const h = ((k * 137.508) % 360) / 60;
  const c = 0.55;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const [r, g, b] = h < 1 ? [c, x, 0] : h < 2 ? [x, c, 0] : h < 3 ? [0, c, x] : h < 4 ? [0, x, c] : h < 5 ? [x, 0, c] : [c, 0, x];
  const m = 0.2;
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}

export class EmbeddingView implements View {
  readonly el = el("div", "lp-embed");
  readonly tools = el("span", "lp-tools");
  private host = el("div", "lp-embed-host");
  private tip = el("div", "lp-embed-tip");
  private status = el("div", "lp-embed-status");
  private info = el("div", "lp-embed-info");
  private legend = el("div", "lp-embed-legend");
  private slider: StepSlider;
  private method = el("select");
  private dimsBtn = el("button", "lp-toggle on", "3-D");
  private colorBy = el("select");
  private search = el("input");
  private scene: PointsScene | null = null;
  private loading = false;
  private wins: WindowState[] = [];
  private data = new Map<number, StepData>();
  private fetching = new Set<string>();
  private requested = new Set<string>();
  private retried = new Set<string>();
  private available: Record<string, boolean> | null = null;
  private shown = "";
  private shownStep: StepData | null = null;
  private selected = -1;
  private neighbours: number[] = [];
  private matches: number[] = [];
  private dims: 2 | 3 = 3;
  private hoverFrame = 0;
  private destroyed = false;

  constructor(private readonly ctx: Ctx, private readonly win: string) {
    this.slider = new StepSlider(() => this.draw());
    for (const [value, label] of METHODS) {
      const o = el("option", "", label);
      o.value = value;
      this.method.append(o);
    }
    this.method.title = "projection";
    this.method.setAttribute("aria-label", "projection");
    this.method.addEventListener("change", () => {
      this.retried.clear(); // picking a projection asks again for a step whose computation was cancelled
      this.requested.clear();
      this.draw();
    });
    this.dimsBtn.type = "button";
    this.dimsBtn.title = "3-D (off: 2-D)";
    this.dimsBtn.addEventListener("click", () => {
      this.dims = this.dims === 3 ? 2 : 3;
      this.dimsBtn.classList.toggle("on", this.dims === 3);
      this.dimsBtn.setAttribute("aria-pressed", String(this.dims === 3));
      this.draw();
    });
    this.colorBy.title = "colour by";
    this.colorBy.setAttribute("aria-label", "colour by");
    this.colorBy.addEventListener("change", () => this.paint());
    this.search.type = "search";
    this.search.placeholder = "label…";
    this.search.className = "lp-embed-search";
    this.search.setAttribute("aria-label", "search labels");
    this.search.addEventListener("input", () => this.paint());
    this.tools.append(this.method, this.dimsBtn, this.colorBy, this.search);
    this.tip.hidden = true;
    this.info.hidden = true;
    this.host.append(this.legend, this.tip);
    this.el.append(this.status, this.host, this.info, this.slider.el);
    this.host.addEventListener("mousemove", this.onHover);
    this.host.addEventListener("mouseleave", () => this.hideTip());
    this.el.dataset.state = "empty";
  }

  update(wins: WindowState[]): void {
    this.wins = wins;
    this.draw();
  }

  private get w(): WindowState | undefined {
    return this.wins[0];
  }

  /** The step chosen on the slider (the latest unless one was picked). */
  private current(): EmbedStep | null {
    const steps = this.w?.embedding ?? [];
    const i = this.slider.set(steps.map((s) => s.step));
    return steps[i] ?? null;
  }

  private draw(): void {
    const w = this.w;
    const s = this.current();
    if (!w || !s) {
      this.status.textContent = "no embedding yet";
      return;
    }
    if (!this.available) void this.loadMethods();
    this.syncColumns(s);
    const method = this.method.value;
    const key = keyFor(method, this.dims);
    const proj = s.projections[key];
    const data = this.data.get(s.step);
    const label = METHODS.find((m) => m[0] === method)?.[1] ?? method;
    let note = "";
    if (proj === "done") {
      if (data?.coords.has(key)) this.show(data, key);
      else void this.fetchPoints(w, s.step, key);
    } else if (proj && proj.state === "error") note = `${label} failed: ${proj.error ?? "unknown error"}`;
    else if (proj && proj.state !== "cancelled") note = `${label}: computing ${Math.round(proj.progress * 100)}%`;
    else if (this.available && !this.available[method]) note = `${label} is not installed on the server`;
    else {
      // not asked for yet, or cancelled on the server (a later step was asked for before its turn): ask
      // (again, once: two pages asking for different steps must not cancel each other for ever)
      const id = `${w.env}\n${s.step}\n${key}`;
      if (proj && !this.retried.has(id)) {
        this.retried.add(id);
        this.requested.delete(id);
      }
      void this.project(w, s.step, method);
      note = proj ? `${label}: cancelled (another step was asked for); pick ${label} again to compute it` : `${label}: starting`;
    }
    if (proj !== "done" && !data?.coords.has(key)) {
      // until it is ready, the step's PCA stands in (so the slider still shows the clusters forming)
      if (data?.coords.has("pca")) this.show(data, "pca");
      else if (s.projections.pca === "done") void this.fetchPoints(w, s.step, "pca");
    }
    this.el.dataset.progress = proj === "done" ? "done" : proj ? proj.state : "";
    const variance = key === "pca" && s.variance.length ? ` · variance ${s.variance.slice(0, this.dims).map((v) => `${(v * 100).toFixed(1)}%`).join(", ")}` : "";
    this.status.textContent = `step ${s.step} · ${s.n} points × ${s.dim}${variance}${note ? ` · ${note}` : ""}${this.matchText()}`;
  }

  private matchText(): string {
    return this.search.value.trim() ? ` · ${this.matches.length} match${this.matches.length === 1 ? "" : "es"}` : "";
  }

  private syncColumns(s: EmbedStep): void {
    const want = [...(s.labels ? ["label"] : []), ...Object.keys(s.columns).map((c) => `meta:${c}`)];
    const have = [...this.colorBy.options].map((o) => o.value).filter((v) => v !== "none");
    if (want.join("\n") === have.join("\n")) return;
    const keep = this.colorBy.value;
    this.colorBy.replaceChildren();
    for (const v of [...want, "none"]) {
      const o = el("option", "", v === "label" ? "label" : v === "none" ? "no colour" : v.slice(5));
      o.value = v;
      this.colorBy.append(o);
    }
    this.colorBy.value = want.includes(keep) ? keep : (want[0] ?? "none");
  }

  private async loadMethods(): Promise<void> {
    this.available = { pca: true, tsne: true, umap: true }; // until the server says
    try {
      const res = await fetch(this.ctx.api("embedding", { methods: 1 }));
      const body = decode(new Uint8Array(await res.arrayBuffer())) as { methods?: Record<string, boolean> };
      if (body.methods) this.available = body.methods;
      for (const o of this.method.options) o.disabled = !this.available[o.value];
      this.draw();
    } catch {
      /* offered all; the server says which fail */
    }
  }

  private async project(w: WindowState, step: number, method: string): Promise<void> {
    const id = `${w.env}\n${step}\n${keyFor(method, this.dims)}`;
    if (this.requested.has(id)) return;
    this.requested.add(id);
    try {
      await fetch(this.ctx.api("embedding", { env: w.env, win: w.win, step, project: method, dims: this.dims }));
    } catch {
      this.requested.delete(id);
    }
  }

  private async fetchPoints(w: WindowState, step: number, key: string): Promise<void> {
    const id = `${w.env}\n${step}\n${key}`;
    if (this.fetching.has(id)) return;
    this.fetching.add(id);
    try {
      const res = await fetch(this.ctx.api("embedding", { env: w.env, win: w.win, step, key }));
      if (!res.ok) return;
      const body = decode(new Uint8Array(await res.arrayBuffer())) as Record<string, unknown>;
      let d = this.data.get(step);
      if (!d) {
        const metadata: StepData["metadata"] = {};
        for (const [k, v] of Object.entries((body.metadata ?? {}) as Record<string, unknown>)) {
          if (Array.isArray(v)) metadata[k] = v.map(String);
          else if (isWireArray(v)) metadata[k] = Float64Array.from(typed(v) as ArrayLike<number>);
        }
        const labels = Array.isArray(body.label) ? body.label.map(String) : null;
        d = { step, n: Number(body.n) || 0, labels, metadata, coords: new Map() };
        this.data.set(step, d);
        while (this.data.size > KEEP_STEPS) {
          const oldest = [...this.data.keys()].find((k) => k !== step && k !== this.shownStep?.step);
          if (oldest === undefined) break;
          this.data.delete(oldest);
        }
      }
      for (const [k, v] of Object.entries((body.coords ?? {}) as Record<string, WireArray>)) {
        if (isWireArray(v)) d.coords.set(k, Float32Array.from(typed(v) as ArrayLike<number>));
      }
    } catch {
      /* drawn from what is there; the next change tries again */
    } finally {
      this.fetching.delete(id);
    }
    if (!this.destroyed) this.draw();
  }

  private show(d: StepData, key: string): void {
    if (!this.scene) {
      void this.load();
      return;
    }
    const coords = d.coords.get(key)!;
    const stride = key === "pca" ? 3 : key.endsWith("3d") ? 3 : 2;
    const dims = (key === "pca" ? this.dims : stride) as 2 | 3;
    const id = `${d.step}/${key}/${dims}`;
    if (id === this.shown) return;
    const sameStep = this.shownStep === d;
    this.shown = id;
    this.shownStep = d;
    if (!sameStep) {
      this.selected = -1;
      this.neighbours = [];
      this.info.hidden = true;
    }
    this.scene.setData(coords, stride, dims);
    this.paint();
    this.el.dataset.state = "drawn";
    this.el.dataset.step = String(d.step);
    this.el.dataset.key = key;
    this.el.dataset.points = String(d.n);
    this.ctx.drew(this.win);
  }

  private async load(): Promise<void> {
    if (this.loading || this.scene) return;
    this.loading = true;
    try {
      await loadScript("static/fast3d.js");
      const lib = (globalThis as typeof globalThis & { LivepanelFast3d?: Fast3dLib }).LivepanelFast3d;
      if (!lib || this.destroyed) return;
      this.scene = lib.points(this.host);
      (this.host as HTMLElement & { lpScene?: PointsScene }).lpScene = this.scene; // tests and benchmarks
      this.scene.setBackground(theme().bg);
      this.scene.setSize(this.host.clientWidth || 400, this.host.clientHeight || 260);
      this.scene.onClick = (i) => void this.select(i);
      this.scene.onView = () => this.hideTip();
      this.draw();
    } catch (e) {
      this.status.textContent = `could not load the 3-D renderer: ${String(e)}`;
    } finally {
      this.loading = false;
    }
  }

  /** The text of point i in the column the colours come from (or its label). */
  private textOf(d: StepData, i: number): string {
    const by = this.colorBy.value;
    if (by.startsWith("meta:")) {
      const col = d.metadata[by.slice(5)];
      if (col && !(col instanceof Float64Array)) return col[i];
    }
    return d.labels ? d.labels[i] : "";
  }

  /** Colours (by the chosen column), search matches dimming the rest, and the highlighted points. */
  private paint(): void {
    const d = this.shownStep;
    const scene = this.scene;
    if (!d || !scene) {
      this.draw();
      return;
    }
    const n = d.n;
    const out = new Uint8Array(n * 3);
    const by = this.colorBy.value;
    const col = by === "label" ? d.labels : by.startsWith("meta:") ? d.metadata[by.slice(5)] : null;
    if (col instanceof Float64Array) {
      let lo = Infinity;
      let hi = -Infinity;
      for (const v of col) if (Number.isFinite(v)) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const t = colormap("viridis");
      this.showLegend([[`${Number(lo.toPrecision(4))}`, [t[0], t[1], t[2]]], [`${Number(hi.toPrecision(4))}`, [t[765], t[766], t[767]]]], 0);
      for (let i = 0; i < n; i++) {
        const v = col[i];
        const c = Number.isFinite(v) ? (hi > lo ? Math.round(((v - lo) / (hi - lo)) * 255) : 128) * 3 : 0;
        out[i * 3] = t[c];
        out[i * 3 + 1] = t[c + 1];
        out[i * 3 + 2] = t[c + 2];
      }
    } else if (col) {
      const ids = new Map<string, [number, number, number]>();
      for (let i = 0; i < n; i++) {
        let c = ids.get(col[i]);
        if (!c) ids.set(col[i], (c = category(ids.size)));
        out.set(c, i * 3);
      }
      const entries = [...ids.entries()].sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true }));
      this.showLegend(entries.slice(0, 12), entries.length - 12);
    } else {
      this.showLegend([], 0);
      const c = rgb(PALETTE[0]);
      for (let i = 0; i < n; i++) out.set(c, i * 3);
    }
    const q = this.search.value.trim().toLowerCase();
    this.matches = [];
    if (q) {
      const bg = rgb(theme().bg.startsWith("#") && theme().bg.length === 7 ? theme().bg : "#ffffff");
      for (let i = 0; i < n; i++) {
        if (this.textOf(d, i).toLowerCase().includes(q)) this.matches.push(i);
        else for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(out[i * 3 + c] * 0.15 + bg[c] * 0.85);
      }
    }
    scene.setColors(out);
    this.el.dataset.matches = String(this.matches.length);
    this.highlight();
    this.draw();
  }

  /** Colour keys over the plot: categories (at most 12 shown, then "+N more"), or a scale's two ends. */
  private showLegend(entries: [string, ArrayLike<number>][], more: number): void {
    this.legend.replaceChildren();
    for (const [name, c] of entries) {
      const row = el("div", "lp-embed-key");
      const sw = el("span", "lp-embed-swatch");
      sw.style.background = `rgb(${c[0]},${c[1]},${c[2]})`;
      row.append(sw, el("span", "", name));
      this.legend.append(row);
    }
    if (more > 0) this.legend.append(el("div", "lp-embed-key", `+${more} more`));
    this.legend.hidden = !entries.length;
  }

  private highlight(): void {
    const scene = this.scene;
    if (!scene) return;
    const shownMatches = this.matches.length <= 5000 ? this.matches : [];
    const idx = [...shownMatches, ...this.neighbours, ...(this.selected >= 0 ? [this.selected] : [])];
    const cols = new Uint8Array(idx.length * 3);
    const accent = rgb(theme().accent.startsWith("#") ? theme().accent : "#1f77b4");
    idx.forEach((p, k) => {
      const c = k >= shownMatches.length + this.neighbours.length ? [214, 39, 40] : k >= shownMatches.length ? [255, 127, 14] : accent;
      cols.set(c, k * 3);
    });
    scene.setHighlight(idx, cols);
  }

  private async select(i: number): Promise<void> {
    const d = this.shownStep;
    const w = this.w;
    this.selected = i;
    this.neighbours = [];
    this.el.dataset.selected = String(i);
    this.el.dataset.neighbours = "";
    this.highlight();
    if (i < 0 || !d || !w) {
      this.info.hidden = true;
      return;
    }
    this.info.hidden = false;
    this.info.textContent = `point ${i}${d.labels ? ` (${d.labels[i]})` : ""}: finding neighbours…`;
    try {
      const res = await fetch(this.ctx.api("embedding", { env: w.env, win: w.win, step: d.step, neighbors: i, k: NEIGHBOURS }));
      const body = decode(new Uint8Array(await res.arrayBuffer())) as { index?: WireArray; distance?: WireArray };
      if (this.selected !== i || this.shownStep !== d || !body.index || !body.distance) return;
      const index = Array.from(typed(body.index) as ArrayLike<number>);
      const dist = Array.from(typed(body.distance) as ArrayLike<number>);
      this.neighbours = index;
      this.el.dataset.neighbours = index.join(",");
      this.highlight();
      const head = el("div", "lp-embed-sel", `point ${i}${d.labels ? ` · ${d.labels[i]}` : ""} · nearest (cosine, original space):`);
      const list = el("ol", "lp-embed-nn");
      index.forEach((p, k) => list.append(el("li", "", `${d.labels ? d.labels[p] : `point ${p}`} (#${p}, ${dist[k].toFixed(3)})`)));
      this.info.replaceChildren(head, list);
    } catch {
      this.info.textContent = `point ${i}: could not load its neighbours`;
    }
  }

  private onHover = (e: MouseEvent): void => {
    if (e.buttons || !this.scene) return;
    const x = e.clientX;
    const y = e.clientY;
    if (this.hoverFrame) cancelAnimationFrame(this.hoverFrame);
    this.hoverFrame = requestAnimationFrame(() => {
      this.hoverFrame = 0;
      const scene = this.scene;
      const d = this.shownStep;
      if (!scene || !d) return;
      const r = scene.canvas.getBoundingClientRect();
      const i = scene.pick(x - r.left, y - r.top);
      if (i < 0) return this.hideTip();
      this.showTip(d, i, x - r.left, y - r.top);
    });
  };

  private showTip(d: StepData, i: number, x: number, y: number): void {
    const w = this.w;
    const s = this.current();
    this.tip.replaceChildren();
    if (s?.thumbs && w) {
      const img = el("img");
      img.alt = "";
      img.src = this.ctx.api("embedding", { env: w.env, win: w.win, step: d.step, thumb: i });
      this.tip.append(img);
    }
    this.tip.append(el("div", "lp-embed-label", d.labels ? d.labels[i] : `point ${i}`));
    const cols = Object.entries(d.metadata).slice(0, 8);
    for (const [name, col] of cols) {
      const v = col[i];
      this.tip.append(el("div", "", `${name}: ${typeof v === "number" ? Number(v.toPrecision(6)) : v}`));
    }
    this.tip.append(el("div", "lp-embed-idx", `#${i}`));
    this.tip.hidden = false;
    this.tip.style.left = `${Math.min(x + 12, Math.max(0, this.host.clientWidth - 160))}px`;
    this.tip.style.top = `${Math.min(y + 12, Math.max(0, this.host.clientHeight - 80))}px`;
    this.el.dataset.hover = String(i);
  }

  private hideTip(): void {
    if (this.tip.hidden) return; // (called on every camera move while rotating)
    this.tip.hidden = true;
    this.el.dataset.hover = "";
  }

  resize(width: number, height: number): void {
    const rest = this.status.offsetHeight + (this.info.hidden ? 0 : this.info.offsetHeight) + this.slider.el.offsetHeight;
    const h = Math.max(60, height - rest);
    this.host.style.height = `${h}px`;
    this.scene?.setSize(width, h);
  }

  png(): Promise<Blob | null> {
    return this.scene ? this.scene.png() : Promise.resolve(null);
  }

  destroy(): void {
    this.destroyed = true;
    if (this.hoverFrame) cancelAnimationFrame(this.hoverFrame);
    this.scene?.destroy();
    this.scene = null;
  }
}
