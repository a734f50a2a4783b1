"""Jupyter magics for Google's Gemini Interactions API.

    %load_ext gemini_magics

    %%gemini
    Explain Python generators to a first-year student, with one short example.

Loading is cheap: ``google.genai`` is imported on the first call, not here.
"""

from __future__ import annotations

import sys
from typing import Any

from .core.errors import GeminiError

__all__ = ["GeminiError", "batch", "load_ipython_extension", "unload_ipython_extension"]
__version__ = "0.1.0"


def batch(prompt: str, items: Any, **options: Any) -> Any:
    """Send ``prompt`` once per item of ``items`` (``{{item}}`` filled per row) and return the
    :class:`~gemini_magics.core.batch.BatchResult`; works in scripts. See
    :func:`gemini_magics.core.batch.batch` for the options (``concurrency``, ``as_name``, ``model``,
    ``tools``, ``variables``, ``session``, ...). In IPython with the extension loaded, the kernel's
    session is the default: its settings, offline mode, token budget and usage count apply, and the
    progress bar is the one ``--map`` shows (tqdm's widget bar where a notebook front end listens)."""
    from .core.batch import batch as run_batch

    magics = _kernel_magics()
    if magics is not None:
        if options.get("session") is None:
            options["session"] = magics.session
        if options.get("progress", True) is True:
            options["progress"] = magics.progress_bar
    return run_batch(prompt, items, **options)


def _kernel_magics() -> Any:
    """The running IPython's magics when ``%load_ext gemini_magics`` ran there, else None."""
    if "IPython" not in sys.modules:
        return None
    from IPython import get_ipython

    shell = get_ipython()
    return shell.magics_manager.registry.get("GeminiMagics") if shell is not None else None


def load_ipython_extension(ipython: Any) -> None:
    from .ipython.magics import GeminiMagics

    ipython.register_magics(GeminiMagics)


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.get("GeminiMagics")
    if magics is not None:
        magics.close()
