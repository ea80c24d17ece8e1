// The legend under a line chart. One env: one entry per trace (swatch, name, the value under
// the cursor), as always. Several envs overlaid (or groups): compact, each run (or group) once
// with its colour and each trace kind once with its dash, so twelve traces take two short
// rows. It never takes more than a fifth of the window: beyond that it scrolls.

import { setTexText } from "../tex";
import { el } from "./common";

export type LegendMode = "single" | "overlay" | "group";

/** What the legend needs of a drawn line. */
export interface LegendLine {
  label: string;
  /** the run (env) or group it belongs to */
  run: string;
  /** its trace name inside the window (train, val, ...) */
  trace: string;
  color: string;
  /** CSS pixels */
  dash: number[];
}

/** Keys of the hidden set: a trace by its label (one env), a whole run or a trace kind (overlay). */
export const runKey = (run: string) => "run:" + run;
export const kindKey = (trace: string) => "kind:" + trace;

/** Whether a line is hidden by its own entry, its run's or its kind's. */
export function isHidden(hidden: ReadonlySet<string>, l: LegendLine): boolean {
  return hidden.has(l.label) || hidden.has(runKey(l.run)) || hidden.has(kindKey(l.trace));
}

/** The legend's most height for a window body of height h: a fifth of it (never less than one short row). */
export function legendMax(h: number): number {
  return Math.max(18, Math.floor(h / 5));
}

const SVG = "http://www.w3.org/2000/svg";

/** A short line drawn with a dash pattern, in the text colour (the kind entries). */
function dashSample(dash: number[], color = "currentColor"): SVGSVGElement {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", "24");
  svg.setAttribute("height", "8");
  svg.setAttribute("class", "lp-dash");
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(SVG, "line");
  line.setAttribute("x1", "0");
  line.setAttribute("y1", "4");
  line.setAttribute("x2", "24");
  line.setAttribute("y2", "4");
  line.setAttribute("stroke", color);
  line.setAttribute("stroke-width", "2");
  if (dash.length) line.setAttribute("stroke-dasharray", dash.join(" "));
  svg.append(line);
  return svg;
}

export class Legend {
  readonly el = el("div", "lp-legend");
  /** one env: the value cell of each line's entry, in line order */
  values: HTMLElement[] = [];
  private runEntries = new Map<string, HTMLElement>();

  /**
   * @param toggle a key of the hidden set was clicked (the view hides or shows and calls `showHidden`)
   * @param hover the pointer entered (a run) or left (null) a run's entry
   */
  constructor(private readonly toggle: (key: string) => void, private readonly hover: (run: string | null) => void) {}

  build(lines: LegendLine[], mode: LegendMode, hidden: ReadonlySet<string>, counts?: ReadonlyMap<string, number>): void {
    this.el.replaceChildren();
    this.values = [];
    this.runEntries.clear();
    this.el.classList.toggle("compact", mode !== "single");
    this.el.dataset.mode = mode;
    if (mode === "single") {
      for (const l of lines) {
        const val = el("span", "lp-legend-value");
        const item = this.entry(l.label, l.label, val);
        item.prepend(this.swatch(l.color));
        this.values.push(val);
      }
      this.el.dataset.count = String(lines.length);
      this.showHidden(hidden);
      return;
    }
    const runs = new Map<string, string>();
    const kinds = new Map<string, number[]>();
    for (const l of lines) {
      if (!runs.has(l.run)) runs.set(l.run, l.color);
      if (!kinds.has(l.trace)) kinds.set(l.trace, l.dash);
    }
    const runBox = el("span", "lp-legend-runs");
    for (const [run, color] of runs) {
      const n = counts?.get(run);
      const item = this.entry(runKey(run), run, n !== undefined ? el("span", "lp-legend-value", ` (${n} run${n === 1 ? "" : "s"})`) : undefined);
      item.prepend(this.swatch(color));
      item.dataset.run = run;
      item.addEventListener("pointerenter", () => this.hover(run));
      item.addEventListener("pointerleave", () => this.hover(null));
      this.runEntries.set(run, item);
      runBox.append(item);
    }
    this.el.append(runBox);
    // the kinds, once each, when there is more than the unnamed one
    if (kinds.size > 1 || (kinds.size === 1 && !kinds.has(""))) {
      const kindBox = el("span", "lp-legend-kinds");
      for (const [trace, dash] of kinds) {
        const item = this.entry(kindKey(trace), trace || "(unnamed)");
        item.prepend(dashSample(dash));
        item.dataset.kind = trace;
        kindBox.append(item);
      }
      this.el.append(kindBox);
    }
    this.el.dataset.count = String(runs.size + kinds.size);
    this.showHidden(hidden);
  }

  private swatch(color: string): HTMLElement {
    const sw = el("span", "lp-swatch");
    sw.style.background = color;
    return sw;
  }

  private entry(key: string, text: string, extra?: HTMLElement): HTMLElement {
    const item = el("button", "lp-legend-item");
    item.type = "button";
    item.dataset.key = key;
    item.title = "click to hide or show";
    const label = el("span", "lp-legend-label");
    setTexText(label, text); // a trace named "$\alpha$" shows as maths
    item.append(label);
    if (extra) item.append(extra);
    item.addEventListener("click", () => this.toggle(key));
    if (!this.el.classList.contains("compact")) this.el.append(item);
    return item;
  }

  /** Strike through the entries whose key is hidden. */
  showHidden(hidden: ReadonlySet<string>): void {
    for (const item of this.el.querySelectorAll<HTMLElement>(".lp-legend-item")) item.classList.toggle("off", hidden.has(item.dataset.key ?? ""));
  }

  /** Mark the entry of the highlighted run (or group). */
  mark(run: string | null): void {
    for (const [name, item] of this.runEntries) item.classList.toggle("focus", name === run);
  }

  /** Keep to a fifth of the window body's height; return the height taken. */
  fit(bodyHeight: number): number {
    this.el.style.maxHeight = legendMax(bodyHeight) + "px";
    return this.el.offsetHeight;
  }
}
