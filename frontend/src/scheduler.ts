// Coalesces changes: windows are marked dirty as messages arrive and redrawn
// at most once per animation frame.

export class Scheduler {
  private dirty = new Set<string>();
  private structure = false;
  private pending = 0;

  constructor(private readonly draw: (ids: Set<string>, structure: boolean) => void) {}

  mark(ids: Iterable<string>, structure = false): void {
    for (const id of ids) this.dirty.add(id);
    this.structure ||= structure;
    if (!this.pending && (this.dirty.size || this.structure)) this.pending = requestAnimationFrame(() => this.flush());
  }

  flush(): void {
    if (this.pending) cancelAnimationFrame(this.pending);
    this.pending = 0;
    const ids = this.dirty;
    const structure = this.structure;
    this.dirty = new Set();
    this.structure = false;
    this.draw(ids, structure);
  }
}
