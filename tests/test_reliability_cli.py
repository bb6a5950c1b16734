"""Hostile input on the command line (issue 11): every class gives exit code 2, one line, no traceback, and
nothing half-written (the output folder and the run cache are not even created).

Also a Hypothesis fuzz of every argument type and of ``memlab crossover``'s numbers.
"""

import argparse
import contextlib
import gzip
import io
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memlab.cli import _common, _figure_options, _verify, main


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _npy(descr, shape, payload):
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode() + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + payload


def _files(tmp):
    """The hostile input files (each small on disk)."""
    rng = np.random.default_rng(0)
    means = rng.standard_normal((3, 4))
    x = means[rng.integers(0, 3, 20)] + rng.standard_normal((20, 4))
    np.savez(tmp / "good.npz", x_train=x, means=means)
    whole = (tmp / "good.npz").read_bytes()
    (tmp / "truncated.npz").write_bytes(whole[: len(whole) // 2])
    (tmp / "garbage.npz").write_bytes(rng.bytes(3000))
    np.savez(tmp / "dim0.npz", x_train=np.zeros((20, 0)), means=np.zeros((3, 0)))
    np.savez(tmp / "nan.npz", x_train=np.where(x > 2, np.nan, x), means=means)
    np.savez(tmp / "huge.npz", x_train=x * 1e30, means=means * 1e30)
    with zipfile.ZipFile(tmp / "lie.npz", "w") as archive:
        archive.writestr("x_train.npy", _npy("<f8", (10**6, 10**6), b"\0" * 16))
        archive.writestr("means.npy", _npy("<f8", (3, 4), means.tobytes()))
    (tmp / "overflow.idx").write_bytes(b"\x00\x00\x08\x03" + struct.pack(">III", *(2**32 - 1,) * 3) + bytes(100))
    with gzip.open(tmp / "bomb.idx.gz", "wb", compresslevel=1) as fh:  # declares 16 MiB; the limit is set to 1 MiB
        fh.write(b"\x00\x00\x08\x03" + struct.pack(">III", 1, 4096, 4096))
        fh.write(bytes(4096 * 4096))
    np.savez(tmp / "bright.npz", images=np.full((4, 5, 5), 1e300))
    (tmp / "w_nan.txt").write_text("nan\n" + "1\n" * 25)
    (tmp / "w_big.json").write_text("[" + "9" * 5000 + "]")
    (tmp / "a_file").write_text("x")


def _cases(tmp):
    out = ["--out", str(tmp / "out")]
    cache = ["--cache-dir", str(tmp / "cache")]
    crossover = ["crossover", "--n", "200", "--d", "5", "--k", "3"]
    return {
        "truncated archive": ["figure", "1", "--data", str(tmp / "truncated.npz"), *out],
        "not an archive": ["figure", "1", "--data", str(tmp / "garbage.npz"), *out],
        "declared shape beyond the file": ["figure", "1", "--data", str(tmp / "lie.npz"), *out],
        "data of dimension 0": ["figure", "1", "--data", str(tmp / "dim0.npz"), *out],
        "NaN in data": ["figure", "1", "--data", str(tmp / "nan.npz"), *out],
        "float32 logits beyond range": ["figure", "1", "--data", str(tmp / "huge.npz"), *out],
        "generated data over the limit": ["figure", "1", "--n", "100000000", "--d", "100000", *out],
        "seed beyond the generator": ["figure", "1", "--seed", str(2**32), *out],
        "seed far beyond": ["figure", "4", "--seed", "9" * 30, *out],
        "seeds beyond": ["figure", "7", "--seeds", f"0,{2**40}", *out, *cache],
        "size beyond int32": ["figure", "3", "--ns", str(3 * 10**9), *out, *cache],
        "image sizes whose product overflows": ["figure", "4", "--templates", str(tmp / "overflow.idx"), *out],
        "decompression bomb": ["figure", "4", "--templates", str(tmp / "bomb.idx.gz"), *out],
        "endless device": ["figure", "4", "--templates", "/dev/zero", *out],
        "folder as input": ["figure", "5", "--templates", str(tmp), *out, *cache],
        "pixels whose squares overflow": ["figure", "4", "--templates", str(tmp / "bright.npz"), *out],
        "output cannot be created": ["figure", "1", "--out", "/proc/memlab-out"],
        "output below a file": ["figure", "1", "--out", str(tmp / "a_file" / "sub")],
        "run cache cannot be created": ["figure", "2", *out, "--cache-dir", "/proc/memlab-cache"],
        "n beyond float64": [*crossover[:2], "1" + "0" * 400, *crossover[3:]],
        "d beyond float64": ["crossover", "--n", "5", "--d", "1" + "0" * 400, "--k", "3"],
        "losses overflow (sigma2)": [*crossover, "--sigma2", "1e308"],
        "losses overflow (C)": [*crossover, "--c", "1e308"],
        "grid beyond memory": [*crossover, "--steps", str(10**11)],
        "weights: non-finite first value": [*crossover, "--weights", str(tmp / "w_nan.txt")],
        "weights: integer beyond the digit limit": [*crossover, "--weights", str(tmp / "w_big.json")],
        "verify: JSON report cannot be written": ["verify", "--only", "thm-C.1-eq17", "--json", "/proc/memlab.json"],
        "verify: report is a folder": ["verify", "--only", "thm-C.1-eq17", "--report", str(tmp)],
        "verify: seed beyond": ["verify", "--seed", str(2**32)],
    }


def test_every_hostile_case_is_exit_2_one_line_nothing_written(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MEMLAB_MAX_INPUT_MB", "1")
    monkeypatch.setenv("MEMLAB_JAX_CACHE", "0")
    _files(tmp_path)
    for name, argv in _cases(tmp_path).items():
        code, _, err = _run(argv, capsys)
        assert code == 2, (name, code, err)
        assert len(err.strip().splitlines()) == 1 and "error" in err and "Traceback" not in err, (name, err)
        assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists(), name


# ----------------------------------------------------------------------------------------------------
# Fuzz: argument types and crossover's numbers
# ----------------------------------------------------------------------------------------------------

_TEXT = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**60), max_value=10**60).map(str),
    st.integers(min_value=0, max_value=9).map(lambda n: "9" * (4000 + 100 * n)),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.integers(-(2**40), 2**40).map(str), max_size=5).map(",".join),
    st.sampled_from(
        [
            "",
            " ",
            ",",
            "1,,2",
            "0x10",
            "1_000",
            "1e5",
            "nan",
            "-inf",
            "1e309",
            "=",
            "a=",
            "=1",
            "k=v=w",
            "\x00",
            "١٢",
            "+3",
            " 7 ",
        ]
    ),
)

_TYPES = {
    "positive_int": (_common.positive_int, lambda v: isinstance(v, int) and v > 0),
    "nonnegative_int": (_common.nonnegative_int, lambda v: isinstance(v, int) and v >= 0),
    "seed": (_common.seed, lambda v: isinstance(v, int) and 0 <= v < 2**32),
    "finite_float": (_common.finite_float, lambda v: np.isfinite(v)),
    "positive_float": (_common.positive_float, lambda v: np.isfinite(v) and v > 0),
    "fraction": (_common.fraction, lambda v: 0 <= v <= 1),
    "open_fraction": (_common.open_fraction, lambda v: 0 <= v < 1),
    "int_list": (_common.int_list, lambda v: len(v) >= 1 and all(isinstance(i, int) for i in v)),
    "seed_list": (_common.seed_list, lambda v: len(v) >= 1 and all(0 <= i < 2**32 for i in v)),
    "positive_int_set": (_common.positive_int_set, lambda v: list(v) == sorted(set(v)) and min(v) >= 1),
    "key_value": (_common.key_value, lambda v: isinstance(v, tuple) and v[0]),
    "color_mean": (_figure_options._color_mean, lambda v: len(v) >= 1 and all(np.isfinite(v))),
    "claim_ids": (_verify._claim_ids, lambda v: all(v)),
}


@pytest.mark.parametrize("name", sorted(_TYPES))
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXT)
def test_fuzz_argument_types(name, text):
    """Every argument type returns a valid value or raises ArgumentTypeError (argparse: one line, exit 2)."""
    parse, valid = _TYPES[name]
    try:
        value = parse(text)
    except argparse.ArgumentTypeError:
        return
    assert valid(value), (text, value)


_NUMBER = st.one_of(
    st.integers(1, 10**6),
    st.sampled_from([0, -1, 10**308, 10**309, 10**400, 1e308, 1.7e308, 5e-324]),
    st.integers(-5, 10**400),
    st.floats(allow_nan=True, allow_infinity=True),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=_NUMBER, d=_NUMBER, sigma2=_NUMBER, c=_NUMBER, steps=st.one_of(st.integers(-2, 30), st.integers(10**8, 10**12))
)
def test_fuzz_crossover_numbers(n, d, sigma2, c, steps):
    """Any numbers: exit 0 with one JSON object, or exit 2 with one line; never 1 (an internal error)."""
    argv = [
        "crossover",
        "--n",
        str(n),
        "--d",
        str(d),
        "--k",
        "3",
        "--sigma2",
        repr(sigma2) if isinstance(sigma2, float) else str(sigma2),
        "--c",
        repr(c) if isinstance(c, float) else str(c),
        "--steps",
        str(steps),
        "--json",
    ]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    assert code in (0, 2), (argv, code, err.getvalue())
    if code == 2:
        assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()
    else:
        assert out.getvalue().count("\n") == 1
