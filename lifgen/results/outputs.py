"""Files the CLI writes for the user (plots, saved results): the final name decided and checked
before any work, never an existing file without --force, and written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Mapping

import numpy as np
import numpy.typing as npt

from ..errors import InputError

if TYPE_CHECKING:  # matplotlib is an optional extra
    from matplotlib.figure import Figure


def plot_formats() -> set[str]:
    """The file extensions matplotlib can write, e.g. {'png', 'pdf', 'svg'}."""
    from .plotting import pyplot

    pyplot()  # matplotlib, or an InputError saying how to install it
    from matplotlib.backend_bases import FigureCanvasBase

    return set(FigureCanvasBase.get_supported_filetypes())


def final_path(text: str, kind: str, force: bool) -> Path:
    """The name the file will really have (NumPy adds .npz, matplotlib .png when there is no
    extension), checked: its folder exists, a plot's extension is one matplotlib writes, and it
    is not there already unless `force`."""
    path = Path(text)
    if kind == "npz" and path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    if kind == "plot":
        if not path.suffix:
            path = path.with_name(path.name + ".png")
        formats = plot_formats()
        if path.suffix[1:].lower() not in formats:
            raise InputError(f"{text}: cannot write a plot as {path.suffix!r}; use one of "
                             f"{', '.join('.' + f for f in sorted(formats))}")
    if not path.parent.is_dir():
        raise InputError(f"{text}: the folder {path.parent} does not exist")
    if path.exists() and not force:
        raise InputError(f"{path} exists; pass --force to overwrite it")
    return path


def write_atomically(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call `write(file)` on a temporary file beside `path`, then rename it to `path`: a reader
    never sees half a file, and a failure (a full disk) leaves what was there."""
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                                 suffix=path.suffix)
        with os.fdopen(descriptor, "wb") as file:
            write(file)
        os.replace(temporary, path)
    except OSError as error:
        _remove(temporary)
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        _remove(temporary)
        raise


def _remove(temporary: str | None) -> None:
    if temporary is not None:
        Path(temporary).unlink(missing_ok=True)


def save_figure(figure: Figure, path: Path) -> None:
    from .plotting import pyplot

    write_atomically(path, lambda file: figure.savefig(file, format=path.suffix[1:].lower(),
                                                        dpi=120))
    pyplot().close(figure)


def save_arrays(path: Path, arrays: Mapping[str, npt.ArrayLike]) -> None:
    # allow_pickle named (its default), so that mypy does not match **arrays with it
    write_atomically(path, lambda file: np.savez(file, allow_pickle=True, **arrays))
