"""The errors lifgen raises: each names what was wrong and where, so no user ever needs a traceback."""

import re
from typing import Iterable

# What must not reach a terminal as written: control characters but tab and newline (a carriage
# return rewrites the line), DEL, C1, and Unicode's invisible format characters (bidi overrides,
# zero widths) and line and paragraph separators.
UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e"
                         "\u2060-\u206f\ufeff\ufff9-\ufffb]")


def printable(text: str) -> str:
    """`text` with what UNPRINTABLE matches as visible escapes (\\x1b, \\u202e)."""
    return UNPRINTABLE.sub(lambda match: repr(match.group())[1:-1], text)


class LifgenError(Exception):
    """Base class of every error lifgen reports to users. Its text is printable: a model's
    text it quotes cannot drive the terminal that shows it."""

    def __str__(self) -> str:
        return printable(super().__str__())


class ModelError(LifgenError, ValueError):
    """A model (file or Python definition) is malformed; the message names the file, field and problem."""

    def __init__(self, problem: str, source: object = None, field: str | None = None) -> None:
        self.problem = problem
        self.source = source
        self.field = field
        where = ", ".join(str(part) for part in (source, field) if part)
        super().__init__(f"{where}: {problem}" if where else problem)


class InputError(LifgenError, ValueError):
    """Arguments given to compile() or Simulator.run() do not fit the model."""


class CompileError(LifgenError, RuntimeError):
    """The C compiler could not be found or failed; the message carries its diagnostics."""


BuildError = CompileError  # its first name, kept so that code catching it still works


class CacheError(CompileError):
    """The kernel cache is unsafe to use (others could write it): a setup problem the user fixes,
    not a failed build."""


class NumericalWarning(RuntimeWarning):
    """A simulation produced NaN or infinite values, or a method is unstable at the chosen dt."""


class ConventionWarning(UserWarning):
    """A NIR graph imported under a tool's convention has a field that tool's import does not
    read (Norse's r and v_reset): lifgen follows the tool, and says so."""


class PerformanceWarning(UserWarning):
    """A run spends its time on something other than simulating (a GPU run copying more to the
    host than it computes)."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean 'V'?)' when `name` looks like a typo of one of `known`, else ''."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=2, cutoff=0.6)
    if not close:  # Vm for V: a declared name with a letter added (I_R is a new quantity)
        close = sorted(k for k in known if k and name.lower().startswith(k.lower())
                       and name[len(k):len(k) + 1] not in ("_", ""))[:2]
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)"
