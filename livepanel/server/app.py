"""The Tornado application factory: the route table and settings, nothing else."""

from __future__ import annotations

import dataclasses

import tornado.httputil
import tornado.web

from livepanel.config import Config
from livepanel.server import groups, handlers, ingest, runs
from livepanel.server.auth import Guard, log_request
from livepanel.server.diagnosis import Diagnosis
from livepanel.server.embedding_route import EmbeddingHandler
from livepanel.server.events import Events, EventsHandler
from livepanel.server.hub import Hub
from livepanel.server.media_route import MediaHandler
from livepanel.server.projector import Projector
from livepanel.server.store import Store
from livepanel.server.ws import SocketHandler

QUERY_FIELDS = 1100  # a group curve names up to 1000 envs (env=E1&env=E2...) beside its other arguments


def _allow_query_fields(fields: int) -> None:
    """Let query strings hold `fields` arguments. Tornado (6.5.5 and later) refuses more than 1000 with a
    bare 400 and offers only a process-wide setting: it is raised, never lowered, to the same constant by
    every app (we take no urlencoded bodies, so only query strings are concerned)."""
    httputil = tornado.httputil
    config = getattr(httputil, "_DEFAULT_PARSE_BODY_CONFIG", None)
    if config is None or not hasattr(httputil, "set_parse_body_config") or not hasattr(config, "urlencoded"):
        return  # an older Tornado: no limit
    if config.urlencoded.max_arguments < fields:
        urlencoded = dataclasses.replace(config.urlencoded, max_arguments=fields)
        httputil.set_parse_body_config(dataclasses.replace(config, urlencoded=urlencoded))


def make_app(
    config: Config, store: Store, hub: Hub, diagnosis: Diagnosis | None = None, events: Events | None = None
) -> tornado.web.Application:
    guard = Guard(config)
    _allow_query_fields(QUERY_FIELDS)
    base = config.base_url
    api = base + "/api/v1"
    read = {"guard": guard, "store": store}
    pending = ingest.Pending(config.max_pending, config.body_timeout)
    if events is None:  # clicks, keys and pane edits from pages, to the writers' downlinks
        events = Events(store)
    writes = {**read, "diagnosis": diagnosis, "max_payload": config.max_payload, "pending": pending}
    routes = [
        (api + "/ingest", ingest.IngestHandler, writes),
        (api + "/envs", handlers.EnvsHandler, read),
        (api + "/runs", runs.RunsHandler, read),
        (api + "/group", groups.GroupHandler, read),
        (api + "/alerts", handlers.AlertsHandler, {**read, "diagnosis": diagnosis}),
        (api + "/clients", handlers.ClientHandler, read),
        (api + "/window", handlers.WindowHandler, read),
        (api + "/image", handlers.ImageHandler, read),
        (api + "/media", MediaHandler, read),
        (api + "/embedding", EmbeddingHandler, {**read, "projector": Projector(store)}),  # t-SNE off the loop
        (api + "/export", handlers.ExportHandler, read),
        (api + "/health", handlers.HealthHandler),
        (api + "/socket", SocketHandler, {"guard": guard, "hub": hub, "store": store, "events": events}),
        (api + "/events", EventsHandler, {"guard": guard, "events": events}),
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
