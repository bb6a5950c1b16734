"""Atomic, plain-file results: JSON, CSV, NPZ and PNG+PDF figures (never pickles).

Every writer writes to a temporary file in the destination folder and renames it into place,
so an interrupted run never leaves a half-written result behind.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memlab._errors import InvalidInputError

__all__ = [
    "input_errors",
    "result_set",
    "ResultSetWriter",
    "check_output_folder",
    "atomic_path",
    "write_bytes",
    "write_text",
    "write_json",
    "read_json",
    "write_csv",
    "write_npz",
    "load_npz",
    "save_figure",
    "to_jsonable",
]


@contextlib.contextmanager
def input_errors(path: str | os.PathLike, what: str = "file") -> Iterator[None]:
    """Turn the OS errors of reading a user's input file into one-line :class:`InvalidInputError` s.

    The one place where "file not found", "is a directory", "permission denied", ... get their text.
    """
    try:
        yield
    except FileNotFoundError:
        raise InvalidInputError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{what} is a directory, expected a file: {path}") from None
    except PermissionError:
        raise InvalidInputError(f"{what} cannot be read (permission denied): {path}") from None
    except UnicodeDecodeError:
        raise InvalidInputError(f"{what} is not UTF-8 text: {path}") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {what} {path}: {exc.strerror or type(exc).__name__}") from None


def check_output_folder(folder: str | os.PathLike, *, keep: bool = False) -> Path:
    """Make sure results can be written into ``folder`` before any work starts.

    Tries it — creates the missing folders and a probe file, then removes the probe — because permission
    bits do not tell (root passes them). Folders it had to create are removed again unless ``keep``, so a
    run that fails later leaves nothing behind. A failure is an :class:`InvalidInputError` naming the folder.
    """
    folder = Path(folder)
    missing = []
    parent = folder
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    if folder.exists() and not folder.is_dir():
        raise InvalidInputError(f"output location {folder} exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".memlab-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise InvalidInputError(f"cannot write into {folder}: {exc.strerror or type(exc).__name__}") from None
    finally:
        if not keep:
            for created in missing:
                with contextlib.suppress(OSError):
                    created.rmdir()
    return folder


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates the file owner-only; give the result the permissions a plain open() would.
        if tmp.exists():
            os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def to_jsonable(obj: Any) -> Any:
    """Convert numpy / jax scalars and arrays, paths and tuples into JSON-ready values.

    Non-finite floats become ``None`` (JSON has no NaN/Inf).
    """
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if hasattr(obj, "__array__") and not isinstance(obj, str):
        return to_jsonable(np.asarray(obj).tolist())
    return obj


def write_json(path: str | os.PathLike, obj: Any, *, indent: int = 2) -> Path:
    return write_text(path, _json_text(obj, indent))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a missing or malformed file is an ``InvalidInputError``."""
    with input_errors(path, "JSON file"):
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"malformed JSON in {path}: {exc}") from None


def write_csv(path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a CSV with the given header; floats are written with full (repr) precision."""
    return write_text(path, _csv_text(header, rows))


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return repr(float(value))
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_npz(path: str | os.PathLike, **arrays: Any) -> Path:
    return write_bytes(path, _npz_bytes(arrays))


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file (``allow_pickle=False``); errors are ``InvalidInputError``."""
    with input_errors(path, ".npz file"):
        with open(path, "rb"):
            pass
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInputError(f"not a readable .npz file: {path} ({type(exc).__name__})") from None


#: No creation date (or other run-specific field) in saved figures: the same numbers give the same bytes.
_FIGURE_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None, "Creator": None}}


def _figure_bytes(fig: Any, ext: str, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format=ext, dpi=dpi, bbox_inches="tight", metadata=_FIGURE_METADATA[ext])
    return buf.getvalue()


def save_figure(fig: Any, stem: str | os.PathLike, *, dpi: int = 150) -> list[Path]:
    """Save a matplotlib figure as ``stem.png`` and ``stem.pdf`` (atomically); return both paths."""
    stem = Path(stem)
    return [write_bytes(stem.with_suffix(f".{ext}"), _figure_bytes(fig, ext, dpi)) for ext in ("png", "pdf")]


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return buf.getvalue()


def _npz_bytes(arrays: Mapping[str, Any]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def _json_text(obj: Any, indent: int = 2) -> str:
    return json.dumps(to_jsonable(obj), indent=indent, sort_keys=False) + "\n"


class ResultSetWriter:
    """Collects the files of one result set in memory; :func:`result_set` writes them as a set.

    ``json``, ``csv``, ``npz``, ``figure`` (PNG + PDF) each add files by name (relative to the folder)
    and return the final paths.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[str, bytes] = {}

    def bytes(self, name: str, data: bytes) -> Path:
        if name in self._files or Path(name).name != name:
            raise ValueError(f"result set: bad or repeated file name {name!r}")
        self._files[name] = data
        return self.folder / name

    def json(self, name: str, obj: Any) -> Path:
        return self.bytes(name, _json_text(obj).encode("utf-8"))

    def csv(self, name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
        return self.bytes(name, _csv_text(header, rows).encode("utf-8"))

    def npz(self, name: str, **arrays: Any) -> Path:
        return self.bytes(name, _npz_bytes(arrays))

    def figure(self, stem: str, fig: Any, *, dpi: int = 150) -> list[Path]:
        return [self.bytes(f"{stem}.{ext}", _figure_bytes(fig, ext, dpi)) for ext in ("png", "pdf")]

    @property
    def names(self) -> list[str]:
        return list(self._files)


@contextlib.contextmanager
def result_set(folder: str | os.PathLike) -> Iterator[ResultSetWriter]:
    """Write a set of result files into ``folder`` so that it changes as a whole or not at all.

    Every file is first written in full into a staging folder inside ``folder`` (so a full disk or any
    other failure happens before an old file is touched, and leaves the old set intact); then the files
    are renamed into place, which needs no space and does not fail on a healthy file system. The JSON
    files go last, so a reader that finds a new JSON finds the rest of its set beside it.
    """
    folder = check_output_folder(folder, keep=True)
    writer = ResultSetWriter(folder)
    yield writer
    staging = Path(tempfile.mkdtemp(prefix=".memlab-staging-", dir=folder))
    try:
        for name, data in writer._files.items():
            (staging / name).write_bytes(data)
            os.chmod(staging / name, 0o666 & ~_current_umask())
        ordered = sorted(writer._files, key=lambda name: name.endswith(".json"))
        for name in ordered:
            os.replace(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
