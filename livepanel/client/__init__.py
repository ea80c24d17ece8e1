"""The livepanel client: `Panel` queues plots and a background sender delivers them.

Nothing here imports Tornado, and torch is imported only by torch's own tensors.
"""

from __future__ import annotations

from livepanel.client.panel import Panel

__all__ = ["Panel"]
