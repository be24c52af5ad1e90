"""`Model.save(path)`: a model file (TOML, as models/*.toml are written) that loads back to an
equal model. A model remembers the document it was read from (a model file, or the document
`from_brian2` builds); the writer writes that document with the model's current parameter
defaults and initial values (`with_preset` and `dataclasses.replace` change those), then reads
the text back and checks that it gives this model, so a file it writes never means another."""

from __future__ import annotations

import copy
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..ir.model import WRITERS, Model

BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def save_model(model: Model, path: str | os.PathLike[str]) -> None:
    """Write the model file whole or not at all: a temporary file beside it, renamed (a link at
    `path` is replaced, not written through), with the mode a new file gets."""
    text, path = model_text(model), Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        mask = os.umask(0o022)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def model_text(model: Model) -> str:
    """The TOML text of `model`, checked to read back to an equal model."""
    from .modelfile import model_from_document
    from .schema import tomllib

    if model.document is None:
        raise ModelError("lifgen writes a model read from a model file or from Brian2's strings "
                         "(built from SymPy objects, it has no file form yet)", model.source,
                         "save")
    document = copy.deepcopy(model.document)
    for section, quantities, key in (("parameters", model.parameters, "value"),
                                     ("states", model.states, "initial")):
        table = document.setdefault(section, {})
        for q in quantities:
            if q.formula is None and q.value is not None:
                table[q.name] = {key: q.value, **({"unit": q.unit} if q.unit else {}),
                                 **({"description": q.description} if q.description else {})}
    text = "".join(_section(name, table) for name, table in document.items())
    back = model_from_document(tomllib.loads(text), model.source,
                               default_name=model.name)
    if back != model:
        raise ModelError("the model was changed after it was read in a way its file cannot "
                         "say; lifgen does not write it", model.source, "save")
    return text


def _section(name: str, table: Any) -> str:
    if not isinstance(table, dict):
        raise ModelError(f"[{name}] is not a table", None, "save")
    lines = [f"[{_key(name)}]"]
    lines += [f"{_key(key)} = {_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n\n"


def _key(key: str) -> str:
    return key if BARE_KEY.match(key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ModelError(f"{value!r} has no TOML form", None, "save")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise ModelError(f"a {type(value).__name__} has no TOML form", None, "save")


WRITERS["toml"] = save_model
