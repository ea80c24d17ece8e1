// The app: wires the socket, the state, the scheduler, the picker and the grid,
// keeps the URL in step with what is shown, and exposes window.__livepanel.

import "uplot/dist/uPlot.min.css"; // bundled into static/app.css, linked by index.html
import "./styles.css";
import { AlertsPanel, flash, type AlertActions } from "./alerts";
import { recentEnvs } from "./finding";
import { Grid } from "./grid";
import { Picker } from "./picker";
import { Scheduler } from "./scheduler";
import { Socket, type Status } from "./socket";
import { State } from "./state";
import { Focus, RunsModel } from "./runs/model";
import { RunsPanel, type PanelStats } from "./runs/panel";
import { assignRunColors, runColor, safeColor } from "./runs/colors";
import { clampSmooth, groupingFromQuery, groupingParams, settingsFromQuery, settingsParams, SMOOTH_MAX, X_NAMES, XMODES, type Grouping, type Settings, type XMode } from "./settings";
import { api, envsFromUrl, foldsFromUrl, queryFromUrl, setUrlEnvs, setUrlList, socketUrl, winsFromUrl } from "./urls";
import { el, type Ctx } from "./views/common";
import { sent as eventsSent, setEventSender } from "./events";
import type { LineView, Marker } from "./views/line";
import type { Alert, EnvInfo, ServerMessage } from "./wire";

interface Hooks {
  state: State;
  status: Status;
  selected: string[];
  /** draws per window id, and the total */
  draws: Record<string, number>;
  drawCount: number;
  /** performance.now() of each window's last draw */
  lastDraw: Record<string, number>;
  /** duration of each scheduler flush (ms), newest last, at most 2000 */
  flushTimes: number[];
  messages: number;
  connections: number;
  grid: Grid;
  socket: Socket;
  runs: RunsModel;
  focus: Focus;
  /** the runs panel: its table's figures (rows, timings), and the panel itself */
  runsTable: PanelStats;
  runsPanel: RunsPanel;
  /** the envs the windows overlay: the selected ones that pass the brushes of the parallel coordinates */
  overlaid: string[];
  flush(): void;
  zoom(win: string, x0: number, x1: number, full?: boolean): Promise<void>;
  rebuild(win: string): void;
  resetZoom(win: string): void;
  points(win: string): number;
  select(envs: string[]): void;
  /** the alerts shown for the selected envs (of one window id when given); `all`: dismissed and muted too */
  alerts(win?: string, all?: boolean): Alert[];
  /** alert onsets drawn on a line window's chart at its last paint */
  markers(win: string): Marker[];
  /** what a line window's chart shows: settings in force, its own overrides, x label, series, first x */
  chart(win: string): LineView["info"] | null;
  /** a line window's uPlot (tests: where a point is drawn) */
  uplot(win: string): unknown;
  /** the page-wide settings */
  page(): Settings;
}

declare global {
  interface Window {
    __livepanel: Hooks;
  }
}

/** The server's env list with live window counts for the envs this page holds (the server sends
 * the list again only when an env comes or goes, so its counts are those of that moment). */
function liveEnvList(state: State): EnvInfo[] {
  return state.envList.map((e) => {
    const held = state.envs.get(e.name);
    return held && held.store ? { ...e, windows: held.windows.size } : e;
  });
}

function start(): void {
  const state = new State();
  let selected = envsFromUrl();
  let autoSelect = selected.length === 0;

  const hooks = {
    state,
    status: "connecting",
    selected,
    draws: {},
    drawCount: 0,
    lastDraw: {},
    flushTimes: [],
    messages: 0,
    connections: 0,
  } as unknown as Hooks;
  window.__livepanel = hooks;

  // page-wide chart settings: the URL keeps them (?smooth=0.6&x=time&logy=1), so a link reproduces the view
  let page: Settings = settingsFromQuery(location.search);
  let grouping: Grouping = groupingFromQuery(location.search); // set by the runs panel (group by)
  const runs = new RunsModel();
  const focus = new Focus();
  // the brushes of the parallel coordinates (null: none): the windows overlay the selected envs inside them
  let passing: Set<string> | null = null;
  const overlaid = () => (passing ? selected.filter((e) => passing!.has(e)) : selected);
  // colours first (before any view listens): known runs get distinct palette slots
  runs.on(() => assignRunColors(runs.rows.values()));
  const ctx: Ctx = {
    runs,
    focus,
    get grouping() {
      return grouping;
    },
    get envs() {
      return overlaid();
    },
    get page() {
      return page;
    },
    drew(win: string) {
      hooks.draws[win] = (hooks.draws[win] ?? 0) + 1;
      hooks.drawCount++;
      hooks.lastDraw[win] = performance.now();
    },
    api,
    alerts: (win: string) => state.alerts(selected, win),
    envState: (name: string) => state.envs.get(name),
    reveal: (win: string) => revealWindow(win),
  };

  // ---- page skeleton
  const bar = el("header", "lp-bar");
  const brand = el("span", "lp-brand", "livepanel");
  const shown = el("span", "lp-shown");
  const conn = el("span", "lp-conn");
  conn.setAttribute("role", "status");
  const toggle = el("button", "lp-toggle-picker", "envs");
  toggle.type = "button";
  // dismiss and mute go to the server over the socket (never a POST: the page has no write token); what
  // changes comes back as env changes, to this page and every other viewer alike
  const alertActions: AlertActions = {
    dismiss: (a) => socket.send({ type: "dismiss", env: a.env, id: a.id }),
    mute: (a, onWindow) => socket.send({ type: "mute", env: a.env, ...(onWindow ? { win: a.win } : {}), kind: a.kind, muted: true }),
  };
  // bring a window into view and mark it (an alert picked in the list, a graph node's layer window)
  const revealWindow = (win: string) => {
    const f = grid.frames.get(win);
    if (!f) return;
    f.el.scrollIntoView({ block: "nearest", behavior: "smooth" });
    flash(f.el);
  };
  const alertsPanel = new AlertsPanel((a) => revealWindow(a.win), alertActions);
  // the window search (a substring, or /regex/): the page URL keeps it (?q=), so a link shows the same
  const search = el("input", "lp-win-search");
  search.type = "search";
  search.placeholder = "filter windows (text or /regex/)";
  search.setAttribute("aria-label", "filter windows by name");
  search.value = queryFromUrl();
  // page-wide settings, one line in the bar: smoothing (its value shown), x axis, log y
  const settingsEl = el("span", "lp-page-settings");
  settingsEl.title = "for every chart; a window's own controls override these for that window";
  const smoothLabel = el("label", "lp-page-smooth", "smooth");
  const smoothIn = el("input");
  smoothIn.type = "range";
  smoothIn.min = "0";
  smoothIn.max = String(SMOOTH_MAX);
  smoothIn.step = "0.01";
  smoothIn.setAttribute("aria-label", "smoothing for every chart");
  const smoothVal = el("span", "lp-page-smooth-value");
  smoothLabel.append(smoothIn, smoothVal);
  const xSel = el("select", "lp-page-x");
  xSel.setAttribute("aria-label", "x axis for every chart");
  for (const m of XMODES) xSel.append(new Option("x: " + X_NAMES[m], m));
  const logyBtn = el("button", "lp-toggle lp-page-logy", "log y");
  logyBtn.type = "button";
  logyBtn.setAttribute("aria-label", "log y for every chart");
  settingsEl.append(smoothLabel, xSel, logyBtn);
  const showPage = () => {
    smoothIn.value = String(page.smooth);
    smoothVal.textContent = page.smooth.toFixed(2);
    xSel.value = page.x;
    logyBtn.classList.toggle("on", page.logy);
    logyBtn.setAttribute("aria-pressed", String(page.logy));
  };
  const setPage = (next: Partial<Settings>) => {
    page = { ...page, ...next };
    showPage();
    const params = settingsParams(page);
    for (const k of ["smooth", "x", "logy"] as const) setUrlList(k, params[k]);
    scheduler.mark([...grid.frames.keys()]);
  };
  smoothIn.addEventListener("input", () => setPage({ smooth: clampSmooth(Number(smoothIn.value)) }));
  xSel.addEventListener("change", () => setPage({ x: xSel.value as XMode }));
  logyBtn.addEventListener("click", () => setPage({ logy: !page.logy }));
  showPage();
  const runsPanel = new RunsPanel({
    model: runs,
    focus,
    colors: (env) => runColor(env, runs.rows.get(env)),
    selected: () => selected,
    select: (envs) => select(envs),
    grouping: () => grouping,
    setGrouping: (g) => {
      grouping = g;
      const params = groupingParams(g);
      setUrlList("group", params.group);
      setUrlList("band", params.band);
      scheduler.mark([...grid.frames.keys()]);
    },
    setPassing: (p) => {
      passing = p;
      hooks.overlaid = grid.envs = overlaid();
      scheduler.mark([], true);
    },
  });
  bar.append(toggle, runsPanel.toggle, brand, shown, el("span", "lp-spacer"), settingsEl, search, alertsPanel.toggle, conn);
  const picker = new Picker((envs) => select(envs), {
    color: (env) => runColor(env, runs.rows.get(env)),
    chosen: (env) => safeColor(runs.rows.get(env)?.color),
    setColor: (env, color) => socket.send({ type: "run", env, color }),
    focus,
  });
  runs.on(() => picker.refreshColors());
  const grid = new Grid(
    ctx,
    state,
    (env, layout) => socket.send({ type: "layout", env, layout }),
    (ids) => scheduler.mark(ids),
  );
  const hint = el("p", "lp-hint lp-grid-hint");
  const content = el("div", "lp-content");
  const mainCol = el("div", "lp-main");
  mainCol.append(runsPanel.el, hint, grid.el);
  content.append(picker.el, mainCol, alertsPanel.el);
  grid.badgeClick = (win) => alertsPanel.reveal(win);
  grid.query = search.value;
  grid.folded = new Set(foldsFromUrl());
  grid.foldChanged = (folded) => {
    setUrlList("fold", folded);
    scheduler.mark([], true);
  };
  search.addEventListener("input", () => {
    grid.query = search.value;
    setUrlList("q", search.value ? [search.value] : []);
    scheduler.mark([], true);
  });
  grid.alertActions = alertActions;

  // Alerts (badges and the list) are redrawn once per frame when they changed,
  // and after the grid is rebuilt (new frames need their badges).
  let alertsDirty = false;
  let alertsFrame = 0;
  const renderAlerts = () => {
    alertsDirty = false;
    grid.showAlerts();
    alertsPanel.render(state.alerts(selected), selected.length > 1);
  };
  const alertsChanged = () => {
    alertsDirty = true;
    if (!alertsFrame)
      alertsFrame = requestAnimationFrame(() => {
        alertsFrame = 0;
        if (alertsDirty) renderAlerts();
      });
  };
  document.body.replaceChildren(bar, content);
  toggle.addEventListener("click", () => document.body.classList.toggle("picker-hidden"));

  const setStatus = (s: Status) => {
    hooks.status = s;
    conn.dataset.status = s;
    conn.textContent = s === "open" ? "live" : s === "connecting" ? "connecting…" : "offline, reconnecting…";
    conn.title = s === "open" ? "connected: updates arrive live" : "not connected to the server";
  };

  // Each animation frame draws the dirty windows that are on screen, within a
  // time budget (estimated from what draws cost lately); the rest wait for the
  // next frame, and windows off screen wait until they scroll into view.
  const BUDGET_MS = 10;
  let costPerDraw = 1;
  const scheduler = new Scheduler((ids, structure) => {
    const t0 = performance.now();
    let todo: string[] = [...ids];
    if (structure) todo = grid.sync();
    if (structure || alertsDirty) renderAlerts();
    const allowed = Math.max(1, Math.floor(BUDGET_MS / Math.max(0.05, costPerDraw)));
    const later: string[] = [];
    let drawn = 0;
    for (const id of todo) {
      const f = grid.frames.get(id);
      if (!f) continue;
      if (f.hidden || (f.drawn && !f.visible)) {
        f.stale = true;
        continue;
      }
      if (drawn >= allowed && f.drawn) {
        later.push(id);
        continue;
      }
      f.update(grid.windows(id));
      drawn++;
    }
    const what = grid.only ? `No window ${[...grid.only].join(", ")}` : "No windows";
    const unmatched = grid.badQuery ? `Not a valid regular expression: ${grid.query}` : grid.query && !grid.el.querySelector(".lp-section:not([hidden])") ? `No window matches “${grid.query}”.` : "";
    hint.textContent = !selected.length ? "Pick an env on the left." : !grid.frames.size ? `${what} in ${selected.join(", ")} yet.` : unmatched;
    search.classList.toggle("bad", grid.badQuery);
    search.setAttribute("aria-invalid", String(grid.badQuery));
    // charts paint in a microtask after their update: measure once those have run
    queueMicrotask(() => {
      const dt = performance.now() - t0;
      if (drawn) costPerDraw = 0.7 * costPerDraw + 0.3 * (dt / drawn);
      hooks.flushTimes.push(dt);
      if (hooks.flushTimes.length > 2000) hooks.flushTimes.splice(0, 1000);
    });
    if (later.length) scheduler.mark(later);
  });

  const subscribe = () => {
    const width = Math.round(Math.min(4096, Math.max(800, window.innerWidth * (window.devicePixelRatio || 1))));
    socket.send({ type: "subscribe", width, envs: state.subscription(selected) });
  };

  function select(envs: string[]): void {
    autoSelect = false;
    selected = [...new Set(envs)];
    hooks.selected = selected;
    picker.setSelected(selected);
    setUrlEnvs(selected);
    shown.textContent = selected.join(" + ");
    state.retain(selected);
    hooks.overlaid = grid.envs = overlaid();
    runsPanel.selectionChanged();
    subscribe();
    scheduler.mark([], true);
    alertsChanged();
  }

  const onMessage = (msg: ServerMessage) => {
    hooks.messages++;
    if (msg.type === "error") console.warn("livepanel server:", msg.message);
    if (msg.type === "runs") {
      runs.apply(msg);
      return;
    }
    const applied = state.apply(msg);
    if (applied.envs || applied.structure) picker.setEnvs(liveEnvList(state));
    if (applied.envs && autoSelect && !selected.length && state.envList.length) {
      // the landing page (no ?env=): the most recently updated runs, not the alphabetically first
      select(recentEnvs(state.envList));
      return;
    }
    if ([...state.envs.values()].some((e) => e.broken)) subscribe(); // a gap in seq: fresh snapshots
    if (applied.alerts) alertsChanged();
    if (applied.windows.length || applied.structure) scheduler.mark(applied.windows, applied.structure);
  };

  const socket = new Socket(socketUrl(), {
    message: onMessage,
    status: setStatus,
    opened: () => {
      hooks.connections++;
      socket.send({ type: "runs", on: true });
      subscribe();
    },
  });
  setEventSender((msg) => socket.send(msg)); // clicks, keys and pane edits go over this socket (events.ts)
  Object.assign(hooks, { events: eventsSent });
  Object.assign(hooks, {
    runs,
    focus,
    runsTable: runsPanel.stats,
    runsPanel,
    grid,
    socket,
    flush: () => scheduler.flush(),
    zoom: (win: string, x0: number, x1: number, full = false) => (grid.frames.get(win)?.view as LineView | undefined)?.zoomTo(x0, x1, full) ?? Promise.resolve(),
    rebuild: (win: string) => (grid.frames.get(win)?.view as LineView | undefined)?.rebuild(),
    resetZoom: (win: string) => (grid.frames.get(win)?.view as LineView | undefined)?.resetZoom(),
    points: (win: string) => (grid.frames.get(win)?.view as LineView | undefined)?.points ?? 0,
    chart: (win: string) => (grid.frames.get(win)?.view as LineView | undefined)?.info ?? null,
    uplot: (win: string) => (grid.frames.get(win)?.view as LineView | undefined)?.uplot ?? null,
    page: () => ({ ...page }),
    select,
    alerts: (win?: string, all = false) => state.alerts(selected, win, all).map((a) => ({ ...a })),
    markers: (win: string) => ((grid.frames.get(win)?.view as LineView | undefined)?.markers ?? []).map((m) => ({ ...m })),
  });

  hooks.overlaid = grid.envs = overlaid();
  const wins = winsFromUrl();
  if (wins.length) {
    grid.only = new Set(wins); // a view of some windows (a notebook's `panel.show(win)`): the picker starts folded
    document.body.classList.add("picker-hidden");
  }
  picker.setSelected(selected);
  shown.textContent = selected.join(" + ");
  setStatus("connecting");
  socket.connect();

  // follow the system's light or dark setting: rebuild the views with the new colours
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
    grid.clear();
    scheduler.mark([], true);
  });
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
else start();
