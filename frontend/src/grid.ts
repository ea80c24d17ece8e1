// The grid of windows: one frame per window id (title, tools, export buttons,
// body, resize handle). Frames are dragged by their header to reorder and
// resized from their corner; the result is reported as a layout.

import { actions, badge, kindLabel, level, severity, stepText, type AlertActions } from "./alerts";
import { autoWidth as columnWidth, exportName, matcher, sectionOf, sections } from "./finding";
import type { State, WindowState } from "./state";
import { BarView } from "./views/bar";
import { EmbeddingView } from "./views/embedding";
import { GraphView } from "./views/graph";
import { el, str, type Ctx, type View } from "./views/common";
import { HeatmapView } from "./views/heatmap";
import { HistogramView } from "./views/histogram";
import { ImageView } from "./views/image";
import { LineView } from "./views/line";
import { MediaView } from "./views/media";
import { ClipView } from "./views/clips";
import { PlotlyView } from "./views/plotly";
import { setTexText } from "./tex";
import type { Alert } from "./wire";
import { TextView } from "./views/text";
import { PropertiesView } from "./views/properties";
import { attachEvents } from "./events";

export const DEFAULT_W = 460;
export const DEFAULT_H = 320;

/** The width of a window without a size of its own (at least DEFAULT_W: see finding.ts). */
export function autoWidth(gridWidth: number): number {
  return columnWidth(gridWidth, DEFAULT_W);
}
interface Section {
  el: HTMLElement;
  head: HTMLButtonElement;
  body: HTMLElement;
}

export function makeView(kind: string, ctx: Ctx, win: string): View {
  switch (kind) {
    case "line":
    case "scatter":
      return new LineView(kind, ctx, win);
    case "bar":
      return new BarView(ctx, win);
    case "histogram":
      return new HistogramView(ctx, win);
    case "heatmap":
      return new HeatmapView(ctx, win);
    case "image":
      return new ImageView(ctx, win);
    case "properties":
      return new PropertiesView(ctx, win);
    case "plotly":
      return new PlotlyView(ctx, win);
    case "media":
      return new MediaView(ctx, win);
    case "graph":
      return new GraphView(ctx, win);
    case "embedding":
      return new EmbeddingView(ctx, win);
    case "audio":
    case "video":
      return new ClipView(kind, ctx, win);
    default:
      return new TextView(ctx, win);
  }
}

function download(href: string, name: string): void {
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
}


export class Frame {
  readonly el = el("section", "lp-win");
  readonly body = el("div", "lp-body");
  private titleEl = el("h3", "lp-title");
  private kindEl = el("span", "lp-kind");
  /** the window's alerts: count and most severe kind; the tooltip has every message and suggestion */
  readonly badge = el("button", "lp-alert-badge");
  /** under the chart: each alert of the window with its evidence, and its dismiss and mute buttons */
  readonly notes = el("div", "lp-alert-notes");
  readonly view: View;
  private ro: ResizeObserver;
  w: number;
  h: number;
  /** on screen (or near it): updates are drawn; off screen they wait until it scrolls into view */
  visible = true;
  /** drawn at least once */
  drawn = false;
  /** changed while off screen */
  stale = false;
  /** hidden by the search or a collapsed section: changes wait until it shows */
  hidden = false;
  /** sized by the grid (no size of its own in the layout or the options) */
  auto = true;
  private head = el("header", "lp-head");
  /** the view's tools and the export buttons, in the header while they fit on its one line */
  private bar = el("span", "lp-head-tools");
  private more = el("button", "lp-more", "⋯");
  /** what does not fit on the header's line: opened by "⋯" */
  private menu = el("div", "lp-menu");
  private inline: HTMLElement[] = [];
  private exports: HTMLElement[] = [];

  constructor(readonly win: string, readonly kind: string, ctx: Ctx, private readonly grid: Grid) {
    this.view = makeView(kind, ctx, win);
    attachEvents(this.el, this.body, this.view, win, () => this.grid.windows(win)[0]?.env); // events.ts
    this.el.dataset.win = win;
    this.el.dataset.kind = kind;
    const head = this.head;
    head.draggable = true;
    head.title = "drag to move";
    const png = el("button", "lp-export", "PNG");
    const csv = el("button", "lp-export", kind === "image" || kind === "plotly" ? "JSON" : kind === "text" ? "MD" : kind === "media" || kind === "audio" || kind === "video" ? "FILE" : "CSV");
    png.type = csv.type = "button";
    png.title = "save as PNG";
    csv.title = "download the window's full data";
    png.addEventListener("click", () => this.exportPng());
    csv.addEventListener("click", () => this.exportData());
    const spacer = el("span", "lp-spacer");
    this.badge.type = "button";
    this.badge.addEventListener("click", () => this.grid.badgeClick(win));
    this.exports = [png, csv];
    this.inline = [...(this.view.tools ? [this.view.tools] : []), png, csv];
    this.more.type = "button";
    this.more.title = "more: the tools that do not fit";
    this.more.setAttribute("aria-label", "more tools");
    this.more.setAttribute("aria-expanded", "false");
    this.more.addEventListener("click", () => this.openMenu(this.menu.hidden));
    this.menu.hidden = true;
    for (const b of this.exports) b.addEventListener("click", () => this.openMenu(false));
    head.append(this.titleEl, this.kindEl, this.badge, spacer, this.bar, this.more);
    this.body.append(this.view.el);
    const handle = el("div", "lp-resize");
    handle.title = "drag to resize";
    this.notes.setAttribute("aria-label", "alerts of this window");
    this.el.append(head, this.menu, this.body, this.notes, handle);
    this.fitHead();
    this.view.toolsChanged = () => this.fitHead();
    this.w = DEFAULT_W;
    this.h = DEFAULT_H;
    // reorder by drag and drop of the header
    head.addEventListener("dragstart", (ev) => {
      ev.dataTransfer?.setData("application/x-livepanel-win", win);
      ev.dataTransfer?.setData("text/plain", win);
      this.el.classList.add("dragging");
    });
    head.addEventListener("dragend", () => this.el.classList.remove("dragging"));
    this.el.addEventListener("dragover", (ev) => {
      if (ev.dataTransfer?.types.includes("application/x-livepanel-win")) {
        ev.preventDefault();
        this.el.classList.add("drop");
      }
    });
    this.el.addEventListener("dragleave", () => this.el.classList.remove("drop"));
    this.el.addEventListener("drop", (ev) => {
      ev.preventDefault();
      this.el.classList.remove("drop");
      const from = ev.dataTransfer?.getData("application/x-livepanel-win");
      if (from && from !== win) this.grid.move(from, win);
    });
    // resize from the corner
    handle.addEventListener("pointerdown", (ev) => {
      ev.preventDefault();
      handle.setPointerCapture(ev.pointerId);
      const x0 = ev.clientX, y0 = ev.clientY, w0 = this.w, h0 = this.h;
      const move = (e: PointerEvent) => this.setSize(w0 + e.clientX - x0, h0 + e.clientY - y0);
      const up = () => {
        this.auto = false; // sized by hand: it keeps its width
        handle.removeEventListener("pointermove", move);
        handle.removeEventListener("pointerup", up);
        this.grid.saveLayout();
      };
      handle.addEventListener("pointermove", move);
      handle.addEventListener("pointerup", up);
    });
    this.ro = new ResizeObserver(() => {
      this.fitHead();
      this.view.resize(this.body.clientWidth, this.body.clientHeight);
    });
    this.ro.observe(this.body);
  }

  /** Keep the header on one line: when the window is too narrow, the export buttons move into the "⋯"
   * menu, then the kind label goes, then the view's tools move into the menu too. */
  fitHead(): void {
    const over = () => this.head.scrollWidth > this.head.clientWidth + 1;
    this.bar.replaceChildren(...this.inline);
    this.more.hidden = true;
    this.kindEl.hidden = false;
    if (!over()) {
      this.openMenu(false);
      return;
    }
    this.more.hidden = false;
    this.menu.replaceChildren(...this.exports);
    this.bar.replaceChildren(...this.inline.filter((e) => !this.exports.includes(e)));
    if (!over()) return;
    this.kindEl.hidden = true; // the chart shows its kind: its label goes before the tools do
    if (!over()) return;
    this.menu.replaceChildren(...this.inline);
    this.bar.replaceChildren();
  }

  private openMenu(open: boolean): void {
    const was = !this.menu.hidden;
    this.menu.hidden = !open || !this.menu.childElementCount;
    this.more.setAttribute("aria-expanded", String(!this.menu.hidden));
    this.more.classList.toggle("on", !this.menu.hidden);
    const now = !this.menu.hidden;
    if (was === now) return;
    // open: a click elsewhere or Escape closes it
    if (now) {
      document.addEventListener("pointerdown", this.closeOutside, true);
      document.addEventListener("keydown", this.closeOnEscape, true);
    } else {
      document.removeEventListener("pointerdown", this.closeOutside, true);
      document.removeEventListener("keydown", this.closeOnEscape, true);
    }
  }

  private closeOutside = (ev: Event): void => {
    const t = ev.target as Node | null;
    if (t && (this.menu.contains(t) || this.more.contains(t))) return;
    this.openMenu(false);
  };

  private closeOnEscape = (ev: KeyboardEvent): void => {
    if (ev.key === "Escape") this.openMenu(false);
  };

  setSize(w: number, h: number): void {
    this.w = Math.round(Math.max(220, Math.min(4000, w)));
    this.h = Math.round(Math.max(140, Math.min(3000, h)));
    this.el.style.width = this.w + "px";
    this.el.style.height = this.h + "px";
  }

  /** Show the alerts of this window id (every selected env); no badge without any. */
  setAlerts(alerts: Alert[], withEnv: boolean): void {
    const b = badge(alerts, withEnv);
    this.badge.classList.toggle("on", !!b);
    this.el.classList.toggle("has-alert", !!b);
    this.badge.textContent = b?.text ?? "";
    this.badge.title = b?.title ?? "";
    this.badge.dataset.kind = b?.kind ?? "";
    this.badge.dataset.level = b ? level(b.kind) : "";
    this.badge.dataset.count = String(alerts.length);
    if (this.badge.classList.contains("on") !== this.el.classList.contains("had-badge")) {
      this.el.classList.toggle("had-badge", !!b);
      this.fitHead();
    }
    this.badge.setAttribute("aria-label", b ? `${alerts.length} alert${alerts.length === 1 ? "" : "s"}: ${b.title}` : "");
    const sorted = [...alerts].sort((a, c) => severity(a.kind) - severity(c.kind) || a.id - c.id);
    this.notes.replaceChildren(
      ...sorted.map((a) => {
        const note = el("div", "lp-alert-note");
        note.dataset.id = String(a.id);
        note.dataset.kind = a.kind;
        note.dataset.level = level(a.kind);
        const head = `⚠ ${kindLabel(a.kind)}${withEnv ? ` (${a.env})` : ""}${stepText(a) ? ` at ${stepText(a)}` : ""}`;
        const text = el("span", "lp-alert-note-text");
        text.append(el("strong", undefined, head), document.createTextNode(": "), el("span", "lp-alert-evidence", a.evidence || a.message));
        text.title = `${a.message}\n→ ${a.suggestion}`;
        note.append(text, actions(a, this.grid.alertActions, false));
        return note;
      }),
    );
  }

  update(wins: WindowState[]): void {
    const first = wins[0];
    const title = str(first?.opts.title) || this.win;
    const retitled = this.titleEl.dataset.text !== title;
    if (retitled) setTexText(this.titleEl, title); // $...$ as maths (tex.ts)
    this.titleEl.dataset.text = title;
    this.titleEl.title = this.win;
    this.kindEl.textContent = this.kind;
    this.view.update(wins);
    if (retitled) this.fitHead();
    this.drawn = true;
    this.stale = false;
  }

  private async exportPng(): Promise<void> {
    const blob = await this.view.png();
    if (!blob) return;
    const url = URL.createObjectURL(blob);
    download(url, exportName(this.grid.envsOf(this.win), this.win, "png"));
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  private exportData(): void {
    if (this.view instanceof ClipView) {
      // the file of the step shown (a WAV or an MP4), for each env; the table of steps is the CSV export
      for (const f of this.view.files()) download(this.grid.ctx.api("media", { env: f.env, win: this.win, step: f.step }), exportName([f.env], this.win, f.ext));
      return;
    }
    if (this.view instanceof MediaView) {
      const ext = this.view.format || "bin"; // the files as they were sent
      for (const env of this.grid.envsOf(this.win)) download(this.grid.ctx.api("media", { env, win: this.win }), exportName([env], this.win, ext));
      return;
    }
    const json = this.kind === "image" || this.kind === "plotly"; // no table of values: the window state
    const format = json ? "json" : "csv";
    const ext = json ? "json" : this.kind === "text" ? "md" : "csv";
    for (const env of this.grid.envsOf(this.win)) download(this.grid.ctx.api("export", { env, win: this.win, format }), exportName([env], this.win, ext));
  }

  destroy(): void {
    this.openMenu(false);
    this.ro.disconnect();
    this.view.destroy();
    this.el.remove();
  }
}

export class Grid {
  readonly el = el("main", "lp-grid");
  readonly frames = new Map<string, Frame>();
  /** the sections by name prefix ("" the default one), each a head (collapses it) and the windows */
  private sections = new Map<string, Section>();
  /** the search (substring, or /regex/) and the collapsed sections: the page URL keeps both */
  query = "";
  folded = new Set<string>();
  /** the windows shown at the last sync (matching the search, in an open section) */
  shownCount = 0;
  /** the search is not a valid regex */
  badQuery = false;
  /** a section was collapsed or opened */
  foldChanged: (folded: string[]) => void = () => {};
  envs: string[] = [];
  /** the window ids the page URL names (`?win=`): only these are shown, and the layout is not saved */
  only: Set<string> | null = null;
  /** a window's alert badge was clicked */
  badgeClick: (win: string) => void = () => {};
  /** a dismiss or mute button of an alert was clicked */
  alertActions: AlertActions = { dismiss: () => {}, mute: () => {} };
  private io: IntersectionObserver;

  constructor(
    readonly ctx: Ctx,
    private readonly state: State,
    private readonly sendLayout: (env: string, layout: Record<string, { order: number; w: number; h: number }>) => void,
    /** windows that came into view with changes they have not drawn yet */
    private readonly revealed: (ids: string[]) => void,
  ) {
    this.io = new IntersectionObserver(
      (entries) => {
        const show: string[] = [];
        for (const e of entries) {
          const f = this.frames.get((e.target as HTMLElement).dataset.win ?? "");
          if (!f) continue;
          f.visible = e.isIntersecting;
          if (f.visible && f.stale) show.push(f.win);
        }
        if (show.length) this.revealed(show);
      },
      { rootMargin: "200px" },
    );
    // windows without a size of their own share the page's width: follow it
    let lastWidth = 0;
    new ResizeObserver(() => {
      const w = this.el.clientWidth;
      if (!w || w === lastWidth || this.only?.size === 1) return;
      lastWidth = w;
      const auto = autoWidth(w);
      for (const f of this.frames.values()) if (f.auto) f.setSize(auto, f.h);
    }).observe(this.el);
  }

  private section(name: string): Section {
    let sec = this.sections.get(name);
    if (sec) return sec;
    const box = el("div", "lp-section");
    box.dataset.section = name;
    const head = el("button", "lp-section-head");
    head.type = "button";
    const body = el("div", "lp-section-body");
    head.addEventListener("click", () => {
      if (this.folded.has(name)) this.folded.delete(name);
      else this.folded.add(name);
      this.foldChanged([...this.folded]);
    });
    box.append(head, body);
    sec = { el: box, head, body };
    this.sections.set(name, sec);
    return sec;
  }

  envsOf(win: string): string[] {
    return this.envs.filter((e) => this.state.envs.get(e)?.windows.has(win));
  }

  /** The windows of this id to draw together: same kind as the first. */
  windows(win: string): WindowState[] {
    const all = this.state.windowsById(win, this.envs);
    return all.filter((w) => w.kind === all[0]?.kind);
  }

  /** Create, remove, order and size frames to match the state; place them in their sections, hide those the
   * search or a collapsed section hides; return the ids now shown. */
  sync(): string[] {
    const only = this.only;
    const order = this.state.order(this.envs).filter((win) => !only || only.has(win));
    const keep = new Set(order);
    for (const [win, f] of this.frames) {
      const kind = this.windows(win)[0]?.kind;
      if (!keep.has(win) || kind !== f.kind) {
        this.io.unobserve(f.el);
        f.destroy();
        this.frames.delete(win);
      }
    }
    const match = matcher(this.query);
    this.badQuery = !match;
    const auto = autoWidth(this.el.clientWidth);
    const secs = sections(order);
    const heads = secs.length > 1 || (secs.length === 1 && secs[0][0] !== "");
    const shown: string[] = [];
    let prevSec: Element | null = null;
    for (const [name, wins] of secs) {
      const sec = this.section(name);
      const folded = heads && this.folded.has(name);
      let matching = 0;
      let prev: Element | null = null;
      for (const win of wins) {
        let f = this.frames.get(win);
        if (!f) {
          f = new Frame(win, this.windows(win)[0].kind, this.ctx, this);
          this.frames.set(win, f);
          this.io.observe(f.el);
        }
        if (only?.size === 1) {
          // one window named by the URL (a notebook's `panel.show(win)`): it fills the page
          const top = this.el.getBoundingClientRect().top;
          f.auto = false;
          f.setSize(this.el.clientWidth - 4, Math.max(DEFAULT_H, window.innerHeight - top - 12));
        } else {
          const cell = this.state.cell(win, this.envs);
          const opts = this.windows(win)[0]?.opts ?? {};
          const w = cell.w || (typeof opts.width === "number" ? opts.width : 0);
          f.auto = !w;
          f.setSize(w || auto, cell.h || (typeof opts.height === "number" ? opts.height : DEFAULT_H));
        }
        const title = str(this.windows(win)[0]?.opts.title) ?? "";
        const hit = !!match && match(win, title);
        if (hit) matching++;
        f.hidden = !hit || folded;
        f.el.classList.toggle("lp-filtered", !hit);
        if (!f.hidden) shown.push(win);
        const want: Element | null = prev ? prev.nextElementSibling : sec.body.firstElementChild;
        if (want !== f.el) sec.body.insertBefore(f.el, want);
        prev = f.el;
      }
      sec.el.classList.toggle("lp-nohead", !heads);
      sec.el.classList.toggle("collapsed", folded);
      sec.el.hidden = matching === 0;
      sec.head.textContent = `${folded ? "▸" : "▾"} ${name || "other"} (${matching === wins.length ? wins.length : `${matching} of ${wins.length}`})`;
      sec.head.setAttribute("aria-expanded", String(!folded));
      sec.head.title = folded ? "show this section" : "collapse this section";
      const want: Element | null = prevSec ? prevSec.nextElementSibling : this.el.firstElementChild;
      if (want !== sec.el) this.el.insertBefore(sec.el, want);
      prevSec = sec.el;
    }
    const names = new Set(secs.map(([n]) => n));
    for (const [name, sec] of this.sections)
      if (!names.has(name)) {
        sec.el.remove();
        this.sections.delete(name);
      }
    this.el.classList.toggle("empty", order.length === 0);
    this.shownCount = shown.length;
    return shown;
  }

  /** The frames in page order (across sections). */
  private ordered(): Frame[] {
    return [...this.el.querySelectorAll<HTMLElement>("section.lp-win")].map((n) => this.frames.get(n.dataset.win ?? "")).filter((f): f is Frame => !!f);
  }

  /** Move window `from` before `to`, and save. */
  move(from: string, to: string): void {
    const order = this.ordered().map((f) => f.win);
    const i = order.indexOf(from);
    order.splice(i, 1);
    order.splice(order.indexOf(to), 0, from);
    // each window stays in its section: a drop moves it among that section's windows
    for (const win of order) this.section(sectionOf(win)).body.append(this.frames.get(win)!.el);
    this.saveLayout();
  }

  /** Report the current order and sizes, per env (each env gets its own windows). */
  saveLayout(): void {
    if (this.only) return; // a view of some windows only: its order and sizes are not the env's layout
    const cells: Record<string, { order: number; w: number; h: number }> = {};
    this.ordered().forEach((f, order) => {
      // a window sized by the grid keeps no width of its own: it follows the page's width
      cells[f.win] = { order, w: f.auto ? 0 : f.w, h: f.h };
    });
    for (const env of this.envs) {
      const e = this.state.envs.get(env);
      if (!e) continue;
      const mine: typeof cells = {};
      for (const [win, c] of Object.entries(cells)) if (e.windows.has(win)) mine[win] = c;
      e.layout = { ...e.layout, ...mine };
      this.sendLayout(env, e.layout as Record<string, { order: number; w: number; h: number }>);
    }
  }

  /** Put every frame's alert badge in step with the state. */
  showAlerts(): void {
    for (const f of this.frames.values()) f.setAlerts(this.state.alerts(this.envs, f.win), this.envs.length > 1);
  }

  clear(): void {
    for (const f of this.frames.values()) {
      this.io.unobserve(f.el);
      f.destroy();
    }
    this.frames.clear();
  }
}
