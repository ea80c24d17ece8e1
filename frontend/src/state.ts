// The pure state of every subscribed env: apply one server message, return the
// ids of the windows it changed. No DOM here (unit-tested under node).

import { applyEmbedding, embedStepFrom, type EmbedStep } from "./embedstate";
import { joined } from "./heatmapjoin";
import { matrix, toF64, type Alert, type EnvInfo, type ImageMeta, type Layout, type Op, type Opts, type ServerMessage, type WireArray, type WireHistStep, type WireImageStep, type WireTrace, type WireWindow } from "./wire";

/** A growable column of numbers; `len` values are in use. */
export class Column {
  buf: Float64Array;
  len: number;
  constructor(init?: Float64Array) {
    this.buf = init ?? new Float64Array(0);
    this.len = this.buf.length;
  }
  get values(): Float64Array {
    return this.buf.subarray(0, this.len);
  }
  push(more: Float64Array): void {
    const need = this.len + more.length;
    if (need > this.buf.length) {
      const grown = new Float64Array(Math.max(need, this.buf.length * 2, 64));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(more, this.len);
    this.len = need;
  }
}

export interface Trace {
  name: string;
  x: Column;
  y: Column;
  t: Column;
  /** points stored on the server (may be more than held here when decimated) */
  n: number;
  decimated: boolean;
}

export interface HistStep {
  step: number;
  t: number;
  counts: Float64Array;
  edges: Float64Array;
  stats: Record<string, number>;
}

export interface ImageStep {
  step: number;
  t: number;
  images: ImageMeta[];
}

/** One step of an audio or video window (livepanel/clips.py): its file loads from /api/v1/media?step= */
export interface ClipStep {
  step: number;
  t: number;
  /** format, size, and sample_rate, channels, samples, peaks (audio) or fps, frames, width, height (video) */
  meta: Record<string, unknown>;
}

export interface WindowState {
  env: string;
  win: string;
  kind: string;
  opts: Opts;
  seq: number;
  /** bumped on every change, so views can tell what they already drew */
  version: number;
  traces: Trace[];
  /** a properties pane's items, in Visdom's form (views/properties.ts) */
  items?: unknown[];
  bar: { rows: number; cols: number; data: Float64Array; labels: string[] | null } | null;
  hist: HistStep[];
  heatmap: { rows: number; cols: number; data: Float64Array } | null;
  images: ImageStep[];
  text: string;
  /** a plotly window's figure as the wire has it ({data, layout}, arrays as wire arrays): views/plotly.ts */
  figure?: unknown;
  /** a media window's file: format (wav, mp4, svg, ...) and size in bytes (views/media.ts) */
  media?: { format: string; size: number };
  /** an audio or video window's steps, oldest first: each describes one file (views/clips.ts) */
  clips?: ClipStep[];
  /** an embedding window's steps: sizes, columns and projections, not points (views/embedding.ts) */
  embedding?: EmbedStep[];
  /** a graph window's model graph as the wire has it (src/graph/model.ts reads it) */
  graph?: unknown;
}

export interface EnvState {
  name: string;
  seq: number;
  store: string;
  windows: Map<string, WindowState>;
  layout: Layout;
  /** training problems the server's diagnosis raised in this env, oldest first (dismissed ones too) */
  alerts: Alert[];
  /** alert kinds muted in the whole env (a window's own: its `mute` option) */
  mute: string[];
  /** the server skipped a seq: resubscribe from scratch */
  broken: boolean;
}

export const MAX_IMAGE_STEPS = 1000;
/** the operations that create or change a window of that kind */
export const WINDOW_KINDS = new Set(["line", "scatter", "bar", "histogram", "heatmap", "image", "text", "plotly"]);
export const MAX_HIST_STEPS = 10000;
WINDOW_KINDS.add("properties"); // a properties pane: edited by viewers, read by the training process
WINDOW_KINDS.add("media"); // audio, video or svg bytes, loaded from /api/v1/media (views/media.ts)
WINDOW_KINDS.add("audio").add("video"); // a WAV or an MP4 per step (views/clips.ts)
const MAX_CLIP_STEPS = 1000;

function clipFrom(raw: Record<string, unknown>): ClipStep {
  const { step, t, op: _op, env: _env, win: _win, opts: _opts, dropped: _dropped, ...meta } = raw;
  return { step: typeof step === "number" ? step : 0, t: typeof t === "number" ? t : 0, meta };
}
WINDOW_KINDS.add("graph"); // a model's structure, replaced whole (views/graph.ts)
WINDOW_KINDS.add("embedding"); // points projected by the server, loaded from /api/v1/embedding (views/embedding.ts)
/** the operations that change which alerts are shown */
const ALERT_OPS = new Set(["alert", "close", "delete_env", "dismiss", "mute"]);

function mediaFrom(op: Op): { format: string; size: number } {
  return { format: typeof op.format === "string" ? op.format : "", size: typeof op.size === "number" ? op.size : 0 };
}

export function emptyWindow(env: string, win: string, kind: string): WindowState {
  return { env, win, kind, opts: {}, seq: 0, version: 0, traces: [], bar: null, hist: [], heatmap: null, images: [], text: "" };
}

function traceFrom(w: WireTrace): Trace {
  const x = toF64(w.x);
  const y = toF64(w.y);
  const t = w.t ? toF64(w.t) : new Float64Array(0);
  return { name: w.name ?? "", x: new Column(x), y: new Column(y), t: new Column(t), n: w.n ?? y.length, decimated: !!w.decimated };
}

function histFrom(s: WireHistStep): HistStep {
  return { step: s.step, t: s.t ?? 0, counts: toF64(s.counts), edges: toF64(s.edges), stats: s.stats ?? {} };
}

/** Build a window's client state from its wire form (snapshot or `window` message). */
export function windowFrom(env: string, w: WireWindow): WindowState {
  const st = emptyWindow(env, w.win, w.kind);
  st.opts = { ...(w.opts ?? {}) };
  st.seq = w.seq ?? 0;
  st.traces = (w.traces ?? []).map(traceFrom);
  if (w.kind === "bar" && w.y) st.bar = { ...matrix(w.y), labels: w.labels ?? null };
  if (w.kind === "histogram") st.hist = ((w.steps ?? []) as WireHistStep[]).map(histFrom).sort((a, b) => a.step - b.step);
  if (w.kind === "heatmap" && w.z) st.heatmap = matrix(w.z);
  if (w.kind === "image") st.images = ((w.steps ?? []) as WireImageStep[]).map((s) => ({ step: s.step, t: s.t ?? 0, images: s.images ?? [] })).sort((a, b) => a.step - b.step);
  if (w.kind === "text") st.text = w.text ?? "";
  if (w.kind === "properties") st.items = Array.isArray(w.items) ? w.items : [];
  if (w.kind === "plotly") st.figure = w.figure ?? null;
  if (w.kind === "media") st.media = mediaFrom(w as unknown as Op);
  if (w.kind === "audio" || w.kind === "video") st.clips = ((w.steps ?? []) as unknown as Record<string, unknown>[]).map(clipFrom).sort((a, b) => a.step - b.step);
  if (w.kind === "graph") st.graph = (w as unknown as { graph?: unknown }).graph ?? null;
  if (w.kind === "embedding") st.embedding = ((w.steps ?? []) as unknown as Record<string, unknown>[]).map(embedStepFrom).sort((a, b) => a.step - b.step);
  return st;
}

const num = (v: unknown): number => (typeof v === "number" ? v : NaN);
const text = (v: unknown): string => (typeof v === "string" ? v : v == null ? "" : String(v));

/** An alert from the wire, checked: null when it lacks an id or a window. Strings stay strings (shown as text only). */
export function alertFrom(raw: unknown, env: string): Alert | null {
  if (!raw || typeof raw !== "object") return null;
  const a = raw as Record<string, unknown>;
  if (typeof a.id !== "number" || typeof a.win !== "string") return null;
  const step = num(a.step);
  return {
    id: a.id,
    kind: text(a.kind) || "alert",
    env: typeof a.env === "string" ? a.env : env,
    win: a.win,
    trace: text(a.trace),
    step,
    detected: Number.isFinite(num(a.detected)) ? num(a.detected) : step,
    message: text(a.message),
    suggestion: text(a.suggestion),
    evidence: text(a.evidence),
    key: text(a.key),
    t: num(a.t),
    dismissed: a.dismissed === true,
  };
}

const kinds = (v: unknown): string[] => (Array.isArray(v) ? v.filter((k): k is string => typeof k === "string") : []);

/** The kinds muted on a window (its `mute` option). */
export function mutedOn(w: WindowState | undefined): string[] {
  return w ? kinds(w.opts.mute) : [];
}

/** Whether an alert is shown: not dismissed, and its kind muted neither in its env nor on its window. */
export function shown(env: EnvState, a: Alert): boolean {
  return !a.dismissed && !env.mute.includes(a.kind) && !mutedOn(env.windows.get(a.win)).includes(a.kind);
}

function toggled(list: string[], kind: string, on: boolean): string[] {
  const rest = list.filter((k) => k !== kind);
  return on ? [...rest, kind] : rest;
}

function addAlert(env: EnvState, raw: unknown): Alert | null {
  const a = alertFrom(raw, env.name);
  if (!a || env.alerts.some((b) => b.id === a.id)) return null; // the same alert twice: once
  env.alerts.push(a);
  return a;
}

function mergeOpts(target: Opts, more: unknown): void {
  if (!more || typeof more !== "object") return;
  for (const [k, v] of Object.entries(more as Opts)) {
    if (v === null) delete target[k];
    else target[k] = v;
  }
}

function upsertStep<T extends { step: number }>(list: T[], item: T, max: number): void {
  const at = list.findIndex((s) => s.step === item.step);
  if (at >= 0) list[at] = item;
  else if (list.length === 0 || list[list.length - 1].step < item.step) list.push(item);
  else {
    list.push(item);
    list.sort((a, b) => a.step - b.step);
  }
  if (list.length > max) list.splice(0, list.length - max);
}

function nextStep(list: { step: number }[]): number {
  return list.length ? list[list.length - 1].step + 1 : 0;
}

/** Apply one operation (as the server applied it) to an env; return the changed window ids. */
export function applyOp(env: EnvState, op: Op, seq: number): string[] {
  if (op.op === "delete_env") {
    const ids = [...env.windows.keys()];
    env.windows.clear();
    env.layout = {};
    env.alerts = [];
    env.mute = [];
    return ids;
  }
  if (op.op === "dismiss") {
    // the alert stays (dismissed), its window's badge and marker change
    const a = env.alerts.find((b) => b.id === op.id);
    if (!a || a.dismissed) return [];
    a.dismissed = true;
    return env.windows.has(a.win) ? [a.win] : [];
  }
  if (op.op === "mute" && typeof op.win !== "string") {
    if (typeof op.kind !== "string") return [];
    env.mute = toggled(env.mute, op.kind, op.muted !== false);
    return [...new Set(env.alerts.filter((a) => a.kind === op.kind && env.windows.has(a.win)).map((a) => a.win))];
  }
  if (op.op === "alert") {
    // no window of its own: it names one (alert.win), whose badge and marker change
    const a = addAlert(env, op.alert);
    return a && env.windows.has(a.win) ? [a.win] : [];
  }
  if (op.op === "layout") {
    env.layout = { ...((op.layout as Layout) ?? {}) };
    return Object.keys(env.layout);
  }
  const win = op.win;
  if (typeof win !== "string") return [];
  if (op.op === "close") {
    env.windows.delete(win);
    env.alerts = env.alerts.filter((a) => a.win !== win);
    return [win];
  }
  let w = env.windows.get(win);
  if (op.op === "mute") {
    if (!w || typeof op.kind !== "string") return [];
    const mute = toggled(mutedOn(w), op.kind, op.muted !== false);
    if (mute.length) w.opts.mute = mute;
    else delete w.opts.mute;
    w.seq = seq;
    w.version++;
    return [win];
  }
  if (op.op === "opts") {
    if (!w) return [];
  } else if (!WINDOW_KINDS.has(op.op)) {
    return []; // an operation this app does not know: never a window of a made-up kind
  } else if (!w || w.kind !== op.op) {
    w = emptyWindow(env.name, win, op.op);
    env.windows.set(win, w);
  }
  mergeOpts(w.opts, op.opts);
  w.seq = seq;
  w.version++;
  switch (op.op) {
    case "line":
    case "scatter": {
      const name = typeof op.name === "string" ? op.name : "";
      const update = (op.update as string) ?? "append";
      const at = w.traces.findIndex((t) => t.name === name);
      if (update === "remove") {
        if (at >= 0) w.traces.splice(at, 1);
        break;
      }
      const x = toF64(op.x as WireArray);
      const y = toF64(op.y as WireArray);
      const t = op.t ? toF64(op.t as WireArray) : new Float64Array(0);
      // A large update arrives decimated: `n` says how many points it really holds.
      const added = typeof op.n === "number" ? op.n : y.length;
      const decimated = op.decimated === true;
      if (update === "replace" || at < 0) {
        const tr: Trace = { name, x: new Column(x), y: new Column(y), t: new Column(t), n: added, decimated };
        if (at >= 0) w.traces[at] = tr;
        else w.traces.push(tr);
      } else {
        const tr = w.traces[at];
        tr.x.push(x);
        tr.y.push(y);
        if (t.length === y.length && tr.t.len === tr.y.len - y.length) tr.t.push(t);
        tr.n += added;
        tr.decimated = tr.decimated || decimated;
      }
      break;
    }
    case "bar":
      w.bar = { ...matrix(op.y as WireArray), labels: (op.labels as string[] | null) ?? null };
      break;
    case "histogram": {
      const step = typeof op.step === "number" ? op.step : nextStep(w.hist);
      upsertStep(w.hist, histFrom({ step, t: op.t as number, counts: op.counts as WireArray, edges: op.edges as WireArray, stats: op.stats as Record<string, number> }), MAX_HIST_STEPS);
      break;
    }
    case "heatmap": // rows or columns added are joined here, as on the server (heatmapjoin.ts)
      w.heatmap = joined(w.heatmap, matrix(op.z as WireArray), typeof op.update === "string" ? op.update : "replace");
      break;
    case "image": {
      const step = typeof op.step === "number" ? op.step : nextStep(w.images);
      const images = ((op.images as ImageMeta[]) ?? []).map((im) => ({ format: im.format, width: im.width, height: im.height, caption: im.caption ?? "" }));
      upsertStep(w.images, { step, t: (op.t as number) ?? 0, images }, MAX_IMAGE_STEPS);
      break;
    }
    case "graph": // a new graph replaces the window's
      w.graph = op.graph ?? null;
      break;
    case "embedding": // a step's meta, or a projection's progress (the points load from /api/v1/embedding)
      w.embedding = applyEmbedding(w.embedding ?? [], op);
      break;
    case "audio":
    case "video": {
      // a step's description; the server names the steps it dropped to keep its bounds
      const clips = (w.clips ??= []);
      const step = typeof op.step === "number" ? op.step : nextStep(clips);
      upsertStep(clips, { ...clipFrom(op), step }, MAX_CLIP_STEPS);
      if (Array.isArray(op.dropped)) w.clips = clips.filter((c) => !(op.dropped as unknown[]).includes(c.step));
      break;
    }
    case "media": // a new file: its format and size (the bytes load from /api/v1/media)
      w.media = mediaFrom(op);
      break;
    case "plotly": // the server sends the whole figure, an append's result too
      w.figure = op.figure ?? null;
      break;
    case "properties": // the whole pane: its writer's, or after a viewer's edit
      w.items = Array.isArray(op.items) ? op.items : [];
      break;
    case "text": {
      const text = typeof op.text === "string" ? op.text : "";
      w.text = op.update === "append" ? w.text + text : text;
      break;
    }
  }
  return [win];
}

export interface Applied {
  /** windows whose content changed (ids; the same id in several envs is one window on screen) */
  windows: string[];
  /** the env list changed */
  envs: boolean;
  /** the set of windows or the layout changed: the grid must be rebuilt */
  structure: boolean;
  /** the alerts of an env changed */
  alerts: boolean;
}

export class State {
  store = "";
  version = "";
  envList: EnvInfo[] = [];
  envs = new Map<string, EnvState>();

  /** Forget envs that are no longer subscribed. */
  retain(names: string[]): void {
    for (const name of [...this.envs.keys()]) if (!names.includes(name)) this.envs.delete(name);
  }

  /** What to send in `subscribe`: resume where we are, for the envs we hold. */
  subscription(names: string[]): { env: string; seq?: number; store?: string }[] {
    return names.map((name) => {
      const e = this.envs.get(name);
      return e && e.store && !e.broken ? { env: name, seq: e.seq, store: e.store } : { env: name };
    });
  }

  /** Apply one message from the server. */
  apply(msg: ServerMessage): Applied {
    const out: Applied = { windows: [], envs: false, structure: false, alerts: false };
    switch (msg.type) {
      case "hello":
        this.store = msg.store;
        this.version = msg.version;
        this.envList = msg.envs ?? [];
        out.envs = true;
        break;
      case "envs":
        this.envList = msg.envs ?? [];
        out.envs = true;
        break;
      case "snapshot": {
        const old = this.envs.get(msg.env);
        const env: EnvState = { name: msg.env, seq: msg.seq, store: this.store, windows: new Map(), layout: { ...(msg.layout ?? {}) }, alerts: [], mute: kinds(msg.mute), broken: false };
        for (const w of msg.windows ?? []) env.windows.set(w.win, windowFrom(msg.env, w));
        for (const a of Array.isArray(msg.alerts) ? msg.alerts : []) addAlert(env, a);
        out.alerts = true;
        this.envs.set(msg.env, env);
        out.windows = [...new Set([...env.windows.keys(), ...(old ? old.windows.keys() : [])])];
        out.structure = true;
        break;
      }
      case "change":
      case "window": {
        const env = this.envs.get(msg.env);
        if (!env || msg.seq <= env.seq) break; // not subscribed, or already applied
        if (msg.seq > env.seq + 1) env.broken = true; // a gap: the caller resubscribes
        env.seq = msg.seq;
        if (msg.type === "window") {
          const had = env.windows.has(msg.window.win);
          const w = windowFrom(msg.env, msg.window);
          w.seq = msg.seq;
          const prev = env.windows.get(w.win);
          w.version = (prev?.version ?? 0) + 1;
          env.windows.set(w.win, w);
          out.windows = [w.win];
          out.structure = !had || prev?.kind !== w.kind;
        } else {
          const op = msg.op;
          const had = typeof op.win === "string" ? env.windows.get(op.win)?.kind : undefined;
          out.windows = applyOp(env, op, msg.seq);
          const now = typeof op.win === "string" ? env.windows.get(op.win)?.kind : undefined;
          out.structure = op.op === "layout" || op.op === "delete_env" || had !== now;
          const opts = op.opts as Opts | null | undefined;
          out.alerts = ALERT_OPS.has(op.op) || (!!opts && typeof opts === "object" && "mute" in opts);
        }
        break;
      }
      case "error":
        break;
    }
    return out;
  }

  /** The alerts shown for these envs (env by env, oldest first): not dismissed, kind not muted there;
   * only those of window `win` when given. `all` includes the dismissed and muted ones. */
  alerts(envs: string[], win?: string, all = false): Alert[] {
    const out: Alert[] = [];
    for (const name of envs) {
      const env = this.envs.get(name);
      if (!env) continue;
      for (const a of env.alerts) if ((win === undefined || a.win === win) && (all || shown(env, a))) out.push(a);
    }
    return out;
  }

  /** The windows with this id in the given envs (in that order), for overlays. */
  windowsById(win: string, envs: string[]): WindowState[] {
    const out: WindowState[] = [];
    for (const name of envs) {
      const w = this.envs.get(name)?.windows.get(win);
      if (w) out.push(w);
    }
    return out;
  }

  /** Window ids to show for these envs, in layout order (the first env's layout wins). */
  order(envs: string[]): string[] {
    const seen = new Map<string, { order: number; first: number }>();
    let n = 0;
    for (const name of envs) {
      const e = this.envs.get(name);
      if (!e) continue;
      for (const win of e.windows.keys()) {
        if (seen.has(win)) continue;
        const cell = e.layout[win];
        seen.set(win, { order: typeof cell?.order === "number" ? cell.order : 1e9, first: n++ });
      }
    }
    return [...seen.entries()].sort((a, b) => a[1].order - b[1].order || a[1].first - b[1].first).map(([k]) => k);
  }

  /** The saved size of a window (first env that has one). */
  cell(win: string, envs: string[]): { w?: number; h?: number } {
    for (const name of envs) {
      const c = this.envs.get(name)?.layout[win];
      if (c) return c;
    }
    return {};
  }
}
