"""The shared argparse value types of memlab/cli/_common.py."""

import argparse
from pathlib import Path

import pytest

from memlab._sweep import SweepOptions
from memlab.cli import _common


def test_int_lists():
    assert _common.int_list("3, 1,3") == (3, 1, 3)
    assert _common.positive_int_set("30,10,10,20") == (10, 20, 30)
    for bad, fn in (
        ("", _common.int_list),
        ("1,x", _common.int_list),
        ("0,2", _common.positive_int_set),
        ("-1", _common.positive_int_set),
    ):
        with pytest.raises(argparse.ArgumentTypeError):
            fn(bad)


def test_key_value_casts_numbers_only():
    assert _common.key_value("timeout_min=120") == ("timeout_min", 120)
    assert _common.key_value("mem_gb=1.5") == ("mem_gb", 1.5)
    assert _common.key_value("slurm_partition=gpu") == ("slurm_partition", "gpu")
    for bad in ("novalue", "=3"):
        with pytest.raises(argparse.ArgumentTypeError):
            _common.key_value(bad)


def test_numeric_types_reject_bad_values():
    for fn, bad in (
        (_common.positive_int, "0"),
        (_common.nonnegative_int, "-1"),
        (_common.finite_float, "nan"),
        (_common.positive_float, "-2"),
        (_common.positive_float, "inf"),
        (_common.fraction, "1.5"),
        (_common.fraction, "-0.1"),
        (_common.open_fraction, "1"),
    ):
        with pytest.raises(argparse.ArgumentTypeError):
            fn(bad)


def test_fractions_accept_their_closed_ends():
    assert _common.fraction("0") == 0.0 and _common.fraction("1") == 1.0
    assert _common.open_fraction("0.999") == 0.999


def test_executor_arguments_become_sweep_options():
    parser = argparse.ArgumentParser()
    _common.add_executor_arguments(parser, default_cache=Path("cache/here"))
    args = parser.parse_args(
        ["--executor", "submitit", "--submitit-param", "timeout_min=5", "--submitit-param", "slurm_partition=gpu"]
    )
    assert args.executor == "submitit" and args.workers is None and args.submitit_cluster == "auto"
    assert args.submitit_param == [("timeout_min", 5), ("slurm_partition", "gpu")]
    assert _common.sweep_options(args) == SweepOptions(
        cache_dir=Path("cache/here"),
        executor="submitit",
        submitit_parameters={"timeout_min": 5, "slurm_partition": "gpu"},
    )
    pool = _common.sweep_options(
        parser.parse_args(["--executor", "pool", "--workers", "3", "--cache-dir", "x", "--submitit-cluster", "debug"])
    )
    assert pool == SweepOptions(cache_dir=Path("x"), executor="pool", max_workers=3, submitit_cluster="debug")
