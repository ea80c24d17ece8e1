// Properties panes: a table of controls (text, number, slider, checkbox, select, button) whose edits go to
// the server (events.ts, an `edit`), are stored there and come back to every viewer as the pane's new
// state. Items are in Visdom's form (livepanel/properties.py): a select's value is the index of its entry,
// a button's value its label, and its presses are counted. Names and values are user strings: text only.

import { sendEdit } from "../events";
import type { WindowState } from "../state";
import { el, Shown, textPng, type Ctx, type View } from "./common";

export interface PropItem {
  type: string;
  name: string;
  value?: unknown;
  values?: string[];
  min?: number;
  max?: number;
  step?: number;
  presses?: number;
}

/** One env's pane: its table and, per item, a function that shows a new value (unless being edited). */
interface Pane {
  sig: string;
  el: HTMLElement;
  show: ((item: PropItem) => void)[];
}

const numberText = (v: unknown): string => (typeof v === "number" || typeof v === "string" ? String(v) : "");

export class PropertiesView implements View {
  readonly el = el("div", "lp-props");
  private panes = new Map<string, Pane>();
  private shown = new Shown();

  constructor(private readonly ctx: Ctx, private readonly win: string) {}

  update(wins: WindowState[]): void {
    if (!this.shown.changed(wins)) return;
    const multi = wins.length > 1;
    const keep = new Map<string, Pane>();
    for (const w of wins) {
      const items = ((w as { items?: PropItem[] }).items ?? []).filter((it) => it && typeof it === "object");
      // the controls are made again only when the items' kinds, names or entries change: an edit in
      // progress elsewhere in the pane keeps its focus and text
      const sig = JSON.stringify(items.map((it) => [it.type, it.name, it.values ?? null, it.min ?? null, it.max ?? null, it.step ?? null]));
      let pane = this.panes.get(w.env);
      if (!pane || pane.sig !== sig) pane = this.build(w.env, items, sig, multi);
      items.forEach((it, i) => pane!.show[i]?.(it));
      keep.set(w.env, pane);
    }
    this.panes = keep;
    const els = [...keep.values()].map((p) => p.el);
    // the same panes stay in place: taking a focused field out of the page, even for a moment, blurs it and
    // its text being typed is then lost to the pane's next value
    const same = els.length === this.el.children.length && els.every((e, i) => this.el.children[i] === e);
    if (!same) this.el.replaceChildren(...els);
    this.ctx.drew(this.win);
  }

  private build(env: string, items: PropItem[], sig: string, multi: boolean): Pane {
    const box = el("section", "lp-props-env");
    if (multi) box.append(el("h6", "lp-text-env", env));
    const table = el("table", "lp-props-table");
    const show: Pane["show"] = [];
    items.forEach((it, i) => {
      const row = el("tr");
      row.dataset.prop = String(i);
      row.dataset.type = it.type;
      const name = el("td", "lp-props-name", it.name);
      const cell = el("td", "lp-props-value");
      const edit = (value: unknown) => sendEdit(env, this.win, i, value);
      show.push(control(it, cell, edit));
      row.append(name, cell);
      table.append(row);
    });
    box.append(table);
    return { sig, el: box, show };
  }

  resize(): void {}

  /** The pane as text lines (name: value) in an image. */
  png(): Promise<Blob | null> {
    const lines = [...this.el.querySelectorAll("tr")].map((tr) => {
      const input = tr.querySelector("input, select, button") as HTMLInputElement | HTMLSelectElement | HTMLButtonElement | null;
      const value = input instanceof HTMLInputElement && input.type === "checkbox" ? String(input.checked) : (input as HTMLInputElement | null)?.value ?? "";
      return `${tr.querySelector(".lp-props-name")?.textContent ?? ""}: ${value}`;
    });
    return textPng(lines, this.el.clientWidth, 18);
  }

  destroy(): void {}
}

/** Make one item's control in `cell`; return the function that shows a new value of the item. */
function control(it: PropItem, cell: HTMLElement, edit: (value: unknown) => void): (item: PropItem) => void {
  const focused = (e: Element) => document.activeElement === e;
  switch (it.type) {
    case "checkbox": {
      const input = el("input");
      input.type = "checkbox";
      input.addEventListener("change", () => edit(input.checked));
      cell.append(input);
      return (item) => void (input.checked = item.value === true);
    }
    case "select": {
      const select = el("select");
      (it.values ?? []).forEach((v, i) => {
        const opt = el("option", undefined, v);
        opt.value = String(i);
        select.append(opt);
      });
      select.addEventListener("change", () => edit(select.selectedIndex));
      cell.append(select);
      return (item) => void (select.selectedIndex = typeof item.value === "number" ? item.value : Number(item.value) || 0);
    }
    case "button": {
      const button = el("button", "lp-props-button");
      button.type = "button";
      const count = el("span", "lp-props-count");
      button.addEventListener("click", () => edit(null));
      cell.append(button, count);
      return (item) => {
        button.textContent = numberText(item.value) || item.name || "press";
        count.textContent = item.presses ? ` ×${item.presses}` : "";
      };
    }
    case "slider": {
      const input = el("input");
      input.type = "range";
      input.min = String(it.min ?? 0);
      input.max = String(it.max ?? 1);
      input.step = it.step !== undefined ? String(it.step) : "any";
      const out = el("span", "lp-props-slider-value");
      input.addEventListener("input", () => (out.textContent = input.value));
      input.addEventListener("change", () => edit(Number(input.value)));
      cell.append(input, out);
      return (item) => {
        if (focused(input)) return;
        input.value = numberText(item.value);
        out.textContent = input.value;
      };
    }
    case "number": {
      const input = el("input");
      input.type = "number";
      input.step = it.step !== undefined ? String(it.step) : "any";
      if (it.min !== undefined) input.min = String(it.min);
      if (it.max !== undefined) input.max = String(it.max);
      input.addEventListener("change", () => {
        const v = Number(input.value);
        if (input.value.trim() !== "" && Number.isFinite(v)) edit(v);
      });
      cell.append(input);
      return (item) => void (!focused(input) && (input.value = numberText(item.value)));
    }
    default: {
      // text: sent when it is committed (Enter, or leaving the field), not at every key
      const input = el("input");
      input.type = "text";
      input.maxLength = 1000;
      input.addEventListener("change", () => edit(input.value));
      input.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") input.blur();
      });
      cell.append(input);
      return (item) => void (!focused(input) && (input.value = typeof item.value === "string" ? item.value : ""));
    }
  }
}
