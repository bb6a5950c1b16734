"""Resumable, cached sweeps: a run is a JSON config -> a result folder keyed by a hash of the canonical config.

A *run function* is a module-level function ``fn(config: dict, run_dir: pathlib.Path) -> dict`` (so worker
processes and cluster jobs can import it by reference). It returns JSON-ready values and may write arrays
into ``run_dir`` (``memlab._io.write_npz``). Its ``"module:qualname"`` is part of the cache key.

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

Where and how runs execute is a :class:`SweepOptions`: ``"local"`` (sequential, in this process), ``"pool"``
(a spawn-based process pool) and ``"submitit"`` (``submitit.AutoExecutor`` job arrays on Slurm;
``submitit_cluster="local"`` or ``"debug"`` run the same code path on this machine, which is how the tests
check it). submitit's own job files live in ``submitit_folder`` (default ``<cache_dir>-submitit``).
A worker process (pool or submitit) turns on JAX's persistent compilation cache, as the CLI does.

This module is a base utility: it imports nothing from theory/numerics/gpu_kernels.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import math
import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memlab._errors import InvalidInputError
from memlab._io import read_json, to_jsonable, write_csv, write_json
from memlab._jaxcfg import enable_compilation_cache
from memlab._progress import progress

__all__ = [
    "CHECKPOINT_FILE",
    "EXECUTORS",
    "SweepError",
    "SweepOutcome",
    "SweepOptions",
    "canonical_json",
    "config_hash",
    "execute_run",
    "function_name",
    "load_result",
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


RunFunction = Callable[[dict, Path], Mapping[str, Any]]


@dataclass(frozen=True)
class SweepOptions:
    """Where runs are cached and how they execute (the one definition; the CLI builds it from flags).

    cache_dir: the run cache; executor: "local" | "pool" (``max_workers`` processes) | "submitit"
    (``submitit_cluster`` None = auto-detect Slurm, else "slurm" | "local" | "debug";
    ``submitit_parameters`` go to ``executor.update_parameters``, e.g. ``timeout_min``, ``slurm_partition``,
    ``gpus_per_node``); submitit_folder: submitit's job files (default ``<cache_dir>-submitit``).
    """

    cache_dir: Path = Path("figures/cache")
    executor: str = "local"
    max_workers: int | None = None
    submitit_cluster: str | None = None
    submitit_parameters: Mapping[str, Any] = field(default_factory=dict)
    submitit_folder: Path | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        if self.executor not in EXECUTORS:
            raise InvalidInputError(f"unknown executor {self.executor!r}; use one of {', '.join(EXECUTORS)}")
        if self.max_workers is not None and self.max_workers < 1:
            raise InvalidInputError(f"max_workers must be >= 1, got {self.max_workers}")
        object.__setattr__(self, "submitit_parameters", dict(self.submitit_parameters))

    def with_cache(self, cache_dir: str | os.PathLike) -> SweepOptions:
        """The same options with another cache folder."""
        return SweepOptions(cache_dir=Path(cache_dir), executor=self.executor, max_workers=self.max_workers,
                            submitit_cluster=self.submitit_cluster, submitit_parameters=self.submitit_parameters,
                            submitit_folder=self.submitit_folder)


def function_name(function: RunFunction) -> str:
    """``"module:qualname"`` of a module-level run function (its identity in the cache key)."""
    module, qualname = getattr(function, "__module__", None), getattr(function, "__qualname__", "")
    if not callable(function) or not module or "<" in qualname:
        raise InvalidInputError(f"a sweep run function must be a module-level function, got {function!r}")
    return f"{module}:{qualname}"


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


def config_hash(config: Mapping[str, Any], function: RunFunction) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of ``{"function", "config"}``."""
    payload = canonical_json({"function": function_name(function), "config": dict(config)})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def run_dir(cache_dir: str | os.PathLike, config: Mapping[str, Any], function: RunFunction) -> Path:
    return Path(cache_dir) / config_hash(config, function)


def load_result(cache_dir: str | os.PathLike, config: Mapping[str, Any], function: RunFunction) -> dict | None:
    """The cached result record of a finished run, or ``None`` if it has not finished."""
    path = run_dir(cache_dir, config, function) / _RESULT
    if not path.is_file():
        return None
    return read_json(path)


def execute_run(function: RunFunction, config: dict, cache_dir: str) -> dict:
    """Run one config (in whatever process this is called) and write its result record; return the record.

    Top-level and argument-only so process pools and submitit can ship it to workers.
    """
    name = function_name(function)
    directory = run_dir(cache_dir, config, function)
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / _CONFIG, {"function": name, "config": config})
    started = time.perf_counter()
    result = function(dict(config), directory)
    if not isinstance(result, Mapping):
        raise TypeError(f"run function {name} must return a dict, got {type(result).__name__}")
    record = {"function": name, "config": config, "result": to_jsonable(dict(result)),
              "seconds": time.perf_counter() - started}
    write_json(directory / _RESULT, record)
    (directory / CHECKPOINT_FILE).unlink(missing_ok=True)  # the finished result supersedes it
    return record


def _execute_in_worker(function: RunFunction, config: dict, cache_dir: str) -> dict:
    """:func:`execute_run` in a pool or submitit worker: its own process, so it may set up JAX as the CLI does."""
    enable_compilation_cache()
    return execute_run(function, config, cache_dir)


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


def _distinct(configs: Iterable[Mapping[str, Any]], function: RunFunction) -> list[dict]:
    seen, out = set(), []
    for config in configs:
        if not isinstance(config, Mapping):
            raise InvalidInputError(f"each sweep config must be a dict, got {type(config).__name__}")
        key = config_hash(config, function)
        if key not in seen:
            seen.add(key)
            out.append(json.loads(canonical_json(dict(config))))
    return out


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}"


def _run_local(function, todo, cache_dir, desc, failures):
    for config in progress(todo, total=len(todo), desc=desc):
        try:
            execute_run(function, config, str(cache_dir))
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded and reported after the sweep
            failures.append((config, _message(exc)))


def _run_pool(function, todo, cache_dir, desc, failures, max_workers):
    context = multiprocessing.get_context("spawn")  # JAX is not fork-safe
    with concurrent.futures.ProcessPoolExecutor(max_workers=max_workers, mp_context=context) as pool:
        futures = {pool.submit(_execute_in_worker, function, config, str(cache_dir)): config for config in todo}
        for future in progress(concurrent.futures.as_completed(futures), total=len(futures), desc=desc):
            exc = future.exception()
            if exc is not None:
                failures.append((futures[future], _message(exc)))


def _run_submitit(function, todo, cache_dir, desc, failures, folder, cluster, parameters):
    import submitit  # heavy and needed only by this executor: imported when it is used

    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    if parameters:
        executor.update_parameters(**parameters)
    jobs = executor.map_array(_execute_in_worker, [function] * len(todo), todo, [str(cache_dir)] * len(todo))
    for job, config in progress(zip(jobs, todo), total=len(jobs), desc=desc):
        try:
            job.result()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - submitit wraps the worker's exception
            failures.append((config, _message(exc)))


def run_sweep(function: RunFunction, configs: Sequence[Mapping[str, Any]], *, options: SweepOptions,
              desc: str = "sweep", raise_on_failure: bool = True) -> SweepOutcome:
    """Run every config not already in ``options.cache_dir`` with ``options.executor``; return all records in
    config order.

    function: a module-level run function; configs: JSON-ready dicts (duplicates run once). Failed runs raise
    ``SweepError`` at the end (after every other run finished) unless ``raise_on_failure=False``.
    """
    function_name(function)  # fail early, in this process, on a function workers could not import
    cache_dir = options.cache_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    configs = _distinct(configs, function)
    todo = [c for c in configs if load_result(cache_dir, c, function) is None]
    failures: list[tuple[dict, str]] = []
    if todo:
        if options.executor == "local":
            _run_local(function, todo, cache_dir, desc, failures)
        elif options.executor == "pool":
            _run_pool(function, todo, cache_dir, desc, failures, options.max_workers)
        else:
            folder = (options.submitit_folder if options.submitit_folder is not None
                      else cache_dir.with_name(cache_dir.name + "-submitit"))
            _run_submitit(function, todo, cache_dir, desc, failures, folder, options.submitit_cluster,
                          dict(options.submitit_parameters))
    records = [load_result(cache_dir, c, function) for c in configs]
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
