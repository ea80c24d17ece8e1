// The runs the page knows, kept up to date by the server's `runs` feed: one row per env
// (config, summary, colour, metrics, status). Pure (no DOM): the runs table, the parallel
// coordinates, the colours and the groups all read it.

import type { RunRow, ServerMessage } from "../wire";

export class RunsModel {
  readonly rows = new Map<string, RunRow>();
  /** bumped on every change, so readers can tell what they already drew */
  version = 0;
  private listeners = new Set<(changed: string[]) => void>();

  /** Apply a `runs` message; return the envs that changed (added, updated or gone). */
  apply(msg: Extract<ServerMessage, { type: "runs" }>): string[] {
    const changed: string[] = [];
    if (msg.full) {
      for (const name of this.rows.keys()) changed.push(name);
      this.rows.clear();
    }
    for (const row of msg.rows ?? []) {
      if (!row || typeof row.env !== "string") continue;
      this.rows.set(row.env, row);
      changed.push(row.env);
    }
    for (const name of msg.gone ?? []) {
      if (this.rows.delete(name)) changed.push(name);
    }
    if (changed.length) {
      this.version++;
      const unique = [...new Set(changed)];
      for (const fn of this.listeners) fn(unique);
      return unique;
    }
    return [];
  }

  /** Call `fn` with the changed envs after every change; returns the unsubscribe. */
  on(fn: (changed: string[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}

/** The run the pointer is over, anywhere on the page (a trace, a table row, a line of the
 * parallel coordinates): every view highlights it. */
export class Focus {
  private current: string | null = null;
  private listeners = new Set<(env: string | null) => void>();

  get(): string | null {
    return this.current;
  }

  set(env: string | null): void {
    if (env === this.current) return;
    this.current = env;
    for (const fn of this.listeners) fn(env);
  }

  on(fn: (env: string | null) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
