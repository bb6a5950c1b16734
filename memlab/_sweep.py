"""Resumable, cached sweeps: a run is a JSON config -> a result folder keyed by a hash of the canonical config.

A *run function* is a module-level function ``fn(config: dict, run_dir: pathlib.Path) -> dict`` referenced
by its importable name ``"package.module:function"`` (so worker processes and cluster jobs can import
it). It returns JSON-ready values and may write arrays into ``run_dir`` (``memlab._io.write_npz``).

Cache layout (plain files only, no pickles)::

    <cache_dir>/<hash>/config.json   {"function": ..., "config": ...}     written before the run
    <cache_dir>/<hash>/*.npz          whatever the run function writes      (atomic writes)
    <cache_dir>/<hash>/result.json    {"function", "config", "result", "seconds"}  written last, atomically
    <cache_dir>/<hash>/checkpoint.npz a long run's mid-training state (optional; removed after result.json)

``hash`` = first 16 hex digits of SHA-256 of the canonical JSON of ``{"function": name, "config": config}``
(keys sorted, no whitespace). A run is finished iff its ``result.json`` exists: finished runs are
skipped, so an interrupted sweep resumes where it stopped and never reads a half-written result. A run
function that trains for long may keep a checkpoint at ``run_dir / CHECKPOINT_FILE`` and resume from it
(``memlab.gpu_kernels.resumable``): a run killed half-way then continues where it stopped.

Executors: ``"local"`` (sequential, in this process), ``"pool"`` (a spawn-based process pool) and
``"submitit"`` (``submitit.AutoExecutor`` job arrays on Slurm; ``submitit_cluster="local"`` or ``"debug"``
run the same code path on this machine, which is how CI tests it). submitit's own pickled job files
live in ``submitit_folder`` (default ``<cache_dir>-submitit``), outside the cache.

This module is a top-level utility: it imports nothing from theory/numerics/gpu_kernels.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memlab._errors import InvalidInputError
from memlab._io import read_json, to_jsonable, write_csv, write_json
from memlab._progress import progress

__all__ = [
    "CHECKPOINT_FILE",
    "EXECUTORS",
    "SweepError",
    "SweepOutcome",
    "canonical_json",
    "config_hash",
    "demo_run",
    "execute_run",
    "function_name",
    "load_result",
    "resolve_function",
    "run_dir",
    "run_sweep",
    "sweep_table",
    "write_sweep_csv",
]

EXECUTORS = ("local", "pool", "submitit")
_RESULT = "result.json"
_CONFIG = "config.json"
#: A run's mid-training checkpoint in its folder; ``execute_run`` deletes it once the result is written.
CHECKPOINT_FILE = "checkpoint.npz"


class SweepError(RuntimeError):
    """Some runs of a sweep failed; the finished ones are cached and a re-run retries only the failed ones."""


# ----------------------------------------------------------------------------------------------------
# Names, hashes, files
# ----------------------------------------------------------------------------------------------------


def function_name(function: str | Callable) -> str:
    """``"module:qualname"`` of a module-level function (strings are returned unchanged)."""
    if isinstance(function, str):
        return function
    module, qualname = getattr(function, "__module__", None), getattr(function, "__qualname__", "")
    if not module or "<" in qualname:
        raise InvalidInputError(f"a sweep run function must be a module-level function, got {function!r}")
    return f"{module}:{qualname}"


def resolve_function(name: str) -> Callable:
    """Import ``"package.module:function"`` (``"package.module.function"`` also accepted)."""
    module_name, sep, attr = name.partition(":")
    if not sep:
        module_name, _, attr = name.rpartition(".")
    if not module_name or not attr:
        raise InvalidInputError(f"run function must be named 'package.module:function', got {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInputError(f"cannot import run function module {module_name!r}: {exc}") from None
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise InvalidInputError(f"module {module_name!r} has no function {attr!r}")
    if not callable(target):
        raise InvalidInputError(f"{name!r} is not callable")
    return target


def _check_finite(obj: Any) -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise InvalidInputError(f"sweep configs must not contain NaN or Inf (got {obj})")
    if isinstance(obj, Mapping):
        for value in obj.values():
            _check_finite(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _check_finite(value)


def canonical_json(obj: Any) -> str:
    """Canonical JSON text (sorted keys, no whitespace, no NaN) — the bytes a config is hashed by."""
    _check_finite(obj)
    try:
        return json.dumps(to_jsonable(obj), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"sweep config is not plain JSON data: {exc}") from None


def config_hash(config: Mapping[str, Any], function: str | Callable) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of ``{"function", "config"}``."""
    payload = canonical_json({"function": function_name(function), "config": dict(config)})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def run_dir(cache_dir: str | os.PathLike, config: Mapping[str, Any], function: str | Callable) -> Path:
    return Path(cache_dir) / config_hash(config, function)


def load_result(cache_dir: str | os.PathLike, config: Mapping[str, Any], function: str | Callable) -> dict | None:
    """The cached result record of a finished run, or ``None`` if it has not finished."""
    path = run_dir(cache_dir, config, function) / _RESULT
    if not path.is_file():
        return None
    return read_json(path)


def execute_run(function: str, config: dict, cache_dir: str) -> dict:
    """Run one config (in whatever process this is called) and write its result record; return the record.

    Top-level and argument-only so process pools and submitit can ship it to workers.
    """
    name = function_name(function)
    directory = run_dir(cache_dir, config, name)
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / _CONFIG, {"function": name, "config": config})
    fn = resolve_function(name)
    started = time.perf_counter()
    result = fn(dict(config), directory)
    if not isinstance(result, Mapping):
        raise TypeError(f"run function {name} must return a dict, got {type(result).__name__}")
    record = {"function": name, "config": config, "result": to_jsonable(dict(result)),
              "seconds": time.perf_counter() - started}
    write_json(directory / _RESULT, record)
    (directory / CHECKPOINT_FILE).unlink(missing_ok=True)  # the finished result supersedes it
    return record


# ----------------------------------------------------------------------------------------------------
# The sweep
# ----------------------------------------------------------------------------------------------------


@dataclass
class SweepOutcome:
    """What a sweep did: ``records`` (one per distinct config, in order, ``None`` where it failed), how many
    runs were executed now and how many came from the cache, and ``failures`` as (config, message)."""

    records: list[dict | None]
    executed: int = 0
    cached: int = 0
    failures: list[tuple[dict, str]] = field(default_factory=list)

    @property
    def results(self) -> list[dict | None]:
        return [None if r is None else r["result"] for r in self.records]


def _distinct(configs: Iterable[Mapping[str, Any]], name: str) -> list[dict]:
    seen, out = set(), []
    for config in configs:
        if not isinstance(config, Mapping):
            raise InvalidInputError(f"each sweep config must be a dict, got {type(config).__name__}")
        key = config_hash(config, name)
        if key not in seen:
            seen.add(key)
            out.append(json.loads(canonical_json(dict(config))))
    return out


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"


def _run_local(name, todo, cache_dir, desc, failures):
    for config in progress(todo, total=len(todo), desc=desc):
        try:
            execute_run(name, config, str(cache_dir))
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded and reported after the sweep
            failures.append((config, _message(exc)))


def _run_pool(name, todo, cache_dir, desc, failures, max_workers):
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # JAX is not fork-safe
    with concurrent.futures.ProcessPoolExecutor(max_workers=max_workers, mp_context=context) as pool:
        futures = {pool.submit(execute_run, name, config, str(cache_dir)): config for config in todo}
        for future in progress(concurrent.futures.as_completed(futures), total=len(futures), desc=desc):
            exc = future.exception()
            if exc is not None:
                failures.append((futures[future], _message(exc)))


def _run_submitit(name, todo, cache_dir, desc, failures, folder, cluster, parameters):
    import submitit

    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    if parameters:
        executor.update_parameters(**parameters)
    jobs = executor.map_array(execute_run, [name] * len(todo), todo, [str(cache_dir)] * len(todo))
    for job, config in progress(zip(jobs, todo), total=len(jobs), desc=desc):
        try:
            job.result()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - submitit wraps the worker's exception
            failures.append((config, _message(exc)))


def run_sweep(function: str | Callable, configs: Sequence[Mapping[str, Any]], *, cache_dir: str | os.PathLike,
              executor: str = "local", max_workers: int | None = None,
              submitit_folder: str | os.PathLike | None = None, submitit_cluster: str | None = None,
              submitit_parameters: Mapping[str, Any] | None = None, desc: str = "sweep",
              raise_on_failure: bool = True) -> SweepOutcome:
    """Run every config not already in ``cache_dir`` with ``executor``; return all records in config order.

    function: a module-level run function or its name ``"module:function"``; configs: JSON-ready dicts
    (duplicates run once); executor: "local" | "pool" (``max_workers`` processes) | "submitit"
    (``submitit_cluster`` None = auto-detect Slurm, else "slurm" | "local" | "debug";
    ``submitit_parameters`` go to ``executor.update_parameters``, e.g. ``timeout_min``, ``slurm_partition``,
    ``gpus_per_node``, ``slurm_array_parallelism``). Failed runs raise ``SweepError`` at the end (after
    every other run finished) unless ``raise_on_failure=False``.
    """
    if executor not in EXECUTORS:
        raise InvalidInputError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    name = function_name(function)
    resolve_function(name)  # fail early, in this process, on a bad name
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    configs = _distinct(configs, name)
    todo = [c for c in configs if load_result(cache_dir, c, name) is None]
    failures: list[tuple[dict, str]] = []
    if todo:
        if executor == "local":
            _run_local(name, todo, cache_dir, desc, failures)
        elif executor == "pool":
            _run_pool(name, todo, cache_dir, desc, failures, max_workers)
        else:
            folder = Path(submitit_folder) if submitit_folder is not None else cache_dir.with_name(
                cache_dir.name + "-submitit")
            _run_submitit(name, todo, cache_dir, desc, failures, folder, submitit_cluster,
                          dict(submitit_parameters or {}))
    records = [load_result(cache_dir, c, name) for c in configs]
    outcome = SweepOutcome(records, executed=len(todo) - len(failures), cached=len(configs) - len(todo),
                           failures=failures)
    if failures and raise_on_failure:
        config, message = failures[0]
        raise SweepError(f"{len(failures)} of {len(configs)} runs failed (finished runs are cached; re-run to "
                         f"retry); first: {message} for config {canonical_json(config)}")
    return outcome


# ----------------------------------------------------------------------------------------------------
# Aggregation
# ----------------------------------------------------------------------------------------------------


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def sweep_table(records: Sequence[dict | None]) -> tuple[list[str], list[list[Any]]]:
    """One row per finished run: its config's scalar fields, then its result's scalar fields.

    Columns are sorted within each group (config keys first); list-valued fields stay in the JSON and
    NPZ files. Missing values are empty cells. Timings are not part of the table (they are not results).
    """
    finished = [r for r in records if r is not None]
    config_keys = sorted({k for r in finished for k, v in r["config"].items() if _is_scalar(v)})
    result_keys = sorted({k for r in finished for k, v in r["result"].items() if _is_scalar(v)} - set(config_keys))
    rows = []
    for record in finished:
        row = [record["config"].get(k, "") for k in config_keys] + [record["result"].get(k, "") for k in result_keys]
        rows.append(["" if v is None or (isinstance(v, float) and not math.isfinite(v)) else v for v in row])
    return config_keys + result_keys, rows


def write_sweep_csv(path: str | os.PathLike, records: Sequence[dict | None]) -> Path:
    """Write :func:`sweep_table` as a CSV (atomically)."""
    header, rows = sweep_table(records)
    return write_csv(path, header, rows)


def demo_run(config: dict, run_dir: Path) -> dict:
    """A tiny run function for examples and tests: ``{"value": x}`` -> ``{"square": x*x, "cube": x**3}``,
    and an NPZ beside the result. Imports nothing heavy, so worker start-up stays fast."""
    from memlab._io import write_npz

    value = float(config["value"])
    write_npz(run_dir / "powers.npz", powers=[value ** p for p in range(4)])
    return {"square": value * value, "cube": value**3}
