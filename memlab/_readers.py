"""The reader layer: every file memlab reads from a user or a cache goes through here.

One set of rules for every format (``.npz``, IDX, gzip, JSON, a column of numbers):

- the input must be a regular file (not a folder, a FIFO or ``/dev/zero``);
- declared sizes (an ``.npy`` header's shape, an IDX header's dimensions, a zip member's sizes) are
  multiplied out in Python integers and checked against the real size of the file and against
  :func:`memlab._limits.max_input_bytes` *before* anything is allocated;
- decompression is streamed into a buffer of the declared size and never runs past it (a zip member
  that expands beyond its declared size, or a gzip stream beyond its IDX header, is an error), and a
  declared size above the format's maximum expansion ratio times the compressed size is refused unread;
- only the members that are used are read, and nothing is converted here (callers convert only what
  they use);
- every problem is a one-line :class:`memlab.InvalidInputError` naming the file.

Peak memory of a read: the declared bytes of the members read (at most the limit) plus a 4 MiB chunk.
"""

from __future__ import annotations

import ast
import contextlib
import gzip
import hashlib
import json
import math
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import numpy as np

from memlab._errors import InvalidInputError
from memlab._limits import format_bytes, max_input_bytes

__all__ = [
    "MAX_TEXT_BYTES",
    "NpyHeader",
    "NpzArchive",
    "file_digest",
    "input_errors",
    "load_npz",
    "open_npz",
    "read_idx",
    "read_json",
    "read_number_column",
    "read_text",
]

#: Largest expansion of DEFLATE (zlib's documented bound is about 1032:1); a declared size beyond this
#: ratio times the compressed size cannot be real.
MAX_DEFLATE_RATIO = 1032
#: Text inputs (weights, JSON records) are small; a larger one is refused unread.
MAX_TEXT_BYTES = 64 << 20
_CHUNK = 4 << 20
_MAX_NPY_HEADER = 1 << 16
_MAX_ZIP_MEMBERS = 4096
_MAX_ZIP_DIRECTORY = 1 << 20
_NUMERIC_KINDS = "biuf"


# ----------------------------------------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------------------------------------


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


@contextlib.contextmanager
def _open_regular(path: str | os.PathLike, what: str) -> Iterator[tuple[IO[bytes], int]]:
    """Open ``path`` for reading if it is a regular file; yield (file, size in bytes)."""
    with input_errors(path, what):
        fh = open(path, "rb")  # closed by the with-block below
    with fh:
        with input_errors(path, what):
            info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError(f"{what} is not a regular file: {path}")
        yield fh, info.st_size


def _read_exact_into(stream: IO[bytes], buffer: memoryview, path, what: str) -> None:
    """Fill ``buffer`` from ``stream`` in chunks; a short stream is a truncated file."""
    filled = 0
    total = len(buffer)
    while filled < total:
        chunk = stream.read(min(_CHUNK, total - filled))
        if not chunk:
            raise InvalidInputError(
                f"{path}: truncated {what}: {format_bytes(total)} declared, {format_bytes(filled)} present"
            )
        buffer[filled : filled + len(chunk)] = chunk
        filled += len(chunk)


def read_text(path: str | os.PathLike, what: str = "text file", *, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """A small UTF-8 text file (a leading byte-order mark is dropped); larger than ``max_bytes`` is refused."""
    with _open_regular(path, what) as (fh, size):
        if size > max_bytes:
            raise InvalidInputError(
                f"{what} {path} has {format_bytes(size)}, more than the {format_bytes(max_bytes)} a {what} may have"
            )
        with input_errors(path, what):
            raw = fh.read(max_bytes + 1)
    if len(raw) > max_bytes:  # the file grew while being read
        raise InvalidInputError(f"{what} {path} is larger than {format_bytes(max_bytes)}")
    with input_errors(path, what):
        return raw.decode("utf-8-sig")


def file_digest(path: str | os.PathLike, what: str = "file") -> str:
    """SHA-256 (hex) of a regular file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with _open_regular(path, what) as (fh, _):
        with input_errors(path, what):
            for block in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(block)
    return digest.hexdigest()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """Read a JSON file; missing, oversized, malformed or holding NaN/Infinity is an :class:`InvalidInputError`.

    (memlab never writes NaN or Infinity into JSON: :func:`memlab._io.to_jsonable` writes them as null.)
    """
    text = read_text(path, what)
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"malformed JSON in {path}: {exc.msg} (line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:  # NaN/Infinity, an integer beyond Python's digit limit, nesting
        raise InvalidInputError(f"unreadable JSON in {path}: {_first_line(exc)}") from None
    _require_finite_json(value, path)
    return value


def _require_finite_json(value: Any, path) -> None:
    """A number like ``1e999`` parses as infinity: refuse it like a literal ``Infinity``."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidInputError(f"unreadable JSON in {path}: a number is out of range ({item})")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


# ----------------------------------------------------------------------------------------------------
# A column of numbers (weights files)
# ----------------------------------------------------------------------------------------------------


def _parses_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_finite_number(text: str) -> bool:
    return _parses_as_float(text) and math.isfinite(float(text))


def read_number_column(path: str | os.PathLike, what: str = "weights file") -> list[str]:
    """Numbers (as their text, kept exact downstream) from a JSON list or a one-column CSV/TXT file.

    CSV/TXT: one number per line; blank lines and ``#`` comments are skipped; a leading byte-order mark
    is dropped. The first content line is a header only if it is not a number at all: ``nan``, ``inf``
    or ``1e999`` are numbers (and rejected as not finite), never a header. Every entry must be a finite
    number. Anything else is an :class:`InvalidInputError` with one line of text.
    """
    file = Path(path)
    text = read_text(path, what)
    stripped = text.strip()
    if not stripped:
        raise InvalidInputError(f"{what} is empty: {path}")
    if file.suffix.lower() == ".json" or stripped.startswith("["):
        try:
            data = json.loads(stripped, parse_constant=lambda name: name)  # NaN/Infinity -> text, rejected below
        except json.JSONDecodeError as exc:
            raise InvalidInputError(f"malformed JSON in {what} {path}: {exc.msg} (line {exc.lineno})") from None
        except (ValueError, RecursionError):  # an integer beyond Python's digit limit, deep nesting
            raise InvalidInputError(f"{what} {path} must hold a JSON list of numbers") from None
        if not isinstance(data, list) or any(isinstance(v, (bool, list, dict)) or v is None for v in data):
            raise InvalidInputError(f"{what} {path} must hold a JSON list of numbers")
        values = [v if isinstance(v, str) else repr(v) for v in data]
    else:
        values = []
        header_allowed = True
        for lineno, line in enumerate(text.splitlines(), start=1):
            cell = line.split("#", 1)[0].strip().rstrip(",").strip()
            if not cell:
                continue
            if "," in cell:
                raise InvalidInputError(
                    f"{what} {path} line {lineno}: expected one number per line, got {line.strip()[:80]!r}"
                )
            if header_allowed and not _parses_as_float(cell):
                header_allowed = False
                continue  # a header: the first content line, and not a number of any kind
            header_allowed = False
            values.append(cell)
    if not values:
        raise InvalidInputError(f"{what} {path} holds no numbers")
    for i, v in enumerate(values):
        if not _is_finite_number(v):
            raise InvalidInputError(f"{what} {path}: entry {i} is not a finite number: {v[:80]!r}")
    return values


# ----------------------------------------------------------------------------------------------------
# .npz archives
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NpyHeader:
    """What an ``.npy`` member declares: ``shape`` (Python ints), ``dtype``, ``fortran_order``; ``offset``:
    bytes before the data; ``nbytes``: the data's declared size."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _parse_npy_header(stream: IO[bytes], where: str) -> NpyHeader:
    """Read and check an ``.npy`` header (format versions 1.0, 2.0, 3.0) from ``stream``."""
    magic = stream.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
        raise InvalidInputError(f"{where}: not an .npy array (bad magic)")
    major = magic[6]
    if major == 1:
        raw_len, encoding = stream.read(2), "latin1"
        length = struct.unpack("<H", raw_len)[0] if len(raw_len) == 2 else -1
    elif major in (2, 3):
        raw_len, encoding = stream.read(4), "latin1" if major == 2 else "utf-8"
        length = struct.unpack("<I", raw_len)[0] if len(raw_len) == 4 else -1
    else:
        raise InvalidInputError(f"{where}: unsupported .npy format version {major}.{magic[7]}")
    if length < 0:
        raise InvalidInputError(f"{where}: truncated .npy header")
    if length > _MAX_NPY_HEADER:
        raise InvalidInputError(f"{where}: .npy header of {length} bytes (at most {_MAX_NPY_HEADER})")
    text = stream.read(length)
    if len(text) < length:
        raise InvalidInputError(f"{where}: truncated .npy header")
    try:
        header = ast.literal_eval(text.decode(encoding))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, UnicodeDecodeError):
        raise InvalidInputError(f"{where}: malformed .npy header") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise InvalidInputError(f"{where}: malformed .npy header (expected descr, fortran_order, shape)")
    shape, descr, fortran = header["shape"], header["descr"], header["fortran_order"]
    if (
        not isinstance(shape, tuple)
        or len(shape) > 64
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in shape)
    ):
        raise InvalidInputError(f"{where}: malformed .npy shape {str(shape)[:80]}")
    if not isinstance(fortran, bool) or not isinstance(descr, str):
        raise InvalidInputError(f"{where}: malformed .npy header (descr must be a numeric type)")
    try:
        dtype = np.dtype(descr)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{where}: unknown .npy data type {descr[:40]!r}") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.hasobject or dtype.itemsize == 0 or dtype.shape:
        raise InvalidInputError(f"{where}: data type {dtype} is not a plain number type (bool, int, float)")
    return NpyHeader(tuple(shape), dtype, fortran, 8 + len(raw_len) + length)


def _zip_directory_check(fh: IO[bytes], size: int, where) -> None:
    """Refuse archives whose central directory is huge (parsing it would cost memory) before zipfile reads it."""
    tail_len = min(size, 22 + 65535)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    pos = tail.rfind(b"PK\x05\x06")
    if pos < 0 or len(tail) - pos < 22:
        raise InvalidInputError(f"{where}: not a readable .npz file (no zip directory: truncated or not a zip)")
    _, _, _, _, entries, directory_size, _, _ = struct.unpack("<4sHHHHIIH", tail[pos : pos + 22])
    if entries > _MAX_ZIP_MEMBERS or directory_size > _MAX_ZIP_DIRECTORY:
        raise InvalidInputError(
            f"{where}: .npz with {entries} members / a {format_bytes(directory_size)} "
            f"directory (at most {_MAX_ZIP_MEMBERS} members)"
        )
    fh.seek(0)


class NpzArchive:
    """An open ``.npz`` (from :func:`open_npz`): ``names`` lists its arrays; ``header(name)`` reads one
    member's declared shape and type; ``read(name)`` reads one member (and nothing else).

    Members must be stored or DEFLATE-compressed plain number arrays (no pickles, no object arrays); the
    bytes read over the archive's lifetime are limited to ``max_bytes``.
    """

    def __init__(self, path, zf: zipfile.ZipFile, archive_size: int, max_bytes: int) -> None:
        self.path = path
        self._zip = zf
        self._archive_size = archive_size
        self._budget = max_bytes
        self._members: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            if info.filename.endswith(".npy") and not info.is_dir():
                self._members[info.filename[:-4]] = info

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def _info(self, name: str) -> zipfile.ZipInfo:
        if name not in self._members:
            found = ", ".join(sorted(self._members)) or "none"
            raise InvalidInputError(f"{self.path}: missing array '{name}' (found: {found})")
        info = self._members[name]
        where = f"{self.path}: array '{name}'"
        if info.flag_bits & 0x1:
            raise InvalidInputError(f"{where} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise InvalidInputError(f"{where}: compression method {info.compress_type} (only stored or deflated)")
        if info.compress_size > self._archive_size:
            raise InvalidInputError(
                f"{where}: declares {format_bytes(info.compress_size)} compressed, more than "
                f"the whole file ({format_bytes(self._archive_size)})"
            )
        ratio = 1 if info.compress_type == zipfile.ZIP_STORED else MAX_DEFLATE_RATIO
        if info.file_size > ratio * info.compress_size + 1024:
            raise InvalidInputError(
                f"{where}: declares {format_bytes(info.file_size)} from "
                f"{format_bytes(info.compress_size)} compressed, impossible for its format"
            )
        return info

    @contextlib.contextmanager
    def _member(self, name: str) -> Iterator[tuple[IO[bytes], NpyHeader, zipfile.ZipInfo]]:
        info = self._info(name)
        where = f"{self.path}: array '{name}'"
        with _archive_errors(where):
            with self._zip.open(info) as stream:
                header = _parse_npy_header(stream, where)
                yield stream, header, info

    def header(self, name: str) -> NpyHeader:
        """The declared shape and type of one member (reads its header only)."""
        with self._member(name) as (_, header, _info):
            return header

    def read(self, name: str) -> np.ndarray:
        """One member as an array of its stored type, read in chunks into a buffer of its declared size."""
        where = f"{self.path}: array '{name}'"
        with self._member(name) as (stream, header, info):
            nbytes = header.nbytes
            if info.file_size != header.offset + nbytes:
                raise InvalidInputError(
                    f"{where}: shape {header.shape} of {header.dtype} needs "
                    f"{format_bytes(nbytes)} but the member holds "
                    f"{format_bytes(max(info.file_size - header.offset, 0))}"
                )
            if nbytes > self._budget:
                raise InvalidInputError(
                    f"{where}: {format_bytes(nbytes)} (shape {header.shape}) is more than the "
                    f"limit of {format_bytes(self._budget)} left for this file (set "
                    f"MEMLAB_MAX_INPUT_MB to raise it)"
                )
            self._budget -= nbytes
            data = np.empty(math.prod(header.shape), dtype=header.dtype)
            _read_exact_into(stream, data.view(np.uint8).reshape(-1).data, self.path, f"array '{name}'")
            if stream.read(1):  # also makes zipfile check the member's CRC
                raise InvalidInputError(f"{where}: more data than its shape declares")
        return data.reshape(header.shape, order="F" if header.fortran_order else "C")


@contextlib.contextmanager
def _archive_errors(where: str) -> Iterator[None]:
    try:
        yield
    except InvalidInputError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, NotImplementedError) as exc:
        raise InvalidInputError(f"{where}: corrupt or truncated archive ({_first_line(exc)})") from None
    except RuntimeError as exc:  # zipfile: encrypted member, or a closed archive
        raise InvalidInputError(f"{where}: unreadable archive ({_first_line(exc)})") from None
    except (OSError, ValueError, struct.error) as exc:
        raise InvalidInputError(f"{where}: corrupt or unreadable archive ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:120]}" if text else type(exc).__name__


@contextlib.contextmanager
def open_npz(path: str | os.PathLike, what: str = ".npz file", *, max_bytes: int | None = None) -> Iterator[NpzArchive]:
    """Open an ``.npz`` for reading single members (see :class:`NpzArchive`); errors are one line."""
    limit = max_input_bytes() if max_bytes is None else max_bytes
    with _open_regular(path, what) as (fh, size):
        with _archive_errors(f"{path}"):
            _zip_directory_check(fh, size, path)
            zf = zipfile.ZipFile(fh)
        with zf:
            yield NpzArchive(path, zf, size, limit)


def load_npz(
    path: str | os.PathLike, names: tuple[str, ...] | None = None, *, max_bytes: int | None = None
) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (or only ``names``) through :func:`open_npz`: plain numbers, size-checked."""
    with open_npz(path, max_bytes=max_bytes) as archive:
        return {name: archive.read(name) for name in (archive.names if names is None else names)}


# ----------------------------------------------------------------------------------------------------
# IDX (MNIST / FashionMNIST), optionally gzip-compressed
# ----------------------------------------------------------------------------------------------------

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_header_bytes(stream: IO[bytes], count: int, path) -> bytes:
    data = stream.read(count)
    if len(data) < count:
        raise InvalidInputError(f"{path}: truncated IDX header")
    return data


def read_idx(path: str | os.PathLike, what: str = "IDX file", *, max_bytes: int | None = None) -> np.ndarray:
    """Parse an IDX file (the MNIST / FashionMNIST format), optionally gzip-compressed.

    Format: 2 zero bytes, a dtype code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
    0x0E float64), the number of dimensions, then each dimension as a big-endian uint32, then the data,
    big-endian, row-major. The header's size (a product of up to 255 uint32s, in Python integers) is
    checked against the limit and against the file (its exact size, or for gzip the most a DEFLATE
    stream of this size can expand to) before allocating; the gzip stream is decompressed into a
    buffer of exactly that size, and data beyond it is an error. Returns the array in its stored type.
    """
    limit = max_input_bytes() if max_bytes is None else max_bytes
    with _open_regular(path, what) as (fh, size):
        with input_errors(path, what):
            compressed = fh.read(2) == b"\x1f\x8b"
            fh.seek(0)
        try:
            if compressed:
                with gzip.GzipFile(fileobj=fh, mode="rb") as unzipped:
                    return _read_idx_stream(cast(IO[bytes], unzipped), path, size, compressed, limit)
            return _read_idx_stream(fh, path, size, compressed, limit)
        except InvalidInputError:
            raise
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise InvalidInputError(f"{path}: corrupt or truncated gzip data ({_first_line(exc)})") from None


def _read_idx_stream(stream: IO[bytes], path, file_size: int, compressed: bool, limit: int) -> np.ndarray:
    head = _read_header_bytes(stream, 4, path)
    if head[0] != 0 or head[1] != 0:
        raise InvalidInputError(f"{path}: not an IDX file (bad magic number)")
    code, ndim = head[2], head[3]
    if code not in _IDX_DTYPES:
        raise InvalidInputError(f"{path}: unknown IDX data type code 0x{code:02x}")
    if ndim == 0:
        raise InvalidInputError(f"{path}: IDX file declares 0 dimensions")
    dims = struct.unpack(f">{ndim}I", _read_header_bytes(stream, 4 * ndim, path))
    dtype = np.dtype(_IDX_DTYPES[code])
    header = 4 + 4 * ndim
    nbytes = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    if nbytes > limit:
        raise InvalidInputError(
            f"{path}: IDX header declares {dims} = {format_bytes(nbytes)}, more than the limit "
            f"of {format_bytes(limit)} (set MEMLAB_MAX_INPUT_MB to raise it)"
        )
    if not compressed and file_size - header != nbytes:
        raise InvalidInputError(
            f"{path}: IDX header says {dims} ({nbytes} data bytes) but the file has {file_size - header} data bytes"
        )
    if compressed and header + nbytes > MAX_DEFLATE_RATIO * file_size + 1024:
        raise InvalidInputError(
            f"{path}: IDX header declares {format_bytes(nbytes)}, more than a gzip file of "
            f"{format_bytes(file_size)} can hold"
        )
    data = np.empty(math.prod(dims), dtype=dtype)
    _read_exact_into(stream, data.view(np.uint8).reshape(-1).data, path, "IDX data")
    if stream.read(1):
        raise InvalidInputError(f"{path}: more data than the IDX header's {dims} declares")
    return data.reshape(dims)
