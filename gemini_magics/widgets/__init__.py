"""Widgets over the magics' state. Importing this package does not import ipywidgets.

from gemini_magics.widgets import ChatPanel
ChatPanel()          # the same conversation as the %%gemini cells on the default thread
"""

from __future__ import annotations

from typing import Any

__all__ = ["ChatPanel"]


def __getattr__(name: str) -> Any:
    if name == "ChatPanel":
        from .chat import ChatPanel

        return ChatPanel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
