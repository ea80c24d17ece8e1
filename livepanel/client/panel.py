"""`Panel`: the user-facing client. Every plotting call checks its arguments, queues, and returns.

The scalar path of `line` and `log` is kept tiny (a tuple appended to a deque) because it runs in the
training loop; everything else (arrays, encoding, batching, HTTP) happens on the sender thread.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from livepanel import protocol
from livepanel.client import checks, convert
from livepanel.client.buffers import BufferPool
from livepanel.client.interact import Interactive
from livepanel.client.kinds import WindowKinds
from livepanel.client.media_kinds import MediaKinds
from livepanel.client.runmeta import RunRecord
from livepanel.client.sender import Pending, Sender
from livepanel.client.spool import default_root
from livepanel.client.transport import HTTPError, Transport, resolve_token, resolve_urls

_NUM = frozenset((int, float))
_time = time.time
_PANELS: weakref.WeakSet = weakref.WeakSet()
_CACHE_MAX = 10_000


def _finish_trace(op: dict) -> None:
    op["y"] = convert.as_float(convert.finish_array(op["y"]))
    if op.get("x") is not None:
        op["x"] = convert.as_float(convert.finish_array(op["x"]), keep_f4=False)


def _column(a: Any, j: int) -> Any:
    return convert.DeviceArray(a.tensor[:, j]) if isinstance(a, convert.DeviceArray) else a[:, j]


class Panel(WindowKinds, MediaKinds, RunRecord, Interactive):
    """A connection to a livepanel server, logging into one env by default.

    Calls never block on the network and never lose data: see docs/client.md.
    """

    def __init__(
        self,
        url: str | list[str] | None = None,
        env: str = "main",
        token: str | None = None,
        *,
        spool_dir: str | os.PathLike | None = None,
        timeout: float = 10.0,
        exit_timeout: float = 3.0,
        max_buffer: int = 64 << 20,
        max_queue: int = 200_000,
        image_format: str = "png",
        replay_spool: bool = True,
        max_backoff: float = 5.0,
        send_interval: float = 0.01,
        config: Any = None,
    ):
        self.urls = tuple(resolve_urls(url))  # several: nodes sharing one store, failed over in turn
        self._token = resolve_token(token)
        self.env = checks.name(env, "env name")
        run = None if config is None else self._run_fields("config", config, True)  # raises before any thread
        self.timeout = float(timeout)
        self.exit_timeout = float(exit_timeout)
        self.image_format = checks.image_format(image_format)
        if type(send_interval) not in _NUM or not 0 <= send_interval <= 60:
            raise ValueError(f"send_interval must be a number of seconds from 0 to 60, got {send_interval!r}")
        self._spool_root = default_root(spool_dir)
        self._settings = {
            "spool_dir": str(self._spool_root),
            "timeout": timeout,
            "exit_timeout": exit_timeout,
            "max_buffer": max_buffer,
            "max_queue": max_queue,
            "image_format": image_format,
            "replay_spool": replay_spool,
            "max_backoff": max_backoff,
            "send_interval": send_interval,
        }
        self._max_buffer, self._max_queue, self._replay = max_buffer, max_queue, replay_spool
        self._wins: set[str] = set()
        self._traces: set[str] = {""}
        self._log_keys: dict[str, tuple[str, str]] = {}
        self._closed = False
        self._hold = 0  # inside batch(): queue without waking the sender
        self._hold_lock = threading.Lock()
        self._new_sender({})
        self._buffers = BufferPool()
        self._written: set[str] = set()  # envs this Panel wrote to: close() marks their runs finished
        if run is not None:
            self._push({"op": "run", "env": self.env, **run})
        _PANELS.add(self)

    @property
    def url(self) -> str:
        """The server in use: the first URL until it fails, then the one batches went to (reads go there)."""
        return self._sender.url

    def _new_sender(self, counters: dict, index: int = 0) -> None:
        self._q: collections.deque = collections.deque()
        self._sender = Sender(
            self._q,
            list(self.urls),
            self._token,
            self._spool_root,
            timeout=self.timeout,
            max_buffer=self._max_buffer,
            max_backoff=self._settings["max_backoff"],
            send_interval=self._settings["send_interval"],
            replay_leftovers=self._replay,
        )
        self._sender.counters.update(counters)
        self._sender.index = index
        self._alert_callbacks = getattr(self, "_alert_callbacks", [])
        self._sender.alert_callbacks = self._alert_callbacks

    @property
    def client_id(self) -> str:
        """The id this process sends under (a new one after fork); names its spool directory."""
        return self._sender.client

    @property
    def stats(self) -> dict[str, int]:
        """Counters for monitoring: batches (acknowledged as newly stored), duplicates (acknowledged as already
        stored: a retry whose first ack was lost; each delivered batch counts in one of the two), rejected
        (dropped), refused, retries, replayed (batches of earlier processes' spools)."""
        return dict(self._sender.stats)

    def __repr__(self) -> str:
        return f"Panel({self.urls[0] if len(self.urls) == 1 else list(self.urls)!r}, env={self.env!r})"

    def __reduce__(self):  # a spawned child (multiprocessing "spawn") gets a fresh Panel with the same settings
        return (_rebuild, (list(self.urls), self.env, self._token, self._settings))

    def __enter__(self) -> Panel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------ names

    def _win(self, win: Any, default: str) -> str:
        if win is None:
            win = default
        if type(win) is not str or win not in self._wins:
            checks.name(win, "window name")
            if len(self._wins) > _CACHE_MAX:
                self._wins.clear()
            self._wins.add(win)
        return win

    def _trace_name(self, name: Any) -> str:
        if type(name) is not str or name not in self._traces:
            checks.name(name, "trace name", allow_empty=True)
            if len(self._traces) > _CACHE_MAX:
                self._traces = {""}
            self._traces.add(name)
        return name

    def _env(self, env: Any) -> str:
        if self._closed:
            raise RuntimeError("this Panel is closed; create a new one")
        return self.env if env is None else checks.name(env, "env name")

    def _push(self, op: dict, finish: Any = None, key: tuple | None = None) -> None:
        if op["op"] not in ("delete_env", "dismiss", "mute", "close") and len(self._written) < _CACHE_MAX:
            self._written.add(op["env"])
        self._q.append(Pending(op, finish, key))
        self._pushed()

    def _pushed(self) -> None:
        """After queueing: wake a sleeping sender (at the end of a batch() only), or drain an overfull queue."""
        s = self._sender
        if s.idle and not self._hold:
            s.wake()
        elif len(self._q) > self._max_queue:  # also inside a long batch(): the queue stays bounded
            s.overflow()

    @contextlib.contextmanager
    def batch(self) -> Iterator[Panel]:
        """Calls made inside travel together, in one request: the sender is woken once, at the end.

        For a block of calls at one step (gradient norms and histograms, an epoch's summaries): one
        request instead of one per call when the sender is idle. Calls still return at once.
        """
        with self._hold_lock:
            self._hold += 1
        try:
            yield self
        finally:
            with self._hold_lock:
                self._hold -= 1
            self._pushed()

    # ------------------------------------------------------------ line, scatter, log

    def line(
        self,
        x: Any,
        y: Any = None,
        win: str | None = None,
        name: str = "",
        env: str | None = None,
        update: str = "append",
        opts: dict | None = None,
    ) -> str:
        """Append to (or replace, remove) a trace: `line(y)` or `line(x, y)`, scalars or arrays."""
        t = _time()
        if y is None:
            x, y = None, x
        try:
            if (
                type(y) in _NUM
                and (x is None or type(x) in _NUM)
                and env is None
                and update == "append"
                and opts is None
                and win in self._wins
                and name in self._traces
            ):
                self._q.append((self.env, win, name, x, y, t))
                s = self._sender  # self._pushed(), inlined: this path runs once per logged point
                if s.idle and not self._hold:
                    s.wake()
                elif len(self._q) > self._max_queue:
                    s.overflow()
                return win
        except TypeError:  # unhashable name: the slow path says what was expected
            pass
        return self._trace("line", x, y, win, name, env, update, opts, t)

    def scatter(
        self,
        x: Any,
        y: Any = None,
        win: str | None = None,
        name: str = "",
        env: str | None = None,
        update: str = "append",
        opts: dict | None = None,
        labels: Any = None,
    ) -> str:
        """Points: `scatter(xy)` with xy of shape (N, 2), or `scatter(x, y)`; `labels=` makes one trace per label."""
        t = _time()
        if y is None and update != "remove":
            xy = convert.numeric(x, "scatter points", (2,))
            if xy.shape[1] != 2:
                raise ValueError(f"scatter(xy): expected shape (N, 2), got {tuple(xy.shape)}; or call scatter(x, y)")
            xy = convert.finish_array(xy)
            x, y = xy[:, 0], xy[:, 1]
        if labels is None:
            return self._trace("scatter", x, y, win, name, env, update, opts, t)
        env_, win_ = self._env(env), self._win(win, "scatter")
        xs, ys = (convert.finish_array(convert.numeric(v, f"scatter {w}", (1,))) for v, w in ((x, "x"), (y, "y")))
        lab = np.asarray(labels.detach().cpu().numpy() if convert.is_torch(labels) else labels)
        if lab.ndim != 1 or len(lab) != len(ys) or len(xs) != len(ys):
            raise ValueError(
                f"scatter: x, y and labels must have the same length, got {len(xs)}, {len(ys)}, {len(lab)}"
            )
        for label in np.unique(lab):
            mask = lab == label
            self._trace("scatter", xs[mask], ys[mask], win_, str(label.item()), env_, update, opts, t)
        return win_

    def _trace(self, kind: str, x: Any, y: Any, win: Any, name: Any, env: Any, update: Any, opts: Any, t: float) -> str:
        env, win, name = self._env(env), self._win(win, kind), self._trace_name(name)
        update, opts = checks.update(update), checks.opts(opts)
        if update == "remove":
            self._push(
                self._with_opts({"op": kind, "env": env, "win": win, "name": name, "update": "remove"}, opts),
                None,
                (env, win, name),
            )
            return win
        if y is None:
            raise TypeError(f"{kind}: expected y values (a number or an array)")
        ys = convert.numeric(y, f"{kind} y", (1, 2))
        xs = None if x is None else convert.numeric(x, f"{kind} x", (1, 2))
        n = ys.shape[0]
        if xs is not None and (xs.shape[0] != n or (xs.ndim == 2 and xs.shape != ys.shape)):
            raise ValueError(f"{kind}: x has shape {tuple(xs.shape)} but y has shape {tuple(ys.shape)}")
        if ys.ndim == 1:
            series = [(name, xs, ys)]
        else:
            legend = (opts or {}).get("legend") or []
            series = [
                (
                    self._trace_name(str(legend[j]) if j < len(legend) else (f"{name}{j}" if name else str(j))),
                    None if xs is None else (_column(xs, j) if xs.ndim == 2 else xs),
                    _column(ys, j),
                )
                for j in range(ys.shape[1])
            ]
        tt = np.array([t], dtype=np.float64)  # one call time stands for every point (protocol: t of length 1)
        for trace, sx, sy in series:
            op = {"op": kind, "env": env, "win": win, "name": trace, "update": update, "x": sx, "y": sy, "t": tt}
            self._push(self._with_opts(op, opts), _finish_trace, (env, win, trace))
        return win

    def log(self, values: dict[str, Any], step: int | float | None = None, env: str | None = None) -> None:
        """Many scalars in one call: key "a/b" goes to window "a", trace "b"; key "a" to window "a", trace ""."""
        t = _time()
        if not isinstance(values, dict):
            raise TypeError(f"log expects a dict {{name: number}}, got {type(values).__name__}")
        if step is not None and type(step) not in _NUM:
            step = checks.scalar(step, "log step")
            if isinstance(step, convert.DeviceArray):
                raise TypeError("log step must be a number on the host, not a device tensor")
        if type(step) is int:
            checks.step(step)  # an int64, as every step (a larger one would fail on the sender thread)
        env = self._env(env)
        if env not in self._written and len(self._written) < _CACHE_MAX:
            self._written.add(env)
        items = []
        for key, v in values.items():
            parsed = self._log_keys.get(key) if type(key) is str else None
            if parsed is None:
                if not isinstance(key, str):
                    raise TypeError(f"log keys must be strings such as 'loss/train', got {type(key).__name__}")
                win, _, name = key.partition("/")
                parsed = (
                    checks.name(win, f"window name from log key {key!r}"),
                    checks.name(name, f"trace name from log key {key!r}", allow_empty=True),
                )
                if len(self._log_keys) > _CACHE_MAX:
                    self._log_keys.clear()
                self._log_keys[key] = parsed
            if type(v) not in _NUM:
                v = checks.scalar(v, f"log value {key!r}")
            items.append((env, parsed[0], parsed[1], step, v, t))
        for item in items:
            if type(item[4]) is convert.DeviceArray:
                op = {
                    "op": "line",
                    "env": env,
                    "win": item[1],
                    "name": item[2],
                    "update": "append",
                    "x": None if step is None else np.array([step], dtype=np.float64),
                    "y": item[4],
                    "t": np.array([t]),
                }
                self._q.append(Pending(op, _finish_trace, item[:3]))
            else:
                self._q.append(item)
        self._pushed()

    def delete_env(self, env: str) -> None:
        """Delete an env and all its windows."""
        env = self._env(env)
        self._written.discard(env)
        self._push({"op": "delete_env", "env": env})

    # ------------------------------------------------------------ lifecycle

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until everything queued so far is acknowledged (or judged bad, dropped and logged).

        False on timeout, and at once when the server refuses this client's token (the batches are kept,
        in the spool at close, for `livepanel replay`).
        """
        if self._closed:
            return True
        return self._sender.flush(timeout)

    def close(self, win: str | None = None, env: str | None = None, timeout: float | None = None) -> bool | None:
        """`close(win)` deletes a window; `close()` flushes (bounded) and stops the sender.

        The flush waits up to `timeout` (10 s) while the server acknowledges batches, and at most
        `exit_timeout` without an acknowledgement; what is left is spooled. True when all was delivered.
        """
        if win is not None:
            env, win = self._env(env), self._win(win, win)
            self._push({"op": "close", "env": env, "win": win})
            return None
        if env is not None:
            raise TypeError("close(win, env) needs a window name; to delete a whole env use delete_env(env)")
        return self._shutdown(10.0 if timeout is None else timeout)

    def _shutdown(self, timeout: float, status: str = "finished") -> bool:
        if self._closed:
            return True
        for env in sorted(self._written):  # the runs this Panel wrote to are finished (until data comes again)
            self._push({"op": "run", "env": env, "status": status, "merge": True})
        self._closed = True
        self._close_downlink()  # events and panes (livepanel/client/interact.py)
        self._wins = set()  # forces later calls onto the checked path, which raises
        return self._sender.close(timeout, self.exit_timeout)

    # ------------------------------------------------------------ reads

    def _read(self, path: str, **query: Any) -> Any:
        """A read from the node in use; when it is down (or its balancer says so: 502, 503, 504), from the
        other URLs in turn."""
        start = self.urls.index(self.url)
        for i in range(len(self.urls)):
            transport = Transport(self.urls[(start + i) % len(self.urls)], self._token, self.timeout)
            try:
                return transport.call("GET", path, **query)
            except (OSError, HTTPError) as exc:
                if i == len(self.urls) - 1 or (isinstance(exc, HTTPError) and exc.status not in (502, 503, 504)):
                    raise
            finally:
                transport.close()
        raise AssertionError("unreachable")

    def get(self, win: str, env: str | None = None, flush: bool = True) -> dict[str, Any]:
        """A window's stored content at full resolution (arrays as numpy); flushes first by default."""
        env = self.env if env is None else checks.name(env, "env name")
        checks.name(win, "window name")
        if flush and not self._closed:
            self.flush(self.timeout)
        try:
            return self._read("/window", env=env, win=win, full=1)
        except HTTPError as exc:
            if exc.status == 404:
                raise KeyError(f"no window {win!r} in env {env!r} on {self.url}") from None
            raise

    def alerts(self, env: str | None = None, flush: bool = True) -> list[dict[str, Any]]:
        """Training problems the server found (NaN, divergence, ...) in this Panel's env, oldest first;
        `env="x"` those of env x, `env="*"` those of every env. Dismissed ones too (`dismissed: True`).
        Flushes first by default (so it lists what this Panel's data raised, and its dismissals)."""
        if env is None:
            env = self.env
        elif env != "*":
            checks.name(env, "env name")
        if flush and not self._closed:
            self.flush(self.timeout)
        try:
            return self._read("/alerts", **({} if env == "*" else {"env": env}))["alerts"]
        except HTTPError as exc:
            if exc.status == 404:  # no such env (yet): no alerts
                return []
            raise

    def dismiss(self, alert: int | dict[str, Any], env: str | None = None) -> None:
        """Dismiss an alert (its id, or the alert dict from alerts() or on_alert) for every viewer: it leaves
        the page's badges and list, stays in alerts() with `dismissed: True`, and the same ongoing problem is
        not raised again. Queued like a point; an id the env does not have is refused by the server (logged)."""
        if isinstance(alert, dict):
            number = alert.get("id")
            env = alert.get("env") if env is None else env
        else:
            number = alert
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= protocol.INT64_MAX:
            raise TypeError(f"dismiss: expected an alert id (a positive integer) or an alert dict, got {alert!r:.200}")
        self._push({"op": "dismiss", "env": self._env(env), "id": number})

    def mute(self, kind: str, win: str | None = None, env: str | None = None, muted: bool = True) -> None:
        """Mute (or with muted=False unmute) an alert kind on one window, or in the whole env when win is None:
        for every viewer, alerts of that kind there are hidden, and diagnosis raises no new ones. A window
        must exist (to mute it from its first point, pass opts={"mute": [kind]}). Queued like a point."""
        if kind not in protocol.ALERT_KINDS:
            raise ValueError(f"mute: unknown alert kind {kind!r}; expected one of {', '.join(protocol.ALERT_KINDS)}")
        if not isinstance(muted, bool):
            raise TypeError(f"mute: muted must be True or False, got {type(muted).__name__}")
        op: dict[str, Any] = {"op": "mute", "env": self._env(env), "kind": kind, "muted": muted}
        if win is not None:
            op["win"] = self._win(win, win)
        self._push(op)

    def on_alert(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call callback(alert) on the sender thread, once for each alert this Panel's data raises: with an
        acknowledgement, and at the latest before flush() returns."""
        if not callable(callback):
            raise TypeError(f"on_alert: expected a function taking one alert dict, got {type(callback).__name__}")
        self._alert_callbacks.append(callback)

    def envs(self, flush: bool = True) -> list[str]:
        """Names of the envs on the server (after what this Panel sent so far, by default)."""
        if flush and not self._closed:
            self.flush(self.timeout)
        return [e["name"] for e in self._read("/envs")["envs"]]

    def windows(self, env: str | None = None, flush: bool = True) -> list[str]:
        """Names of the windows of an env (this Panel's env by default)."""
        env = self.env if env is None else env
        if flush and not self._closed:
            self.flush(self.timeout)
        for e in self._read("/envs")["envs"]:
            if e["name"] == env:
                return [w["win"] for w in e["windows"]]
        return []

    # ------------------------------------------------------------ notebooks, matplotlib

    def matplot(self, fig: Any = None, win: str | None = None, env: str | None = None, opts: dict | None = None,
                caption: str = "", step: int | None = None) -> str:  # fmt: skip
        """A matplotlib figure (None: pyplot's current one) as an image step; copied now, rendered by the sender."""
        from livepanel.client import figures

        return figures.matplot(self, fig, win, env, opts, caption, step)

    def plotly(self, fig: Any, win: str | None = None, env: str | None = None, opts: dict | None = None,
               update: str | None = None) -> str:  # fmt: skip
        """A Plotly figure (a dict {data, layout} or a plotly Figure) shown as it is; see livepanel/client/plotly.py."""
        from livepanel.client import plotly

        return plotly.plotly(self, fig, win, env, opts, update)

    def graph(self, model: Any, example_input: Any = None, win: str = "model", env: str | None = None,
              opts: dict | None = None) -> str:  # fmt: skip
        """A model's structure (torch module, Keras model, ONNX file or ModelProto), shaded live by what
        `watch()` logs per layer; built and checked in the call (see livepanel/client/graph.py)."""
        from livepanel.client import graph

        env, win, opts = self._env(env), self._win(win, "model"), checks.opts(opts)
        op = {"op": "graph", "env": env, "win": win, "graph": graph.build(model, example_input)}
        self._push(self._with_opts(op, opts))
        return win

    def embedding(self, features: Any, labels: Any = None, metadata: dict | None = None, images: Any = None,
                  win: str | None = None, step: int | None = None, env: str | None = None,
                  opts: dict | None = None) -> str:  # fmt: skip
        """N x D features (numpy or torch) as an embedding step: PCA at once on the server, t-SNE and UMAP on
        request in the page; labels, metadata columns and images (thumbnails) per point. See docs/client.md."""
        from livepanel.client import embedding

        return embedding.embedding(self, features, labels, metadata, images, win, step, env, opts)

    def activations(self, model: Any, x: Any, *, layers: list[str] | None = None, step: int | None = None,
                    env: str | None = None) -> list[str]:  # fmt: skip
        """Run a torch model on the batch `x` now and log its layer outputs (statistics, histograms, feature
        maps); returns the recorded layers. See livepanel/integrations/activations.py."""
        from livepanel.integrations.activations import activations

        return activations(self, model, x, layers=layers, step=step, env=env)

    def show(self, win: str | None = None, env: str | None = None, height: int = 600, token: bool = False) -> None:
        """Display the env's live page inline in a Jupyter notebook (see livepanel.integrations.jupyter)."""
        from livepanel.integrations import jupyter

        jupyter.show(self, win, env, height, token)

    def _repr_html_(self) -> str:
        from livepanel.integrations import jupyter

        return jupyter.repr_html(self)

    # ------------------------------------------------------------ fork

    def _after_fork_in_child(self) -> None:
        old = self._sender
        old.after_fork()
        self._written = set()  # a child finishes only the runs it writes to itself
        self._downlink = None  # its thread stayed in the parent: a child opens its own when it needs one
        self._new_sender(dict(old.counters), old.index)


def _rebuild(url: str | list[str], env: str, token: str | None, settings: dict) -> Panel:
    return Panel(url, env, token, **settings)


class _ForkToken:
    """An object for multiprocessing's after-fork registry (it needs a weak-referenceable owner)."""


_FORK_TOKEN = _ForkToken()


def _close_all(timeout: float | None = None) -> None:
    # at exit after an uncaught exception (sys.last_value is set then), the runs still open have failed
    status = "failed" if isinstance(getattr(sys, "last_value", None), Exception) else "finished"
    for panel in list(_PANELS):
        try:
            panel._shutdown(panel.exit_timeout if timeout is None else timeout, status)
        except Exception:  # at exit, one panel's failure must not stop the others
            pass


def _mp_child_started(_token: Any) -> None:
    # multiprocessing children leave through os._exit, past atexit: close through its finalizers instead
    sys.modules["multiprocessing.util"].Finalize(None, _close_all, exitpriority=10)


def _after_fork_in_child() -> None:
    for panel in list(_PANELS):
        if not panel._closed:
            panel._after_fork_in_child()
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:
        mp_util.register_after_fork(_FORK_TOKEN, _mp_child_started)


atexit.register(_close_all)
os.register_at_fork(after_in_child=_after_fork_in_child)
