"""Atomic, plain-file results: JSON, CSV, NPZ and PNG+PDF figures (never pickles).

Every writer writes to a temporary file in the destination folder and renames it into place,
so an interrupted run never leaves a half-written result behind; :func:`result_set` does the same for
a set of files (a figure's PNG, PDF, CSV and JSON) as a whole. Output bytes are deterministic: no
dates in PNG/PDF/NPZ, so the same numbers give the same files. Reading lives in :mod:`memlab._readers`.
"""

from __future__ import annotations

import builtins
import contextlib
import csv
import hashlib
import io
import json
import math
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from memlab._errors import InvalidInputError
from memlab._readers import MAX_TEXT_BYTES, input_errors, load_npz, read_json  # re-exported: readers live there

__all__ = [
    "ResultSetWriter",
    "atomic_path",
    "check_output_file",
    "check_output_folder",
    "input_errors",
    "load_npz",
    "read_json",
    "result_set",
    "save_figure",
    "to_jsonable",
    "write_bytes",
    "write_csv",
    "write_json",
    "write_npz",
    "write_text",
]


def check_output_folder(folder: str | os.PathLike, *, keep: bool = False) -> Path:
    """Make sure results can be written into ``folder`` before any work starts.

    Tries it — creates the missing folders and a probe file, then removes the probe — because permission
    bits do not tell (root passes them). Folders it had to create are removed again unless ``keep``, so a
    run that fails later leaves nothing behind. A failure is an :class:`InvalidInputError` naming the folder.
    """
    folder = Path(folder)
    missing: list[Path] = []
    try:
        parent = folder
        while not os.path.lexists(parent) and parent != parent.parent:
            missing.append(parent)
            parent = parent.parent
        if folder.exists() and not folder.is_dir():
            raise InvalidInputError(f"output location {folder} exists and is not a directory")
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".memlab-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except InvalidInputError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise InvalidInputError(f"cannot write into {folder}: {reason}") from None
    finally:
        if not keep:
            for created in missing:
                with contextlib.suppress(OSError, ValueError):
                    created.rmdir()
    return folder


def check_output_file(path: str | os.PathLike, what: str = "output file") -> Path:
    """Make sure a single result file can be written at ``path`` before any work starts.

    ``path`` must not be a folder, and its folder must take a new file (tried, as
    :func:`check_output_folder` does; folders it had to create are removed again). The file itself is
    later written atomically (a temporary file renamed onto ``path``), so a read-only existing file is
    no obstacle and is not touched now.
    """
    path = Path(path)
    try:
        is_dir = path.is_dir()
    except (OSError, ValueError):
        is_dir = False
    if is_dir:
        raise InvalidInputError(f"{what} {path} is a directory, expected a file name")
    try:
        check_output_folder(path.parent if str(path.parent) else Path("."))
    except InvalidInputError as exc:
        raise InvalidInputError(f"{what} {path}: {exc}") from None
    return path


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


#: No creation date (or other run-specific field) in saved figures: the same numbers give the same bytes.
_FIGURE_METADATA = {"png": {"Software": None}, "pdf": {"CreationDate": None, "Producer": None, "Creator": None}}


def _figure_bytes(fig: Any, dpi: int) -> dict[str, bytes]:
    """The figure as PNG and PDF bytes, ``{"png": ..., "pdf": ...}``.

    The figures use constrained layout (bbox_inches="tight" would render everything a second time). The
    layout is solved once, while the PNG renders, and reused for the PDF (same size in inches); the
    figure's own layout engine is restored afterwards.
    """
    rendered = {}
    engine = fig.get_layout_engine()
    try:
        for ext in ("png", "pdf"):
            buf = io.BytesIO()
            fig.savefig(buf, format=ext, dpi=dpi, metadata=_FIGURE_METADATA[ext])
            rendered[ext] = buf.getvalue()
            fig.set_layout_engine("none")
    finally:
        fig.set_layout_engine(engine)
    return rendered


def save_figure(fig: Any, stem: str | os.PathLike, *, dpi: int = 150) -> list[Path]:
    """Save a matplotlib figure as ``stem.png`` and ``stem.pdf`` (atomically); return both paths."""
    stem = Path(stem)
    return [write_bytes(stem.with_suffix(f".{ext}"), data) for ext, data in _figure_bytes(fig, dpi).items()]


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(v) for v in row])
    return buf.getvalue()


#: Fixed zip timestamp of NPZ members (zip's epoch): np.savez stamps the current time, which makes bytes differ.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _npz_bytes(arrays: Mapping[str, Any]) -> bytes:
    """An uncompressed ``.npz`` (what ``np.savez`` writes, readable by ``np.load``) with no timestamps."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, value in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())
    return buf.getvalue()


def _json_text(obj: Any, indent: int = 2) -> str:
    return json.dumps(to_jsonable(obj), indent=indent, sort_keys=False) + "\n"


class ResultSetWriter:
    """Collects the files of one result set in memory; :func:`result_set` writes them as a set.

    ``json``, ``csv``, ``npz``, ``figure`` (PNG + PDF) each add files by name (relative to the folder)
    and return the final paths. A JSON object is rendered at commit time with a ``"result_set"`` entry
    listing the set's other files (``{"files": {name: {"bytes": n, "sha256": hex}}}``).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[str, bytes | Any] = {}
        self._json: set[str] = set()

    def _add(self, name: str, payload: Any) -> Path:
        if name in self._files or Path(name).name != name or name.startswith("."):
            raise ValueError(f"result set: bad or repeated file name {name!r}")
        self._files[name] = payload
        return self.folder / name

    def bytes(self, name: str, data: bytes) -> Path:
        return self._add(name, bytes(data))

    def json(self, name: str, obj: Any) -> Path:
        path = self._add(name, to_jsonable(obj))
        self._json.add(name)
        return path

    def csv(self, name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
        return self.bytes(name, _csv_text(header, rows).encode("utf-8"))

    def npz(self, name: str, **arrays: Any) -> Path:
        return self.bytes(name, _npz_bytes(arrays))

    def figure(self, stem: str, fig: Any, *, dpi: int = 150) -> list[Path]:
        return [self.bytes(f"{stem}.{ext}", data) for ext, data in _figure_bytes(fig, dpi).items()]

    @property
    def names(self) -> list[str]:
        return list(self._files)

    def rendered(self) -> dict[str, builtins.bytes]:
        """Every file's final bytes; each JSON object gains the manifest of the set's other files."""
        data = {name: payload for name, payload in self._files.items() if name not in self._json}
        manifest = {
            name: {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()} for name, blob in data.items()
        }
        for name in self._json:
            obj = self._files[name]
            if isinstance(obj, dict):
                obj = {**obj, MANIFEST_KEY: {"files": manifest}}
            data[name] = (json.dumps(obj, indent=2) + "\n").encode("utf-8")
        return data


#: The key under which each JSON of a result set lists the set's other files.
MANIFEST_KEY = "result_set"
_STALE_STAGING_SECONDS = 3600


@contextlib.contextmanager
def result_set(folder: str | os.PathLike) -> Iterator[ResultSetWriter]:
    """Write a set of result files into ``folder`` so that a reader sees the old set or the new one, never a mix.

    The set's JSON files are its commit markers. Protocol (``_commit``):

    1. every file is written in full, and flushed to disk, into a staging folder inside ``folder``: a
       full disk or any other failure happens here, before anything in ``folder`` changes (it is reported
       as an :class:`InvalidInputError` saying the previous results are unchanged);
    2. the previous set's JSON files of the same names are removed, then the files that set listed and
       the new one lacks (so no stale file of it is left beside the new set);
    3. the non-JSON files are renamed into place (same file system: atomic, needs no space), then the
       JSON files, then the folder entry is flushed.

    So whenever a JSON of the set exists, every file its ``"result_set"`` manifest lists is beside it
    with the listed size and SHA-256; a run killed during step 2 or 3 leaves no JSON (no complete set)
    rather than a new CSV beside an old JSON. Staging folders left by killed runs are removed after an hour.
    """
    folder = check_output_folder(folder, keep=True)
    writer = ResultSetWriter(folder)
    yield writer
    _commit(folder, writer.rendered(), json_names=sorted(writer._json))


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o666 & ~_current_umask())


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform / file system can fsync a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_stale_staging(folder: Path) -> None:
    now = time.time()
    for entry in folder.glob(".memlab-staging-*"):
        with contextlib.suppress(OSError):
            if entry.is_dir() and now - entry.stat().st_mtime > _STALE_STAGING_SECONDS:
                shutil.rmtree(entry, ignore_errors=True)


def _previous_members(path: Path) -> list[str]:
    """The files a previous result set's JSON lists (empty when it is missing or unreadable)."""
    try:
        with open(path, "rb") as fh:
            obj = json.loads(fh.read(MAX_TEXT_BYTES))
        files = obj[MANIFEST_KEY]["files"]
        return [
            name for name in files if isinstance(name, str) and Path(name).name == name and not name.startswith(".")
        ]
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return []


def _commit(folder: Path, files: Mapping[str, bytes], *, json_names: Sequence[str]) -> None:
    _remove_stale_staging(folder)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".memlab-staging-{os.getpid()}-", dir=folder))
    except OSError as exc:
        raise InvalidInputError(f"cannot write results into {folder}: {exc.strerror or type(exc).__name__}") from None
    try:
        try:
            for name, data in files.items():
                _write_synced(staging / name, data)
        except OSError as exc:
            raise InvalidInputError(
                f"cannot write results into {folder}: {exc.strerror or type(exc).__name__}; "
                f"the previous results there are unchanged"
            ) from None
        try:
            stale = {name for json_name in json_names for name in _previous_members(folder / json_name)} - set(files)
            for name in [*json_names, *sorted(stale)]:
                with contextlib.suppress(FileNotFoundError):
                    (folder / name).unlink()
            for name in [n for n in files if n not in json_names] + list(json_names):
                os.replace(staging / name, folder / name)
            _sync_folder(folder)
        except OSError as exc:
            raise InvalidInputError(
                f"cannot move results into {folder}: {exc.strerror or type(exc).__name__}; "
                f"the set there is incomplete (no JSON), re-run to write it"
            ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
