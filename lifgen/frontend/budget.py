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
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work(*args)
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            outcome["error"] = error
    thread = threading.Thread(target=run, daemon=True, name="lifgen-sympy")
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        stop(thread)
        raise OverBudget(f"{getattr(work, '__name__', 'work')} took longer than {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


class Stopped(BaseException):
    """Raised inside work over its budget (a BaseException: SymPy's `except Exception` lets it by)."""


STOP_SECONDS = 60.0  # how long the stop is repeated (work that catches it, C that holds it)


def stop(thread: threading.Thread) -> None:
    """End `thread`'s work: left running, an abandoned simplify held the GIL for minutes and made
    everything else in the process (a notebook, the test suite) up to 30x slower. The exception
    is raised again every 50 ms from a thread of its own (a bare `except:` may swallow one; work
    in C takes it when it returns to Python), so the caller goes on at once."""
    def repeat() -> None:
        for _ in range(int(STOP_SECONDS / 0.05)):
            if thread.ident is None or not thread.is_alive():
                return
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                       ctypes.py_object(Stopped))
            thread.join(0.05)
    threading.Thread(target=repeat, daemon=True, name="lifgen-sympy-stop").start()
