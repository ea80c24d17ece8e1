// Heavy renderers loaded on first need as scripts of their own (the page's CSP allows scripts from its
// own origin only: a <script src> under static/, never inline code or eval). Plotly.js (static/plotly.js)
// loads when the page first shows a plotly window; MathJax (static/mathjax.js) only when such a
// figure has LaTeX between dollars. Pages without these windows never request either.

/** What the views use of Plotly.js (the full bundle, plotly.js-dist-min). */
export interface PlotlyLib {
  react(el: HTMLElement, data: unknown[], layout: Record<string, unknown>, config: Record<string, unknown>): Promise<unknown>;
  relayout(el: HTMLElement, update: Record<string, unknown>): Promise<unknown>;
  purge(el: HTMLElement): void;
  toImage(el: HTMLElement, opts: Record<string, unknown>): Promise<string>;
  Plots: { resize(el: HTMLElement): Promise<unknown> };
}

const loading = new Map<string, Promise<void>>();

/** Load a script of the page's static files once; later calls share the first one's promise. */
export function loadScript(src: string): Promise<void> {
  let p = loading.get(src);
  if (!p) {
    p = new Promise<void>((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.async = true;
      s.dataset.lazy = src;
      s.addEventListener("load", () => resolve());
      s.addEventListener("error", () => {
        loading.delete(src); // a later window tries again
        s.remove();
        reject(new Error(`could not load ${src}`));
      });
      document.head.append(s);
    });
    loading.set(src, p);
  }
  return p;
}

type Global = typeof globalThis & { Plotly?: PlotlyLib; MathJax?: Record<string, unknown> };

/** MathJax 3 with SVG output, configured before it loads (Plotly renders `$...$` with it when present). */
export async function mathjax(): Promise<void> {
  const g = globalThis as Global;
  // "local": each drawing carries its glyphs (a global cache lives in a page MathJax never typesets here)
  if (!g.MathJax) g.MathJax = { startup: { typeset: false }, options: { enableMenu: false }, svg: { fontCache: "local" } };
  await loadScript("static/mathjax.js");
  const startup = (g.MathJax as { startup?: { promise?: Promise<unknown> } }).startup;
  await startup?.promise;
}

/** The id of the map traces' stylesheet Plotly adds when it loads unless an element has it (build.mjs checks
 * it against Plotly's bundle and puts those rules into static/plotly.css). */
const MAP_STYLE_ID = "ce8d464691048653ffe3a57c6c18ab566e8366f186677868cf724621a857b4fe";

/** Plotly's style rules (static/plotly.css, made by build.mjs): Plotly finds the element by this id and
 * class and leaves its inline <style> out, which the page's CSP would refuse; so for the map stylesheet. */
function plotlyStyles(): Promise<void> {
  const id = "plotly.js-style-global";
  if (document.getElementById(id)) return Promise.resolve();
  const mapMark = document.createElement("meta");
  mapMark.id = MAP_STYLE_ID; // its rules are in plotly.css
  document.head.append(mapMark);
  return new Promise<void>((resolve) => {
    const link = document.createElement("link");
    link.id = id;
    link.className = "no-inline-styles";
    link.rel = "stylesheet";
    link.href = "static/plotly.css";
    link.addEventListener("load", () => resolve());
    link.addEventListener("error", () => resolve()); // unstyled tooltips are no reason not to draw
    document.head.append(link);
  });
}

/** Plotly.js, loaded on first call (with MathJax first when `tex`: Plotly looks for it as it draws). */
export async function plotly(tex: boolean): Promise<PlotlyLib> {
  if (tex) await mathjax().catch(() => undefined); // without it the labels show as written
  await plotlyStyles();
  await loadScript("static/plotly.js");
  const lib = (globalThis as Global).Plotly;
  if (!lib) throw new Error("static/plotly.js loaded but defined no Plotly");
  return lib;
}
