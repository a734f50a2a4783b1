"""The IPython front end: the magics, their sub-commands, and display renderers for cells and terminals.

Other front ends (the chat panel, a batch runner) reach the kernel's state through
:func:`current_session`, never through the magics class.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ..core.errors import InputError

if TYPE_CHECKING:
    from ..core.session import Session

__all__ = ["current_session", "usage_errors"]


def current_session(shell: Any = None) -> Session:
    """The session of ``shell`` (default: the running IPython), loading the extension if needed."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is None:
        raise UsageError("gemini_magics runs inside IPython or Jupyter: use it from a notebook cell")
    registry = shell.magics_manager.registry
    if "GeminiMagics" not in registry:
        shell.run_line_magic("load_ext", "gemini_magics")
    session: Session = registry["GeminiMagics"].session
    return session


@contextmanager
def usage_errors() -> Iterator[None]:
    """The session's :class:`InputError` becomes IPython's one-line ``UsageError``."""
    try:
        yield
    except InputError as exc:
        raise UsageError(str(exc)) from None
