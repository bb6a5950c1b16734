"""The environment section: versions, device, seeds, timings of every result on the page, and of the page itself."""

from __future__ import annotations

import datetime
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from memlab._version import __version__
from memlab.report._figures import FigureEntry, run_time
from memlab.report._format import MISSING, compact, format_seconds
from memlab.report._sources import lookup
from memlab.report._verdicts import Verification

__all__ = ["EnvironmentRow", "environment_rows", "page_environment"]

_MAIN_VERSIONS = ("memlab", "python", "jax", "numpy")
_SEED_KEYS = (("seed",), ("config", "seed"), ("settings", "seeds"), ("settings", "seed"), ("options", "seed"))


@dataclass(frozen=True)
class EnvironmentRow:
    source: str
    memlab: str
    python: str
    jax: str
    numpy: str
    other_versions: str
    device: str
    seeds: str
    run_time: str
    when: str


def _device(device: Any, machine: Any) -> str:
    if not isinstance(device, dict):
        return MISSING
    kind = device.get("device_kind") or MISSING
    text = f"{device.get('backend') or MISSING}: {compact(device.get('device_count', '?'))} × {kind}"
    platform_name = lookup(machine, "platform")
    return f"{text} ({platform_name})" if platform_name else text


def _file_time(path: Path) -> str:
    try:
        stamp = path.stat().st_mtime
    except OSError:
        return MISSING
    written = datetime.datetime.fromtimestamp(stamp, datetime.UTC)
    return f"file written {written:%Y-%m-%d %H:%M} UTC"


def _row(
    source: str, *, versions: Any, device: Any, machine: Any, seeds: Any, seconds: str, when: str
) -> EnvironmentRow:
    versions = versions if isinstance(versions, dict) else {}
    other = ", ".join(f"{k} {v}" for k, v in versions.items() if k not in _MAIN_VERSIONS)
    memlab, python, jax, numpy = (compact(versions.get(k)) for k in _MAIN_VERSIONS)
    return EnvironmentRow(
        source, memlab, python, jax, numpy, other or MISSING, _device(device, machine), compact(seeds), seconds, when
    )


def _seeds(data: Any) -> Any:
    for keys in _SEED_KEYS:
        value = lookup(data, *keys)
        if value is not None:
            return value
    return None


def environment_rows(verification: Verification, figures: Sequence[FigureEntry]) -> list[EnvironmentRow]:
    """One row per result file the page shows: the verify report, then each figure's JSON."""
    rows = []
    if verification.present:
        config = verification.config
        rows.append(
            _row(
                "memlab verify",
                versions=config.get("versions"),
                device=config.get("device"),
                machine=config.get("machine"),
                seeds=config.get("seed"),
                seconds=format_seconds(config.get("elapsed_s")),
                when=compact(config.get("started_utc")) if config.get("started_utc") else _file_time(verification.path),
            )
        )
    for entry in figures:
        data = entry.data
        if data is None or entry.source is None:
            continue
        rows.append(
            _row(
                f"Figure {entry.number}" if entry.number is not None else entry.key,
                versions=lookup(data, "versions"),
                device=lookup(data, "device"),
                machine=lookup(data, "machine"),
                seeds=_seeds(data),
                seconds=run_time(data),
                when=compact(data["created"]) if lookup(data, "created") else _file_time(entry.source.path),
            )
        )
    return rows


def page_environment(generated: datetime.datetime) -> EnvironmentRow:
    """The row of the page itself: what built it and when."""
    return EnvironmentRow(
        "this page (memlab report)",
        __version__,
        platform.python_version(),
        MISSING,
        np.__version__,
        f"jinja2 {jinja2.__version__}",
        platform.platform(),
        MISSING,
        MISSING,
        f"{generated:%Y-%m-%d %H:%M:%S} UTC",
    )
