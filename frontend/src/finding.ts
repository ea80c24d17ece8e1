// Pure helpers for finding things on the page (no DOM here, unit-tested under node):
// window search, sections by name prefix, the landing page's envs, export names, image zoom steps.

/** A download's name: `env-win.ext` with every "/" made "_", as the server's export names its files
 * (handlers.py ExportHandler); several envs (an overlay) join with "+". */
export function exportName(envs: string[], win: string, ext: string): string {
  const stem = `${envs.length ? envs.join("+") + "-" : ""}${win}`.replace(/\//g, "_");
  return `${stem || "window"}.${ext}`;
}