"""Files the CLI writes for the user (plots, saved results): the final name decided and checked
before any work, never an existing file without --force, and written atomically."""

from __future__ import annotations

import os
import shutil
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
    extension), checked before any work: its folder exists and can be written, a plot's
    extension is one matplotlib writes, and nothing (not even a link) is there unless `force`."""
    path = Path(text)
    if path.is_dir() and path.suffix != ".zarr":  # (a folder or a link to one: not FOLDER.npz)
        raise InputError(f"{text} is a folder; give a file name")
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
    if path.is_dir() and not path.is_symlink() and path.suffix != ".zarr":  # (a store is one)
        raise InputError(f"{path} is a folder; give a file name")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise InputError(f"{text}: the folder {path.parent} is not writable")
    if (path.exists() or path.is_symlink()) and not force:
        raise InputError(f"{path} exists; pass --force to overwrite it")
    return path


def write_atomically(path: Path, write: Callable[[IO[bytes]], object], force: bool) -> None:
    """Call `write(file)` on a temporary file beside `path`, then rename it to `path`: a reader
    never sees half a file, a failure (a full disk) leaves what was there, and a file that
    appeared at `path` meanwhile is kept unless `force` (see publish)."""
    def to_file(name: Path) -> None:
        with open(name, "wb") as file:
            write(file)
    publish(path, to_file, force=force)


def publish(path: Path, write: Callable[[Path], object], force: bool,
            folder: bool = False) -> None:
    """Call `write(name)` for a temporary name beside `path` (a file, or a folder where
    `folder`: a Zarr store), then rename it to `path`: a kill or a full disk leaves what was
    there, a symbolic link at `path` is replaced (never written through), and a file that
    appeared at `path` meanwhile is kept unless `force` (the new one then keeps its temporary
    name, which the error gives)."""
    make = tempfile.mkdtemp if folder else tempfile.mkstemp
    try:
        made = make(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    except OSError as error:
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    temporary = Path(made if isinstance(made, str) else made[1])
    if not isinstance(made, str):
        os.close(made[0])
    try:
        write(temporary)
        _readable(temporary)
    except OSError as error:
        _discard(temporary)
        raise InputError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        _discard(temporary)
        raise
    _move(temporary, path, force)  # complete: kept, whatever happens to the name


def _readable(path: Path) -> None:
    """The permissions a new file gets (mkstemp makes it private): 0666 less the umask."""
    mask = os.umask(0o022)
    os.umask(mask)
    path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


def _move(temporary: Path, path: Path, force: bool) -> None:
    """Rename the complete `temporary` to `path` (see publish); on failure it stays, named."""
    in_the_way = path.is_dir() and not path.is_symlink()
    try:
        if in_the_way and not temporary.is_dir():
            raise InputError(f"{path} is a folder, not a file lifgen wrote")
        if force and not in_the_way:
            os.replace(temporary, path)
        elif force:  # a Zarr store in the way: set aside, replaced, then removed
            aside = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old."))
            os.replace(path, aside / path.name)
            os.replace(temporary, path)
            shutil.rmtree(aside)
        elif temporary.is_dir():
            if path.exists() or path.is_symlink():
                raise FileExistsError
            os.rename(temporary, path)
        else:
            os.link(temporary, path)  # fails if anything is there now: never overwrites
            temporary.unlink()
    except FileExistsError:
        raise InputError(f"{path} appeared while lifgen worked and is kept; the new file is "
                         f"{temporary} (rename it, or run again with --force)") from None
    except (OSError, InputError) as error:
        why = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise InputError(f"cannot write {path}: {why}; the new file is {temporary}") from None


def _discard(temporary: Path) -> None:
    if temporary.is_dir() and not temporary.is_symlink():
        shutil.rmtree(temporary, ignore_errors=True)
    else:
        temporary.unlink(missing_ok=True)


def save_figure(figure: Figure, path: Path, force: bool = False, dpi: int = 120) -> None:
    from .plotting import pyplot

    write_atomically(path, lambda file: figure.savefig(file, format=path.suffix[1:].lower(),
                                                        dpi=dpi), force)
    pyplot().close(figure)


def save_text(path: Path, text: str, force: bool = False) -> None:
    write_atomically(path, lambda file: file.write(text.encode()), force)


def save_arrays(path: Path, arrays: Mapping[str, npt.ArrayLike], force: bool = False) -> None:
    # allow_pickle named (its default), so that mypy does not match **arrays with it
    write_atomically(path, lambda file: np.savez(file, allow_pickle=True, **arrays), force)
