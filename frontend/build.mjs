// Bundle the app into ../livepanel/static/ (app.js + index.html).
//   node build.mjs            one minified build
//   node build.mjs --watch    rebuild on every change (development)
//   node build.mjs --tests    bundle test/*.test.ts into test-build/ for `node --test`
import { build, context } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { runInNewContext } from "node:vm";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "livepanel", "static");
const args = new Set(process.argv.slice(2));

/** Plotly's own style rules as a stylesheet (static/plotly.css): Plotly.js puts them into an inline <style>,
 * which the page's CSP (style-src 'self') refuses; src/lazy.ts links this file instead, with the id and
 * class that tell Plotly its rules are there. The rules are the object literal Plotly builds them from. */
function plotlyCss(js) {
  const start = js.indexOf('{"X,X div"');
  if (start < 0) throw new Error("plotly.min.js: its style rules were not found (a new Plotly version?)");
  let depth = 0;
  let end = start;
  for (; end < js.length; end++) {
    if (js[end] === "{") depth++;
    else if (js[end] === "}" && --depth === 0) break;
  }
  const rules = runInNewContext(`(${js.slice(start, end + 1)})`); // at build time, in node: never in the page
  return Object.entries(rules)
    .map(([sel, body]) => `${sel.replace(/^,/, " ,").replace(/X/g, ".js-plotly-plot .plotly").replace(/Y/g, ".plotly-notifier")}{${body}}`)
    .join("\n") + "\n";
}

/** The map traces' stylesheet (MapLibre's) that Plotly.js adds as an inline <style> when it loads, unless an
 * element with its id is in the page: appended to static/plotly.css, and src/lazy.ts puts an element of that
 * id in the page before Plotly loads (MAP_STYLE_ID there must be the id found here). */
function mapCss(js, lazySource) {
  const found = /getElementById\("([0-9a-f]{64})"\)\)\{var e=document\.createElement\("style"\);e\.id="\1",e\.textContent='([^']*)'/.exec(js);
  if (!found) throw new Error("plotly.min.js: the map stylesheet was not found (a new Plotly version?)");
  if (!lazySource.includes(`"${found[1]}"`)) throw new Error(`src/lazy.ts: MAP_STYLE_ID must be "${found[1]}"`);
  return found[2] + "\n";
}

if (args.has("--tests")) {
  const dir = join(here, "test-build");
  rmSync(dir, { recursive: true, force: true });
  const tests = readdirSync(join(here, "test")).filter((f) => f.endsWith(".test.ts")).map((f) => join(here, "test", f));
  await build({ entryPoints: tests, outdir: dir, bundle: true, platform: "node", format: "esm", target: "node20", outExtension: { ".js": ".mjs" }, loader: { ".css": "text" }, logLevel: "warning", logOverride: { "ignored-bare-import": "silent" } }); // a view's bare CSS import means nothing under node
} else {
  mkdirSync(out, { recursive: true });
  const options = {
    entryPoints: [join(here, "src", "main.ts")],
    outfile: join(out, "app.js"),
    bundle: true,
    format: "iife",
    target: ["chrome100", "firefox100", "safari15"],
    loader: { ".css": "css" }, // app.css beside app.js: a stylesheet the page's CSP allows ('self')
    minify: !args.has("--watch"),
    sourcemap: args.has("--watch") ? "inline" : false,
    legalComments: "none",
    logLevel: "info",
  };
  copyFileSync(join(here, "index.html"), join(out, "index.html"));
  // Plotly.js for plotly windows: a script of its own, loaded by src/lazy.ts only when a page shows one
  // (esbuild's iife cannot split chunks). The full dist-min bundle (MIT): it runs under the page's CSP.
  const plotlyJs = join(here, "node_modules", "plotly.js-dist-min", "plotly.min.js");
  copyFileSync(plotlyJs, join(out, "plotly.js"));
  const plotlySource = readFileSync(plotlyJs, "utf8");
  const lazySource = readFileSync(join(here, "src", "lazy.ts"), "utf8");
  writeFileSync(join(out, "plotly.css"), plotlyCss(plotlySource) + mapCss(plotlySource, lazySource));
  // MathJax 3 (Apache-2.0) with every TeX extension and SVG output in one file, for `$...$` in a figure
  // (Plotly renders them with it): loaded by src/lazy.ts only when a shown figure has such a string.
  copyFileSync(join(here, "node_modules", "mathjax", "es5", "tex-svg-full.js"), join(out, "mathjax.js"));
  // The fast 3-D renderer (three.js, MIT) for plotly windows of surfaces, 3-D scatters and meshes: its own
  // script, loaded by src/views/fast3d.ts only when a page shows such a window.
  const fast3d = { ...options, entryPoints: [join(here, "src", "fast3d", "index.ts")], outfile: join(out, "fast3d.js") };
  // Graph windows' layout (dagre, MIT) and drawing: static/graph.js, loaded by src/views/graph.ts only when a
  // page shows a graph window.
  const graph = { ...options, entryPoints: [join(here, "src", "graph", "index.ts")], outfile: join(out, "graph.js") };
  if (args.has("--watch")) {
    await (await context(fast3d)).watch();
    await (await context(graph)).watch();
    const ctx = await context(options);
    await ctx.watch();
    console.log(`watching frontend/src, writing ${out}; Ctrl-C to stop`);
  } else {
    await build(options);
    await build(fast3d);
    await build(graph);
  }
}
