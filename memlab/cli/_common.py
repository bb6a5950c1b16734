"""Small argparse helpers shared by the subcommands: validated types, executor options, output checks."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from memlab._io import check_output_file
from memlab._limits import MAX_SEED
from memlab._sweep import EXECUTORS, SweepOptions


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def seed(text: str) -> int:
    """A seed: an integer in 0..2**32 - 1 (``memlab._limits.MAX_SEED``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a seed (an integer in 0..{MAX_SEED}), got {text[:40]!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a seed in 0..{MAX_SEED} (2**32 - 1), got {text[:40]!r}")
    return value


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def int_list(text: str) -> tuple[int, ...]:
    """Comma-separated integers, in the given order (at least one)."""
    try:
        values = tuple(int(v) for v in text.replace(" ", "").split(",") if v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def seed_list(text: str) -> tuple[int, ...]:
    """Comma-separated seeds (each in 0..2**32 - 1), in the given order."""
    values = int_list(text)
    if any(not 0 <= v <= MAX_SEED for v in values):
        raise argparse.ArgumentTypeError(f"expected seeds in 0..{MAX_SEED} (2**32 - 1), got {text[:60]!r}")
    return values


def positive_int_set(text: str) -> tuple[int, ...]:
    """Comma-separated positive integers, sorted and de-duplicated (e.g. model sizes M)."""
    values = int_list(text)
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return tuple(sorted(set(values)))


def key_value(text: str) -> tuple[str, int | float | str]:
    """``KEY=VALUE``; the value becomes an int or float when it parses as one."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    for cast in (int, float):
        try:
            return key, cast(value)
        except ValueError:
            pass
    return key, value


def fraction(text: str) -> float:
    """A number in [0, 1]."""
    value = finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def open_fraction(text: str) -> float:
    """A number in [0, 1)."""
    value = fraction(text)
    if value == 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def add_executor_arguments(group, *, default_cache: Path) -> None:
    """The cache and sweep-executor options shared by every figure that trains models (``memlab._sweep``)."""
    group.add_argument(
        "--cache-dir",
        type=Path,
        default=default_cache,
        help=f"run cache: a re-run only computes what is missing (default {default_cache})",
    )
    group.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local: sequential; pool: process pool (--workers); submitit: Slurm job arrays",
    )
    group.add_argument("--workers", type=positive_int, default=None, help="processes for --executor pool")
    group.add_argument(
        "--submitit-cluster",
        choices=("auto", "slurm", "local", "debug"),
        default="auto",
        help="submitit backend (auto = Slurm when available)",
    )
    group.add_argument(
        "--submitit-param",
        type=key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="submitit executor parameter, repeatable (e.g. timeout_min=240, slurm_partition=gpu, gpus_per_node=1)",
    )


def sweep_options(args: argparse.Namespace) -> SweepOptions:
    """The :class:`memlab._sweep.SweepOptions` of :func:`add_executor_arguments`' flags."""
    return SweepOptions(
        cache_dir=args.cache_dir,
        executor=args.executor,
        max_workers=args.workers,
        submitit_cluster=None if args.submitit_cluster == "auto" else args.submitit_cluster,
        submitit_parameters=dict(args.submitit_param),
    )


def check_output_path(path: Path | None, flag: str) -> None:
    """Refuse, before any work, an output file ``path`` (given as ``flag``) that cannot be written: a directory,
    a parent that is a file, a folder that does not take a new file (tried, not judged from permission bits,
    which root passes: :func:`memlab._io.check_output_file`). ``None`` (option not given) passes."""
    if path is not None:
        check_output_file(path, flag)
