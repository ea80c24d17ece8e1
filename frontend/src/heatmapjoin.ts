// Visdom's heatmap updates as viewers apply them (livepanel/heatmap_update.py is the server's side):
// the server sends only the rows or columns added (`update` appendRow, prependRow, appendColumn,
// prependColumn), and each page joins them to the matrix it holds, dropping the far end past
// MAX_CELLS exactly as the server does, so a large heatmap is not sent whole on every append.

export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

export const MAX_CELLS = 1 << 22; // livepanel/heatmap_update.py MAX_CELLS
export const HEATMAP_UPDATES = new Set(["appendRow", "prependRow", "appendColumn", "prependColumn"]);

function bounded(rows: number, cols: number, byRows: boolean): [number, number] {
  if (rows * cols <= MAX_CELLS) return [rows, cols];
  return byRows ? [Math.max(Math.floor(MAX_CELLS / cols), 1), cols] : [rows, Math.max(Math.floor(MAX_CELLS / rows), 1)];
}

/** The matrix after adding `block` at one end (`update`); the block alone when there is nothing to join
 * it to, or when it does not fit (the server refuses that: a viewer never sees it). */
export function joined(old: Matrix | null, block: Matrix, update: string): Matrix {
  if (!old || old.rows * old.cols === 0 || !HEATMAP_UPDATES.has(update)) return block;
  const byRows = update.endsWith("Row");
  const front = update.startsWith("prepend");
  if (byRows ? block.cols !== old.cols : block.rows !== old.rows) return block;
  const rows = byRows ? old.rows + block.rows : old.rows;
  const cols = byRows ? old.cols : old.cols + block.cols;
  const [keepRows, keepCols] = bounded(rows, cols, byRows);
  // the joined matrix, then the kept window of it (the far end from the added block is dropped)
  const first = front ? block : old;
  const second = front ? old : block;
  const at = (r: number, c: number): number => {
    if (byRows) return r < first.rows ? first.data[r * cols + c] : second.data[(r - first.rows) * cols + c];
    return c < first.cols ? first.data[r * first.cols + c] : second.data[r * second.cols + c - first.cols];
  };
  const r0 = byRows && !front ? rows - keepRows : 0;
  const c0 = !byRows && !front ? cols - keepCols : 0;
  const data = new Float64Array(keepRows * keepCols);
  for (let r = 0; r < keepRows; r++) for (let c = 0; c < keepCols; c++) data[r * keepCols + c] = at(r + r0, c + c0);
  return { rows: keepRows, cols: keepCols, data };
}
