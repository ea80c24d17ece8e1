// Bundle the app into ../livepanel/static/ (app.js + index.html).
//   node build.mjs            one minified build
//   node build.mjs --watch    rebuild on every change (development)
//   node build.mjs --tests    bundle test/*.test.ts into test-build/ for `node --test`
import { build, context } from "esbuild";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "livepanel", "static");
const args = new Set(process.argv.slice(2));

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
  if (args.has("--watch")) {
    const ctx = await context(options);
    await ctx.watch();
    console.log(`watching frontend/src, writing ${out}; Ctrl-C to stop`);
  } else {
    await build(options);
  }
}
