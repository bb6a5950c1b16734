"""The sweep cache under faults: corrupt or incomplete cached runs, SIGKILL at random points, two processes.

- every way a cached run can be damaged is detected (schema, finiteness, file manifest, the record's own
  checksum) and recomputed with a CacheWarning;
- a sweep killed (SIGKILL, in a subprocess) at random moments, with random cache files corrupted between
  the kills, resumes to exactly the results of an uninterrupted run (fast: a few kills; slow: many);
- two processes sharing a cache compute every run exactly once (the per-run lock).
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from sweep_functions import logged_run, nan_run, powers_run

from memlab import InvalidInputError, _sweep
from memlab._readers import load_npz

TESTS = Path(__file__).parent


def _options(cache):
    return _sweep.SweepOptions(cache_dir=cache)


def _configs(log, count=6, pause=0.0):
    return [{"value": float(v), "log": str(log), "pause": pause} for v in range(count)]


def _snapshot(cache, configs, outcome):
    """Everything a sweep's consumer reads: results, the table, and every array of every run."""
    arrays = {}
    for config in configs:
        folder = _sweep.run_dir(cache, config, logged_run)
        for name in ("first.npz", "second.npz"):
            arrays[(config["value"], name)] = load_npz(folder / name)["values"].tobytes()
    header, rows = _sweep.sweep_table(outcome.records)
    return outcome.results, header, rows, arrays


def _executions(log):
    return [line.split()[0] for line in Path(log).read_text().splitlines()] if Path(log).exists() else []


# ----------------------------------------------------------------------------------------------------
# Detection of damaged cache entries
# ----------------------------------------------------------------------------------------------------


def _damage_cases():
    def edit_record(change):
        def damage(folder):
            path = folder / "result.json"
            record = json.loads(path.read_text())
            change(record)
            path.write_text(json.dumps(record))

        return damage

    def set_result(text):
        def damage(folder):
            path = folder / "result.json"
            path.write_text(path.read_text().replace('"square": 4.0', f'"square": {text}'))

        return damage

    return {
        "empty object": lambda folder: (folder / "result.json").write_text("{}"),
        "truncated": lambda folder: (folder / "result.json").write_bytes((folder / "result.json").read_bytes()[:40]),
        "not json": lambda folder: (folder / "result.json").write_bytes(b"\x00\xff garbage"),
        "missing key": edit_record(lambda r: r.pop("result")),
        "result not an object": edit_record(lambda r: r.update(result=[1, 2])),
        "wrong function": edit_record(lambda r: r.update(function="elsewhere:run")),
        "wrong config": edit_record(lambda r: r["config"].update(value=99.0)),
        "NaN": set_result("NaN"),
        "overflowing number": set_result("1e999"),
        "edited digit": set_result("5.0"),
        "no checksum": edit_record(lambda r: r.pop("sha256")),
        "array changed": lambda folder: (folder / "second.npz").write_bytes(
            (folder / "second.npz").read_bytes()[:-30] + bytes(30)
        ),
        "array deleted": lambda folder: (folder / "first.npz").unlink(),
        "config.json changed": lambda folder: (folder / "config.json").write_text("{}"),
        "result is a folder": lambda folder: ((folder / "result.json").unlink(), (folder / "result.json").mkdir()),
    }


@pytest.mark.parametrize("case", sorted(_damage_cases()))
def test_damaged_cached_run_is_detected_and_recomputed(tmp_path, case):
    log = tmp_path / "log"
    configs = _configs(log, count=3)
    reference = _sweep.run_sweep(logged_run, configs, options=_options(tmp_path / "cache"))
    expected = _snapshot(tmp_path / "cache", configs, reference)
    assert len(_executions(log)) == 3
    _damage_cases()[case](_sweep.run_dir(tmp_path / "cache", configs[2], logged_run))
    with pytest.warns(_sweep.CacheWarning, match="does not check out"):
        resumed = _sweep.run_sweep(logged_run, configs, options=_options(tmp_path / "cache"))
    assert resumed.executed == 1 and resumed.cached == 2
    assert _executions(log)[3:] == ["2.0"]
    assert _snapshot(tmp_path / "cache", configs, resumed) == expected
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the recomputed run checks out: no warning now
        assert _sweep.run_sweep(logged_run, configs, options=_options(tmp_path / "cache")).cached == 3


def test_a_record_from_memlab_0_1_is_still_accepted(tmp_path):
    """Records without files/sha256 (written before this check existed) are kept if they check out otherwise."""
    configs = [{"value": 2.0}]
    _sweep.run_sweep(powers_run, configs, options=_options(tmp_path))
    path = _sweep.run_dir(tmp_path, configs[0], powers_run) / "result.json"
    record = json.loads(path.read_text())
    del record["files"], record["sha256"]
    path.write_text(json.dumps(record))
    assert _sweep.load_result(tmp_path, configs[0], powers_run)["result"] == {"square": 4.0, "cube": 8.0}
    npz = path.parent / "powers.npz"
    npz.write_bytes(npz.read_bytes()[:-10])
    with pytest.warns(_sweep.CacheWarning, match="powers.npz does not read back"):
        assert _sweep.load_result(tmp_path, configs[0], powers_run) is None


def test_non_finite_run_result_is_an_input_error_and_not_cached(tmp_path):
    with pytest.raises(_sweep.SweepInputError, match=r"not finite.*log") as info:
        _sweep.run_sweep(nan_run, [{"value": 1.0}, {"value": -1.0}], options=_options(tmp_path))
    assert isinstance(info.value, InvalidInputError) and isinstance(info.value, _sweep.SweepError)
    assert _sweep.load_result(tmp_path, {"value": 1.0}, nan_run) is not None
    assert not (_sweep.run_dir(tmp_path, {"value": -1.0}, nan_run) / "result.json").exists()


def test_lock_is_exclusive_and_released(tmp_path):
    folder = tmp_path / "run"
    with _sweep.run_lock(folder) as held:
        assert held
        with _sweep.run_lock(folder, blocking=False) as second:
            assert not second
    with _sweep.run_lock(folder, blocking=False) as again:
        assert again
    assert (folder / ".lock").read_text().split()[0] == str(os.getpid())


# ----------------------------------------------------------------------------------------------------
# Processes: SIGKILL at random points, and two sweeps sharing a cache
# ----------------------------------------------------------------------------------------------------

_SWEEP_SCRIPT = """
import json, sys
from sweep_functions import logged_run
from memlab import _sweep
configs = json.loads(sys.argv[1])
_sweep.run_sweep(logged_run, configs, options=_sweep.SweepOptions(cache_dir=sys.argv[2]))
"""


def _start_sweep(configs, cache):
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        "MEMLAB_PROGRESS": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-c", _SWEEP_SCRIPT, json.dumps(configs), str(cache)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _corrupt_random_file(cache: Path, rng: random.Random) -> None:
    files = sorted(p for p in cache.rglob("*") if p.is_file() and p.name != ".lock")
    if not files:
        return
    path = rng.choice(files)
    data = bytearray(path.read_bytes())
    action = rng.choice(["truncate", "flip", "delete", "empty"])
    if action == "delete":
        path.unlink()
    elif action == "empty":
        path.write_bytes(b"")
    elif action == "truncate":
        path.write_bytes(bytes(data[: rng.randrange(len(data) + 1)]))
    elif data:
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(data))
            data[position] = (data[position] + rng.randint(1, 255)) % 256  # always a change
        path.write_bytes(bytes(data))


def _kill_and_resume(tmp_path, seed: int, kills: int) -> None:
    rng = random.Random(seed)
    log = tmp_path / f"log-{seed}"
    configs = _configs(log, count=8, pause=0.03)
    reference = _sweep.run_sweep(logged_run, configs, options=_options(tmp_path / f"ref-{seed}"))
    expected = _snapshot(tmp_path / f"ref-{seed}", configs, reference)
    cache = tmp_path / f"cache-{seed}"
    for _ in range(kills):
        process = _start_sweep(configs, cache)
        time.sleep(rng.uniform(0.1, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        if cache.exists():
            for _ in range(rng.randint(0, 2)):
                _corrupt_random_file(cache, rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _sweep.CacheWarning)  # corrupted runs are recomputed, with a warning
        resumed = _sweep.run_sweep(logged_run, configs, options=_options(cache))
    assert _snapshot(cache, configs, resumed) == expected
    assert not list(cache.rglob("*.tmp"))  # no temporary file is ever left beside the results
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _sweep.run_sweep(logged_run, configs, options=_options(cache)).cached == len(configs)


def test_sigkill_at_random_points_then_resume(tmp_path):
    _kill_and_resume(tmp_path, seed=11, kills=3)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(8))
def test_sigkill_at_random_points_then_resume_many(tmp_path, seed):
    _kill_and_resume(tmp_path, seed=seed, kills=8)


def test_two_processes_sharing_a_cache_compute_each_run_once(tmp_path):
    log = tmp_path / "log"
    configs = _configs(log, count=6, pause=0.25)
    first, second = _start_sweep(configs, tmp_path / "cache"), _start_sweep(configs, tmp_path / "cache")
    for process in (first, second):
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
    executions = _executions(log)
    assert sorted(executions) == sorted(repr(c["value"]) for c in configs)  # each run exactly once
    outcome = _sweep.run_sweep(logged_run, configs, options=_options(tmp_path / "cache"))
    assert outcome.cached == 6
    np.testing.assert_array_equal(
        load_npz(_sweep.run_dir(tmp_path / "cache", configs[5], logged_run) / "second.npz")["values"],
        np.full((4, 3), 25.0),
    )


def test_a_run_held_by_another_process_is_done_last(tmp_path):
    """The local executor skips a run whose lock another process holds, does the others, then waits for it."""
    log = tmp_path / "log"
    configs = _configs(log, count=4)
    held = _sweep.run_dir(tmp_path / "cache", configs[0], logged_run)
    with _sweep.run_lock(held):
        process = _start_sweep(configs, tmp_path / "cache")
        deadline = time.monotonic() + 30
        while len(_executions(log)) < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert _executions(log) == ["1.0", "2.0", "3.0"]  # run 0 skipped while held
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    assert _executions(log) == ["1.0", "2.0", "3.0", "0.0"]
