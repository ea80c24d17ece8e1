// The env picker: a search box and the envs grouped by the part of their
// name before the first `/`. A click on a name shows that env alone; the
// checkboxes select several (to compare runs); a group's box selects the group.
// Each env shows its run's colour; clicking the swatch changes it (stored on the
// server and shared with every page). The run under the pointer anywhere is marked.

import type { EnvInfo } from "./wire";
import type { Focus } from "./runs/model";
import { el } from "./views/common";

/** What the picker needs to show and change runs' colours, and to follow the focused run. */
export interface PickerRuns {
  /** the run's colour now */
  color(env: string): string;
  /** whether the run's colour was chosen by a user (else it comes from its name) */
  chosen(env: string): boolean;
  /** store a run's colour for every page; null: back to the one its name gives */
  setColor(env: string, color: string | null): void;
  focus: Focus;
}

/** #rrggbb for an <input type=color> (it takes nothing else); other colours show as black there. */
function hex6(c: string): string {
  if (/^#[0-9a-f]{6}$/i.test(c)) return c.toLowerCase();
  const m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/i.exec(c);
  return m ? `#${m[1]}${m[1]}${m[2]}${m[2]}${m[3]}${m[3]}`.toLowerCase() : "#000000";
}

export function groupOf(name: string): string {
  const i = name.indexOf("/");
  return i > 0 ? name.slice(0, i) : "";
}

/** Envs matching a search (every word must appear), grouped by prefix, sorted. */
export function groups(envs: EnvInfo[], query: string): Map<string, EnvInfo[]> {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const out = new Map<string, EnvInfo[]>();
  const sorted = [...envs].sort((a, b) => a.name.localeCompare(b.name));
  for (const e of sorted) {
    const low = e.name.toLowerCase();
    if (!words.every((w) => low.includes(w))) continue;
    const g = groupOf(e.name);
    if (!out.has(g)) out.set(g, []);
    out.get(g)!.push(e);
  }
  return out;
}

export class Picker {
  readonly el = el("nav", "lp-picker");
  private search = el("input", "lp-search");
  private list = el("div", "lp-envlist");
  private envs: EnvInfo[] = [];
  selected: string[] = [];
  /** the colour editor: one for the picker, opened under a run's swatch */
  private pop = el("div", "lp-color-pop");
  private popInput = el("input");
  private popReset = el("button", "lp-color-reset", "default");
  private popEnv: string | null = null;

  constructor(private readonly onSelect: (envs: string[]) => void, private readonly runs?: PickerRuns) {
    this.search.type = "search";
    this.search.placeholder = "search envs";
    this.search.setAttribute("aria-label", "search envs");
    this.search.addEventListener("input", () => this.render());
    this.el.append(this.search, this.list);
    this.popInput.type = "color";
    this.popInput.setAttribute("aria-label", "run colour");
    this.popReset.type = "button";
    this.popReset.title = "back to the colour the run's name gives";
    this.pop.hidden = true;
    this.pop.append(this.popInput, this.popReset);
    this.popInput.addEventListener("change", () => {
      if (this.popEnv) this.runs?.setColor(this.popEnv, this.popInput.value);
    });
    this.popReset.addEventListener("click", () => {
      if (this.popEnv) this.runs?.setColor(this.popEnv, null);
      this.closeColor();
    });
    // a press elsewhere or Escape closes the editor
    document.addEventListener("pointerdown", (ev) => {
      if (!this.pop.hidden && !this.pop.contains(ev.target as Node) && !(ev.target as Element)?.closest?.(".lp-run-swatch")) this.closeColor();
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") this.closeColor();
    });
    runs?.focus.on((env) => this.showFocus(env));
  }

  /** Open the colour editor for a run under its row. */
  private openColor(env: string, row: HTMLElement): void {
    if (!this.runs) return;
    if (this.popEnv === env && !this.pop.hidden) return this.closeColor();
    this.popEnv = env;
    this.popInput.value = hex6(this.runs.color(env));
    this.popReset.disabled = !this.runs.chosen(env);
    this.pop.dataset.env = env;
    this.pop.hidden = false;
    row.after(this.pop);
  }

  private closeColor(): void {
    this.pop.hidden = true;
    this.popEnv = null;
  }

  /** Show every run's colour again (the runs feed brought a change). */
  refreshColors(): void {
    if (!this.runs) return;
    for (const sw of this.list.querySelectorAll<HTMLElement>(".lp-run-swatch")) {
      const env = sw.dataset.env ?? "";
      const c = this.runs.color(env);
      if (sw.dataset.color !== c) {
        sw.style.background = c;
        sw.dataset.color = c;
      }
    }
    if (this.popEnv && !this.pop.hidden) this.popReset.disabled = !this.runs.chosen(this.popEnv);
  }

  /** Mark the run under the pointer (anywhere on the page). */
  private showFocus(env: string | null): void {
    for (const row of this.list.querySelectorAll<HTMLElement>(".lp-env.focus")) if (row.dataset.env !== env) row.classList.remove("focus");
    if (env === null) return;
    for (const row of this.list.querySelectorAll<HTMLElement>(".lp-env")) if (row.dataset.env === env) row.classList.add("focus");
  }

  setEnvs(envs: EnvInfo[]): void {
    this.envs = envs;
    this.render();
  }

  setSelected(names: string[]): void {
    this.selected = names;
    this.render();
  }

  private choose(names: string[]): void {
    this.selected = names;
    this.render();
    this.onSelect(names);
  }

  render(): void {
    const known = new Set(this.envs.map((e) => e.name));
    // selected envs that do not exist (yet) still show, so they can be unselected
    const all = [...this.envs, ...this.selected.filter((n) => !known.has(n)).map((name) => ({ name, seq: 0, windows: 0 }))];
    const nodes: HTMLElement[] = [];
    for (const [group, members] of groups(all, this.search.value)) {
      const box = el("div", "lp-group");
      if (group) {
        const head = el("label", "lp-group-head");
        const cb = el("input");
        cb.type = "checkbox";
        const names = members.map((m) => m.name);
        cb.checked = names.every((n) => this.selected.includes(n));
        cb.indeterminate = !cb.checked && names.some((n) => this.selected.includes(n));
        cb.title = "select the whole group (compare its runs)";
        cb.addEventListener("change", () => {
          const rest = this.selected.filter((n) => !names.includes(n));
          this.choose(cb.checked ? [...rest, ...names] : rest);
        });
        head.append(cb, el("span", "", group + "/"));
        box.append(head);
      }
      for (const e of members) {
        const row = el("div", "lp-env");
        row.dataset.env = e.name;
        const cb = el("input");
        cb.type = "checkbox";
        cb.checked = this.selected.includes(e.name);
        cb.title = "add to the view (compare)";
        cb.addEventListener("change", () => this.choose(cb.checked ? [...this.selected, e.name] : this.selected.filter((n) => n !== e.name)));
        const name = el("button", "lp-env-name", group ? e.name.slice(group.length + 1) : e.name);
        name.type = "button";
        name.title = `${e.name}: show alone`;
        name.addEventListener("click", () => this.choose([e.name]));
        const count = el("span", "lp-env-count", e.windows ? String(e.windows) : "");
        row.classList.toggle("on", cb.checked);
        row.append(cb);
        if (this.runs) {
          const runs = this.runs;
          const sw = el("button", "lp-run-swatch");
          sw.type = "button";
          sw.dataset.env = e.name;
          const c = runs.color(e.name);
          sw.style.background = c;
          sw.dataset.color = c;
          sw.title = `${e.name}: change the run's colour`;
          sw.setAttribute("aria-label", `colour of ${e.name}`);
          sw.addEventListener("click", () => this.openColor(e.name, row));
          row.append(sw);
          row.addEventListener("pointerenter", () => runs.focus.set(e.name));
          row.addEventListener("pointerleave", () => {
            if (runs.focus.get() === e.name) runs.focus.set(null);
          });
          row.classList.toggle("focus", runs.focus.get() === e.name);
        }
        row.append(name, count);
        box.append(row);
        if (this.popEnv === e.name && !this.pop.hidden) box.append(this.pop);
      }
      nodes.push(box);
    }
    if (!nodes.length) nodes.push(el("p", "lp-hint", this.envs.length ? "no env matches" : "no envs yet: send data with livepanel.Panel"));
    this.list.replaceChildren(...nodes);
  }
}
