// LaTeX between dollars in a window's title, drawn as maths with MathJax (loaded by lazy.ts only when a
// shown title has such a string; plotly figures get theirs from Plotly, which uses the same MathJax).
// The text shows as written until MathJax is there, and stays so when it cannot load.

import { mathjax } from "./lazy";

const PIECE = /(\$[^$]+\$)/;

/** Whether the text has LaTeX between dollars. */
export function hasTexText(text: string): boolean {
  return text.length > 2 && PIECE.test(text);
}

/** The text split into plain pieces and TeX pieces (without their dollars). Pure (unit-tested). */
export function texPieces(text: string): { tex: boolean; text: string }[] {
  return text
    .split(PIECE)
    .filter((p) => p !== "")
    .map((p) => (p.length > 2 && p.startsWith("$") && p.endsWith("$") ? { tex: true, text: p.slice(1, -1) } : { tex: false, text: p }));
}

type MathJaxLib = { tex2svg(tex: string, opts: { display: boolean }): Element };

/** Show `text` in `el`: as text at once, then with its $...$ pieces as MathJax SVG. */
export function setTexText(el: HTMLElement, text: string): void {
  el.textContent = text;
  el.dataset.tex = hasTexText(text) ? "loading" : "";
  if (!hasTexText(text)) return;
  void mathjax()
    .then(() => {
      const mj = (globalThis as { MathJax?: MathJaxLib }).MathJax;
      if (el.textContent !== text || !mj?.tex2svg) return; // retitled meanwhile, or no MathJax
      el.replaceChildren(...texPieces(text).map((p) => (p.tex ? mj.tex2svg(p.text, { display: false }) : document.createTextNode(p.text))));
      el.dataset.tex = "drawn";
    })
    .catch(() => undefined);
}
