"""Same seed, same bytes: every figure's CSV / PNG / PDF / NPZ, computed twice from scratch (fresh caches).

Timings live only in the JSON files (which also carry the creation time), so they are not compared.
The whole check retrains every figure twice: slow.
"""

import pytest

from memlab.cli import main

_TINY_GMM = [
    "--n",
    "12",
    "--d",
    "4",
    "--k",
    "2",
    "--m-values",
    "3,15",
    "--refine",
    "0",
    "--epochs",
    "12",
    "--eval-draws",
    "2",
    "--n-eval",
    "8",
]
FIGURES = {
    1: ["--n", "12", "--d", "4", "--k", "2", "--draws", "4", "--all-t"],
    2: _TINY_GMM,
    3: [
        "--ns",
        "8,10",
        "--ds",
        "4",
        "--ks",
        "2",
        "--multiples",
        "12",
        "--refine",
        "1",
        "--epochs",
        "100",
        "--n-eval",
        "10",
        "--eval-draws",
        "2",
        "--exact-draws",
        "2",
        "--test-fraction",
        "0.5",
    ],
    4: ["--side", "4", "--k", "2", "--n", "2", "--epochs", "5"],
    5: [
        "--side",
        "4",
        "--k",
        "2",
        "--n",
        "6",
        "--m-values",
        "2,6",
        "--epochs",
        "5",
        "--eval-draws",
        "3",
        "--n-eval",
        "6",
        "--excess",
        "--excess-draws",
        "2",
    ],
    6: _TINY_GMM,
    7: [*_TINY_GMM, "--seeds", "0,1"],
}
_SWEEPS = {2, 3, 5, 6, 7}


@pytest.fixture(autouse=True)
def _no_persistent_compilation_cache(monkeypatch):
    monkeypatch.setenv("MEMLAB_JAX_CACHE", "0")


def _run(figure: int, folder):
    argv = ["figure", str(figure), *FIGURES[figure], "--out", str(folder / "out")]
    if figure in _SWEEPS:
        argv += ["--cache-dir", str(folder / "cache")]
    assert main(argv) == 0
    return {p.name: p.read_bytes() for p in sorted((folder / "out").iterdir()) if p.suffix != ".json"}


@pytest.mark.slow
@pytest.mark.parametrize("figure", sorted(FIGURES))
def test_same_seed_same_bytes(figure, tmp_path, capsys):
    first = _run(figure, tmp_path / "a")
    second = _run(figure, tmp_path / "b")
    assert set(first) == set(second) and {".png", ".pdf", ".csv"} <= {name[name.rfind(".") :] for name in first}
    different = [name for name in first if first[name] != second[name]]
    assert not different, f"figure {figure}: {different} differ between two runs with the same seed"
    for name, data in first.items():
        if name.endswith(".csv"):
            columns = data.decode().splitlines()[0].lower().split(",")
            timing = [c for c in columns if "seconds" in c or c.endswith("_s") or "elapsed" in c]
            assert not timing, f"{name} has timing columns {timing}"
