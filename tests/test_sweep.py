"""Resumable sweeps: hashing, caching, interruption + resume, executors (local, pool, submitit local/debug)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from sweep_functions import powers_run

from memlab import _sweep
from memlab._errors import InvalidInputError
from memlab._io import load_npz

CALLS: list[float] = []
INTERRUPT_AT: set[float] = set()
FAIL_AT: set[float] = set()


def flaky_run(config, run_dir):
    """Counts calls; simulates Ctrl-C (after writing a partial file) or a crash on chosen values."""
    value = config["value"]
    CALLS.append(value)
    (run_dir / "partial.txt").write_text("started")
    if value in INTERRUPT_AT:
        raise KeyboardInterrupt
    if value in FAIL_AT:
        raise ValueError(f"bad value {value}")
    return {"square": value * value, "label": config.get("label", "")}


@pytest.fixture(autouse=True)
def _reset():
    CALLS.clear()
    INTERRUPT_AT.clear()
    FAIL_AT.clear()


CONFIGS = [{"value": float(v), "label": f"run{v}"} for v in range(6)]


def test_hash_is_canonical():
    a = _sweep.config_hash({"b": 1, "a": [1.0, 2]}, flaky_run)
    assert a == _sweep.config_hash({"a": [1.0, 2], "b": 1}, flaky_run)
    assert a != _sweep.config_hash({"a": [1.0, 2], "b": 2}, flaky_run)
    assert a != _sweep.config_hash({"a": [1.0, 2], "b": 1}, powers_run)
    assert len(a) == 16 and int(a, 16) >= 0
    with pytest.raises(InvalidInputError):
        _sweep.config_hash({"x": float("nan")}, flaky_run)


def test_run_functions_are_named_by_module_and_qualname():
    assert _sweep.function_name(powers_run) == "sweep_functions:powers_run"
    for bad in (lambda c, d: {}, "sweep_functions:powers_run", 3):
        with pytest.raises(InvalidInputError):
            _sweep.function_name(bad)


def _options(cache_dir, **kwargs):
    return _sweep.SweepOptions(cache_dir=cache_dir, **kwargs)


def test_finished_runs_are_skipped_and_results_are_plain_files(tmp_path):
    first = _sweep.run_sweep(flaky_run, CONFIGS, options=_options(tmp_path))
    assert first.executed == 6 and first.cached == 0 and len(CALLS) == 6
    again = _sweep.run_sweep(flaky_run, CONFIGS + CONFIGS[:2], options=_options(tmp_path))  # duplicates run once
    assert again.executed == 0 and again.cached == 6 and len(CALLS) == 6
    assert [r["square"] for r in again.results] == [v * v for v in range(6)]
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert files.count("result.json") == 6 and files.count("config.json") == 6
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".pkl", ".pickle", ".tmp")]


def test_interrupted_sweep_resumes_to_the_same_table(tmp_path):
    uninterrupted = _sweep.run_sweep(flaky_run, CONFIGS, options=_options(tmp_path / "a"))
    _sweep.write_sweep_csv(tmp_path / "a.csv", uninterrupted.records)
    CALLS.clear()

    INTERRUPT_AT.add(3.0)
    with pytest.raises(KeyboardInterrupt):
        _sweep.run_sweep(flaky_run, CONFIGS, options=_options(tmp_path / "b"))
    assert CALLS == [0.0, 1.0, 2.0, 3.0]
    interrupted_dir = _sweep.run_dir(tmp_path / "b", CONFIGS[3], flaky_run)
    assert (interrupted_dir / "partial.txt").exists() and not (interrupted_dir / "result.json").exists()

    INTERRUPT_AT.clear()
    CALLS.clear()
    resumed = _sweep.run_sweep(flaky_run, CONFIGS, options=_options(tmp_path / "b"))
    assert CALLS == [3.0, 4.0, 5.0] and resumed.cached == 3
    _sweep.write_sweep_csv(tmp_path / "b.csv", resumed.records)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    header = (tmp_path / "a.csv").read_text().splitlines()[0]
    assert header == "label,value,square"


def test_failures_are_reported_after_the_other_runs(tmp_path):
    FAIL_AT.add(2.0)
    with pytest.raises(_sweep.SweepError, match=r"1 of 6 runs failed.*bad value 2\.0"):
        _sweep.run_sweep(flaky_run, CONFIGS, options=_options(tmp_path))
    assert sorted(CALLS) == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    FAIL_AT.clear()
    CALLS.clear()
    outcome = _sweep.run_sweep(flaky_run, CONFIGS, options=_options(tmp_path))
    assert CALLS == [2.0] and outcome.executed == 1


def test_bad_executor_and_config(tmp_path):
    with pytest.raises(InvalidInputError):
        _options(tmp_path, executor="threads")
    with pytest.raises(InvalidInputError):
        _options(tmp_path, max_workers=0)
    with pytest.raises(InvalidInputError):
        _sweep.run_sweep(flaky_run, [[1, 2]], options=_options(tmp_path))


def _check_demo(tmp_path, outcome):
    assert [r["square"] for r in outcome.results] == [0.0, 4.0, 9.0]
    arrays = load_npz(_sweep.run_dir(tmp_path / "cache", {"value": 3}, powers_run) / "powers.npz")
    np.testing.assert_array_equal(arrays["powers"], [1.0, 3.0, 9.0, 27.0])
    record = json.loads((_sweep.run_dir(tmp_path / "cache", {"value": 2}, powers_run) / "result.json").read_text())
    assert record["result"] == {"square": 4.0, "cube": 8.0} and record["function"] == "sweep_functions:powers_run"


@pytest.mark.parametrize("cluster", ["debug", "local"])
def test_submitit_executor_path(tmp_path, cluster, monkeypatch):
    # submitit's local worker is a fresh interpreter: it imports the run function from the tests folder.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]))
    configs = [{"value": 0}, {"value": 2}, {"value": 3}]
    options = _options(
        tmp_path / "cache", executor="submitit", submitit_cluster=cluster, submitit_parameters={"timeout_min": 5}
    )
    outcome = _sweep.run_sweep(powers_run, configs, options=options)
    assert outcome.executed == 3
    _check_demo(tmp_path, outcome)
    assert (tmp_path / "cache-submitit").is_dir()  # submitit's own files live outside the cache
    again = _sweep.run_sweep(powers_run, configs, options=options)
    assert again.cached == 3 and again.executed == 0


def test_process_pool_executor(tmp_path):
    outcome = _sweep.run_sweep(
        powers_run,
        [{"value": 0}, {"value": 2}, {"value": 3}],
        options=_options(tmp_path / "cache", executor="pool", max_workers=2),
    )
    assert outcome.executed == 3
    _check_demo(tmp_path, outcome)
