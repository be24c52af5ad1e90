"""Where lifgen's own files live (templates, model library), and turning a model name or path into a Model."""

from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelError
from ..ir.names import NAME_PATTERN
from ..ir.model import Model

_PACKAGE = Path(__file__).resolve().parent.parent  # lifgen/, above this stage folder


def resource_dir(kind: str) -> Path:
    """The `templates` or `models` folder: inside the installed package, or at the top of a source checkout."""
    for candidate in (_PACKAGE / kind, _PACKAGE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"lifgen's {kind} folder is missing from {_PACKAGE}; reinstall lifgen")


def list_models() -> list[str]:
    """Names of the models shipped in lifgen's model library."""
    return sorted(p.stem for p in resource_dir("models").glob("*.toml"))


# the library's folders of neuron models, named folder/name ("nir/lif": models/nir/lif.toml)
LIBRARY_FOLDERS = ("nir",)


def model_file(name_or_path: "str | Path") -> Path:
    """The model file for a library model name ("lapicque", or "nir/lif" in a folder of
    LIBRARY_FOLDERS) or a path to a .toml file."""
    if not isinstance(name_or_path, (str, Path)):
        raise ModelError(f"expected a Model, a model name or a path, got "
                         f"{type(name_or_path).__name__}")
    text = str(name_or_path)
    folder, _, stem = text.rpartition("/")
    if isinstance(name_or_path, str) and folder in LIBRARY_FOLDERS \
            and NAME_PATTERN.fullmatch(stem):
        library_file = resource_dir("models") / folder / f"{stem}.toml"
        if library_file.exists():
            return library_file
        known = sorted(p.stem for p in (resource_dir("models") / folder).glob("*.toml"))
        raise ModelError(f"no model named {text!r}; the library's {folder}/ models: "
                         f"{', '.join(f'{folder}/{k}' for k in known)}")
    if isinstance(name_or_path, str) and NAME_PATTERN.fullmatch(text):
        library_file = resource_dir("models") / f"{text}.toml"
        if library_file.exists():
            return library_file
        raise ModelError(f"no model named {text!r}; known models: {', '.join(list_models())} "
                         "(or give a path to a .toml file)")
    if Path(text).suffix != ".toml":
        raise ModelError(f"{text!r} is neither a library model name nor a path to a .toml file")
    return Path(text)


@dataclass(frozen=True)
class ModelFileBytes:
    """A model file's bytes as read once, and where: what one compile hashes, parses and
    converts units with, so that a file edited meanwhile cannot mix two versions."""

    path: Path
    data: bytes


def read_once(model: "Model | ModelFileBytes | str | Path") -> "Model | ModelFileBytes":
    """A Model as it is; a library model name or a model file's path as its bytes, read now (a
    NESTML file as the Model it reads as)."""
    from .nestml import from_nestml, is_nestml_path
    from .schema import read_regular_file

    if isinstance(model, (Model, ModelFileBytes)):
        return model
    if is_nestml_path(model):  # read once into its Model
        return from_nestml(model)
    path = model_file(model)
    return ModelFileBytes(path, read_regular_file(path, str(path)))


def load_model(model: "Model | ModelFileBytes | str | Path", preset: str | None = None) -> Model:
    """Return a Model for a Model, a library model name, a path to a model file, or a model
    file's bytes read before.

    `preset` picks one of the model file's named parameter sets (`[presets.NAME]`).
    """
    from .modelfile import read_model_bytes, read_model_file
    from .nestml import from_nestml, is_nestml_path

    if isinstance(model, ModelFileBytes):
        loaded = read_model_bytes(model.data, model.path)
    elif is_nestml_path(model):
        loaded = from_nestml(model)  # type: ignore[arg-type]
    else:
        loaded = model if isinstance(model, Model) else read_model_file(model_file(model))
    return loaded if preset is None else loaded.with_preset(preset)
