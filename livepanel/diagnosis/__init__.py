"""Detection of training problems (NaN, divergence, overfitting...) in series as they arrive.

Pure and server-independent (numpy only): the server's diagnosis worker (worker.py, a process of
its own) feeds every line append to `Diagnoser.observe`, and the server stores the `Alert`s it
returns. See docs/diagnosis.md.
"""

from livepanel.diagnosis.alert import KINDS, SUGGESTIONS, Alert
from livepanel.diagnosis.engine import Diagnoser
from livepanel.diagnosis.roles import ROLES, guess_role, resolve_role

__all__ = ["KINDS", "ROLES", "SUGGESTIONS", "Alert", "Diagnoser", "guess_role", "resolve_role"]
