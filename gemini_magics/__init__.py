"""Jupyter magics for Google's Gemini Interactions API.

    %load_ext gemini_magics

    %%gemini
    Explain Python generators to a first-year student, with one short example.

Loading is cheap: ``google.genai`` is imported on the first call, not here.
"""

from __future__ import annotations

from typing import Any

from .core.errors import GeminiError

__all__ = ["GeminiError", "load_ipython_extension", "unload_ipython_extension"]
__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    from .ipython.magics import GeminiMagics

    ipython.register_magics(GeminiMagics)


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.get("GeminiMagics")
    if magics is not None:
        magics.close()
