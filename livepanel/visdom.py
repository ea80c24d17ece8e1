"""A drop-in for the visdom client: `from livepanel.visdom import Visdom`.

Same method and argument names as `visdom.Visdom` for the plots training code uses, on top of
`livepanel.Panel` (so calls never block and nothing is lost). Visdom options are translated to
livepanel's; options without an equivalent are ignored (as visdom's renderer ignores unknown ones).
The supported methods and options are listed in docs/client.md.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import numpy as np

from livepanel import visdom_compat, visdom_figures, visdom_opts
from livepanel.client import Panel
from livepanel.client.transport import Transport
from livepanel.visdom_events import VisdomEvents, pane_properties

log = logging.getLogger("livepanel.visdom")

_SAME = ("title", "xlabel", "ylabel", "legend", "width", "height", "colormap", "markersize", "stacked", "nrow")
UNSUPPORTED = ("replay_log",)


class Unsupported(AttributeError, NotImplementedError):
    """A visdom method livepanel does not have: `hasattr` answers False, and a call says so plainly.

    An AttributeError for `hasattr`, `getattr(vis, name, default)` and feature checks; also a
    NotImplementedError, which is what calling an unsupported method raised before.
    """


def _array(x: Any) -> np.ndarray:
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _color(c: Any) -> str:
    if isinstance(c, str):
        return c
    r, g, b = (int(v) for v in list(c)[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def translate_opts(opts: dict | None, kind: str) -> dict[str, Any]:
    """Visdom opts -> livepanel opts; unknown visdom keys are dropped (logged at debug level)."""
    out: dict[str, Any] = {}
    for key, value in (opts or {}).items():
        if value is None:
            continue
        if key in _SAME:
            out[key] = list(value) if isinstance(value, (tuple, np.ndarray)) else value
        elif key in ("xtype", "ytype"):
            out[key[0] + "log"] = value == "log"
        elif key in ("linecolor", "markercolor") and kind in ("line", "scatter"):
            continue  # per trace: visdom_opts.trace_styles
        elif key in ("linecolor", "markercolor"):
            out["colors"] = [_color(c) for c in _array(value).tolist()]
        elif key == "rownames":
            out["yticklabels" if kind == "heatmap" else "rownames"] = [str(v) for v in value]
        elif key == "columnnames":
            out["xticklabels"] = [str(v) for v in value]
        elif key == "markers" and value and kind == "scatter":
            out["mode"] = "markers"
        elif (drawn := visdom_opts.window(key, value, kind)) is not None:
            out.update(drawn)
        else:
            log.debug("visdom option %r has no livepanel equivalent; ignored", key)
    for key in ("width", "height", "nrow"):
        if key in out:
            out[key] = int(out[key])
    if "markersize" in out:
        out["markersize"] = float(out["markersize"])
    return out


class Visdom:
    """The visdom client's interface, sending to a livepanel server."""

    def __init__(
        self,
        server: str = "http://localhost",
        endpoint: str = "events",
        port: int = 8097,
        base_url: str = "/",
        env: str = "main",
        token: str | None = None,
        raise_exceptions: bool | None = None,
        **ignored: Any,
    ):
        if "://" not in server:
            server = "http://" + server
        url = f"{server.rstrip('/')}:{int(port)}{'/' + base_url.strip('/') if base_url.strip('/') else ''}"
        self.server, self.port, self.base_url, self.env = server, port, base_url, env
        spool = ignored.pop("spool_dir", None)
        if ignored:
            log.debug("visdom arguments without a livepanel meaning ignored: %s", ", ".join(sorted(ignored)))
        self.panel = Panel(url, env=env, token=token, spool_dir=spool)
        self._events = VisdomEvents(self.panel, env)  # opens the downlink at the first handler
        self._known: dict[tuple[str, str], list[str]] = {}  # trace names of plots, in order (by position)
        self._texts: set[tuple[str, str]] = set()  # text windows known to exist (append adds a line break)

    # ------------------------------------------------------------ helpers

    def _win(self, win: str | None) -> str:
        return win if win is not None else f"window_{secrets.token_hex(6)}"

    def _fresh(self, win: str, env: str | None, update: str | None) -> None:
        if update is None:  # visdom: a call without update draws a new plot in the window
            self.panel.close(win, env=env)

    def _trace_names(self, win: str, env: str | None, update: str | None, opts: dict, k: int,
                     name: str | None) -> list[str]:  # fmt: skip
        """Trace names for k columns (labels): as Visdom's server, an append without `name` and `legend`
        extends the window's traces by position, not new traces "1", "2"; the names are remembered."""
        key = (self.env if env is None else env, win)
        if update in ("append", "insert") and name is None and "legend" not in opts:
            known = self._known.get(key)
            if known is None:  # a window this client did not make (or forgot): ask the server, once
                known = visdom_compat.trace_names(self.panel, win, env)
            names = [known[j] if j < len(known) else self._names(opts, k, None)[j] for j in range(k)]
        else:
            names = self._names(opts, k, name)
        if len(self._known) > 10_000:
            self._known.clear()
        before = self._known.get(key, []) if update is not None else []
        self._known[key] = before + [n for n in names if n not in before]
        return names

    def _removed(self, win: str, env: str | None, name: str) -> None:
        """A trace removed: the traces after it move up one position, as in Visdom's window."""
        key = (self.env if env is None else env, win)
        if key in self._known:
            self._known[key] = [n for n in self._known[key] if n != name]

    def _names(self, opts: dict, k: int, name: str | None) -> list[str]:
        legend = list(opts.get("legend") or [])
        if k == 1:
            return [name if name is not None else (str(legend[0]) if legend else "")]
        return [str(legend[j]) if j < len(legend) else str(j + 1) for j in range(k)]

    # ------------------------------------------------------------ plots

    def line(self, Y: Any, X: Any = None, win: str | None = None, env: str | None = None, opts: dict | None = None,
             update: str | None = None, name: str | None = None) -> str:  # fmt: skip
        """Lines: Y of shape (N,) or (N, M); X of the same shape or (N,); update None/append/replace/remove."""
        win, o = self._win(win), translate_opts(opts, "line")
        visdom_compat.check_update(update, "line")
        if update == "remove":
            self.panel.line(None, win=win, name=name or "", env=env, update="remove")
            self._removed(win, env, name or "")
            return win
        if update is not None and X is None:
            raise ValueError("visdom line: must specify x-values (X) for a line update")
        y = _array(Y).astype(np.float64)
        if y.ndim not in (1, 2):
            raise ValueError(f"visdom line: Y should have 1 or 2 dimensions, got shape {y.shape}")
        x = np.linspace(0, 1, y.shape[0]) if X is None else _array(X).astype(np.float64)
        y2 = y.reshape(len(y), -1) if y.ndim == 2 else y[:, None]
        x2 = x.reshape(len(x), -1) if x.ndim == 2 else np.repeat(x.reshape(-1, 1), y2.shape[1], axis=1)
        if x2.shape != y2.shape:
            raise ValueError(f"visdom line: X of shape {x.shape} does not match Y of shape {y.shape}")
        self._fresh(win, env, update)
        mode = "append" if update in ("append", "insert") else "replace"
        names = self._trace_names(win, env, update, o, y2.shape[1], name)
        member = np.repeat(np.arange(len(names)), y2.shape[0])  # visdom's per-point order: trace by trace
        o.update(visdom_opts.trace_styles(opts, names, member))
        o.update(visdom_opts.defaults("line", opts, update))
        for j, trace in enumerate(names):
            self.panel.line(x2[:, j], y2[:, j], win=win, name=trace, env=env, update=mode, opts=o or None)
        return win

    def scatter(self, X: Any, Y: Any = None, win: str | None = None, env: str | None = None,
                opts: dict | None = None, update: str | None = None, name: str | None = None) -> str:  # fmt: skip
        """Points: X of shape (N, 2); Y optional labels 1..K, one trace per label."""
        win, o = self._win(win), translate_opts(opts, "scatter")
        visdom_compat.check_update(update, "scatter")
        if update == "remove":
            self.panel.scatter(None, win=win, name=name or "", env=env, update="remove")
            self._removed(win, env, name or "")
            return win
        xy = _array(X).astype(np.float64)
        if xy.ndim == 1 and Y is not None:  # Visdom: a trace's x and y as two 1-D arrays, named by `name`
            xy, Y = visdom_compat.scatter_columns(xy, Y, name), None
        if xy.ndim == 2 and xy.shape[1] == 3:  # 3-D: a plotly window (livepanel/visdom_figures.py)
            return self._figure(visdom_figures.scatter3d(xy, Y, opts, name), win, env, opts)
        if xy.ndim != 2 or xy.shape[1] != 2:
            raise ValueError(f"visdom scatter: X must have shape (N, 2) or (N, 3), got {xy.shape}")
        labels = np.ones(len(xy), dtype=np.int64) if Y is None else _array(Y).astype(np.int64).ravel()
        if len(labels) != len(xy):
            raise ValueError(f"visdom scatter: Y must hold one label per point ({len(xy)}), got {len(labels)}")
        self._fresh(win, env, update)
        mode = "append" if update in ("append", "insert") else "replace"
        uniq = np.unique(labels)
        k = int(uniq.max()) if len(uniq) and Y is not None else 1
        names = self._trace_names(win, env, update, o, k, name)
        member = labels - 1 if Y is not None else np.zeros(len(xy), dtype=np.int64)
        o.update(visdom_opts.trace_styles(opts, names, member))
        o.update(visdom_opts.defaults("scatter", opts, update))
        for label in uniq:
            mask = labels == label
            trace = names[int(label) - 1] if Y is None or 1 <= label <= k else str(label)
            self.panel.scatter(xy[mask, 0], xy[mask, 1], win=win, name=trace, env=env, update=mode, opts=o or None)
        return win

    def bar(self, X: Any, Y: Any = None, win: str | None = None, env: str | None = None,
            opts: dict | None = None) -> str:  # fmt: skip
        """Bars: X of shape (N,) or (N, M); Y (or opts rownames) labels the rows."""
        win, o = self._win(win), translate_opts(opts, "bar")
        if np.squeeze(_array(X)).ndim == 1 and o.get("legend") and not o.get("rownames"):
            X = np.squeeze(_array(X))[None, :]  # as Visdom: one group of bars, one per legend name
        labels = o.pop("rownames", None)
        if Y is not None:
            labels = [str(v) for v in _array(Y).ravel().tolist()]
        self.panel.bar(_array(X), win=win, env=env, opts=o or None, labels=labels)
        return win

    def histogram(self, X: Any, win: str | None = None, env: str | None = None, opts: dict | None = None) -> str:
        """A histogram of X; opts numbins (default 30)."""
        win = self._win(win)
        bins = int((opts or {}).get("numbins", 30))
        self.panel.histogram(X, win=win, env=env, opts=translate_opts(opts, "histogram") or None, bins=bins)
        return win

    def heatmap(self, X: Any, win: str | None = None, env: str | None = None, update: str | None = None,
                opts: dict | None = None) -> str:  # fmt: skip
        """A heatmap of the 2-D X; opts columnnames and rownames label the axes. `update`: replace, remove,
        appendRow, appendColumn, prependRow, prependColumn (the server joins the rows or columns)."""
        if isinstance(update, dict) and opts is None:  # heatmap(X, win, env, opts) as livepanel had it
            update, opts = None, update
        win, o = self._win(win), translate_opts(opts, "heatmap")
        if update == "remove":
            self.panel.close(win, env=env)
        elif update in (None, "replace"):
            self.panel.heatmap(X, win=win, env=env, opts=o or None)
        else:
            rows = update in ("appendRow", "prependRow")
            names, other = (o.pop("yticklabels", None), o.pop("xticklabels", None))[:: 1 if rows else -1]
            visdom_compat.push_heatmap(self.panel, X, win, env, o or None, update, names)
        return win

    def image(self, img: Any, win: str | None = None, env: str | None = None, opts: dict | None = None) -> str:
        """One image (CHW, HW); opts caption, jpgquality."""
        win, opts = self._win(win), opts or {}
        fmt, quality = ("jpeg", int(opts["jpgquality"])) if opts.get("jpgquality") else (None, 90)
        o = translate_opts(opts, "image") or None
        self.panel.image(
            img, win=win, env=env, opts=o, caption=str(opts.get("caption", "")), format=fmt, quality=quality
        )
        return win

    def images(self, tensor: Any, nrow: int = 8, padding: int = 2, win: str | None = None, env: str | None = None,
               opts: dict | None = None) -> str:  # fmt: skip
        """A grid of a batch (NCHW) or a list of images, `nrow` per row (padding is the viewer's)."""
        win, opts = self._win(win), opts or {}
        fmt, quality = ("jpeg", int(opts["jpgquality"])) if opts.get("jpgquality") else (None, 90)
        o = translate_opts(opts, "image")
        o.pop("nrow", None)
        captions = visdom_compat.captions(tensor, opts)
        self.panel.images(tensor, win=win, env=env, opts=o or None, nrow=int(nrow), format=fmt, quality=quality,
                          captions=captions)  # fmt: skip
        return win

    def text(self, text: str, win: str | None = None, env: str | None = None, opts: dict | None = None,
             append: bool = False) -> str:  # fmt: skip
        """Text (visdom renders HTML; livepanel renders markdown, sanitised); append adds it on a new line."""
        win, key = self._win(win), (self.env if env is None else env, win)
        if not isinstance(text, str):
            raise TypeError(f"visdom text: text must be a string, got {type(text).__name__}")
        if append and (key in self._texts or self.win_exists(win, env)):
            text = "<br>" + text  # as Visdom's server joins an append
        self.panel.text(text, win=win, env=env, opts=translate_opts(opts, "text") or None, append=append)
        if len(self._texts) > 10_000:
            self._texts.clear()
        self._texts.add(key)
        return win

    def svg(self, svgstr: str | None = None, svgfile: str | None = None, win: str | None = None,
            env: str | None = None, opts: dict | None = None) -> str:  # fmt: skip
        """An SVG drawing (a string or a file); the page shows it sanitized (no script, no outside links)."""
        data = visdom_compat.svg_text(svgstr, svgfile)
        return visdom_compat.push_media(self.panel, data, "svg", self._win(win), env, translate_opts(opts, "media"))

    def audio(self, tensor: Any = None, audiofile: str | None = None, win: str | None = None,
              env: str | None = None, opts: dict | None = None) -> str:  # fmt: skip
        """Audio: a waveform (N, or N x 2 for stereo; opts sample_frequency, default 44100) or a file
        (wav, mp3, ogg, flac), played with the browser's controls."""
        opts = opts or {}
        if tensor is None and audiofile is None:
            raise ValueError("visdom audio: give tensor (a waveform) or audiofile (a file name)")
        if tensor is not None:
            data, fmt = visdom_compat.wav_bytes(tensor, opts.get("sample_frequency", 44100)), "wav"
        else:
            data, fmt = visdom_compat.media_file(audiofile, visdom_compat.AUDIO_FILES, "audio")
        return visdom_compat.push_media(self.panel, data, fmt, self._win(win), env, translate_opts(opts, "media"))

    def video(self, tensor: Any = None, dim: str = "LxHxWxC", videofile: str | None = None, win: str | None = None,
              env: str | None = None, opts: dict | None = None) -> str:  # fmt: skip
        """Video: a file (mp4, ogv, webm), or L frames (encoded to MP4 with PyAV, as Visdom does)."""
        opts = opts or {}
        if tensor is None and videofile is None:
            raise ValueError("visdom video: give tensor (L frames) or videofile (a file name)")
        if tensor is not None:
            data, fmt = visdom_compat.video_bytes(tensor, dim, opts.get("fps", 25)), "mp4"
        else:
            data, fmt = visdom_compat.media_file(videofile, visdom_compat.VIDEO_FILES, "video")
        return visdom_compat.push_media(self.panel, data, fmt, self._win(win), env, translate_opts(opts, "media"))

    # ------------------------------------------------------------ Plotly figures (livepanel/visdom_figures.py)

    def _figure(self, fig: dict, win: str | None, env: str | None, opts: dict | None) -> str:
        """Send a figure built from Visdom's arguments as a plotly window; the title goes to the header."""
        o = translate_opts({k: v for k, v in (opts or {}).items() if k in ("title", "width", "height")}, "plotly")
        return self.panel.plotly(fig, win=self._win(win), env=env, opts=o or None)

    def stem(self, X: Any, Y: Any = None, win: str | None = None, env: str | None = None,
             opts: dict | None = None) -> str:  # fmt: skip
        return self._figure(visdom_figures.stem(X, Y, opts), win, env, opts)

    def pie(self, X: Any, win: str | None = None, env: str | None = None, opts: dict | None = None) -> str:
        return self._figure(visdom_figures.pie(X, opts), win, env, opts)

    def boxplot(self, X: Any, win: str | None = None, env: str | None = None, opts: dict | None = None) -> str:
        return self._figure(visdom_figures.boxplot(X, opts), win, env, opts)

    def quiver(self, X: Any, Y: Any, gridX: Any = None, gridY: Any = None, win: str | None = None,
               env: str | None = None, opts: dict | None = None) -> str:  # fmt: skip
        return self._figure(visdom_figures.quiver(X, Y, gridX, gridY, opts), win, env, opts)

    def mesh(self, X: Any, Y: Any = None, win: str | None = None, env: str | None = None,
             opts: dict | None = None) -> str:  # fmt: skip
        return self._figure(visdom_figures.mesh(X, Y, opts), win, env, opts)

    def surf(self, X: Any, win: str | None = None, env: str | None = None, opts: dict | None = None) -> str:
        return self._figure(visdom_figures.surface(X, "surface", opts), win, env, opts)

    def contour(self, X: Any, win: str | None = None, env: str | None = None, opts: dict | None = None) -> str:
        return self._figure(visdom_figures.surface(X, "contour", opts), win, env, opts)

    def sunburst(self, labels: Any, parents: Any, values: Any = None, win: str | None = None, env: str | None = None,
                 opts: dict | None = None) -> str:  # fmt: skip
        return self._figure(visdom_figures.sunburst(labels, parents, values, opts), win, env, opts)

    def dual_axis_lines(self, X: Any = None, Y1: Any = None, Y2: Any = None, opts: dict | None = None,
                        win: str | None = None, env: str | None = None) -> str:  # fmt: skip
        return self._figure(visdom_figures.dual_axis_lines(X, Y1, Y2, opts), win, env, opts)

    def embeddings(self, features: Any, labels: Any, data_getter: Any = None, data_type: Any = None,
                   win: str | None = None, env: str | None = None, opts: dict | None = None) -> str:  # fmt: skip
        """A native embedding window (panel.embedding: PCA at once, t-SNE and UMAP on request in the page,
        hover, search, neighbours) with the labels as given. Previews from `data_getter(i)` become thumbnails
        when they are images or HTML inline images (visdom_compat.embedding_images); `data_type` is accepted.
        As in Visdom, a call draws the window anew."""
        f = _array(features)
        if f.ndim != 2 or f.shape[0] == 0:
            raise ValueError(f"visdom embeddings: features must be N x D with N > 0, got shape {f.shape}")
        lab = visdom_compat.embedding_labels(labels, f.shape[0])
        images = visdom_compat.embedding_images(data_getter, f.shape[0])
        o = translate_opts({k: v for k, v in (opts or {}).items() if k in ("title", "width", "height")}, "embedding")
        if win is not None:
            self.panel.close(win, env=env)
        return self.panel.embedding(f, labels=lab, images=images, win=self._win(win), env=env, opts=o or None)

    def plotlyplot(self, figure: Any, win: str | None = None, env: str | None = None) -> str:
        """A plotly Figure (or its dict) as it is; its layout's title is also the window's, as in Visdom."""
        title = visdom_figures.plotly_title(figure if isinstance(figure, dict) else figure.to_plotly_json())
        return self.panel.plotly(figure, win=self._win(win), env=env, opts={"title": title[:1000]} if title else None)

    def matplot(self, plot: Any, opts: dict | None = None, env: str | None = None, win: str | None = None) -> str:
        """A matplotlib figure (or pyplot itself: its current figure), rendered to an image."""
        win = self._win(win)
        fig = plot.gcf() if hasattr(plot, "gcf") else plot
        self.panel.image(fig, win=win, env=env, opts=translate_opts(opts, "image") or None)
        return win

    # ------------------------------------------------------------ windows and envs

    def update_window_opts(self, win: str, opts: dict, env: str | None = None) -> str:
        o = translate_opts(opts, "")
        if "legend" in o:  # as Visdom's server: the new legend renames the traces by position
            o["relabel"] = True
        return self.panel.set_opts(win, o, env=env)

    def close(self, win: str | None = None, env: str | None = None) -> str:
        """Close one window, or every window of the env when win is None."""
        name_of = self.env if env is None else env
        for key in [k for k in self._known if k[0] == name_of and win in (None, k[1])]:
            del self._known[key]  # a window made again under this name starts with new traces
        self._texts -= {k for k in self._texts if k[0] == name_of and win in (None, k[1])}
        if win is not None:
            self.panel.close(win, env=env)
            return win
        for name in self.panel.windows(env):
            self.panel.close(name, env=env)
        return ""

    def graph(self, edges: Any, edgeLabels: Any = None, nodeLabels: Any = None, opts: dict | None = None,
              env: str | None = None, win: str | None = None) -> str:  # fmt: skip
        """A network of nodes 0..n-1 (livepanel/visdom_graph.py): drawn as a plotly window."""
        from livepanel import visdom_graph

        fig = visdom_graph.figure(edges, edgeLabels, nodeLabels, opts)
        msg = {**fig, "win": win, "eid": env, "opts": {"title": (opts or {}).get("title")}}
        return visdom_compat.send(self, msg, "events")

    def get_window_data(self, win: str | None = None, env: str | None = None) -> str:
        """A window as JSON in Visdom's shape (win None: a JSON map of all the env's windows)."""
        return visdom_compat.get_window_data(self.panel, win, env)

    def set_window_data(self, data: Any, win: str | None = None, env: str | None = None) -> str:
        """Write back (edited) what get_window_data returned: text and plot windows."""
        return visdom_compat.set_window_data(self.panel, data, win, env)

    def fork_env(self, prev_eid: str, eid: str) -> str:
        """Copy env `prev_eid` into a new env `eid` (on the server, at once); raises if `eid` exists."""
        return visdom_compat.fork_env(self.panel, prev_eid, eid)

    def delete_env(self, env: str) -> bool:
        self.panel.delete_env(env)
        return True

    def get_env_list(self) -> list[str]:
        return self.panel.envs()

    def win_exists(self, win: str, env: str | None = None) -> bool:
        """Whether the window exists (after the calls made so far are delivered)."""
        return win in self.panel.windows(env)

    def check_connection(self, timeout_seconds: float = 0) -> bool:
        """Whether the server answers, trying for up to `timeout_seconds`."""
        deadline = time.monotonic() + float(timeout_seconds)
        for _ in range(10_000):
            transport = Transport(self.panel.url, self.panel._token, timeout=2.0)
            try:
                if transport.request("GET", "/health")[0] == 200:
                    return True
            except OSError:
                pass
            finally:
                transport.close()
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return False

    def save(self, envs: list[str]) -> str:
        """Envs are always saved by the livepanel server; kept for compatibility."""
        self.panel.flush(self.panel.timeout)
        return ""

    def flush(self, timeout: float = 10.0) -> bool:
        return self.panel.flush(timeout)

    def _send(self, msg: dict, endpoint: str = "events", quiet: bool = False, from_log: bool = False,
              create: bool = True) -> str:  # fmt: skip
        """Visdom's raw message: a Plotly figure {data, layout, win, eid} becomes a plotly window."""
        return visdom_compat.send(self, msg, endpoint)

    # ------------------------------------------------------------ events (livepanel/visdom_events.py)

    @property
    def event_handlers(self) -> dict[str, list]:
        """Handlers by window, as Visdom keeps them."""
        return self._events.event_handlers

    def register_event_handler(self, handler: Any, target: str) -> None:
        """Call handler(event) for each click, key press and property edit in window `target`, with Visdom's
        event dicts (livepanel/visdom_events.py), on a thread of the client."""
        self._events.register(handler, target)

    def clear_event_handlers(self, target: str) -> None:
        self._events.clear(target)

    def properties(self, data: list, win: str | None = None, env: str | None = None, opts: dict | None = None) -> str:
        """Visdom's properties pane: data is a list of {type, name, value} (select: values; value an index)."""
        return pane_properties(self.panel, data, self._win(win), env)

    def __getattr__(self, name: str) -> Any:
        if name in UNSUPPORTED:
            raise Unsupported(
                f"livepanel.visdom does not support visdom's {name}(); see docs/client.md", name=name, obj=self
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}", name=name, obj=self)
