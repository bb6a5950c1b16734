"""Hostile inputs against the ``memlab`` command (issue 11): exit code, message and peak memory of each.

Builds the hostile files in a temporary folder (the largest: a 1 MB gzip that expands to 900 MB, a zip
member that expands to 1 GB, an IDX file of 1000 MiB of zeros that *is* read, within the default limit),
runs each case as a fresh process under an address-space cap (``--cap-gb``, default 6) and reports its
exit code, the first line of stderr and its peak resident memory (``ru_maxrss`` of that child, from
``os.wait4``). A legitimate small run is the baseline (interpreter + NumPy + JAX).

Usage: ``python benchmarks/hostile_inputs.py [--quick] [--cap-gb 6]`` (``--quick`` skips the 1000 MiB read).
Prints a Markdown table for docs/reliability.md and BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

MEMLAB = [sys.executable, "-m", "memlab"]


def _npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode() + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def _zeros_gzip(path: Path, header: bytes, nbytes: int) -> None:
    block = bytes(1 << 24)
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(header)
        for start in range(0, nbytes, len(block)):
            fh.write(block[: min(len(block), nbytes - start)])


def build(folder: Path, quick: bool) -> dict[str, list[str]]:
    """The hostile files, and the command lines that feed them to memlab."""
    rng = np.random.default_rng(0)
    means = rng.standard_normal((3, 5))
    x = means[rng.integers(0, 3, 40)] + rng.standard_normal((40, 5))
    np.savez(folder / "good.npz", x_train=x, means=means)
    whole = (folder / "good.npz").read_bytes()
    (folder / "truncated.npz").write_bytes(whole[: len(whole) // 2])
    np.savez(folder / "dim0.npz", x_train=np.zeros((40, 0)), means=np.zeros((3, 0)))
    np.savez(folder / "huge32.npz", x_train=x * 1e30, means=means * 1e30)
    np.savez(folder / "huge64.npz", x_train=x * 1e200, means=means * 1e200)
    with zipfile.ZipFile(folder / "lie.npz", "w") as archive:  # declares 7.3 TiB, holds 16 bytes
        archive.writestr("x_train.npy", _npy_header("<f8", (10**6, 10**6)) + bytes(16))
        archive.writestr("means.npy", _npy_header("<f8", (3, 5)) + means.tobytes())
    with zipfile.ZipFile(folder / "zipbomb.npz", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("images.npy", "w", force_zip64=True) as member:  # 1 GB of zeros, ~1 MB compressed
            member.write(_npy_header("|u1", (1000, 1000, 1000)))
            block = bytes(10**7)
            for _ in range(100):
                member.write(block)
        archive.writestr("x.npy", _npy_header("<f8", (2,)) + bytes(16))
    (folder / "overflow.idx").write_bytes(b"\x00\x00\x08\x03" + struct.pack(">III", *(2**32 - 1,) * 3) + bytes(64))
    _zeros_gzip(folder / "bomb.idx.gz", b"\x00\x00\x08\x03" + struct.pack(">III", 1, 30000, 30000), 900_000_000)
    _zeros_gzip(folder / "bomb4g.idx.gz", b"\x00\x00\x08\x03" + struct.pack(">III", 1, 65536, 65536), 10 << 20)
    (folder / "weights_nan.txt").write_text("nan\n" + "1\n" * 25)
    (folder / "weights_bom.txt").write_text("\ufeff" + "1\n" * 26, encoding="utf-8")
    out = ["--out", str(folder / "out")]
    crossover = ["crossover", "--n", "200", "--d", "5", "--k", "3"]
    cases = {
        "baseline: figure 1, N=40, d=5, 4 draws (legitimate)": [
            "figure",
            "1",
            "--data",
            str(folder / "good.npz"),
            "--draws",
            "4",
            "--out",
            str(folder / "ok"),
        ],
        "truncated .npz": ["figure", "1", "--data", str(folder / "truncated.npz"), *out],
        ".npz member declaring 7.3 TiB": ["figure", "1", "--data", str(folder / "lie.npz"), *out],
        ".npz member expanding to 1 GB (zip bomb)": ["figure", "4", "--templates", str(folder / "zipbomb.npz"), *out],
        "gzip IDX expanding to 900 MB (1 MB file)": ["figure", "4", "--templates", str(folder / "bomb.idx.gz"), *out],
        "gzip IDX declaring 4 GiB (above the limit)": [
            "figure",
            "4",
            "--templates",
            str(folder / "bomb4g.idx.gz"),
            *out,
        ],
        "IDX dims (2^32-1)^3": ["figure", "4", "--templates", str(folder / "overflow.idx"), *out],
        "/dev/zero as templates": ["figure", "4", "--templates", "/dev/zero", *out],
        "data of dimension 0": ["figure", "1", "--data", str(folder / "dim0.npz"), *out],
        "float32, data spread 1e30": ["figure", "1", "--data", str(folder / "huge32.npz"), *out],
        "float64, data spread 1e200": ["figure", "1", "--data", str(folder / "huge64.npz"), "--dtype", "float64", *out],
        "generated data of 73 TiB": ["figure", "1", "--n", "100000000", "--d", "100000", *out],
        "seed 2^32": ["figure", "1", "--seed", str(2**32), *out],
        "crossover --n 1e400 (as an integer)": ["crossover", "--n", "1" + "0" * 400, "--d", "5", "--k", "3"],
        "crossover --sigma2 1e308": [*crossover, "--sigma2", "1e308"],
        "crossover --steps 1e11": [*crossover, "--steps", str(10**11)],
        "weights: first value nan": [*crossover, "--weights", str(folder / "weights_nan.txt")],
        "weights: byte-order mark (legitimate)": [*crossover, "--weights", str(folder / "weights_bom.txt")],
        "figure output under /proc": ["figure", "1", "--out", "/proc/memlab-out"],
        "run cache under /proc": ["figure", "2", *out, "--cache-dir", "/proc/memlab-cache"],
        "verify --json under /proc": ["verify", "--only", "thm-C.1-eq17", "--json", "/proc/memlab.json"],
    }
    if not quick:
        # 1000 MiB of zeros as IDX: within the default 1 GiB limit, so it IS read (then refused: no nonzero
        # template) — the largest input memlab accepts, to measure the bound.
        _zeros_gzip(folder / "read1000.idx.gz", b"\x00\x00\x08\x03" + struct.pack(">III", 1000, 1024, 1024), 1000 << 20)
        cases["gzip IDX of 1000 MiB, read whole (at the limit)"] = [
            "figure",
            "4",
            "--templates",
            str(folder / "read1000.idx.gz"),
            *out,
        ]
    return cases


def run_case(argv: list[str], cap_bytes: int) -> tuple[int, str, float, float]:
    """(exit code, first stderr line, peak RSS in MiB, seconds) of ``memlab argv`` in a fresh process."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    env = {**os.environ, "MEMLAB_PROGRESS": "0", "MEMLAB_JAX_CACHE": "0"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [*MEMLAB, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=limit, env=env
    )
    err = process.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    return process.returncode, (lines[-1] if lines else ""), usage.ru_maxrss / 1024, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1000 MiB read")
    parser.add_argument("--cap-gb", type=float, default=6.0, help="address-space cap of each case (GB)")
    args = parser.parse_args()
    cap = int(args.cap_gb * 1e9)
    with tempfile.TemporaryDirectory(prefix="memlab-hostile-") as tmp:
        folder = Path(tmp)
        cases = build(folder, args.quick)
        sizes = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
        print(
            f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
            f"address-space cap {args.cap_gb:g} GB per case; input files: "
            + ", ".join(f"{name} {size / 1e6:.2f} MB" for name, size in sorted(sizes.items()))
        )
        print()
        print("| case | exit | stderr (one line) | peak RSS (MiB) | s |")
        print("|---|---|---|---|---|")
        for name, argv in cases.items():
            code, line, rss, seconds = run_case(argv, cap)
            shown = line.replace("|", "\\|").replace(tmp, "<tmp>")
            if len(shown) > 150:
                shown = shown[:147] + "..."
            print(f"| {name} | {code} | {shown} | {rss:.0f} | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
