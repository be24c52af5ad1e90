"""NESTML neuron models read as they are: `from_nestml(text_or_path)` -> a lifgen Model.

lifgen reads the subset of NESTML 9 that NEST's model library (`models/neurons/` of
nest/nestml) uses with its own reader, not NESTML's toolchain: the `nestml` package pulls in
antlr4's runtime, its generated parser, ODE-toolbox and (to be useful) NEST's build toolchain,
while lifgen needs only the blocks' text and its own whitelist parser. The reader
(`blocks.py`: lines and indentation; `expressions.py`: NESTML's expression syntax to lifgen's;
`kernels.py`: convolutions; `update.py`: the update, onReceive and onCondition forms;
`translate.py`: the document) builds the TOML document a model file holds and passes it to
`modelfile.model_from_document`, so every expression goes through lifgen's whitelist parser
and nothing is evaluated or imported. A construct outside the subset is a ModelError quoting
the NESTML line. See the README section "NESTML models" for what is read and how.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ...errors import ModelError
from ...ir.model import Model
from ..modelfile import model_from_document
from ..schema import read_regular_file
from .translate import Reader

SUFFIX = ".nestml"


def from_nestml(text_or_path: "str | os.PathLike[str]") -> Model:
    """A lifgen Model from NESTML text, or from the path of a `.nestml` file. Every ModelError
    names the NESTML line and quotes it, also where lifgen's model-file checks find the fault
    (the error's field in the document is mapped back to the line that wrote it)."""
    text, source = _text(text_or_path)
    try:
        reader = Reader(text, source)
        document = reader.read()
    except ModelError as error:
        raise _without_repeated_line(error) from None
    except OverflowError as error:  # (a default such as exp(exp(exp(1000))))
        raise ModelError(f"a number overflows a double ({error}): check the model's constants",
                         source) from None
    try:
        return model_from_document(document, source)
    except ModelError as error:
        raise reader.located(error) from None


def _without_repeated_line(error: ModelError) -> ModelError:
    """The error without its field repeated at the start of its message ('line 63: line 63:')."""
    if error.field and error.problem.startswith(f"{error.field}: "):
        return ModelError(error.problem[len(error.field) + 2:], error.source, error.field)
    return error


def nestml_document(text: str, source: str = "from_nestml") -> dict[str, Any]:
    """The model-file document (TOML tables as dicts) of a NESTML model's text."""
    return Reader(text, source).read()


def is_nestml_path(value: object) -> bool:
    return isinstance(value, (str, os.PathLike)) and str(value).endswith(SUFFIX) \
        and "\n" not in str(value)


def _text(text_or_path: "str | os.PathLike[str]") -> tuple[str, str]:
    if is_nestml_path(text_or_path):
        path = Path(text_or_path)
        data = read_regular_file(path, str(path))
        try:
            return data.decode("utf-8"), path.name
        except UnicodeDecodeError:
            raise ModelError("the file is not UTF-8 text", path.name) from None
    if not isinstance(text_or_path, str):
        raise ModelError(f"from_nestml takes NESTML text or a path ending in {SUFFIX}, got "
                         f"{type(text_or_path).__name__}", "from_nestml")
    return text_or_path, "from_nestml"
