// Wire types (docs/protocol.md) and array decoding. Arrays travel as
// {dtype, shape, data: bin} with little-endian data in C order.

export type Dtype = "f4" | "f8" | "i1" | "i2" | "i4" | "i8" | "u1" | "u2" | "u4" | "u8";

export interface WireArray {
  dtype: Dtype;
  shape: number[];
  data: Uint8Array;
}

export type Numeric = Float64Array | Float32Array | Int8Array | Int16Array | Int32Array | Uint8Array | Uint16Array | Uint32Array | number[];

const CTORS: Record<string, { new (b: ArrayBuffer, o: number, n: number): ArrayLike<number | bigint>; BYTES_PER_ELEMENT: number }> = {
  f4: Float32Array,
  f8: Float64Array,
  i1: Int8Array,
  i2: Int16Array,
  i4: Int32Array,
  i8: BigInt64Array,
  u1: Uint8Array,
  u2: Uint16Array,
  u4: Uint32Array,
  u8: BigUint64Array,
};

export function isWireArray(v: unknown): v is WireArray {
  if (v === null || typeof v !== "object") return false;
  const o = v as Record<string, unknown>;
  return typeof o.dtype === "string" && Array.isArray(o.shape) && o.data instanceof Uint8Array;
}

/** A typed view of the array's elements (no copy when the bytes are aligned); 64-bit ints become Float64Array. */
export function typed(arr: WireArray): Exclude<Numeric, number[]> {
  const C = CTORS[arr.dtype];
  if (!C) throw new Error(`unknown dtype ${String(arr.dtype)}`);
  const size = C.BYTES_PER_ELEMENT;
  let bytes = arr.data;
  if (bytes.byteLength % size !== 0) throw new Error(`array of ${arr.dtype}: ${bytes.byteLength} bytes`);
  if (bytes.byteOffset % size !== 0) bytes = bytes.slice(); // copy to an aligned buffer
  const n = bytes.byteLength / size;
  const view = new C(bytes.buffer as ArrayBuffer, bytes.byteOffset, n);
  if (arr.dtype === "i8" || arr.dtype === "u8") {
    const out = new Float64Array(n);
    const big = view as unknown as ArrayLike<bigint>;
    for (let i = 0; i < n; i++) out[i] = Number(big[i]);
    return out;
  }
  return view as Exclude<Numeric, number[]>;
}

/** The elements as a fresh Float64Array (what charts and the state keep). */
export function toF64(arr: WireArray | null | undefined): Float64Array {
  if (!arr) return new Float64Array(0);
  const t = typed(arr);
  return t instanceof Float64Array ? t.slice() : Float64Array.from(t as ArrayLike<number>);
}

/** Rows of a 2-D array (a 1-D array is one column: rows of length 1). */
export function matrix(arr: WireArray): { rows: number; cols: number; data: Float64Array } {
  const data = toF64(arr);
  const rows = arr.shape[0] ?? 0;
  const cols = arr.shape.length > 1 ? arr.shape[1] : 1;
  return { rows, cols, data };
}

// ---------------------------------------------------------------- messages

export type Opts = Record<string, unknown>;

export interface WireTrace {
  name: string;
  n?: number;
  x: WireArray;
  y: WireArray;
  t?: WireArray | null;
  decimated?: boolean;
}

export interface WireHistStep {
  step: number;
  t?: number;
  counts: WireArray;
  edges: WireArray;
  stats?: Record<string, number>;
}

export interface ImageMeta {
  format: string;
  width: number;
  height: number;
  caption?: string;
}

export interface WireImageStep {
  step: number;
  t?: number;
  images: ImageMeta[];
}

export interface WireWindow {
  win: string;
  kind: string;
  opts?: Opts | null;
  seq?: number;
  traces?: WireTrace[];
  y?: WireArray;
  labels?: string[] | null;
  steps?: (WireHistStep | WireImageStep)[];
  z?: WireArray;
  text?: string;
  /** properties: the pane's items (views/properties.ts) */
  items?: unknown[];
  /** plotly: {data, layout} */
  figure?: unknown;
}

export type Layout = Record<string, { order?: number; w?: number; h?: number }>;

export interface EnvInfo {
  name: string;
  seq: number;
  windows: number;
  /** when the env last changed (seconds since the epoch), when the server sends it */
  updated?: number;
}

/** A training problem the server's diagnosis found (docs/diagnosis.md). Every string is user-influenced. */
export interface Alert {
  id: number;
  kind: string;
  env: string;
  win: string;
  trace: string;
  /** x where the problem started (onset) */
  step: number;
  /** x where it became certain */
  detected: number;
  message: string;
  suggestion: string;
  /** why it fired, in numbers to check against the plot (shown as text, never HTML) */
  evidence: string;
  key: string;
  /** wall time (s) */
  t: number;
  /** dismissed by someone: kept (so its problem is not raised again), shown nowhere */
  dismissed: boolean;
}

export type Op = Record<string, unknown> & { op: string; env: string; win?: string };

/** A config or summary value as the server keeps it. */
export type RunValue = number | string | boolean | null;

/** A line trace's figures in a runs row, keyed by its log key ("win/trace", or "win" for trace ""). */
export interface RunMetric {
  last: number;
  min: number;
  max: number;
  /** x of the last point */
  step: number;
}

/** One run (env) as `GET /api/v1/runs` and the `runs` feed give it (docs/protocol.md). */
export interface RunRow {
  env: string;
  config: Record<string, RunValue>;
  summary: Record<string, RunValue>;
  /** the colour a user chose for the run; null: the one derived from its name (runs/colors.ts) */
  color: string | null;
  metrics: Record<string, RunMetric>;
  status: "running" | "finished" | "failed" | "stale";
  alerts: number;
  /** highest step of its line traces, -1 without points */
  steps: number;
  created: number | null;
  updated: number | null;
}

/** `GET /api/v1/group`: one group's curve, its runs aligned by step (docs/protocol.md). */
export interface WireGroup {
  win: string;
  trace: string;
  /** the envs that had the trace */
  envs: string[];
  band: "minmax" | "std";
  x: WireArray;
  mean: WireArray;
  lo: WireArray;
  hi: WireArray;
  /** how many runs have a value at each x */
  n: WireArray;
}

/** What the page sends over its socket (besides subscribe, layout, dismiss, mute). */
export type RunsRequest = { type: "runs"; on: boolean };
export type ColorRequest = { type: "run"; env: string; color: string | null };

export type ServerMessage =
  | { type: "hello"; version: string; store: string; envs: EnvInfo[] }
  | { type: "snapshot"; env: string; seq: number; windows: WireWindow[]; layout?: Layout | null; alerts?: Alert[] | null; mute?: string[] | null }
  | { type: "change"; env: string; seq: number; op: Op }
  | { type: "window"; env: string; seq: number; window: WireWindow }
  | { type: "envs"; envs: EnvInfo[] }
  /** the runs feed: every row first (full), then the rows that changed and the envs gone */
  | { type: "runs"; rows: RunRow[]; gone?: string[]; full?: boolean }
  | { type: "error"; message: string };
