"""Time budgets for SymPy work a user can trigger: a step that takes longer gives up, so that no
command hangs. The work runs on a daemon thread (Python cannot stop a thread; it finishes or ends
with the process), and the caller falls back, saying so in one line."""

from __future__ import annotations

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
        raise OverBudget(f"{getattr(work, '__name__', 'work')} took longer than {seconds:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
