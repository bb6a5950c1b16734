"""Figures 2, 6, 7 end to end on a tiny setting: outputs, cache reuse, transition fields, bad input."""

import csv
import json
from dataclasses import replace

import pytest

from memlab._sweep import SweepOptions
from memlab.cli import main
from memlab.paper_figs import figure2, preset

# A tiny setting (compilation dominates: one model in the default run, the second M and Figures 6/7 are slow).
COMMON = ["--n", "12", "--d", "4", "--k", "2", "--epochs", "12", "--eval-draws", "2", "--n-eval", "8"]
TINY = [*COMMON, "--m-values", "15"]
TWO_M = [*COMMON, "--m-values", "3,15"]


@pytest.fixture(autouse=True, scope="module")
def _no_persistent_compilation_cache():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MEMLAB_JAX_CACHE", "0")  # tests write nothing outside their tmp folders
        yield


@pytest.fixture(scope="module")
def figure2_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("fig")
    code = main(["figure", "2", *TINY, "--out", str(root / "f2"), "--cache-dir", str(root / "cache")])
    assert code == 0
    return root


def test_figure2_outputs(figure2_out):
    out = figure2_out / "f2"
    for name in ("figure2.png", "figure2.pdf", "figure2.csv", "figure2.json", "figure2_baselines.csv"):
        assert (out / name).stat().st_size > 0
    rows = list(csv.DictReader((out / "figure2.csv").open()))
    assert [int(r["m"]) for r in rows] == [15]
    # M = 15 > N = 12: initialised at (a repeat of) every training point with variance 1e-6, it memorizes
    assert float(rows[0]["memorization_ratio"]) == 1.0
    summary = json.loads((out / "figure2.json").read_text())
    assert summary["transition"]["m_pt"] == 15 and summary["transition"]["m_pt_grid_bracket"] == [None, 15]
    # M* (C = 2) is below N and, at this order, M*/N depends only on the weighting: eps puts it within 1e-4 of N
    assert 0 < summary["m_star"]["x0"] < summary["m_star"]["eps"] < 12 and summary["m_star_note"]
    assert summary["m_star"]["eps"] > 12 * (1 - 1e-4)
    assert summary["settings"]["n"] == 12 and summary["versions"]["jax"]
    baselines = list(csv.DictReader((out / "figure2_baselines.csv").open()))
    mem = next(r for r in baselines if r["denoiser"] == "x_hat_mem")
    star = next(r for r in baselines if r["denoiser"] == "x_hat_star")
    # x_hat_mem is the exact minimizer of the training loss (eq. 7): below x_hat_* on the same noise
    assert float(mem["train_loss"]) <= float(star["train_loss"])
    # two independent estimators of the train loss of x_hat_pmem,M (this module's direct evaluation and
    # mc_excess_losses' L(x_mem) + excess, different noise) agree within 5 combined SEs at every common M
    engine = {int(r["m"]): r for r in baselines if r["source"] == "excess_engine"}
    assert sorted(engine) == list(range(1, 13))
    raw = json.loads((out / "figure2.json").read_text())
    mem_se = raw["baselines"]["mem_all_train_loss_se"]
    for r in baselines:
        if r["source"] == "eval" and r["denoiser"] == "x_hat_pmem":
            other = engine[int(r["m"])]
            tolerance = 5 * (float(r["train_loss_se"]) + float(other["train_loss_se"]) + mem_se) + 1e-9
            assert abs(float(r["train_loss"]) - float(other["train_loss"])) <= tolerance


def test_rerun_reuses_the_cache(figure2_out):
    results = sorted((figure2_out / "cache").rglob("result.json"))
    stamps = [p.stat().st_mtime_ns for p in results]
    assert (
        main(["figure", "2", *TINY, "--out", str(figure2_out / "again"), "--cache-dir", str(figure2_out / "cache")])
        == 0
    )
    assert [p.stat().st_mtime_ns for p in sorted((figure2_out / "cache").rglob("result.json"))] == stamps
    assert (figure2_out / "again" / "figure2.csv").read_text() == (figure2_out / "f2" / "figure2.csv").read_text()


def test_python_api_reuses_the_commands_runs(figure2_out):
    cpu = preset(2, "cpu")
    settings = replace(
        cpu, n=12, d=4, k=2, m_values=(15,), recipe=replace(cpu.recipe, epochs=12, eval_draws=2, n_eval=8)
    )
    result = figure2.compute(settings, sweep=SweepOptions(cache_dir=figure2_out / "cache"))
    assert result.seeds[0].runs[0]["memorization_ratio"] == 1.0
    figure2.save(result, figure2_out / "api")
    assert (figure2_out / "api" / "figure2.csv").read_bytes() == (figure2_out / "f2" / "figure2.csv").read_bytes()
    assert "M_pt = 15" in figure2.describe(result)


@pytest.mark.slow
def test_figures_6_and_7_share_the_runs(figure2_out):
    assert (
        main(["figure", "2", *TWO_M, "--out", str(figure2_out / "two"), "--cache-dir", str(figure2_out / "cache")]) == 0
    )
    rows = list(csv.DictReader((figure2_out / "two" / "figure2.csv").open()))
    assert [int(r["m"]) for r in rows] == [3, 15]
    assert (
        main(["figure", "6", *TWO_M, "--out", str(figure2_out / "f6"), "--cache-dir", str(figure2_out / "cache")]) == 0
    )
    rows = list(csv.DictReader((figure2_out / "f6" / "figure6.csv").open()))
    assert float(rows[1]["learned_variance"]) < 1e-4 and float(rows[1]["dist_nearest_train"]) < 0.1
    assert (
        main(
            [
                "figure",
                "7",
                *TWO_M,
                "--seeds",
                "0,1",
                "--out",
                str(figure2_out / "f7"),
                "--cache-dir",
                str(figure2_out / "cache"),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader((figure2_out / "f7" / "figure7.csv").open()))
    assert sorted({r["seed"] for r in rows}) == ["0", "1"]
    for name in ("figure7.png", "figure7.pdf", "figure7.json", "figure7_baselines.csv"):
        assert (figure2_out / "f7" / name).exists()


@pytest.mark.parametrize(
    "argv", [["--m-values", "0,3"], ["--seeds", "0,1"], ["--adam-b2", "1.5"], ["--n", "1"], ["--executor", "threads"]]
)
def test_bad_input_is_one_line_exit_2(argv, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        raise SystemExit(main(["figure", "2", *argv, "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c")]))
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error" in err
    assert not (tmp_path / "o").exists()
