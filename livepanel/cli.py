"""The `livepanel` command: `serve`, `replay`, `import-tb`, `runs`, `export`, `rm`, `migrate`, `--version`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any

from livepanel import __version__
from livepanel.config import SETTINGS, Config

IDLE_TIMEOUT = 3600.0  # seconds an idle connection (or one still sending its headers) is kept


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livepanel", description="A realtime plotting server for model training.")
    parser.add_argument("--version", action="version", version=f"livepanel {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the server")
    for setting in SETTINGS:
        flag = "--" + setting.name.replace("_", "-")
        if setting.flag:
            serve.add_argument(flag, action="store_true", help=setting.help)
        elif setting.many:
            serve.add_argument(flag, type=_checked(setting), action="extend", default=[], help=setting.help)
        else:
            default = "" if setting.default is None else f" (default: {setting.default})"
            serve.add_argument(flag, type=_checked(setting), default=setting.default, help=setting.help + default)
    replay = commands.add_parser("replay", help="send what a client left in its spool to the server")
    replay.add_argument(
        "--url", help="send everything to this server (default: the server each spool directory was written for)"
    )
    replay.add_argument("--token", help="access token (default: $LIVEPANEL_TOKEN)")
    replay.add_argument("--spool", help="spool directory (default: $LIVEPANEL_SPOOL or ~/.livepanel/spool)")
    tb = commands.add_parser("import-tb", help="import TensorBoard event files (each run directory becomes an env)")
    tb.add_argument("logdir", help="directory searched recursively for event files")
    tb.add_argument("--url", help="server (default: $LIVEPANEL_URL, else http://127.0.0.1:8097)")
    tb.add_argument("--token", help="access token (default: $LIVEPANEL_TOKEN)")
    tb.add_argument("--env-prefix", default="", help="prefix for the env names, e.g. tb/ (default: none)")
    from livepanel import runs_cli

    runs_cli.add_parsers(commands)
    migrate = commands.add_parser("migrate", help="copy a single-node SQLite store into PostgreSQL")
    migrate.add_argument("--from", dest="source", required=True, metavar="DATA_DIR", help="the data directory")
    migrate.add_argument("--to", dest="target", required=True, metavar="URL", help="postgresql://user@host:port/db")
    migrate.add_argument(
        "--overwrite", action="store_true", help="empty a target that already holds a livepanel store first"
    )
    return parser


def _checked(setting):
    def parse(text: str):
        try:
            return setting.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None  # argparse names the flag

    parse.__name__ = setting.name
    return parse


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        if args.no_auth and args.token:
            parser.error("serve: --token and --no-auth contradict each other; give one of them")
        config = Config(**{s.name: tuple(getattr(args, s.name)) if s.many else getattr(args, s.name) for s in SETTINGS})
        return serve(config)
    if args.command == "replay":
        from livepanel.client.spool import replay_all

        logging.basicConfig(level=logging.INFO, format="%(message)s")
        try:
            sent = replay_all(args.spool, args.url, args.token)
        except Exception as exc:
            print(f"livepanel replay: {exc}", file=sys.stderr)
            return 1
        print(f"livepanel replay: delivered {sent} batch(es)")
        return 0
    if args.command == "import-tb":
        from livepanel.tensorboard import main as import_tb

        return import_tb(args.logdir, args.url, args.token, args.env_prefix)
    if args.command == "migrate":
        from livepanel.migrate import main as migrate

        return migrate(args.source, args.target, args.overwrite)
    if args.command in ("runs", "export", "rm"):
        from livepanel import runs_cli

        return runs_cli.main(args)
    parser.print_help()
    return 2


def resolve_token(config: Config) -> Config:
    """The token from --token or $LIVEPANEL_TOKEN; generated when bound beyond loopback."""
    token = config.token or os.environ.get("LIVEPANEL_TOKEN") or None
    if config.no_auth:
        token = None
    elif token is None and not config.loopback:
        token = secrets.token_urlsafe(24)
    return config.replace(token=token)


def serve(config: Config) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s livepanel %(levelname)s %(message)s")
    logging.getLogger("tornado.access").setLevel(logging.WARNING)
    config = resolve_token(config)
    from livepanel.server import malloc

    malloc.tune()
    try:
        return asyncio.run(_serve(config))
    except KeyboardInterrupt:
        return 0


async def _serve(config: Config) -> int:
    import tornado.httpserver
    import tornado.netutil

    from livepanel.server.app import make_app
    from livepanel.server.diagnosis import Diagnosis
    from livepanel.server.events import Events
    from livepanel.server.hub import Hub
    from livepanel.server.store import Limits, Store

    try:
        sockets = tornado.netutil.bind_sockets(config.port, config.host)
    except OSError as exc:
        print(f"livepanel: cannot listen on {config.host}:{config.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    limits = Limits(max_image_steps=config.max_image_steps, max_histogram_steps=config.max_histogram_steps,
                    max_media_steps=config.max_media_steps, max_media_bytes=config.max_media_bytes,
                    max_text=config.max_text)  # fmt: skip
    postgres = config.store not in ("sqlite", "memory")
    if config.hub is not None and not postgres:
        print("livepanel: --hub is for several nodes on one PostgreSQL store: give --store postgresql://...",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        where = config.data_path if config.store == "sqlite" else config.store if postgres else None
        if config.hub is not None:
            from livepanel.server.store.cluster import ClusterStore

            store = ClusterStore(config.store, limits)
        else:
            store = Store(where, limits)
    except Exception as exc:
        if postgres:
            from livepanel.server.store.backend import redact

            print(f"livepanel: cannot open the store at {redact(config.store)}: {exc}", file=sys.stderr)
        else:
            print(f"livepanel: cannot open the store in {config.data_path}: {exc}", file=sys.stderr)
        return 1
    hub = Hub(store, config.replay_buffer, config.viewer_queue)
    events = Events(store)  # clicks, keys and pane edits from pages, to the writers' downlinks
    relay = None
    if config.hub is not None:
        from livepanel.server.store.backend import redact

        try:
            relay = await _relay(config.hub, store, hub, events)
        except Exception as exc:
            print(f"livepanel: cannot use the hub at {redact(config.hub)}: {exc}", file=sys.stderr)
            store.close()
            return 1
    diagnosis = Diagnosis(store, enabled=not config.no_diagnose)  # the store's other consumer, beside the hub
    # Tornado's default 64 KiB read chunks: a larger chunk is a fresh zeroed buffer on every read, and
    # a 1 MiB one cost every small request about 0.6 ms of CPU (1 M-point bodies were slower with it too).
    # A body must arrive within --body-timeout. Idle keep-alive connections (and unfinished headers) keep
    # Tornado's hour: a Panel that logs once per epoch keeps its connection rather than meet a closed one.
    server = tornado.httpserver.HTTPServer(
        make_app(config, store, hub, diagnosis, events),
        max_body_size=1 << 20,
        body_timeout=config.body_timeout,
        idle_connection_timeout=IDLE_TIMEOUT,
    )
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    host = config.host if config.host not in ("0.0.0.0", "::", "") else socket.gethostname()
    host = f"[{host}]" if ":" in host else host
    url = f"http://{host}:{port}{config.base_url}/" + (f"?token={config.token}" if config.token else "")
    where = "in memory (nothing kept)" if config.store == "memory" else f"in {config.data_path}"
    if postgres:
        from livepanel.server.store.backend import redact

        where = f"in PostgreSQL at {redact(config.store)}"
    print(f"livepanel {__version__}: serving at {url}  (data {where})", flush=True)
    if config.no_auth and not config.loopback:
        print("livepanel: WARNING: --no-auth on a non-loopback address: anyone who can reach it can read and write")
    tail = None
    if config.logdir:
        from livepanel.tensorboard import start_tail

        tail = start_tail(config, port, store)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    logging.getLogger("livepanel").info("shutting down")
    if tail is not None:
        await loop.run_in_executor(None, tail.stop)  # off the loop: the tail may wait for an answer from it
    server.stop()
    hub.close()
    try:
        await asyncio.wait_for(server.close_all_connections(), 5)
    except TimeoutError:
        pass
    diagnosis.close()  # its last alerts are stored through the store: before it closes
    if relay is not None:
        await relay.close()
    store.close()
    return 0


async def _relay(url: str, store: Any, hub: Any, events: Any) -> Any:
    """Join the other nodes through Redis: publish this node's commits and pages' events, follow the envs its
    viewers watch and its downlinks follow."""
    from livepanel.server.relay_redis import RedisRelay

    relay = RedisRelay(url, store.store_id)
    await relay.start(store.on_entry, store.on_head, store.on_resync, on_event=events.relayed)
    store.relay = relay
    store.keep_session()
    store.entry_listeners.append(relay.publish)
    hub.watchers += [store.watch, relay.watch]
    hub.extra_watched, events.followed_changed = events.followed, hub.watch_changed
    events.forward, events.settled = relay.publish_event, relay.settled
    return relay
