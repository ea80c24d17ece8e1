"""`livepanel runs`, `livepanel export` and `livepanel rm`: runs from the terminal, against a running server.

The server and token are found as the client finds them (--url, $LIVEPANEL_URL; --token, $LIVEPANEL_TOKEN).
Bad input is one line on stderr and exit status 2; a server that cannot be reached or refuses, status 1.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from livepanel import protocol, runs_filter

FIXED = ("env", "status", "steps", "updated")


class Usage(Exception):
    """Bad input from the command line (exit status 2)."""


def add_parsers(commands: Any) -> None:
    runs = commands.add_parser("runs", help="list the runs (envs) on a server as a table")
    _server_args(runs)
    runs.add_argument("--filter", help="which runs, e.g. 'lr < 0.01 and optimizer == \"adam\"' (docs/client.md)")
    runs.add_argument("--metric", action="extend", nargs="+", default=[], help="metric keys to show (last value)")
    runs.add_argument("--config", action="extend", nargs="+", default=[], help="config keys to show")
    runs.add_argument("--stale", type=float, help="seconds a running run may stay quiet before it is stale (300)")
    runs.add_argument("--format", choices=("table", "csv", "json"), default="table", help="output (default: table)")
    export = commands.add_parser("export", help="write every window of envs as CSV or JSON")
    _server_args(export)
    export.add_argument("envs", nargs="+", metavar="ENV", help="env names")
    export.add_argument("--format", choices=("csv", "json"), default="json", help="file format (default: json)")
    export.add_argument(
        "--out", help="directory to write ENV/WIN.FORMAT and ENV/run.json into (default: one document on stdout)"
    )
    rm = commands.add_parser("rm", help="delete envs and all their windows (asks first)")
    _server_args(rm)
    rm.add_argument("envs", nargs="+", metavar="ENV", help="env names")
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")


def _server_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="server (default: $LIVEPANEL_URL, else http://127.0.0.1:8097)")
    parser.add_argument("--token", help="access token (default: $LIVEPANEL_TOKEN)")


def main(args: argparse.Namespace) -> int:
    from livepanel.client.transport import HTTPError

    command = {"runs": _runs, "export": _export, "rm": _rm}[args.command]
    try:
        return command(args)
    except (Usage, runs_filter.FilterError) as exc:
        print(f"livepanel {args.command}: {exc}", file=sys.stderr)
        return 2
    except HTTPError as exc:
        print(f"livepanel {args.command}: the server refused: {exc}", file=sys.stderr)
        return 2 if exc.status in (400, 404) else 1
    except OSError as exc:
        print(f"livepanel {args.command}: cannot reach the server ({exc}); see --url", file=sys.stderr)
        return 1


class _Server:
    def __init__(self, args: argparse.Namespace):
        from livepanel.client.transport import Transport, resolve_token, resolve_url

        try:
            url = resolve_url(args.url)
        except (ValueError, TypeError) as exc:
            raise Usage(str(exc)) from None
        self.transport = Transport(url, resolve_token(args.token), 30.0)

    def get(self, path: str, **query: Any) -> Any:
        return self.transport.call("GET", path, **query)

    def raw(self, path: str, **query: Any) -> bytes:
        from livepanel.client.transport import HTTPError, error_message

        status, data = self.transport.request("GET", path, None, query)
        if status != 200:
            raise HTTPError(status, error_message(data))
        return data

    def envs(self, names: list[str]) -> dict[str, list[str]]:
        """The windows of each named env; Usage when one does not exist."""
        for name in names:
            try:
                protocol.check_name(name, "env name")
            except protocol.ProtocolError as exc:
                raise Usage(str(exc)) from None
        listing = {e["name"]: [w["win"] for w in e["windows"]] for e in self.get("/envs")["envs"]}
        missing = [n for n in names if n not in listing]
        if missing:
            raise Usage(f"no env {', '.join(map(repr, missing))} on the server")
        return {n: listing[n] for n in dict.fromkeys(names)}


# ------------------------------------------------------------ runs


def _runs(args: argparse.Namespace) -> int:
    if args.filter is not None:
        runs_filter.parse(args.filter)
    if args.stale is not None and not 0 <= args.stale <= 10**9:
        raise Usage(f"--stale must be a number of seconds from 0 to 1e9, got {args.stale}")
    rows = _Server(args).get("/runs", filter=args.filter, stale=args.stale)["runs"]
    if args.format == "json":
        print(json.dumps(_jsonable(rows), indent=1))
        return 0
    header = [*FIXED, *args.metric, *(f"config.{k}" for k in args.config)]
    table = [header]
    for r in rows:
        cells = [r["env"], r["status"], "" if r["steps"] < 0 else str(r["steps"]), _when(r["updated"])]
        cells += [_cell(r["metrics"].get(k, {}).get("last")) for k in args.metric]
        cells += [_cell(r["config"].get(k)) for k in args.config]
        table.append(cells)
    if args.format == "csv":
        csv.writer(sys.stdout, lineterminator="\n").writerows(table)
        return 0
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        print("(no runs)" if args.filter is None else "(no runs match the filter)", file=sys.stderr)
    return 0


def _when(t: float | None) -> str:
    if t is None:
        return "?"
    return datetime.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


# ------------------------------------------------------------ export


def _export(args: argparse.Namespace) -> int:
    server = _Server(args)
    envs = server.envs(args.envs)
    runs = {r["env"]: r for r in server.get("/runs")["runs"]}
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise Usage(f"--out {str(out)!r} is not a directory")
    document: dict[str, Any] = {}
    for env, wins in envs.items():
        run = {k: v for k, v in runs.get(env, {}).items() if k != "env"}
        where = out / env.replace("/", "_") if out is not None else None
        if where is not None:
            where.mkdir(parents=True, exist_ok=True)
            (where / "run.json").write_text(json.dumps(_jsonable(run), indent=1) + "\n")
        windows: dict[str, Any] = {}
        for win in wins:
            fmt = args.format
            try:
                data = server.raw("/export", env=env, win=win, format=fmt)
            except Exception as exc:  # a kind that only exports as JSON (images)
                if fmt != "csv" or getattr(exc, "status", None) != 400:
                    raise
                fmt, data = "json", server.raw("/export", env=env, win=win, format="json")
            if where is not None:
                (where / f"{win.replace('/', '_')}.{fmt}").write_bytes(data)
            elif args.format == "json":
                windows[win] = json.loads(data)
            else:
                sys.stdout.write(f"# env={json.dumps(env)} win={json.dumps(win)} format={fmt}\n")
                sys.stdout.write(data.decode("utf-8"))
                sys.stdout.write("\n" if data and not data.endswith(b"\n") else "")
        document[env] = {"run": _jsonable(run), "windows": windows}
    if out is None and args.format == "json":
        json.dump(document, sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif out is not None:
        print(f"livepanel export: {len(envs)} env(s) written to {out}", file=sys.stderr)
    return 0


# ------------------------------------------------------------ rm


def _rm(args: argparse.Namespace) -> int:
    server = _Server(args)
    envs = server.envs(args.envs)
    if not args.yes:
        listed = ", ".join(f"{env!r} ({len(wins)} window(s))" for env, wins in envs.items())
        print(f"delete {listed}? [y/N] ", end="", file=sys.stderr, flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            print("livepanel rm: nothing deleted", file=sys.stderr)
            return 1
    ops = [{"op": "delete_env", "env": env} for env in envs]
    body = protocol.packb({"client": f"cli-rm-{secrets.token_hex(8)}", "seq": 1, "ops": ops})
    from livepanel.client.transport import HTTPError, error_message

    status, data = server.transport.request("POST", "/ingest", body)
    if status != 200:
        raise HTTPError(status, error_message(data))
    print(f"livepanel rm: deleted {len(envs)} env(s) at {time.strftime('%H:%M:%S')}", file=sys.stderr)
    return 0
