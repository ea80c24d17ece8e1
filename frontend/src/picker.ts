// The env picker: a search box and the envs grouped by the part of their
// name before the first `/`. A click on a name shows that env alone; the
// checkboxes select several (to compare runs); a group's box selects the group.

import type { EnvInfo } from "./wire";
import { el } from "./views/common";

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

  constructor(private readonly onSelect: (envs: string[]) => void) {
    this.search.type = "search";
    this.search.placeholder = "search envs";
    this.search.setAttribute("aria-label", "search envs");
    this.search.addEventListener("input", () => this.render());
    this.el.append(this.search, this.list);
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
        row.append(cb, name, count);
        box.append(row);
      }
      nodes.push(box);
    }
    if (!nodes.length) nodes.push(el("p", "lp-hint", this.envs.length ? "no env matches" : "no envs yet: send data with livepanel.Panel"));
    this.list.replaceChildren(...nodes);
  }
}
