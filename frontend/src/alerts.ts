// Alerts from the server's diagnosis (docs/diagnosis.md): how severe each kind
// is, how it reads, and the alerts list (a drawer on the right of the page).
// Every string in an alert is user-influenced (env, window and trace names):
// it only ever reaches the page through textContent or the title property.

import { el, fmt } from "./views/common";
import type { Alert } from "./wire";

/** Kinds from most to least severe; a kind this app does not know comes last. */
export const SEVERITY = ["nonfinite", "divergence", "exploding_gradients", "lr_too_high", "overfitting", "vanishing_gradients", "not_learning"];

const LABELS: Record<string, string> = {
  nonfinite: "NaN/Inf",
  divergence: "diverging",
  exploding_gradients: "exploding gradients",
  lr_too_high: "lr too high",
  overfitting: "overfitting",
  vanishing_gradients: "vanishing gradients",
  not_learning: "not learning",
};

export function severity(kind: string): number {
  const i = SEVERITY.indexOf(kind);
  return i < 0 ? SEVERITY.length : i;
}

/** "bad" for a run that is broken (NaN, diverging, exploding), "warn" for one that is going badly. */
export function level(kind: string): "bad" | "warn" {
  return severity(kind) <= 2 ? "bad" : "warn";
}

export function kindLabel(kind: string): string {
  return LABELS[kind] ?? kind;
}

/** The most severe alert (the oldest of that kind). */
export function mostSevere(alerts: Alert[]): Alert | null {
  let best: Alert | null = null;
  for (const a of alerts) if (!best || severity(a.kind) < severity(best.kind)) best = a;
  return best;
}

/** Where an alert is: `env · win / trace` (the env only when several are shown). */
export function where(a: Alert, withEnv: boolean): string {
  const series = a.trace ? `${a.win} / ${a.trace}` : a.win;
  return withEnv ? `${a.env} · ${series}` : series;
}

export function stepText(a: Alert): string {
  return Number.isFinite(a.step) ? `step ${fmt(a.step)}` : "";
}

/** The badge of one window: its count, most severe kind, and a tooltip with every message and suggestion. */
export function badge(alerts: Alert[], withEnv: boolean): { text: string; kind: string; title: string } | null {
  const top = mostSevere(alerts);
  if (!top) return null;
  const sorted = [...alerts].sort((a, b) => severity(a.kind) - severity(b.kind) || a.id - b.id);
  const title = sorted
    .map((a) => `${kindLabel(a.kind)} (${where(a, withEnv)}, ${stepText(a)}): ${a.message}${a.evidence ? "\n" + a.evidence : ""}\n→ ${a.suggestion}`)
    .join("\n\n");
  return { text: `⚠ ${alerts.length > 1 ? alerts.length + " · " : ""}${kindLabel(top.kind)}`, kind: top.kind, title };
}

/** What a person can do about an alert (sent to the server, which tells every viewer). */
export interface AlertActions {
  dismiss(a: Alert): void;
  /** mute the alert's kind on its window (`onWindow`), or in its whole env */
  mute(a: Alert, onWindow: boolean): void;
}

/** A small button of an alert (dismiss, mute); its label and title are fixed text. */
export function actionButton(cls: string, label: string, title: string, act: () => void): HTMLButtonElement {
  const b = el("button", "lp-alert-act " + cls, label);
  b.type = "button";
  b.title = title;
  b.addEventListener("click", (ev) => {
    ev.stopPropagation();
    act();
  });
  return b;
}

/** The dismiss and mute buttons of one alert. */
export function actions(a: Alert, act: AlertActions, inEnv: boolean): HTMLElement {
  const box = el("div", "lp-alert-acts");
  box.append(
    actionButton("lp-dismiss", "dismiss", "hide this alert, for everyone", () => act.dismiss(a)),
    actionButton("lp-mute", "mute here", `hide ${kindLabel(a.kind)} alerts on this window, for everyone`, () => act.mute(a, true)),
  );
  if (inEnv) box.append(actionButton("lp-mute-env", "mute in env", `hide ${kindLabel(a.kind)} alerts in the whole env, for everyone`, () => act.mute(a, false)));
  return box;
}

/** Newest first. */
export function newestFirst(alerts: Alert[]): Alert[] {
  return [...alerts].sort((a, b) => (b.t || 0) - (a.t || 0) || b.id - a.id);
}

/** The alerts list: a drawer on the right of the page, opened from the bar. */
export class AlertsPanel {
  readonly el = el("aside", "lp-alerts");
  /** the bar button: `⚠ N alerts`, hidden when there are none */
  readonly toggle = el("button", "lp-alerts-toggle");
  private list = el("ol", "lp-alert-list");
  private count = 0;
  /** the person closed the drawer: new alerts do not open it again */
  private closedByHand = false;

  constructor(
    private readonly pick: (a: Alert) => void,
    private readonly act: AlertActions,
  ) {
    this.el.setAttribute("aria-label", "alerts");
    const head = el("div", "lp-alerts-head");
    const close = el("button", "lp-alerts-close", "×");
    close.type = "button";
    close.title = "hide the alerts";
    close.addEventListener("click", () => this.open(false, true));
    head.append(el("strong", undefined, "Alerts"), el("span", "lp-spacer"), close);
    this.el.append(head, this.list);
    this.toggle.type = "button";
    this.toggle.title = "training problems found in the selected envs";
    this.toggle.addEventListener("click", () => this.open(!document.body.classList.contains("alerts-open"), true));
  }

  open(on: boolean, byHand = false): void {
    document.body.classList.toggle("alerts-open", on && this.count > 0);
    if (byHand) this.closedByHand = !on;
  }

  /** Show these alerts (of the selected envs); a new one opens the drawer unless it was closed by hand. */
  render(alerts: Alert[], withEnv: boolean): void {
    const grew = alerts.length > this.count;
    this.count = alerts.length;
    this.toggle.textContent = `⚠ ${alerts.length} alert${alerts.length === 1 ? "" : "s"}`;
    this.toggle.classList.toggle("on", alerts.length > 0);
    const top = mostSevere(alerts);
    this.toggle.dataset.level = top ? level(top.kind) : "";
    this.list.replaceChildren(...newestFirst(alerts).map((a) => this.item(a, withEnv)));
    if (!alerts.length) this.open(false);
    else if (grew && !this.closedByHand) this.open(true);
  }

  /** Scroll the list to the entries of this window and mark them (a badge was clicked). */
  reveal(win: string): void {
    this.open(true, true);
    const items = [...this.list.children].filter((li) => (li as HTMLElement).dataset.win === win) as HTMLElement[];
    items[0]?.scrollIntoView({ block: "nearest" });
    for (const li of items) flash(li);
  }

  private item(a: Alert, withEnv: boolean): HTMLElement {
    const li = el("li", "lp-alert");
    li.dataset.id = String(a.id);
    li.dataset.kind = a.kind;
    li.dataset.level = level(a.kind);
    li.dataset.env = a.env;
    li.dataset.win = a.win;
    li.dataset.step = String(a.step);
    const b = el("button", "lp-alert-item");
    b.type = "button";
    b.title = "show the window";
    const top = el("div", "lp-alert-top");
    top.append(el("span", "lp-alert-kind", kindLabel(a.kind)), el("span", "lp-alert-step", stepText(a)));
    b.append(top, el("div", "lp-alert-where", where(a, withEnv)), el("div", "lp-alert-msg", a.message));
    if (a.evidence) b.append(el("div", "lp-alert-evidence", a.evidence));
    b.append(el("div", "lp-alert-sugg", a.suggestion));
    b.addEventListener("click", () => this.pick(a));
    li.append(b, actions(a, this.act, true));
    return li;
  }
}

/** Briefly highlight an element (a window picked in the list, list entries picked by a badge). */
export function flash(node: HTMLElement): void {
  node.classList.remove("lp-flash");
  void node.offsetWidth; // restart the animation
  node.classList.add("lp-flash");
  setTimeout(() => node.classList.remove("lp-flash"), 1600);
}
