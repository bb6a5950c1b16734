"""The reader layer (memlab._readers): npz, IDX (+gzip), JSON, number columns — unit cases and fuzzing.

Every fuzz property is the same: a read either returns what the file holds or raises a one-line
InvalidInputError, never anything else, and never allocates much more than the size limit (tracemalloc
sees NumPy's buffers). Fast budgets here; ``HYPOTHESIS_PROFILE=thorough`` runs 500 examples each.
"""

import gzip
import io
import json
import math
import re
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab import InvalidInputError, _readers
from memlab._io import _npz_bytes

LIMIT = 1 << 20  # 1 MiB: the fuzzed declared sizes go far beyond it
SLACK = 6 << 20  # a read chunk (4 MiB) and Python objects
FUZZ = settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _bounded(read, *args, **kwargs):
    """Run a read; return (value or the InvalidInputError, peak traced bytes). Anything else propagates."""
    tracemalloc.start()
    try:
        try:
            value = read(*args, **kwargs)
        except InvalidInputError as exc:
            value = exc
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    if isinstance(value, InvalidInputError):
        assert "\n" not in str(value)
    return value, peak


def _npy(header: dict, payload: bytes, version=(1, 0)) -> bytes:
    text = repr(header).encode("latin1")
    text += b" " * ((-(len(text) + 11)) % 64) + b"\n"
    length = struct.pack("<H", len(text)) if version[0] == 1 else struct.pack("<I", len(text))
    return b"\x93NUMPY" + bytes(version) + length + text + payload


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buf.getvalue()


def _idx(code: int, dims, payload: bytes) -> bytes:
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


# ----------------------------------------------------------------------------------------------------
# .npz
# ----------------------------------------------------------------------------------------------------


def test_npz_roundtrip_reads_only_what_is_asked(tmp_path):
    path = tmp_path / "a.npz"
    bomb = _npy({"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}, b"")
    path.write_bytes(
        _zip(
            {
                "x.npy": _npy(
                    {"descr": "<i4", "fortran_order": True, "shape": (2, 3)}, np.arange(6, dtype="<i4").tobytes()
                ),
                "bomb.npy": bomb,
            }
        )
    )
    with _readers.open_npz(path) as archive:
        assert set(archive.names) == {"x", "bomb"}
        assert archive.header("bomb").shape == (10**6, 10**6)
        x = archive.read("x")
        with pytest.raises(InvalidInputError, match=r"needs 7\.28 TiB but the member holds 0 bytes"):
            archive.read("bomb")
    np.testing.assert_array_equal(x, np.arange(6).reshape(2, 3, order="F"))
    assert _readers.load_npz(path, ("x",))["x"].flags.f_contiguous


def test_npz_written_by_numpy_and_by_memlab_read_back(tmp_path):
    arrays = {
        "a": np.random.default_rng(0).standard_normal((3, 4)),
        "b": np.arange(5, dtype=np.uint8),
        "c": np.array(2.5),
        "d": np.zeros((0, 3)),
    }
    np.savez(tmp_path / "numpy.npz", **arrays)
    np.savez_compressed(tmp_path / "compressed.npz", **arrays)
    (tmp_path / "memlab.npz").write_bytes(_npz_bytes(arrays))
    for name in ("numpy.npz", "compressed.npz", "memlab.npz"):
        loaded = _readers.load_npz(tmp_path / name)
        assert set(loaded) == set(arrays)
        for key, value in arrays.items():
            np.testing.assert_array_equal(loaded[key], value)
            assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape
    assert np.load(tmp_path / "memlab.npz")["a"].shape == (3, 4)  # memlab's NPZ is an ordinary one


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: b"not a zip", "no zip directory"),
        (lambda: _zip({"x.npy": b"\x93NUMPY\x01\x00"}), "truncated .npy header"),
        (
            lambda: _zip({"x.npy": _npy({"descr": "|O", "fortran_order": False, "shape": (1,)}, b"\0" * 8)}),
            "not a plain number type",
        ),
        (
            lambda: _zip({"x.npy": _npy({"descr": "<f8", "fortran_order": False, "shape": (2,)}, b"\0" * 24)}),
            "needs 16 bytes but the member holds 24",
        ),
        (lambda: _zip({"x.npy": _npy({"descr": "<f8", "fortran_order": False, "shape": (-1,)}, b"")}), "malformed"),
        (lambda: _zip({"x.npy": _npy({"descr": "<f8", "shape": (1,)}, b"")}), "malformed"),
        (
            lambda: _zip({"x.npy": _npy({"descr": [("a", "<f8")], "fortran_order": False, "shape": (1,)}, b"")}),
            "descr must be a numeric type",
        ),
        (lambda: _zip({"x.npy": b"\x93NUMPY\x01\x00\xff\xff" + b"(" * 65535}), "at most 65536|malformed"),
        (
            lambda: _zip(
                {"x.npy": _npy({"descr": "<u1", "fortran_order": False, "shape": (2 * LIMIT,)}, b"\0" * (2 * LIMIT))}
            ),
            "more than the limit",
        ),
        (
            lambda: _zip(
                {"x.npy": _npy({"descr": "<u1", "fortran_order": False, "shape": (2 * LIMIT,)}, b"\0" * (2 * LIMIT))},
                zipfile.ZIP_DEFLATED,
            ),
            "more than the limit",
        ),
        (lambda: _zip({f"a{i}.npy": b"" for i in range(5000)}), "5000 members"),
    ],
)
def test_npz_bad_files_are_one_line_errors(tmp_path, make, message):
    path = tmp_path / "bad.npz"
    path.write_bytes(make())
    error, peak = _bounded(lambda: _readers.load_npz(path, max_bytes=LIMIT))
    assert isinstance(error, InvalidInputError) and peak < LIMIT + SLACK
    assert re.search(message, str(error)), str(error)


def test_npz_member_that_lies_about_its_expanded_size_is_refused_unread(tmp_path):
    """A deflated member whose directory entry claims more than DEFLATE can expand to: refused before reading."""
    data = bytearray(
        _zip(
            {"x.npy": _npy({"descr": "<u1", "fortran_order": False, "shape": (4000,)}, bytes(4000))},
            zipfile.ZIP_DEFLATED,
        )
    )
    # Patch the central directory's uncompressed size (offset 24 in the entry) to 4 GiB - 1.
    entry = data.rfind(b"PK\x01\x02")
    data[entry + 24 : entry + 28] = struct.pack("<I", 2**32 - 1)
    path = tmp_path / "lie.npz"
    path.write_bytes(bytes(data))
    error, peak = _bounded(lambda: _readers.load_npz(path))
    assert isinstance(error, InvalidInputError) and "impossible for its format" in str(error)
    assert peak < SLACK


def test_npz_crc_mismatch_is_detected(tmp_path):
    data = bytearray(_npz_bytes({"x": np.arange(100, dtype=np.float64)}))
    data[data.find(b"\x93NUMPY") + 200] ^= 0xFF  # inside the array's bytes
    (tmp_path / "crc.npz").write_bytes(bytes(data))
    with pytest.raises(InvalidInputError, match="corrupt or truncated archive"):
        _readers.load_npz(tmp_path / "crc.npz")


def test_not_a_regular_file(tmp_path):
    for path, what in ((tmp_path, "not a regular file|is a directory"), (tmp_path / "missing.npz", "not found")):
        with pytest.raises(InvalidInputError, match=what):
            _readers.load_npz(path)
    with pytest.raises(InvalidInputError, match="not a regular file"):
        _readers.read_idx("/dev/zero")


@FUZZ
@given(data=st.data())
def test_fuzz_npz_truncation_and_byte_flips(tmp_path, data):
    arrays = {"x": np.arange(data.draw(st.integers(0, 300)), dtype=data.draw(st.sampled_from(["<f8", "<u1", ">i2"])))}
    blob = bytearray(_npz_bytes(arrays))
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob)))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path / "fuzz.npz"
    path.write_bytes(bytes(blob))
    value, peak = _bounded(lambda: _readers.load_npz(path, max_bytes=LIMIT))
    assert peak < LIMIT + SLACK
    if not isinstance(value, InvalidInputError):
        assert set(value) <= {"x"}  # a byte flip may rename the member; what reads back is plain numbers
        for array in value.values():
            assert array.dtype.kind in "biuf"


@FUZZ
@given(
    shape=st.lists(st.integers(0, 2**40), min_size=0, max_size=4).map(tuple),
    descr=st.sampled_from(["<f8", "<f4", "|u1", ">i4", "|b1", "<c16", "<U3", "|O", "<M8[s]", "bogus"]),
    real=st.integers(0, 3000),
    fortran=st.booleans(),
    version=st.sampled_from([(1, 0), (2, 0), (3, 0)]),
    compression=st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
)
def test_fuzz_npz_header_fields_against_the_real_size(tmp_path, shape, descr, real, fortran, version, compression):
    path = tmp_path / "h.npz"
    path.write_bytes(
        _zip(
            {"x.npy": _npy({"descr": descr, "fortran_order": fortran, "shape": shape}, bytes(real), version)},
            compression,
        )
    )
    value, peak = _bounded(lambda: _readers.load_npz(path, max_bytes=LIMIT))
    assert peak < LIMIT + SLACK
    try:
        dtype = np.dtype(descr)
        declared = math.prod(shape) * dtype.itemsize
        readable = dtype.kind in "biuf" and declared == real and declared <= LIMIT
    except TypeError:
        readable = False
    if readable:
        assert value["x"].shape == shape and value["x"].dtype == np.dtype(descr)
    else:
        assert isinstance(value, InvalidInputError)


# ----------------------------------------------------------------------------------------------------
# IDX (+ gzip)
# ----------------------------------------------------------------------------------------------------


def test_idx_plain_and_gzip_roundtrip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    raw = _idx(0x08, images.shape, images.tobytes())
    (tmp_path / "a.idx").write_bytes(raw)
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(raw))
    (tmp_path / "two.idx.gz").write_bytes(gzip.compress(raw[:10]) + gzip.compress(raw[10:]))  # two gzip members
    for name in ("a.idx", "a.idx.gz", "two.idx.gz"):
        np.testing.assert_array_equal(_readers.read_idx(tmp_path / name), images)
    floats = np.linspace(-1, 1, 6).astype(">f8").reshape(2, 3)
    (tmp_path / "f.idx").write_bytes(_idx(0x0E, floats.shape, floats.tobytes()))
    np.testing.assert_array_equal(_readers.read_idx(tmp_path / "f.idx"), floats)


def test_gzip_bomb_is_refused_before_decompressing(tmp_path):
    """A 64 KiB gzip file whose IDX header declares 64 MiB (zeros), above a 1 MiB limit: refused at the header,
    memory ~ 0. (benchmarks/hostile_inputs.py does the same with 900 MB under the default limit.)"""
    path = tmp_path / "bomb.idx.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(_idx(0x08, (1, 8192, 8192), b""))
        zeros = bytes(1 << 20)
        for _ in range(64):
            fh.write(zeros)
    error, peak = _bounded(lambda: _readers.read_idx(path, max_bytes=LIMIT))
    assert isinstance(error, InvalidInputError) and "more than the limit" in str(error)
    assert peak < SLACK


def test_gzip_stream_longer_than_its_header_is_refused_within_the_declared_size(tmp_path):
    path = tmp_path / "long.idx.gz"
    path.write_bytes(gzip.compress(_idx(0x08, (10,), bytes(10)) + bytes(16 << 20), compresslevel=1))
    error, peak = _bounded(lambda: _readers.read_idx(path))
    assert isinstance(error, InvalidInputError) and "more data than the IDX header" in str(error)
    assert peak < SLACK  # never decompressed past the declared 10 bytes (+ one chunk)


def test_idx_declared_size_overflow_and_lies(tmp_path):
    cases = {
        "overflow": (_idx(0x08, (2**32 - 1,) * 3, bytes(100)), "more than the limit"),
        "many_dims": (_idx(0x0E, (2**32 - 1,) * 255, b""), "more than the limit"),
        "short": (_idx(0x08, (10, 10), bytes(99)), "the file has 99 data bytes"),
        "long": (_idx(0x08, (10, 10), bytes(101)), "the file has 101 data bytes"),
        "magic": (b"\x01\x00\x08\x01" + bytes(8), "bad magic"),
        "code": (b"\x00\x00\x07\x01" + bytes(8), "unknown IDX data type"),
        "ndim0": (b"\x00\x00\x08\x00", "0 dimensions"),
        "header": (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
        "ratio": (gzip.compress(_idx(0x08, (LIMIT // 2,), b"")), "more than a gzip file"),
    }
    for name, (blob, message) in cases.items():
        path = tmp_path / (name + (".gz" if blob[:2] == b"\x1f\x8b" else ""))
        path.write_bytes(blob)
        error, peak = _bounded(_readers.read_idx, path, max_bytes=LIMIT)
        assert isinstance(error, InvalidInputError) and message in str(error), (name, error)
        assert peak < SLACK, name


@FUZZ
@given(
    code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF]),
    dims=st.lists(st.one_of(st.integers(0, 40), st.integers(0, 2**32 - 1)), min_size=0, max_size=5),
    extra=st.integers(-50, 50),
    compressed=st.booleans(),
    cut=st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_fuzz_idx_header_fields_truncation_and_compression(tmp_path, code, dims, extra, compressed, cut):
    itemsize = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}.get(code, 1)
    declared = math.prod(dims) * itemsize if dims else 0
    real = max(0, min(declared, 20000) + extra)
    blob = _idx(code, dims, bytes(real))
    if compressed:
        blob = gzip.compress(blob)
    whole = cut is None or cut >= len(blob)
    blob = blob if whole else blob[:cut]
    path = tmp_path / "f.idx"
    path.write_bytes(blob)
    value, peak = _bounded(lambda: _readers.read_idx(path, max_bytes=LIMIT))
    assert peak < LIMIT + SLACK
    consistent = (
        code in (0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E) and dims and declared == real and declared <= LIMIT and whole
    )
    if consistent:
        assert value.shape == tuple(dims)
    else:
        assert isinstance(value, InvalidInputError)


# ----------------------------------------------------------------------------------------------------
# Text: JSON and a column of numbers
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["[NaN]", "[Infinity]", "[1e999]", "[" + "1" * 5000 + "]", "[" * 100000, '{"a": -Infinity}']
)
def test_json_non_finite_huge_or_deep_is_one_line(tmp_path, text):
    (tmp_path / "r.json").write_text(text)
    with pytest.raises(InvalidInputError):
        _readers.read_json(tmp_path / "r.json")


def test_text_files_are_size_limited(tmp_path):
    (tmp_path / "w.txt").write_text("1\n" * 100)
    with pytest.raises(InvalidInputError, match="more than"):
        _readers.read_text(tmp_path / "w.txt", max_bytes=100)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("weight\n1\n2\n", ["1", "2"]),
        ("\ufeff1\n2\n3\n", ["1", "2", "3"]),  # a byte-order mark is not a header
        ("\ufeffw\n1\n", ["1"]),
        ("# comment\n\n t \n0.5\n", ["0.5"]),
        ("1,\n2,\n", ["1", "2"]),
    ],
)
def test_number_column_good(tmp_path, text, expected):
    path = tmp_path / "w.csv"
    path.write_text(text, encoding="utf-8")
    assert _readers.read_number_column(path) == expected


@pytest.mark.parametrize(
    "text",
    [
        "nan\n1\n2\n",
        "inf\n1\n",
        "1e999\n1\n",
        "-Infinity\n1\n",
        "w\nx\n",
        "1,2\n",
        "",
        "  \n# only\n",
        "[1, NaN]",
        "[1, [2]]",
        "[" + "9" * 5000 + "]",
        '{"a": 1}',
    ],
)
def test_number_column_bad(tmp_path, text):
    """A non-finite first value is data (rejected), never a header; every other problem is one line too."""
    path = tmp_path / "w.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInputError) as info:
        _readers.read_number_column(path)
    assert "\n" not in str(info.value)


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.text(max_size=8),
            st.sampled_from(["nan", "inf", "1e999", "#", ",", "\ufeff", "-0", "1_0"]),
        ),
        max_size=8,
    ),
    st.booleans(),
)
def test_fuzz_number_column(tmp_path, cells, as_json):
    path = tmp_path / ("w.json" if as_json else "w.txt")
    text = json.dumps(cells) if as_json else "\n".join(cells)
    path.write_bytes(text.encode("utf-8", errors="replace"))
    try:
        values = _readers.read_number_column(path)
    except InvalidInputError as exc:
        assert "\n" not in str(exc)
        return
    assert values and all(np.isfinite(float(v)) for v in values)
