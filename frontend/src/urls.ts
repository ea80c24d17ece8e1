// URLs relative to the page, so the app works under --base-url.

/** The page's base (BASE/), without the query. */
export function base(): URL {
  const u = new URL(".", document.baseURI);
  u.search = "";
  u.hash = "";
  return u;
}

export function api(path: string, query: Record<string, string | number | undefined> = {}): string {
  const u = new URL("api/v1/" + path, base());
  for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
  return u.toString();
}

export function socketUrl(): string {
  const u = new URL("api/v1/socket", base());
  u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
  return u.toString();
}

/** Envs named by the page URL (?env=a&env=b). */
export function envsFromUrl(): string[] {
  return new URLSearchParams(location.search).getAll("env");
}

/** Windows named by the page URL (?win=loss&win=acc): only these are shown; none named, every window. */
export function winsFromUrl(): string[] {
  return new URLSearchParams(location.search).getAll("win");
}

/** The window search kept in the page URL (?q=loss). */
export function queryFromUrl(): string {
  return new URLSearchParams(location.search).get("q") ?? "";
}

/** The collapsed sections kept in the page URL (?fold=grad_norm&fold=); "" is the default section. */
export function foldsFromUrl(): string[] {
  return new URLSearchParams(location.search).getAll("fold");
}

/** Put the shown envs into the URL without reloading (a shareable link). */
export function setUrlEnvs(envs: string[]): void {
  setUrlList("env", envs);
}

/** Replace one parameter's values in the URL without reloading (none: the parameter goes). */
export function setUrlList(key: string, values: string[]): void {
  const params = new URLSearchParams(location.search);
  params.delete(key);
  for (const v of values) params.append(key, v);
  const q = params.toString();
  const next = location.pathname + (q ? "?" + q : "") + location.hash;
  if (next !== location.pathname + location.search + location.hash) history.replaceState(null, "", next);
}
