"""Resumable, cached sweeps: a run is a JSON config -> a result folder keyed by a hash of the canonical config.

A *run function* is a module-level function ``fn(config: dict, run_dir: pathlib.Path) -> dict`` (so worker
processes and cluster jobs can import it by reference). It returns JSON-ready values and may write arrays
into ``run_dir`` (``memlab._io.write_npz``). Its ``"module:qualname"`` is part of the cache key.

Cache layout (plain files only, no pickles)::

    <cache_dir>/<hash>/.lock          the run's lock (fcntl.flock; never removed)
    <cache_dir>/<hash>/config.json   {"function": ..., "config": ...}     written before the run
    <cache_dir>/<hash>/*.npz          whatever the run function writes      (atomic writes)
    <cache_dir>/<hash>/result.json    {"function", "config", "result", "seconds", "files", "sha256"}  written last
    <cache_dir>/<hash>/checkpoint.npz a long run's mid-training state (optional; removed before result.json)

``hash`` = first 16 hex digits of SHA-256 of the canonical JSON of ``{"function": name, "config": config}``
(keys sorted, no whitespace). A run is finished iff its ``result.json`` exists *and checks out*
(:func:`check_record`): the right function and config, a ``result`` object, every number finite,
every file listed in ``files`` present with its size and SHA-256, and the record's own ``sha256`` (over
its canonical JSON without that field) matching, so an edited digit is caught too. A run that does not check out (a
truncated, corrupt, or hand-edited cache entry) is recomputed, with a :class:`CacheWarning`; a run
function's non-finite result is an error, never a cached file. Finished runs are skipped, so an
interrupted sweep resumes where it stopped and never reads a half-written result.

A run function that trains for long may keep a checkpoint at ``run_dir / CHECKPOINT_FILE`` and resume
from it (``memlab.gpu_kernels.resumable``): a run killed half-way continues where it stopped. Clearing
an unfinished run's folder keeps that file; it is deleted once the run function has returned (before the
record's file list is taken).

Each run executes under its lock (an exclusive ``flock`` on ``<hash>/.lock``, released by the kernel if
the process dies): two sweeps sharing a cache never compute the same run twice. The local executor
skips runs another process holds and comes back to them at the end (by then they are usually done).

Where and how runs execute is a :class:`SweepOptions`: ``"local"`` (sequential, in this process), ``"pool"``
(a spawn-based process pool) and ``"submitit"`` (``submitit.AutoExecutor`` job arrays on Slurm;
``submitit_cluster="local"`` or ``"debug"`` run the same code path on this machine, which is how the tests
check it). submitit's own job files live in ``submitit_folder`` (default ``<cache_dir>-submitit``).
A worker process (pool or submitit) turns on JAX's persistent compilation cache, as the CLI does.

This module is a base utility: it imports nothing from theory/numerics/gpu_kernels.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import socket
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memlab._errors import InvalidInputError, require_finite
from memlab._io import to_jsonable, write_csv, write_json
from memlab._jaxcfg import enable_compilation_cache
from memlab._progress import progress
from memlab._readers import load_npz, read_json

__all__ = [
    "CHECKPOINT_FILE",
    "EXECUTORS",
    "CacheWarning",
    "SweepError",
    "SweepInputError",
    "SweepOptions",
    "SweepOutcome",
    "canonical_json",
    "check_record",
    "config_hash",
    "execute_run",
    "function_name",
    "load_result",
    "run_dir",
    "run_lock",
    "run_sweep",
    "sweep_table",
    "write_sweep_csv",
]

EXECUTORS = ("local", "pool", "submitit")
_RESULT = "result.json"
_CONFIG = "config.json"
_LOCK = ".lock"
#: A run's mid-training checkpoint in its folder: kept when an unfinished run is retried, deleted when it finishes.
CHECKPOINT_FILE = "checkpoint.npz"

try:  # POSIX; elsewhere runs are not locked (documented in docs/reliability.md)
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


class SweepError(RuntimeError):
    """Some runs of a sweep failed; the finished ones are cached and a re-run retries only the failed ones."""


class SweepInputError(SweepError, InvalidInputError):
    """Every failed run failed on invalid input (an :class:`InvalidInputError`): exit code 2 on the command line."""


class CacheWarning(UserWarning):
    """A cached run did not check out (corrupt, incomplete or edited) and is recomputed."""


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
        return SweepOptions(
            cache_dir=Path(cache_dir),
            executor=self.executor,
            max_workers=self.max_workers,
            submitit_cluster=self.submitit_cluster,
            submitit_parameters=self.submitit_parameters,
            submitit_folder=self.submitit_folder,
        )


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


def _file_entry(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return {"bytes": size, "sha256": digest.hexdigest()}


def _manifest(directory: Path) -> dict[str, dict[str, Any]]:
    """Size and SHA-256 of every file a run left in its folder (not result.json, the lock or temp files)."""
    return {
        path.name: _file_entry(path)
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != _RESULT and not path.name.startswith(".")
    }


def check_record(record: Any, directory: Path, name: str, config: Mapping[str, Any]) -> str | None:
    """Why a cached run's record does not check out, or ``None`` if it does.

    Schema: a JSON object with ``function`` (== ``name``), ``config`` (canonically equal to ``config``), a
    ``result`` object and ``seconds``; every number finite (the reader refuses NaN/Infinity); ``files``:
    every listed file in ``directory`` with its size and SHA-256. A record written before ``files``
    existed (memlab 0.1) instead needs every ``.npz`` beside it to read back whole (zip CRCs).
    """
    if not isinstance(record, dict):
        return "result.json is not an object"
    missing = [key for key in ("function", "config", "result", "seconds") if key not in record]
    if missing:
        return f"result.json lacks {', '.join(missing)}"
    legacy = "files" not in record and "sha256" not in record
    unknown = set(record) - {"function", "config", "result", "seconds", "files", "sha256"}
    if unknown or (not legacy and ("files" not in record or "sha256" not in record)):
        return "result.json has unexpected or missing fields"
    if not legacy and record["sha256"] != _record_digest(record):
        return "result.json does not match its own checksum"
    if record["function"] != name:
        return f"it was written by {record['function']!r}"
    try:
        if canonical_json(record["config"]) != canonical_json(dict(config)):
            return "its config differs from the run's"
    except InvalidInputError:
        return "its config is not plain JSON data"
    if not isinstance(record["result"], dict):
        return "its result is not an object"
    if isinstance(record["seconds"], bool) or not isinstance(record["seconds"], (int, float)):
        return "its seconds entry is not a number"
    files = record.get("files")
    if legacy:
        for path in sorted(directory.glob("*.npz")):
            try:
                load_npz(path)
            except InvalidInputError as exc:
                return f"{path.name} does not read back ({exc})"
        return None
    if not isinstance(files, dict):
        return "its files entry is not an object"
    for file_name, expected in files.items():
        path = directory / file_name
        if Path(file_name).name != file_name or not path.is_file():
            return f"{file_name} is missing"
        try:
            actual = _file_entry(path)
        except OSError as exc:
            return f"{file_name} cannot be read ({exc.strerror or type(exc).__name__})"
        if actual != expected:
            return f"{file_name} does not match its recorded size and SHA-256"
    return None


def _record_digest(record: Mapping[str, Any]) -> str:
    """SHA-256 of a record's canonical JSON without its ``sha256`` field."""
    try:
        text = canonical_json({key: value for key, value in record.items() if key != "sha256"})
    except InvalidInputError:
        return ""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _checked_record(directory: Path, name: str, config: Mapping[str, Any]) -> tuple[dict | None, str | None]:
    """(record, None) for a finished run that checks out; (None, reason) for one that does not; (None, None)
    when the run has not finished."""
    path = directory / _RESULT
    if not os.path.lexists(path):
        return None, None
    try:
        record = read_json(path, "cached result")
    except InvalidInputError as exc:
        return None, str(exc)
    reason = check_record(record, directory, name, config)
    return (None, reason) if reason is not None else (record, None)


def load_result(cache_dir: str | os.PathLike, config: Mapping[str, Any], function: RunFunction) -> dict | None:
    """The cached result record of a finished run, or ``None`` if it has not finished.

    A record that does not check out (:func:`check_record`) counts as not finished: a :class:`CacheWarning`
    says why, and the next sweep recomputes the run.
    """
    directory = run_dir(cache_dir, config, function)
    record, reason = _checked_record(directory, function_name(function), config)
    if reason is not None:
        warnings.warn(
            f"sweep cache: run {directory.name} in {Path(cache_dir)} does not check out ({reason}); it is recomputed",
            CacheWarning,
            stacklevel=2,
        )
    return record


@contextlib.contextmanager
def run_lock(directory: str | os.PathLike, *, blocking: bool = True) -> Iterator[bool]:
    """Hold the exclusive lock of one run folder; yields whether it was acquired (always, when ``blocking``).

    ``fcntl.flock`` on ``<directory>/.lock``: the kernel releases it when the holder exits or is killed, so
    there is no stale lock to clean up. The file holds the holder's pid and host, for people only.
    Without ``fcntl`` (not POSIX) the lock is a no-op.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover - not POSIX
        yield True
        return
    fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {socket.gethostname()}\n".encode())
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _clear_run_folder(directory: Path) -> None:
    """Remove what an earlier, unfinished or corrupt attempt left (not the lock, not a training checkpoint:
    the run resumes from that): a run otherwise starts from nothing."""
    for path in directory.iterdir():
        if path.name in (_LOCK, CHECKPOINT_FILE):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _execute(function: RunFunction, config: dict, cache_dir: str, *, blocking: bool = True) -> tuple[dict | None, str]:
    """Run one config under its lock unless it is finished; -> (record, "computed" | "cached" | "busy")."""
    name = function_name(function)
    directory = run_dir(cache_dir, config, function)
    with run_lock(directory, blocking=blocking) as acquired:
        if not acquired:
            return None, "busy"
        record, _ = _checked_record(directory, name, config)
        if record is not None:  # another process finished it while we waited
            return record, "cached"
        _clear_run_folder(directory)
        write_json(directory / _CONFIG, {"function": name, "config": config})
        started = time.perf_counter()
        result = function(dict(config), directory)
        if not isinstance(result, Mapping):
            raise TypeError(f"run function {name} must return a dict, got {type(result).__name__}")
        (directory / CHECKPOINT_FILE).unlink(missing_ok=True)  # the finished run supersedes it
        result = dict(result)
        require_finite(
            result,
            f"the result of run function {name}",
            "a run that produces NaN or Inf is an error, not a cached result",
        )
        record = {
            "function": name,
            "config": config,
            "result": to_jsonable(result),
            "seconds": time.perf_counter() - started,
            "files": _manifest(directory),
        }
        record["sha256"] = _record_digest(record)
        write_json(directory / _RESULT, record)
        return record, "computed"


def execute_run(function: RunFunction, config: dict, cache_dir: str) -> dict:
    """Run one config (in whatever process this is called) under its lock and write its result record;
    return the record (the cached one if another process finished the run first).

    Top-level and argument-only so process pools and submitit can ship it to workers.
    """
    record, _ = _execute(function, config, cache_dir)
    assert record is not None
    return record


def _execute_in_worker(function: RunFunction, config: dict, cache_dir: str) -> tuple[dict | None, str]:
    """:func:`_execute` in a pool or submitit worker: its own process, so it may set up JAX as the CLI does."""
    enable_compilation_cache()
    return _execute(function, config, cache_dir)


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

    @property
    def finished_results(self) -> list[dict]:
        """Every run's result, for a sweep in which every run finished (as ``raise_on_failure=True`` ensures)."""
        missing = sum(r is None for r in self.records)
        if missing:
            raise SweepError(f"{missing} of {len(self.records)} runs have no result")
        return [r["result"] for r in self.records if r is not None]


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


class _Progress:
    """What the executors found: records by config hash, counts, failures (config, exception)."""

    def __init__(self) -> None:
        self.records: dict[str, dict] = {}
        self.executed = 0
        self.cached = 0
        self.failures: list[tuple[dict, BaseException]] = []

    def done(self, key: str, outcome: tuple[dict | None, str]) -> None:
        record, status = outcome
        if record is not None:
            self.records[key] = record
        if status == "computed":
            self.executed += 1
        elif status == "cached":
            self.cached += 1


def _run_local(function, todo, cache_dir, desc, found: _Progress):
    """Sequentially; a run another process holds is skipped and waited for after the others."""
    busy: list[tuple[str, dict]] = []
    bar = progress(total=len(todo), desc=desc)
    try:
        for blocking, batch in ((False, todo), (True, busy)):
            for key, config in batch:
                try:
                    outcome = _execute(function, config, str(cache_dir), blocking=blocking)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:  # noqa: BLE001 - recorded and reported after the sweep
                    found.failures.append((config, exc))
                    bar.update(1)
                    continue
                if outcome[1] == "busy":
                    busy.append((key, config))
                    continue
                found.done(key, outcome)
                bar.update(1)
    finally:
        bar.close()


def _run_pool(function, todo, cache_dir, desc, found: _Progress, max_workers):
    context = multiprocessing.get_context("spawn")  # JAX is not fork-safe
    with concurrent.futures.ProcessPoolExecutor(max_workers=max_workers, mp_context=context) as pool:
        futures = {
            pool.submit(_execute_in_worker, function, config, str(cache_dir)): (key, config) for key, config in todo
        }
        for future in progress(concurrent.futures.as_completed(futures), total=len(futures), desc=desc):
            key, config = futures[future]
            exc = future.exception()
            if exc is not None:
                found.failures.append((config, exc))
            else:
                found.done(key, future.result())


def _run_submitit(function, todo, cache_dir, desc, found: _Progress, folder, cluster, parameters):
    import submitit  # heavy and needed only by this executor: imported when it is used

    executor = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    if parameters:
        executor.update_parameters(**parameters)
    configs = [config for _, config in todo]
    jobs = executor.map_array(_execute_in_worker, [function] * len(todo), configs, [str(cache_dir)] * len(todo))
    for job, (key, config) in progress(zip(jobs, todo), total=len(jobs), desc=desc):
        try:
            outcome = job.result()
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:  # noqa: BLE001 - submitit wraps the worker's exception
            found.failures.append((config, exc))
            continue
        found.done(key, tuple(outcome))


def run_sweep(
    function: RunFunction,
    configs: Sequence[Mapping[str, Any]],
    *,
    options: SweepOptions,
    desc: str = "sweep",
    raise_on_failure: bool = True,
) -> SweepOutcome:
    """Run every config not already in ``options.cache_dir`` with ``options.executor``; return all records in
    config order.

    function: a module-level run function; configs: JSON-ready dicts (duplicates run once). Cached runs are
    checked (:func:`check_record`); one that does not check out is recomputed with a :class:`CacheWarning`.
    Failed runs raise ``SweepError`` at the end (after every other run finished) unless
    ``raise_on_failure=False`` — a :class:`SweepInputError` (also an ``InvalidInputError``) when every
    failure was invalid input.
    """
    name = function_name(function)  # fail early, in this process, on a function workers could not import
    cache_dir = options.cache_dir
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(
            f"cannot create the run cache {cache_dir}: {exc.strerror or type(exc).__name__}"
        ) from None
    configs = _distinct(configs, function)
    keys = [config_hash(c, function) for c in configs]
    found = _Progress()
    todo = []
    for key, config in zip(keys, configs):
        record = load_result(cache_dir, config, function)
        if record is None:
            todo.append((key, config))
        else:
            found.records[key] = record
    cached_before = len(configs) - len(todo)
    if todo:
        if options.executor == "local":
            _run_local(function, todo, cache_dir, desc, found)
        elif options.executor == "pool":
            _run_pool(function, todo, cache_dir, desc, found, options.max_workers)
        else:
            folder = (
                options.submitit_folder
                if options.submitit_folder is not None
                else cache_dir.with_name(cache_dir.name + "-submitit")
            )
            _run_submitit(
                function,
                todo,
                cache_dir,
                desc,
                found,
                folder,
                options.submitit_cluster,
                dict(options.submitit_parameters),
            )
    failures = [(config, _message(exc)) for config, exc in found.failures]
    outcome = SweepOutcome(
        [found.records.get(key) for key in keys],
        executed=found.executed,
        cached=cached_before + found.cached,
        failures=failures,
    )
    if failures and raise_on_failure:
        config, message = failures[0]
        error = SweepInputError if all(isinstance(exc, InvalidInputError) for _, exc in found.failures) else SweepError
        raise error(
            f"{len(failures)} of {len(configs)} runs failed (finished runs are cached; re-run to retry); "
            f"first: {message} for config {canonical_json(config)} of {name}"
        )
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
