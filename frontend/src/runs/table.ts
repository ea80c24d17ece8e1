// The runs table: one row per run in scope (a checkbox, its colour, env, status, steps, updated,
// alerts, each config key, each metric's last value, each summary key), sortable by any column,
// grouped by a config key with a group row of mean ± std before its runs.
//
// Speed (1,000 runs x 40 columns): rows are virtualized (a fixed row height; only the rows in view
// are in the DOM, recycled as the table scrolls), sort keys are computed once per sort, and a live
// change re-fills only the cells of the rows in view whose run changed. Every string shown is user
// input: textContent only.

import { el } from "../views/common";
import type { RunRow } from "../wire";
import { groupColor, groupName, groupValue } from "./colors";
import type { Focus } from "./model";

export type Cell = number | string | boolean | null | undefined; // undefined: the run has no such value

export interface Column {
  /** "env", "status", ..., "config.K", "metric.K" (last), "metric.K.min", "metric.K.max", "summary.K" */
  id: string;
  label: string;
  group: "run" | "config" | "metric" | "summary";
  width: number;
  get(row: RunRow): Cell;
  /** hidden until the user shows it (a metric's min and max) */
  extra?: boolean;
  /** how the cell is written (default: formatCell) */
  text?(v: Cell, now: number): string;
}

export const ROW_H = 24;
const HEADER_H = 28;
const OVERSCAN = 4;
const MIN_H = 110;
const MAX_H = 300;

const has = (o: object | null | undefined, k: string) => !!o && Object.prototype.hasOwnProperty.call(o, k);

/** The fixed columns before the config keys (the checkbox and the colour are drawn apart). */
export const RUN_COLUMNS: Column[] = [
  { id: "env", label: "env", group: "run", width: 220, get: (r) => r.env },
  { id: "status", label: "status", group: "run", width: 72, get: (r) => r.status },
  { id: "steps", label: "steps", group: "run", width: 68, get: (r) => (typeof r.steps === "number" && r.steps >= 0 ? r.steps : undefined) },
  { id: "updated", label: "updated", group: "run", width: 84, get: (r) => r.updated ?? undefined, text: (v, now) => (typeof v === "number" ? relativeTime(v, now) : "") },
  { id: "alerts", label: "alerts", group: "run", width: 56, get: (r) => r.alerts },
];

/** Every column the rows offer: the run's own, then config keys, metrics (last, min, max), summary keys, each sorted by name. */
export function columnsFor(rows: Iterable<RunRow>): Column[] {
  const config = new Set<string>();
  const metrics = new Set<string>();
  const summary = new Set<string>();
  for (const r of rows) {
    for (const k in r.config ?? {}) config.add(k);
    for (const k in r.metrics ?? {}) metrics.add(k);
    for (const k in r.summary ?? {}) summary.add(k);
  }
  const byName = (s: Set<string>) => [...s].sort(naturalCompare);
  const cols = [...RUN_COLUMNS];
  for (const k of byName(config)) cols.push({ id: "config." + k, label: k, group: "config", width: 96, get: (r) => (has(r.config, k) ? r.config[k] : undefined) });
  for (const k of byName(metrics)) {
    cols.push({ id: "metric." + k, label: k, group: "metric", width: 96, get: (r) => (has(r.metrics, k) ? r.metrics[k].last : undefined) });
    for (const s of ["min", "max"] as const)
      cols.push({ id: `metric.${k}.${s}`, label: `${k} ${s}`, group: "metric", width: 96, extra: true, get: (r) => (has(r.metrics, k) ? r.metrics[k][s] : undefined) });
  }
  for (const k of byName(summary)) cols.push({ id: "summary." + k, label: k, group: "summary", width: 96, get: (r) => (has(r.summary, k) ? r.summary[k] : undefined) });
  return cols;
}

/** Columns shown until the user says otherwise: all but the metrics' min and max. */
export function shownByDefault(col: Column): boolean {
  return !col.extra;
}

const collator = new Intl.Collator(undefined, { numeric: true });

/** Strings in natural order: "run2" before "run10". */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Each name's place in natural order. */
export function nameRanks(names: readonly string[]): Map<string, number> {
  const sorted = [...names].sort(naturalCompare);
  return new Map(sorted.map((e, i) => [e, i]));
}

/** 0: a number (bools as 0/1), 1: text, 2: missing (null, undefined, NaN) */
function rank(v: Cell): number {
  if (typeof v === "number") return Number.isNaN(v) ? 2 : 0;
  if (typeof v === "boolean") return 0;
  return typeof v === "string" ? 1 : 2;
}

/**
 * The envs of `rows` sorted by a column: numbers numerically, strings naturally, numbers before
 * strings, missing values last in either direction; ties by env.
 */
export function sortRows(rows: readonly RunRow[], col: Column | null, dir: 1 | -1, names?: ReadonlyMap<string, number>): RunRow[] {
  const n = rows.length;
  const envRank = new Float64Array(n);
  // ranks of the names (given, or computed here), so the comparison is numeric (no collator per comparison)
  const ranked = names ?? nameRanks(rows.map((r) => r.env));
  for (let i = 0; i < n; i++) envRank[i] = ranked.get(rows[i].env) ?? n;
  const idx = Array.from({ length: n }, (_, i) => i);
  if (!col) return idx.sort((a, b) => envRank[a] - envRank[b]).map((i) => rows[i]);
  const kind = new Uint8Array(n);
  const key = new Float64Array(n);
  const strings: { i: number; s: string }[] = [];
  for (let i = 0; i < n; i++) {
    const v = col.get(rows[i]);
    kind[i] = rank(v);
    if (kind[i] === 0) key[i] = Number(v);
    else if (kind[i] === 1) strings.push({ i, s: v as string });
  }
  strings.sort((a, b) => naturalCompare(a.s, b.s));
  let r = 0;
  strings.forEach((e, j) => {
    if (j > 0 && e.s !== strings[j - 1].s) r++;
    key[e.i] = r;
  });
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => kind[a] - kind[b] || (kind[a] === 2 ? 0 : dir * (key[a] - key[b])) || envRank[a] - envRank[b]);
  return order.map((i) => rows[i]);
}

/** A number as the table writes it: integers whole, others with 4 significant digits. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? "NaN" : v > 0 ? "inf" : "-inf";
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(3).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(4)));
}

export function formatCell(v: Cell): string {
  if (v === undefined) return "";
  if (v === null) return "null";
  if (typeof v === "number") return formatNumber(v);
  return String(v);
}

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago" (times in seconds since the epoch). */
export function relativeTime(t: number, now: number): string {
  const d = Math.max(0, now - t);
  if (d < 60) return `${Math.floor(d)} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return `${Math.floor(d / 86400)} d ago`;
}

/** A group row's cell over its runs' values: the value when all are equal, mean ± std when all are
 * numbers, else "n values"; runs without a value are left out ("" when none has one). */
export function aggregate(values: readonly Cell[]): string {
  const present = values.filter((v) => v !== undefined);
  if (!present.length) return "";
  const first = present[0];
  if (present.every((v) => v === first || (Number.isNaN(v) && Number.isNaN(first)))) return formatCell(first);
  const nums = present.filter((v): v is number | boolean => (typeof v === "number" && Number.isFinite(v)) || typeof v === "boolean").map(Number);
  if (nums.length === present.length) {
    const mean = nums.reduce((a, b) => a + b, 0) / nums.length;
    const std = Math.sqrt(nums.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, nums.length - 1));
    return `${formatNumber(mean)} ± ${formatNumber(std)}`;
  }
  return `${new Set(present.map((v) => (typeof v === "number" ? v : String(v)))).size} values`;
}

export type Line = { kind: "run"; env: string } | { kind: "group"; name: string; value: string; envs: string[] };

/** The lines of the table: with a group key, a group row (groups in natural order of their value)
 * before its runs (in the sorted order), the runs left out when the group is collapsed. */
export function buildLines(sorted: readonly RunRow[], groupKey: string, collapsed: ReadonlySet<string>): Line[] {
  if (!groupKey) return sorted.map((r) => ({ kind: "run", env: r.env }));
  const groups = new Map<string, string[]>();
  for (const r of sorted) {
    const v = groupValue(r, groupKey);
    const g = groups.get(v);
    if (g) g.push(r.env);
    else groups.set(v, [r.env]);
  }
  const lines: Line[] = [];
  for (const value of [...groups.keys()].sort(naturalCompare)) {
    const envs = groups.get(value)!;
    const name = groupName(groupKey, value);
    lines.push({ kind: "group", name, value, envs });
    if (!collapsed.has(name)) for (const env of envs) lines.push({ kind: "run", env });
  }
  return lines;
}

export interface TableOptions {
  focus: Focus;
  colors: (env: string) => string;
  /** the selected envs (the runs the windows overlay) */
  selected: () => readonly string[];
  /** the user ticked or unticked rows: the new selection */
  onSelect: (envs: string[]) => void;
}

/** What tests and benchmarks read (window.__livepanel.runsTable). */
export interface TableStats {
  /** runs in the table, lines (runs and group rows), row elements in the DOM */
  rows: number;
  lines: number;
  domRows: number;
  /** ms of the last full render (sort, lines, rows in view), of the last sort by a header */
  lastRenderMs: number;
  lastSortMs: number;
  /** performance.now() when the last render was done, and when the frame after it was painted */
  renderedAt: number;
  paintedAt: number;
  renders: number;
  /** cells written since the page opened (a live change writes only those that changed) */
  cellWrites: number;
  sort: { col: string; dir: 1 | -1 } | null;
  columns: string[];
}

interface RowEl {
  el: HTMLDivElement;
  box: HTMLInputElement;
  swatch: HTMLSpanElement;
  cells: HTMLDivElement[];
  texts: string[];
  line: Line | null;
  /** the row's data this element shows (re-filled when it changes) */
  data: RunRow | null;
}

export class RunsTable {
  readonly el = el("div", "lp-runs-table");
  readonly stats: TableStats = { rows: 0, lines: 0, domRows: 0, lastRenderMs: 0, lastSortMs: 0, renderedAt: 0, paintedAt: 0, renders: 0, cellWrites: 0, sort: null, columns: [] };
  private readonly head = el("div", "lp-rt-head");
  private readonly body = el("div", "lp-rt-body");
  private readonly allBox = el("input");
  private rows = new Map<string, RunRow>();
  /** every known env's place in natural order (ties of a sort), computed when the envs change */
  private names = new Map<string, number>();
  private scope: RunRow[] = [];
  private sorted: RunRow[] = [];
  private lines: Line[] = [];
  private all: Column[] = [];
  private cols: Column[] = [];
  /** columns the user showed or hid (by id: true shown), over the defaults */
  private chosen = new Map<string, boolean>();
  private sortBy: { col: string; dir: 1 | -1 } | null = null;
  private groupKey = "";
  private collapsed = new Set<string>();
  private pool: RowEl[] = [];
  private groupCache = new Map<string, string[]>();
  private focused: string | null = null;
  private frame = 0;
  /** the height the table gave itself last ("": none yet) */
  private autoHeight = "";
  /** columns changed: the header and the row elements are built again */
  onColumns: (() => void) | null = null;
  /** the user sorted by a column */
  onSort: ((sort: { col: string; dir: 1 | -1 }) => void) | null = null;
  /** a sort from a link, kept until its column exists (the runs arrive after the page opens) */
  private pendingSort: { col: string; dir: 1 | -1 } | null = null;

  constructor(private readonly opts: TableOptions) {
    this.el.setAttribute("role", "grid");
    this.allBox.type = "checkbox";
    this.allBox.title = "select every run in the table (again: none)";
    this.allBox.setAttribute("aria-label", "select every run in the table");
    this.el.append(this.head, this.body);
    this.el.addEventListener("scroll", () => this.paintRows(), { passive: true });
    this.head.addEventListener("click", (e) => {
      const cell = (e.target as HTMLElement).closest<HTMLElement>("[data-col]");
      if (cell) this.sortColumn(cell.dataset.col!);
    });
    this.head.addEventListener("keydown", (e) => {
      const cell = (e.target as HTMLElement).closest<HTMLElement>("[data-col]");
      if (!cell || (e.key !== "Enter" && e.key !== " ")) return;
      e.preventDefault();
      this.sortColumn(cell.dataset.col!);
    });
    this.allBox.addEventListener("change", () => {
      const shown = new Set(this.scope.map((r) => r.env));
      const sel = this.opts.selected();
      const picked = new Set(sel);
      const every = shown.size > 0 && [...shown].every((e) => picked.has(e));
      this.opts.onSelect(every ? sel.filter((e) => !shown.has(e)) : [...new Set([...sel, ...shown])]);
    });
    this.body.addEventListener("mouseover", (e) => {
      const cell = e.target as HTMLElement;
      // a cell cut short shows its whole text as a tooltip (set on hover: not for every cell drawn)
      if (cell.classList.contains("lp-rt-cell")) cell.title = cell.scrollWidth > cell.clientWidth ? (cell.textContent ?? "") : "";
      const row = cell.closest<HTMLElement>(".lp-rt-row");
      const env = row?.dataset.env;
      if (env !== undefined) this.opts.focus.set(env);
    });
    this.body.addEventListener("mouseleave", () => this.opts.focus.set(null));
    this.body.addEventListener("change", (e) => {
      const box = e.target as HTMLInputElement;
      const row = box.closest<HTMLElement>(".lp-rt-row");
      if (!row) return;
      const line = this.pool.find((p) => p.el === row)?.line;
      if (!line) return;
      const envs = line.kind === "run" ? [line.env] : line.envs;
      const sel = this.opts.selected();
      this.opts.onSelect(box.checked ? [...new Set([...sel, ...envs])] : sel.filter((x) => !envs.includes(x)));
    });
    this.body.addEventListener("click", (e) => {
      const t = e.target as HTMLElement;
      if (t.closest("input")) return;
      const row = t.closest<HTMLElement>(".lp-rt-group");
      const name = row?.dataset.group;
      if (name === undefined) return;
      if (this.collapsed.has(name)) this.collapsed.delete(name);
      else this.collapsed.add(name);
      this.render();
    });
    this.opts.focus.on((env) => {
      this.focused = env;
      for (const p of this.pool) p.el.classList.toggle("focus", p.line?.kind === "run" && p.line.env === env);
    });
  }

  /** Every column the rows offer, and whether each is shown now. */
  columns(): { col: Column; shown: boolean }[] {
    return this.all.map((col) => ({ col, shown: this.isShown(col) }));
  }

  private isShown(col: Column): boolean {
    return this.chosen.get(col.id) ?? shownByDefault(col);
  }

  /** Show or hide a column (the column chooser). */
  showColumn(id: string, shown: boolean): void {
    this.chosen.set(id, shown);
    this.layout(true);
    this.render();
  }

  /** Group the runs by a config key ("": none). */
  setGrouping(key: string): void {
    if (key === this.groupKey) return;
    this.groupKey = key;
    this.render();
  }

  /** Sort by a column id (a header click: again toggles the direction; a third time on env: unsorted). */
  sortColumn(id: string, dir?: 1 | -1): void {
    const t0 = performance.now();
    if (dir) this.sortBy = { col: id, dir };
    else if (this.sortBy?.col === id) this.sortBy = { col: id, dir: this.sortBy.dir === 1 ? -1 : 1 };
    else this.sortBy = { col: id, dir: 1 };
    this.render();
    this.stats.lastSortMs = performance.now() - t0;
    this.onSort?.(this.sortBy);
  }

  /** The sort a link asked for (applied once the column exists; no callback). */
  setSort(sort: { col: string; dir: 1 | -1 } | null): void {
    this.sortBy = sort;
    this.pendingSort = sort;
  }

  /**
   * The runs in scope (filtered, brushed) among all the page knows. Sorted and drawn now; a row in
   * view is re-filled only when its run's row changed (the model replaces a changed run's row).
   */
  setRows(scope: RunRow[], all: ReadonlyMap<string, RunRow>): void {
    this.scope = scope;
    this.rows = new Map(all);
    if (this.names.size !== all.size || [...all.keys()].some((e) => !this.names.has(e))) this.names = nameRanks([...all.keys()]);
    this.layout(false);
    this.render();
  }

  /** Re-fill the rows in view (the selection or the time changed). */
  refresh(): void {
    for (const p of this.pool) p.data = null;
    this.paintRows();
  }

  /** Build the columns (and the header and row elements when they changed). */
  private layout(force: boolean): void {
    const all = columnsFor(this.rows.values());
    const ids = all.map((c) => c.id).join("\n");
    if (!force && ids === this.all.map((c) => c.id).join("\n")) return;
    this.all = all;
    this.cols = all.filter((c) => this.isShown(c));
    this.stats.columns = this.cols.map((c) => c.id);
    if (!this.sortBy && this.pendingSort && all.some((c) => c.id === this.pendingSort!.col)) this.sortBy = this.pendingSort;
    if (this.sortBy && !all.some((c) => c.id === this.sortBy!.col)) this.sortBy = null;
    if (this.sortBy) this.pendingSort = null;
    const width = 26 + 18 + this.cols.reduce((a, c) => a + c.width, 0);
    this.head.replaceChildren();
    this.head.style.width = this.body.style.width = `${width}px`;
    const boxCell = el("div", "lp-rt-cell lp-rt-check");
    boxCell.append(this.allBox);
    this.head.append(boxCell, el("div", "lp-rt-cell lp-rt-swatch"));
    for (const c of this.cols) {
      const h = el("div", `lp-rt-cell lp-rt-h lp-rt-${c.group}`, c.label);
      h.dataset.col = c.id;
      h.title = `${c.group === "run" ? "" : c.group + " "}${c.label}: click to sort`;
      h.style.width = `${c.width}px`;
      h.setAttribute("role", "columnheader");
      h.tabIndex = 0;
      this.head.append(h);
    }
    for (const p of this.pool) p.el.remove();
    this.pool = [];
    this.onColumns?.();
  }

  /** Sort, build the lines, draw the rows in view. */
  render(): void {
    const t0 = performance.now();
    const col = this.sortBy ? (this.all.find((c) => c.id === this.sortBy!.col) ?? null) : null;
    this.sorted = sortRows(this.scope, col, this.sortBy?.dir ?? 1, this.names);
    this.lines = buildLines(this.sorted, this.groupKey, this.collapsed);
    this.groupCache.clear();
    this.stats.sort = this.sortBy ? { ...this.sortBy } : null;
    for (const h of this.head.querySelectorAll<HTMLElement>("[data-col]")) {
      const on = this.sortBy?.col === h.dataset.col;
      h.classList.toggle("sorted", on);
      h.dataset.dir = on ? (this.sortBy!.dir === 1 ? "asc" : "desc") : "";
      h.setAttribute("aria-sort", on ? (this.sortBy!.dir === 1 ? "ascending" : "descending") : "none");
    }
    this.body.style.height = `${this.lines.length * ROW_H}px`;
    // as tall as its rows, up to MAX_H; once the user resizes it (its corner), their height stays
    if (this.el.style.height === this.autoHeight) {
      this.autoHeight = `${Math.max(MIN_H, Math.min(MAX_H, HEADER_H + this.lines.length * ROW_H + 18))}px`;
      this.el.style.height = this.autoHeight;
    }
    this.paintRows(); // a row element is re-filled only when its line or its run's row changed
    const sel = new Set(this.opts.selected());
    let n = 0;
    for (const r of this.scope) if (sel.has(r.env)) n++;
    const shown = this.scope;
    this.allBox.checked = n > 0 && n === shown.length;
    this.allBox.indeterminate = n > 0 && n < shown.length;
    const now = performance.now();
    Object.assign(this.stats, { rows: this.scope.length, lines: this.lines.length, lastRenderMs: now - t0, renderedAt: now, renders: this.stats.renders + 1 });
    if (!this.frame)
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.stats.paintedAt = performance.now();
      });
  }

  /** The lines in view get row elements (recycled), filled where what they show changed. */
  private paintRows(): void {
    const top = Math.max(0, this.el.scrollTop - HEADER_H);
    const height = this.el.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(this.lines.length, Math.ceil((top + height) / ROW_H) + OVERSCAN);
    const want = Math.max(0, last - first);
    while (this.pool.length < want) this.pool.push(this.makeRow());
    while (this.pool.length > want) this.pool.pop()!.el.remove();
    const sel = new Set(this.opts.selected());
    const now = Date.now() / 1000;
    for (let k = 0; k < want; k++) {
      const i = first + k;
      const p = this.pool[k];
      const line = this.lines[i];
      p.el.style.transform = `translateY(${i * ROW_H}px)`;
      const same = p.line && line && p.line.kind === line.kind && (line.kind === "run" ? (p.line as typeof line).env === line.env : (p.line as typeof line).name === line.name);
      const data = line.kind === "run" ? (this.rows.get(line.env) ?? null) : null;
      if (!same || p.data !== data || line.kind === "group") this.fill(p, line, data, now);
      p.line = line;
      p.data = data;
      const envs = line.kind === "run" ? [line.env] : line.envs;
      const n = envs.filter((e) => sel.has(e)).length;
      p.box.checked = n > 0 && n === envs.length;
      p.box.indeterminate = n > 0 && n < envs.length;
      p.el.classList.toggle("selected", p.box.checked);
      p.el.classList.toggle("focus", line.kind === "run" && line.env === this.focused);
    }
    this.stats.domRows = this.pool.length;
  }

  private makeRow(): RowEl {
    const row = el("div", "lp-rt-row");
    row.setAttribute("role", "row");
    const boxCell = el("div", "lp-rt-cell lp-rt-check");
    const box = el("input");
    box.type = "checkbox";
    boxCell.append(box);
    const swCell = el("div", "lp-rt-cell lp-rt-swatch");
    const swatch = el("span", "lp-swatch");
    swCell.append(swatch);
    row.append(boxCell, swCell);
    const cells = this.cols.map((c) => {
      const cell = el("div", `lp-rt-cell lp-rt-${c.group}`);
      cell.style.width = `${c.width}px`;
      cell.setAttribute("role", "gridcell");
      row.append(cell);
      return cell;
    });
    this.body.append(row);
    return { el: row, box, swatch, cells, texts: cells.map(() => ""), line: null, data: null };
  }

  /** Write a cell's text when it changed (what each cell shows is kept beside it: no DOM read). */
  private write(p: RowEl, j: number, text: string): void {
    if (p.texts[j] === text) return;
    p.texts[j] = text;
    p.cells[j].textContent = text;
    this.stats.cellWrites++;
  }

  private fill(p: RowEl, line: Line, data: RunRow | null, now: number): void {
    const group = line.kind === "group";
    p.el.classList.toggle("lp-rt-group", group);
    if (group) {
      p.el.dataset.group = line.name;
      delete p.el.dataset.env;
      p.box.setAttribute("aria-label", `select the runs of ${line.name}`);
      p.swatch.style.background = groupColor(line.name);
      const agg = this.groupCache.get(line.name) ?? this.aggregates(line.envs);
      this.groupCache.set(line.name, agg);
      this.cols.forEach((c, j) => {
        if (c.id === "env") this.write(p, j, `${this.collapsed.has(line.name) ? "▸" : "▾"} ${line.name} (${line.envs.length})`);
        else this.write(p, j, agg[j]);
      });
      p.el.setAttribute("aria-expanded", String(!this.collapsed.has(line.name)));
      return;
    }
    p.el.dataset.env = line.env;
    delete p.el.dataset.group;
    p.el.removeAttribute("aria-expanded");
    p.box.setAttribute("aria-label", `select ${line.env}`);
    p.swatch.style.background = this.opts.colors(line.env);
    this.cols.forEach((c, j) => {
      const v = data ? c.get(data) : undefined;
      this.write(p, j, c.text ? c.text(v, now) : formatCell(v));
      if (c.id === "status") p.cells[j].dataset.status = typeof v === "string" ? v : "";
    });
  }

  private aggregates(envs: string[]): string[] {
    const rows = envs.map((e) => this.rows.get(e)).filter((r): r is RunRow => !!r);
    return this.cols.map((c) => (c.id === "env" || c.id === "updated" ? "" : aggregate(rows.map((r) => c.get(r)))));
  }

  /** The envs in the table's order (runs only, group rows left out). */
  order(): string[] {
    return this.sorted.map((r) => r.env);
  }

  /** What the row of an env shows, by column id (tests). */
  cellsOf(env: string): Record<string, string> | null {
    const row = this.rows.get(env);
    if (!row) return null;
    const now = Date.now() / 1000;
    return Object.fromEntries(this.cols.map((c) => [c.id, c.text ? c.text(c.get(row), now) : formatCell(c.get(row))]));
  }

  /** The group rows' cells, by group name then column id (tests). */
  groupRows(): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    for (const line of this.lines) if (line.kind === "group") {
      const agg = this.aggregates(line.envs);
      out[line.name] = Object.fromEntries(this.cols.map((c, j) => [c.id, agg[j]]));
    }
    return out;
  }

  destroy(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
  }
}
