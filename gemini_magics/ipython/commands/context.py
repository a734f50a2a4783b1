"""What a sub-command may use. Commands see this object, never the magics class."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...core.client import Connection
from ...core.session import Session
from ...core.threads import Thread, Threads


@dataclass(frozen=True)
class CommandContext:
    """The shell and the state a sub-command works on.

    ``host`` is the ``GeminiMagics`` instance, which builds this context in one place
    (``GeminiMagics._command_context``); commands reach state through the members below (the
    connection and threads belong to its ``Session``), and the research command hands ``host`` to
    ``ipython/research.py``.
    """

    shell: Any  # the InteractiveShell
    host: Any

    @property
    def user_ns(self) -> dict[str, Any]:
        namespace: dict[str, Any] = self.shell.user_ns
        return namespace

    @property
    def connection(self) -> Connection:
        connection: Connection = self.host.connection
        return connection

    @property
    def session(self) -> Session:
        session: Session = self.host.session
        return session

    @property
    def threads(self) -> Threads:
        threads: Threads = self.host.threads
        return threads

    @property
    def default_model(self) -> str:
        return str(self.host.model)

    @property
    def default_thread(self) -> str:
        """The thread a command without a THREAD word acts on."""
        return str(self.host.thread)

    def thread_named(self, name: str | None) -> Thread:
        """The thread ``name`` (or the default) names; a bad name is a ``UsageError``."""
        thread: Thread = self.host.thread_named(name)
        return thread
