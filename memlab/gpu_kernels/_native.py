"""The native CPU tile kernel of :func:`mc_excess_losses` (C++ through the XLA FFI), built on first use.

``csrc/mc_tile.cc`` is compiled once per machine with the system C++ compiler (``$CXX``, else ``c++``/``g++``)
against the XLA FFI headers that ship with jaxlib, into ``$MEMLAB_NATIVE_CACHE`` (default
``$XDG_CACHE_HOME/memlab/native`` or ``~/.cache/memlab/native``), keyed by the source, compiler, flags, jax
version and CPU, and registered as the custom-call targets ``memlab_mc_tile_f32`` / ``_f64`` for the CPU
platform. Without a compiler, or with ``MEMLAB_NATIVE=0``, :func:`native_kernel` returns None and the engine
uses its portable XLA path (the one GPUs always use).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import jax

__all__ = ["NATIVE_TARGETS", "build_native_kernel", "native_kernel", "native_kernel_status", "native_threads"]

_SOURCE = Path(__file__).with_name("csrc") / "mc_tile.cc"
NATIVE_TARGETS = {"float32": "memlab_mc_tile_f32", "float64": "memlab_mc_tile_f64"}
_SYMBOLS = {"float32": "MemlabMcTileF32", "float64": "MemlabMcTileF64"}
_FLAGS = (
    "-O3",
    "-march=native",
    "-fopenmp-simd",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-std=c++17",
    "-shared",
    "-fPIC",
    "-pthread",
)

_lock = threading.Lock()
_state: dict = {"loaded": None, "reason": "not tried yet", "library": None}


def _enabled() -> bool:
    return os.environ.get("MEMLAB_NATIVE", "1").strip().lower() not in ("0", "", "false", "no", "off")


def _cache_dir() -> Path:
    setting = os.environ.get("MEMLAB_NATIVE_CACHE")
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "memlab" / "native"


def _cpu_signature() -> str:
    """The CPU's model and feature flags (``-march=native`` code is only valid on the same kind of CPU)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
        lines = [line for line in text.splitlines() if line.startswith(("model name", "flags", "Features"))]
        return "\n".join(sorted(set(lines)))
    except OSError:
        return platform.processor() or platform.machine()


def _build(compiler: str, include_dir: str) -> Path:
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=True, timeout=60).stdout
    fingerprint = hashlib.sha256(
        "\0".join(
            [_SOURCE.read_text(), compiler, version, " ".join(_FLAGS), jax.__version__, _cpu_signature()]
        ).encode()
    )
    target = _cache_dir() / f"mc_tile-{fingerprint.hexdigest()[:20]}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / target.name
        subprocess.run(
            [compiler, *_FLAGS, "-isystem", include_dir, str(_SOURCE), "-o", str(built)],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
        os.replace(built, target)  # atomic: concurrent builders leave one complete file
    return target


def native_kernel(dtype_name: str) -> str | None:
    """The registered FFI target for ``dtype_name`` ("float32"/"float64"), built if needed; None if unavailable."""
    with _lock:
        if _state["loaded"] is None:
            _state["loaded"] = False
            if not _enabled():
                _state["reason"] = "disabled by MEMLAB_NATIVE=0"
            else:
                compiler = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
                if compiler is None:
                    _state["reason"] = "no C++ compiler found (set CXX)"
                else:
                    try:
                        library = ctypes.cdll.LoadLibrary(str(_build(compiler, jax.ffi.include_dir())))
                        for name, target in NATIVE_TARGETS.items():
                            jax.ffi.register_ffi_target(
                                target, jax.ffi.pycapsule(getattr(library, _SYMBOLS[name])), platform="cpu"
                            )
                        _state.update(loaded=True, reason="ready", library=library)
                    except (OSError, subprocess.SubprocessError, AttributeError) as error:
                        detail = (getattr(error, "stderr", None) or str(error)).strip()
                        _state["reason"] = f"build failed: {detail.splitlines()[-1] if detail else error}"
        return NATIVE_TARGETS[dtype_name] if _state["loaded"] else None


def build_native_kernel() -> str:
    """Build (or find in the cache) the native CPU kernel now; returns its status (``"ready"`` or why not)."""
    native_kernel("float32")
    return native_kernel_status()


def native_kernel_status() -> str:
    """``"ready"`` or why the native CPU kernel is not used (for run metadata)."""
    return str(_state["reason"])


def native_threads(devices: int) -> int:
    """Threads per device for the native kernel: ``$MEMLAB_NATIVE_THREADS``, else the CPUs this process may use,
    shared among the devices. The numbers do not depend on it."""
    setting = os.environ.get("MEMLAB_NATIVE_THREADS", "").strip()
    if setting.isdigit() and int(setting) > 0:
        return int(setting)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, cpus // max(1, devices))
