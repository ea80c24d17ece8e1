// Axis names with LaTeX between dollars (Visdom's plot_line_latex): uPlot paints an axis name on its canvas
// as plain text, so such a name is left off the canvas and shown over its place, drawn by MathJax (tex.ts).

import uPlot from "uplot";
import { hasTexText, setTexText } from "../tex";
import { el } from "./common";

/** The name uPlot paints itself: none for a TeX name (axisTex shows it). */
export function paintedName(name: string | undefined): string {
  return name === undefined || hasTexText(name) ? "" : name;
}

/** Show the TeX names among `x` and `y` in the chart's label bands: x under the plot, y turned on its left. */
export function axisTex(u: uPlot, x: string, y: string | undefined): void {
  const wrap = u.root.querySelector<HTMLElement>(".u-wrap");
  if (!wrap) return;
  for (const [axis, name] of [["x", x], ["y", y]] as const) {
    if (name === undefined || !hasTexText(name)) continue;
    const label = el("div", `lp-axis-tex lp-axis-tex-${axis}`);
    setTexText(label, name);
    wrap.append(label);
  }
  placeAxisTex(u);
}

/** Keep the TeX names centred on the plot (after a resize). */
export function placeAxisTex(u: uPlot): void {
  const dpr = uPlot.pxRatio || 1;
  const { left, top, width, height } = u.bbox;
  for (const label of u.root.querySelectorAll<HTMLElement>(".lp-axis-tex")) {
    if (label.classList.contains("lp-axis-tex-x")) label.style.left = `${(left + width / 2) / dpr}px`;
    else label.style.top = `${(top + height / 2) / dpr}px`;
  }
}
