"""Training checkpoints on disk: a ``TrainState`` as one plain NPZ file, written atomically.

``resumable(path)`` gives the keyword arguments that make ``train`` / ``train_runs`` resumable: the state
stored at ``path`` (if any) as ``initial_state``, and an ``on_block`` callback that writes the state there
whenever ``every_seconds`` of work have passed since the last write (and once at the end). A process
killed at any moment leaves either the previous checkpoint or the new one (``memlab._io`` writes to a
temporary file and renames it), and the next call continues from it to the same result as an
uninterrupted run.

File layout (NPZ, numbers only): ``format`` (int), ``epoch``, ``epochs``, ``fingerprint`` (32 uint8),
``seconds``, ``param/<i>`` and ``opt/<i>`` (the leaves in ``tree_flatten`` order; their counts in
``param_count`` / ``opt_count``), ``noise_keys``, ``losses`` (S, epoch), ``end_loss`` (S,),
``record_epochs`` (B,) and ``record/<name>`` (B, S, ...).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from memlab._errors import InvalidInputError
from memlab._io import load_npz, write_npz
from memlab.gpu_kernels._training import TrainState

__all__ = [
    "CHECKPOINT_SECONDS_ENV",
    "DEFAULT_CHECKPOINT_SECONDS",
    "PeriodicCheckpoint",
    "checkpoint_seconds",
    "load_train_state",
    "resumable",
    "save_train_state",
]

DEFAULT_CHECKPOINT_SECONDS = 300.0
#: Environment variable that sets ``resumable``'s default interval (seconds of work between checkpoints);
#: environment, not configuration, because the interval never changes a result (and so must not change a
#: sweep's config hash), and because pool and cluster workers inherit it.
CHECKPOINT_SECONDS_ENV = "MEMLAB_CHECKPOINT_SECONDS"
_FORMAT = 1


def save_train_state(path: str | os.PathLike, state: TrainState) -> Path:
    """Write ``state`` to ``path`` (NPZ, atomically)."""
    arrays: dict[str, Any] = {
        "format": _FORMAT,
        "epoch": state.epoch,
        "epochs": state.epochs,
        "fingerprint": np.frombuffer(bytes.fromhex(state.fingerprint), dtype=np.uint8),
        "seconds": state.seconds,
        "param_count": len(state.param_leaves),
        "opt_count": len(state.opt_leaves),
        "noise_keys": state.noise_keys,
        "losses": state.losses,
        "end_loss": state.end_loss,
        "record_epochs": state.record_epochs,
    }
    arrays.update({f"param/{i}": leaf for i, leaf in enumerate(state.param_leaves)})
    arrays.update({f"opt/{i}": leaf for i, leaf in enumerate(state.opt_leaves)})
    arrays.update({f"record/{name}": values for name, values in state.records.items()})
    return write_npz(path, **arrays)


def load_train_state(path: str | os.PathLike) -> TrainState:
    """Read a checkpoint written by ``save_train_state``; a missing or malformed file is an ``InvalidInputError``."""
    arrays = load_npz(path)
    try:
        if int(arrays["format"]) != _FORMAT:
            raise InvalidInputError(f"checkpoint {path} has format {int(arrays['format'])}, expected {_FORMAT}")
        params = tuple(arrays[f"param/{i}"] for i in range(int(arrays["param_count"])))
        opt = tuple(arrays[f"opt/{i}"] for i in range(int(arrays["opt_count"])))
        records = {name.split("/", 1)[1]: value for name, value in arrays.items() if name.startswith("record/")}
        return TrainState(
            epoch=int(arrays["epoch"]),
            epochs=int(arrays["epochs"]),
            fingerprint=bytes(np.asarray(arrays["fingerprint"], np.uint8)).hex(),
            param_leaves=params,
            opt_leaves=opt,
            noise_keys=arrays["noise_keys"],
            losses=arrays["losses"],
            end_loss=arrays["end_loss"],
            record_epochs=arrays["record_epochs"],
            records=records,
            seconds=float(arrays["seconds"]),
        )
    except KeyError as exc:
        raise InvalidInputError(f"checkpoint {path} lacks {exc}") from None


class PeriodicCheckpoint:
    """``on_block`` callback: saves the state to ``path`` when ``every_seconds`` have passed since the last
    save (or since this object was made), and always when the training has finished.

    ``every_seconds=0`` saves after every block. ``saves`` counts the writes.
    """

    def __init__(self, path: str | os.PathLike, *, every_seconds: float = DEFAULT_CHECKPOINT_SECONDS):
        every_seconds = float(every_seconds)
        if not every_seconds >= 0:
            raise InvalidInputError(f"every_seconds must be >= 0, got {every_seconds}")
        self.path = Path(path)
        self.every_seconds = every_seconds
        self.saves = 0
        self._last = time.monotonic()

    def __call__(self, state: TrainState) -> None:
        now = time.monotonic()
        if state.finished or now - self._last >= self.every_seconds:
            save_train_state(self.path, state)
            self.saves += 1
            self._last = time.monotonic()


def checkpoint_seconds() -> float:
    """Seconds of work between checkpoints: ``$MEMLAB_CHECKPOINT_SECONDS`` if set, else 300."""
    text = os.environ.get(CHECKPOINT_SECONDS_ENV)
    if text is None or not text.strip():
        return DEFAULT_CHECKPOINT_SECONDS
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= 0:
        raise InvalidInputError(f"{CHECKPOINT_SECONDS_ENV} must be a number of seconds >= 0, got {text!r}")
    return value


def resumable(path: str | os.PathLike, *, every_seconds: float | None = None) -> dict[str, Any]:
    """Keyword arguments for ``train`` / ``train_runs``: resume from ``path`` if it holds a checkpoint, and
    checkpoint there every ``every_seconds`` of work (``PeriodicCheckpoint``; None: ``checkpoint_seconds()``)."""
    path = Path(path)
    every_seconds = checkpoint_seconds() if every_seconds is None else every_seconds
    return {
        "initial_state": load_train_state(path) if path.is_file() else None,
        "on_block": PeriodicCheckpoint(path, every_seconds=every_seconds),
    }
