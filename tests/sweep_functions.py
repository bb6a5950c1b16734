"""Run functions for the sweep tests (module-level, importable by pool and submitit workers)."""

from memlab._io import write_npz


def powers_run(config, run_dir):
    """``{"value": x}`` -> ``{"square": x*x, "cube": x**3}`` and an NPZ of x^0..x^3 beside the result."""
    value = float(config["value"])
    write_npz(run_dir / "powers.npz", powers=[value**p for p in range(4)])
    return {"square": value * value, "cube": value**3}
