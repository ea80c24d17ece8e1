// The runs panel: a pane above the windows with the runs table, its filter expression, a column
// chooser, group by and band, the importance of each hyper-parameter beside the table, and the
// parallel coordinates and the scatter below it. Open or closed is kept in the URL (?runs=1), and
// so are the filter (?runfilter=) and the grouping (?group=&band=, main.ts applies it to the windows).
//
// What the windows overlay: the selected runs (ticked in the table or picked on the left) that pass
// the brushes of the parallel coordinates; the filter expression narrows the table, not the windows.

import "./runs.css";
import { setUrlList } from "../urls";
import { el } from "../views/common";
import type { Band, Grouping } from "../settings";
import type { RunRow } from "../wire";
import { FilterError, parse, type Filter } from "./filter";
import { importances, type KeyImportance } from "./importance";
import type { Focus, RunsModel } from "./model";
import { ParCoords, type Dim } from "./parcoords";
import { Scatter } from "./scatter";
import { columnsFor, formatNumber, naturalCompare, RunsTable, type Column, type TableStats } from "./table";

const PLOT_H = 280;

export interface PanelHost {
  model: RunsModel;
  focus: Focus;
  colors(env: string): string;
  /** the selected envs, and selecting others (what the windows overlay) */
  selected(): readonly string[];
  select(envs: string[]): void;
  grouping(): Grouping;
  setGrouping(g: Grouping): void;
  /** the runs inside every brush of the parallel coordinates (null: no brush): the windows follow */
  setPassing(passing: Set<string> | null): void;
}

export interface PanelStats extends TableStats {
  /** ms of the last filter expression applied (parse, match, table) */
  lastFilterMs: number;
  /** performance.now() when the panel was last opened, and ms until its table was on screen */
  openedAt: number;
  shownMs: number;
  filterError: string;
  /** ms of the parts of the last refresh from the model */
  refreshMs: { table: number; parcoords: number; scatter: number; importance: number };
  /** performance.now() when the plots and the importance were last brought up to date */
  besideAt: number;
  /** the importance shown: metric id, and each key's figures */
  importance: { metric: string; runs: number; keys: KeyImportance[] };
}

/** The candidate axes of the plots: config keys, the metrics' last values, summary keys. */
export function dimsFor(cols: readonly Column[]): Dim[] {
  return cols
    .filter((c) => c.group !== "run" && !c.extra)
    .map((c) => ({ key: c.id, label: c.label, group: c.group as Dim["group"], get: (r: RunRow) => c.get(r) ?? null }));
}

export class RunsPanel {
  readonly el = el("section", "lp-runs");
  readonly toggle = el("button", "lp-toggle lp-toggle-runs", "runs");
  readonly table: RunsTable;
  readonly stats: PanelStats;
  private readonly filterIn = el("input", "lp-runs-filter");
  private readonly filterMsg = el("span", "lp-runs-filter-msg");
  private readonly count = el("span", "lp-runs-count");
  private readonly empty = el("p", "lp-hint lp-runs-empty");
  private readonly colsBox = el("details", "lp-runs-cols");
  private readonly colsList = el("div", "lp-runs-cols-list");
  private readonly groupSel = el("select", "lp-runs-group");
  private readonly bandSel = el("select", "lp-runs-band");
  private readonly impSel = el("select", "lp-runs-imp-metric");
  private readonly impList = el("ol", "lp-runs-imp-list");
  private readonly impNote = el("p", "lp-runs-imp-note");
  private readonly parcoords: ParCoords;
  private readonly scatter: Scatter;
  private filter: Filter | null = null;
  private passing: Set<string> | null = null;
  private isOpen = false;
  private dirty = true;
  private frame = 0;
  private groupKeys = "";
  private impKeys = "";
  private scope: RunRow[] = [];
  /** the rows matching the filter (the plots show them; the brushes narrow them to the scope) */
  private matching: RunRow[] = [];
  private laterPending = false;
  private brushFrame = 0;
  private readonly urlPending = new Map<string, string[]>();
  private urlTimer: ReturnType<typeof setTimeout> | undefined;
  private laterPlots = false;

  constructor(private readonly host: PanelHost) {
    const params = new URLSearchParams(location.search);
    this.table = new RunsTable({
      focus: host.focus,
      colors: host.colors,
      selected: host.selected,
      onSelect: (envs) => host.select(envs),
    });
    // the sort is kept in the URL: ?runsort=config.lr (ascending) or ?runsort=-config.lr
    const sort = params.get("runsort");
    if (sort) this.table.setSort({ col: sort.replace(/^-/, ""), dir: sort.startsWith("-") ? -1 : 1 });
    this.table.onSort = (s) => this.urlSoon("runsort", [(s.dir === -1 ? "-" : "") + s.col]);
    this.stats = Object.assign(this.table.stats, {
      lastFilterMs: 0,
      openedAt: 0,
      shownMs: 0,
      filterError: "",
      refreshMs: { table: 0, parcoords: 0, scatter: 0, importance: 0 },
      besideAt: 0,
      importance: { metric: "", runs: 0, keys: [] },
    }) as PanelStats;
    this.parcoords = new ParCoords({ colors: host.colors, focus: host.focus, onBrush: (p) => this.brushed(p) });
    this.scatter = new Scatter({ colors: host.colors, focus: host.focus });

    this.toggle.type = "button";
    this.toggle.title = "the runs table: compare runs by config and metrics";
    this.toggle.addEventListener("click", () => this.setOpen(!this.isOpen));

    // the filter: applied as it is typed; a bad expression says why and the table keeps its last good rows
    this.filterIn.type = "search";
    this.filterIn.placeholder = 'filter runs: lr < 0.01 and optimizer == "adam", name ~ "^mnist/", status == "running"';
    this.filterIn.setAttribute("aria-label", "filter runs by an expression");
    this.filterIn.spellcheck = false;
    this.filterMsg.setAttribute("role", "alert");
    this.filterIn.value = params.get("runfilter") ?? "";
    this.filterIn.addEventListener("input", () => this.applyFilter());

    this.colsBox.append(el("summary", "", "columns"), this.colsList);
    this.colsBox.addEventListener("toggle", () => this.colsBox.open && this.fillColumns());
    this.colsList.addEventListener("change", (e) => {
      const box = e.target as HTMLInputElement;
      if (box.dataset.col) this.table.showColumn(box.dataset.col, box.checked);
    });

    this.groupSel.setAttribute("aria-label", "group runs by a config key");
    this.bandSel.setAttribute("aria-label", "the band around a group's mean");
    this.bandSel.append(new Option("band: min-max", "minmax"), new Option("band: std", "std"));
    const g = host.grouping();
    this.bandSel.value = g.band;
    this.groupSel.append(new Option("group: none", ""));
    if (g.key) this.groupSel.append(new Option("group: " + g.key, g.key));
    this.groupSel.value = g.key;
    this.table.setGrouping(g.key);
    const regroup = () => {
      const next: Grouping = { key: this.groupSel.value, band: this.bandSel.value as Band };
      this.table.setGrouping(next.key);
      this.host.setGrouping(next);
      this.refreshSoon();
    };
    this.groupSel.addEventListener("change", regroup);
    this.bandSel.addEventListener("change", regroup);

    this.impSel.setAttribute("aria-label", "the metric whose hyper-parameters are ranked");
    this.impSel.addEventListener("change", () => this.showImportance());

    const controls = el("div", "lp-runs-controls");
    controls.append(this.filterIn, this.count, this.colsBox, this.groupSel, this.bandSel);
    const imp = el("aside", "lp-runs-imp");
    const impHead = el("div", "lp-runs-imp-head");
    impHead.append(el("span", "lp-runs-imp-title", "importance for"), this.impSel);
    imp.append(impHead, this.impList, this.impNote);
    const middle = el("div", "lp-runs-middle");
    middle.append(this.table.el, imp);
    const plots = el("div", "lp-runs-plots");
    plots.append(this.parcoords.el, this.scatter.el);
    this.empty.hidden = true;
    this.el.append(controls, this.filterMsg, this.empty, middle, plots);
    this.el.hidden = true;
    // the plots share the pane's width: the parallel coordinates 60 %, the scatter the rest
    new ResizeObserver(() => {
      const w = plots.clientWidth;
      if (!w) return;
      const left = Math.max(200, Math.floor(w * 0.6) - 8);
      this.parcoords.resize(left, PLOT_H);
      this.scatter.resize(Math.max(160, w - left - 16), PLOT_H);
    }).observe(plots);

    host.model.on(() => this.refreshSoon());
    // "updated 12 s ago" keeps counting
    setInterval(() => this.isOpen && this.table.refresh(), 5000);
    if (params.get("runs") === "1") this.setOpen(true);
  }

  get open(): boolean {
    return this.isOpen;
  }

  setOpen(open: boolean): void {
    if (open === this.isOpen) return;
    this.isOpen = open;
    this.el.hidden = !open;
    this.toggle.classList.toggle("on", open);
    this.toggle.setAttribute("aria-pressed", String(open));
    this.urlSoon("runs", open ? ["1"] : []);
    // the brushes narrow the windows only while they are in sight
    if (this.passing) this.host.setPassing(open ? this.passing : null);
    if (!open) return;
    const t0 = performance.now();
    this.stats.openedAt = t0;
    this.stats.shownMs = 0;
    this.applyFilter(false);
    this.refresh();
    // on screen: the frame after the render has painted
    requestAnimationFrame(() => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => (this.stats.shownMs = performance.now() - t0);
      ch.port2.postMessage(null);
    });
  }

  /** Put a parameter into the URL a moment after the last change: history.replaceState costs
   * Chromium about as much as drawing the table, too much for every key typed. */
  private urlSoon(key: string, values: string[]): void {
    this.urlPending.set(key, values);
    clearTimeout(this.urlTimer);
    this.urlTimer = setTimeout(() => {
      for (const [k, v] of this.urlPending) setUrlList(k, v);
      this.urlPending.clear();
    }, 300);
  }

  /** The selection changed (here or on the left): the checkboxes follow. */
  selectionChanged(): void {
    if (this.isOpen) this.table.refresh();
  }

  /** Set the filter text (tests, links). */
  setFilter(text: string): void {
    this.filterIn.value = text;
    this.applyFilter();
  }

  private applyFilter(render = true): void {
    const t0 = performance.now();
    const text = this.filterIn.value.trim();
    this.urlSoon("runfilter", text ? [this.filterIn.value] : []);
    let msg = "";
    if (!text) this.filter = null;
    else
      try {
        this.filter = parse(text);
      } catch (exc) {
        if (!(exc instanceof FilterError)) throw exc;
        msg = exc.message; // the last good filter stays in force
      }
    this.filterMsg.textContent = msg;
    this.filterMsg.hidden = !msg;
    this.stats.filterError = msg;
    this.filterIn.classList.toggle("bad", !!msg);
    this.filterIn.setAttribute("aria-invalid", String(!!msg));
    if (render && !msg && this.isOpen) this.refresh();
    this.stats.lastFilterMs = performance.now() - t0;
  }

  /** The brushes changed: the table and the windows follow, once a frame however fast a brush moves. */
  private brushed(passing: Set<string> | null): void {
    this.passing = passing;
    if (this.brushFrame) return;
    this.brushFrame = requestAnimationFrame(() => {
      this.brushFrame = 0;
      const p = this.passing;
      if (!this.isOpen) return;
      this.host.setPassing(p);
      this.scope = this.matching.filter((r) => !p || p.has(r.env));
      this.table.setRows(this.scope, this.host.model.rows);
      this.showCount();
      this.later(false);
    });
  }

  private filtered(): RunRow[] {
    const rows = [...this.host.model.rows.values()];
    const f = this.filter;
    if (!f) return rows;
    return rows.filter((r) => {
      try {
        return f.matches(r);
      } catch {
        return false;
      }
    });
  }

  private refreshSoon(): void {
    this.dirty = true;
    if (!this.isOpen || this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      if (this.dirty) this.refresh();
    });
  }

  /** The rows in scope and the table now, from the model; the plots, the importance and the choices
   * after the table is on screen (they take longer than the table, which is what is looked at first). */
  private refresh(): void {
    this.dirty = false;
    const t0 = performance.now();
    this.matching = this.filtered();
    const passing = this.passing;
    this.scope = passing ? this.matching.filter((r) => passing.has(r.env)) : this.matching;
    this.table.setRows(this.scope, this.host.model.rows);
    this.showCount();
    this.stats.refreshMs.table = performance.now() - t0;
    this.later(true);
  }

  /** Run `beside` once after the next paint (plots too when `plots`; calls in between are merged). */
  private later(plots: boolean): void {
    this.laterPlots ||= plots;
    if (this.laterPending) return;
    this.laterPending = true;
    // a frame later: the table's frame is painted and its tasks run before this work starts
    requestAnimationFrame(() =>
      requestAnimationFrame(() =>
        setTimeout(() => {
          const all = this.laterPlots;
          this.laterPending = this.laterPlots = false;
          if (this.isOpen) this.beside(all);
        }, 0),
      ),
    );
  }

  private beside(plots: boolean): void {
    const t: number[] = [performance.now()];
    const cols = columnsFor(this.host.model.rows.values());
    const dims = dimsFor(cols);
    if (plots) this.parcoords.setData(this.matching, dims);
    t.push(performance.now());
    this.scatter.setData(this.matching, dims, this.passing);
    t.push(performance.now());
    this.fillChoices(cols);
    this.showImportance();
    t.push(performance.now());
    if (this.colsBox.open) this.fillColumns();
    Object.assign(this.stats.refreshMs, { parcoords: t[1] - t[0], scatter: t[2] - t[1], importance: t[3] - t[2] });
    this.stats.besideAt = performance.now();
  }

  private showCount(): void {
    const all = this.host.model.rows.size;
    this.count.textContent = this.scope.length === all ? `${all} runs` : `${this.scope.length} of ${all} runs`;
    this.empty.textContent = !all
      ? "No runs yet. Every env is a run: livepanel.Panel(env=..., config={...}) gives it its hyper-parameters."
      : !this.scope.length
        ? "No run matches the filter" + (this.passing ? " and the brushes." : ".")
        : "";
    this.empty.hidden = !this.empty.textContent;
  }

  /** The group-by keys and the importance metrics, kept when still offered. */
  private fillChoices(cols: Column[]): void {
    const keys = cols.filter((c) => c.group === "config").map((c) => c.label);
    const g = this.host.grouping().key;
    if (g && !keys.includes(g)) keys.push(g);
    const keyText = keys.join("\n");
    if (keyText !== this.groupKeys) {
      this.groupKeys = keyText;
      const value = this.groupSel.value;
      this.groupSel.replaceChildren(new Option("group: none", ""), ...keys.sort(naturalCompare).map((k) => new Option("group: " + k, k)));
      this.groupSel.value = value;
    }
    const metrics = cols.filter((c) => c.group === "metric" || c.group === "summary");
    const impText = metrics.map((c) => c.id).join("\n");
    if (impText !== this.impKeys) {
      this.impKeys = impText;
      const value = this.impSel.value;
      this.impSel.replaceChildren(...metrics.map((c) => new Option((c.group === "summary" ? "summary " : "") + (c.extra ? c.label : c.label + " (last)"), c.id)));
      // the first summary value, else the first metric's last value
      const first = metrics.find((c) => c.group === "summary") ?? metrics.find((c) => !c.extra);
      this.impSel.value = metrics.some((c) => c.id === value) ? value : (first?.id ?? "");
    }
  }

  private fillColumns(): void {
    const items = this.table.columns().map(({ col, shown }) => {
      const label = el("label", "lp-runs-col");
      const box = el("input");
      box.type = "checkbox";
      box.checked = shown;
      box.dataset.col = col.id;
      label.append(box, el("span", "", (col.group === "run" ? "" : col.group + " ") + col.label));
      return label;
    });
    this.colsList.replaceChildren(...items);
  }

  private showImportance(): void {
    const id = this.impSel.value;
    const col = columnsFor(this.scope).find((c) => c.id === id);
    const keys = col ? importances(this.scope, (r) => col.get(r)) : [];
    this.stats.importance = { metric: id, runs: this.scope.length, keys };
    const items = keys.map((k) => {
      const li = el("li", "lp-runs-imp-item");
      li.title = k.importance === null ? `n/a: ${k.why}` : `explains ${(k.importance * 100).toFixed(0)}% of the variance over ${k.n} runs (${k.groups} groups)`;
      const bar = el("span", "lp-runs-imp-bar");
      const fill = el("span", "lp-runs-imp-fill");
      fill.style.width = `${Math.round((k.importance ?? 0) * 100)}%`;
      bar.append(fill);
      const rho = k.rho === null ? "" : `ρ ${k.rho >= 0 ? "+" : "−"}${formatNumber(Math.abs(Number(k.rho.toFixed(2))))}`;
      li.append(el("span", "lp-runs-imp-key", k.key), bar, el("span", "lp-runs-imp-val", k.importance === null ? "n/a" : k.importance.toFixed(2)), el("span", "lp-runs-imp-rho", rho));
      return li;
    });
    this.impList.replaceChildren(...items);
    this.impNote.textContent = !col ? "No metric to rank by yet." : !keys.length ? "No config keys in these runs." : `over ${this.scope.length} runs: share of the metric's variance each key explains (ρ: rank correlation)`;
  }
}
