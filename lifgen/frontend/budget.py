"""Time budgets for SymPy work a user can trigger: a step that takes longer gives up, so that no
command hangs. The work runs on a daemon thread, stopped once over budget by an exception raised
in it (SymPy is pure Python: it stops at its next bytecode), and the caller falls back, saying
so in one line."""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Any, Callable

# seconds; LIFGEN_SYMPY_BUDGET overrides (for slow machines, or to see more closed forms)
SYMPY_SECONDS = float(os.environ.get("LIFGEN_SYMPY_BUDGET", "5"))


class OverBudget(Exception):
    """The work did not finish within its budget."""


def simplified(expr: Any, source: object = None, field: str | None = None) -> Any:
    """sympy.simplify of what a user wrote, within the SymPy budget (a ModelError past it: a
    600-byte NESTML kernel kept it busy for minutes)."""
    import sympy

    from ..errors import ModelError

    try:
        return within(SYMPY_SECONDS, sympy.simplify, expr)
    except OverBudget:
        raise ModelError(f"simplifying {str(expr)[:80]} took longer than {SYMPY_SECONDS:g} s "
                         "(LIFGEN_SYMPY_BUDGET sets the budget)", source, field) from None


def within(seconds: float, work: Callable[..., Any], *args: Any) -> Any:
    """work(*args), or OverBudget after `seconds`. Exceptions of `work` are raised here."""
    worker = Worker(work, args)
    worker.thread.start()
    worker.thread.join(seconds)
    if worker.thread.is_alive():
        worker.stop()
        raise OverBudget(f"{getattr(work, '__name__', 'work')} took longer than {seconds:g} s")
    if "error" in worker.outcome:
        raise worker.outcome["error"]
    return worker.outcome.get("value")


class Stopped(BaseException):
    """Raised inside work over its budget (a BaseException: SymPy's `except Exception` lets it by)."""


STOP_SECONDS = 60.0  # how long the stop is repeated (work that catches it, C that holds it)
# CPython's way to raise an exception in another thread (None elsewhere: the work then runs on)
SET_ASYNC_EXC = getattr(getattr(ctypes, "pythonapi", None), "PyThreadState_SetAsyncExc", None)


class Worker:
    """`work(*args)` on a daemon thread of its own that can be stopped: left running, an
    abandoned simplify held the GIL for minutes and made everything else in the process (a
    notebook, the test suite) up to 30x slower."""

    def __init__(self, work: Callable[..., Any], args: tuple) -> None:
        self.work, self.args = work, args
        self.outcome: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.done = False  # set, under the lock, as the thread's last act
        self.thread = threading.Thread(target=self._run, daemon=True, name="lifgen-sympy")

    def _run(self) -> None:
        """The work, then `done` set under the lock with any stop on its way dropped, so that no
        stop reaches this thread's id once it ends (a new thread may get the same id at once).
        A stop that arrives between statements (after the work) is caught by the loop."""
        started = False
        while True:
            try:
                if not started:
                    started = True
                    try:
                        self.outcome["value"] = self.work(*self.args)
                    except BaseException as error:  # noqa: BLE001 - handed to the caller
                        self.outcome["error"] = error
                with self.lock:
                    self.done = True
                    if SET_ASYNC_EXC is not None:
                        SET_ASYNC_EXC(ctypes.c_ulong(threading.get_ident()), None)
                return
            except Stopped:
                continue

    def stop(self) -> None:
        """Raise Stopped in the work (SymPy is pure Python: it stops at its next bytecode),
        again every 50 ms from a thread of its own (a bare `except:` may swallow one; work in C
        takes it when it returns to Python), so the caller goes on at once. Only while the
        work is not done, checked under the lock the work's end takes: never another thread."""
        def repeat() -> None:
            for _ in range(int(STOP_SECONDS / 0.05)):
                with self.lock:
                    if self.done or not self.thread.is_alive() or SET_ASYNC_EXC is None:
                        return
                    SET_ASYNC_EXC(ctypes.c_ulong(self.thread.ident or 0), ctypes.py_object(Stopped))
                self.thread.join(0.05)
        threading.Thread(target=repeat, daemon=True, name="lifgen-sympy-stop").start()
