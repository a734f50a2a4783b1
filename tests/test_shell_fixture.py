"""The test shells are released: nothing (atexit hooks, history threads) keeps them alive.

Before, every test's shell stayed registered with ``atexit`` (``atexit_operations`` and the
``%%script`` magics' ``kill_bg_processes``) and wrote its history to ~/.ipython from a thread, so a
session of hundreds of shells held them all in memory and spent a long time exiting.
"""

from __future__ import annotations

import gc
import threading
import weakref

from .support import fresh_shell, release_shell


def test_a_released_shell_is_collected_and_leaves_no_history_thread():
    release_shell(fresh_shell())  # IPython's completer module may keep the process's first shell
    shells = []
    for _ in range(3):
        shell = fresh_shell()
        shell.run_cell("x = 1")
        assert shell.history_manager.save_thread is None  # history in memory: no thread, no file
        shells.append(weakref.ref(shell))
        release_shell(shell)
        del shell
    gc.collect()
    assert [ref() for ref in shells] == [None, None, None]
    assert not [t for t in threading.enumerate() if t.name == "IPythonHistorySavingThread"]


def test_an_unreleased_shell_is_kept_alive_by_its_exit_hooks():
    """The check above can fail: without release_shell the shell outlives the test."""
    shell = fresh_shell()
    ref = weakref.ref(shell)
    del shell
    gc.collect()
    try:
        assert ref() is not None
    finally:
        release_shell(ref())
