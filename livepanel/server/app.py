"""The Tornado application factory: the route table and settings, nothing else."""

from __future__ import annotations

import tornado.web

from livepanel.config import Config
from livepanel.server import handlers, ingest, runs
from livepanel.server.auth import Guard, log_request
from livepanel.server.diagnosis import Diagnosis
from livepanel.server.hub import Hub
from livepanel.server.store import Store
from livepanel.server.ws import SocketHandler


def make_app(config: Config, store: Store, hub: Hub, diagnosis: Diagnosis | None = None) -> tornado.web.Application:
    guard = Guard(config)
    base = config.base_url
    api = base + "/api/v1"
    read = {"guard": guard, "store": store}
    pending = ingest.Pending(config.max_pending, config.body_timeout)
    writes = {**read, "diagnosis": diagnosis, "max_payload": config.max_payload, "pending": pending}
    routes = [
        (api + "/ingest", ingest.IngestHandler, writes),
        (api + "/envs", handlers.EnvsHandler, read),
        (api + "/runs", runs.RunsHandler, read),
        (api + "/alerts", handlers.AlertsHandler, {**read, "diagnosis": diagnosis}),
        (api + "/clients", handlers.ClientHandler, read),
        (api + "/window", handlers.WindowHandler, read),
        (api + "/image", handlers.ImageHandler, read),
        (api + "/export", handlers.ExportHandler, read),
        (api + "/health", handlers.HealthHandler),
        (api + "/socket", SocketHandler, {"guard": guard, "hub": hub, "store": store}),
        (base + "/static/(.*)", handlers.StaticHandler, {"guard": guard, "path": str(handlers.STATIC)}),
        (base + "/", handlers.PageHandler, {"guard": guard, "base_url": base}),
    ]
    if base:
        routes.append((base, handlers.RedirectHandler, {"url": base + "/"}))
    return tornado.web.Application(
        routes,
        websocket_max_message_size=config.max_payload,
        websocket_ping_interval=20,
        compress_response=False,
        default_handler_class=handlers.NotFoundHandler,
        default_handler_args={"guard": guard},
        log_function=log_request,  # never a token from the URL, never a whole URL
    )
