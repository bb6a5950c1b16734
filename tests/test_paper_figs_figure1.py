"""``memlab figure 1``: the four files, the exact CSV layout, determinism, and one-line errors on bad input."""

import csv
import json

import numpy as np
import pytest

from memlab.cli import main
from memlab.paper_figs import figure1

SMALL = ["--n", "12", "--d", "5", "--k", "3", "--draws", "4"]


@pytest.fixture(autouse=True)
def _no_persistent_jax_cache(monkeypatch):
    monkeypatch.setenv("MEMLAB_JAX_CACHE", "0")  # tests write nothing outside tmp_path


def _run_figure(tmp_path, name, *extra):
    out = tmp_path / name
    code = main(["figure", "1", *SMALL, "--out", str(out), *extra])
    return code, out


def _read_csv(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_writes_four_files_with_the_exact_csv_columns(tmp_path, capsys):
    code, out = _run_figure(tmp_path, "a")
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == ["figure1.csv", "figure1.json", "figure1.pdf", "figure1.png"]
    rows = _read_csv(out / "figure1.csv")
    assert tuple(rows[0]) == figure1.CSV_COLUMNS
    assert rows[0] == (
        "t,psi,M,loss_mem,excess_pmem,excess_pmem_se,excess_pmem_approx_c1,excess_pmem_approx_c2,"
        "excess_gen,excess_gen_se,excess_gen_approx"
    ).split(",")
    body = np.array(rows[1:], dtype=float)
    assert body.shape == (12, 11)
    np.testing.assert_array_equal(body[:, 2], np.arange(1, 13))
    np.testing.assert_allclose(body[:, 0], 0.36028)  # t_16
    np.testing.assert_allclose(body[:, 7], 2 * (1 - np.arange(1, 13) / 12) * 5)  # C = 2 line, d = 5, sigma2 = 1
    np.testing.assert_allclose(body[:, 6], body[:, 7] / 2)
    np.testing.assert_allclose(body[:, 10], 5 / (body[:, 1] + 1))  # Theorem 3.1
    assert np.all(np.isfinite(body)) and np.all(body[:, 5] >= 0)
    meta = json.loads((out / "figure1.json").read_text())
    assert {"config", "versions", "device", "timings", "summary"} <= set(meta)
    assert {"setup_s", "compute_s", "plot_s", "write_s"} <= set(meta["timings"])
    assert meta["config"]["seed"] == 0 and meta["config"]["draws"] == 4 and meta["config"]["n"] == 12
    captured = capsys.readouterr()
    assert str(out.resolve()) in captured.err and "Thm 3.1" in captured.out


def test_same_seed_gives_identical_files_and_other_seed_does_not(tmp_path):
    _, first = _run_figure(tmp_path, "a")
    _, second = _run_figure(tmp_path, "b")
    _, other = _run_figure(tmp_path, "c", "--seed", "1")
    for name in ("figure1.csv", "figure1.png", "figure1.pdf"):  # no dates or timings in the data and figures
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "figure1.csv").read_bytes() != (other / "figure1.csv").read_bytes()


def test_python_api_matches_the_command(tmp_path):
    _, out = _run_figure(tmp_path, "cli")
    settings = figure1.Figure1Settings(n=12, d=5, k=3, draws=4)
    result = figure1.compute(settings)
    assert result.losses.excess_pmem.shape == (1, 12) and result.t.shape == (1,)
    written = figure1.save(result, tmp_path / "api")
    assert [p.name for p in written] == ["figure1.png", "figure1.pdf", "figure1.csv", "figure1.json"]
    assert (tmp_path / "api" / "figure1.csv").read_bytes() == (out / "figure1.csv").read_bytes()


def test_user_data_file(tmp_path):
    # Same shapes as SMALL (N = 12, d = 5, K = 3, 4 draws): reuses the compiled kernel.
    rng = np.random.default_rng(0)
    means = rng.standard_normal((3, 5)) * 3
    x_train = means[rng.integers(0, 3, 12)] + rng.standard_normal((12, 5))
    np.savez(tmp_path / "data.npz", x_train=x_train, means=means, sigma2=np.array(0.5))
    out = tmp_path / "out"
    assert main(["figure", "1", "--data", str(tmp_path / "data.npz"), "--draws", "4", "--out", str(out)]) == 0
    body = np.array(_read_csv(out / "figure1.csv")[1:], dtype=float)
    assert body.shape == (12, 11)
    np.testing.assert_allclose(body[:, 7], 2 * (1 - np.arange(1, 13) / 12) * 5 * 0.5)  # sigma2 from the file


@pytest.mark.slow
def test_all_t_float64(tmp_path):
    code, out = _run_figure(tmp_path, "all", "--all-t", "--dtype", "float64")
    assert code == 0
    body = np.array(_read_csv(out / "figure1.csv")[1:], dtype=float)
    assert body.shape == (26 * 12, 11)
    assert np.all(np.isfinite(body))


def _bad_file(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    "arrays",
    [
        {"means": np.zeros((2, 3))},  # missing x_train
        {"x_train": np.zeros((5, 3))},  # missing means
        {"x_train": np.zeros((5, 3)), "means": np.zeros((2, 4))},  # d mismatch
        {"x_train": np.zeros(5), "means": np.zeros((2, 1))},  # not 2-D
        {"x_train": np.full((5, 3), np.nan), "means": np.zeros((2, 3))},  # NaN
        {"x_train": np.zeros((1, 3)), "means": np.zeros((2, 3))},  # N < 2
    ],
)
def test_bad_data_file_is_one_line_exit_2(tmp_path, capsys, arrays):
    out = tmp_path / "out"
    code = main(["figure", "1", "--data", str(_bad_file(tmp_path, **arrays)), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("memlab: error:")
    assert not out.exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--t-index", "26"],
        ["--draws", "1"],
        ["--all-t", "--t-index", "3"],
        ["--data", "x.npz", "--n", "5"],
        ["--dtype", "float16"],
        ["--chunk-size", "0"],
    ],
)
def test_bad_options_are_one_line_exit_2(tmp_path, capsys, args):
    out = tmp_path / "out"
    try:
        code = main(["figure", "1", *args, "--out", str(out)])
    except SystemExit as exc:  # argparse errors
        code = exc.code
    assert code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not out.exists()
