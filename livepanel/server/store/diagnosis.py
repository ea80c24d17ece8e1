"""The server side of diagnosis: line appends go to the engine, what it finds becomes alert operations.

An alert is an env change like any other (it gets an env seq, is stored, and reaches viewers in
order), so it survives restarts and resumes. The engine (livepanel.diagnosis) is told at start
which alerts are stored, so an ongoing problem is not raised again.
"""

from __future__ import annotations

import time
from typing import Any

from livepanel.diagnosis import Alert, Diagnoser
from livepanel.server.store.model import State


class Diagnosis:
    def __init__(self, state: State, enabled: bool = True):
        self.engine = Diagnoser() if enabled else None
        stored = [a for env in state.envs.values() for a in env.alerts]
        self.next_id = 1 + max((int(a.get("id", 0)) for a in stored), default=0)
        if self.engine is not None and stored:
            self.engine.known([Alert.from_dict(a) for a in stored])

    def follow(self, op: dict[str, Any], state: State) -> list[dict[str, Any]] | tuple[()]:
        """The alert operations that an applied line, close or delete_env operation raises (usually none)."""
        engine = self.engine
        if engine is None:
            return ()
        kind, env = op["op"], op["env"]
        if kind == "line":
            win, name = op["win"], op["name"]
            if op["update"] != "append":
                engine.forget(env, win, name)
                if op["update"] == "remove":
                    return ()
            e = state.envs.get(env)  # state.window(env, win), inlined: this runs for every line append
            w = e.windows.get(win) if e else None
            found = engine.observe(env, win, name, op["x"], op["y"], w.opts if w else None)
            if not found:
                return ()
        elif kind == "close":
            engine.forget(env, op["win"])
            return ()
        elif kind == "delete_env":
            engine.forget(env)
            return ()
        else:
            return ()
        ops = []
        for alert in found:
            body = alert.to_dict() | {"id": self.next_id, "t": time.time()}
            self.next_id += 1
            ops.append({"op": "alert", "env": alert.env, "alert": body})
        return ops
