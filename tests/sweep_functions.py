"""Run functions for the sweep tests (module-level, importable by pool and submitit workers)."""

from memlab._io import write_npz


def powers_run(config, run_dir):
    """``{"value": x}`` -> ``{"square": x*x, "cube": x**3}`` and an NPZ of x^0..x^3 beside the result."""
    value = float(config["value"])
    write_npz(run_dir / "powers.npz", powers=[value**p for p in range(4)])
    return {"square": value * value, "cube": value**3}


def logged_run(config, run_dir):
    """Appends its value to ``config["log"]`` (one line per execution, O_APPEND), writes two arrays with a pause
    between them (so a kill can land mid-run), and returns a few numbers derived from the value."""
    import os
    import time

    import numpy as np

    value = float(config["value"])
    fd = os.open(config["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{value!r} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    write_npz(run_dir / "first.npz", values=np.linspace(0.0, value, 50))
    time.sleep(float(config.get("pause", 0.0)))
    write_npz(run_dir / "second.npz", values=np.full((4, 3), value**2))
    return {"square": value * value, "root": abs(value) ** 0.5, "tag": f"v{value:g}"}


def nan_run(config, run_dir):
    """Returns a non-finite number for negative values."""
    value = float(config["value"])
    return {"log": float("nan") if value < 0 else value}
