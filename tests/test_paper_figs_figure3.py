"""``memlab figure 3``: one-line errors on bad input (fast) and the output files of a tiny real run (slow)."""

import csv
import json

import pytest

from memlab.cli import main


@pytest.fixture(autouse=True)
def _no_persistent_jax_cache(monkeypatch):
    monkeypatch.setenv("MEMLAB_JAX_CACHE", "0")  # tests write nothing outside tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ["--ns", "0"],
        ["--ns", "1"],
        ["--ds", "a,b"],
        ["--beta", "-1"],
        ["--beta", "inf"],
        ["--beta", "nan"],
        ["--test-fraction", "1"],
        ["--preset", "gpu"],
        ["--exact-draws", "1"],
        ["--tau", "0"],
        ["--normalize", "max"],
    ],
)
def test_bad_options_are_one_line_exit_2(tmp_path, capsys, args):
    out = tmp_path / "out"
    try:
        code = main(["figure", "3", *args, "--out", str(out), "--cache-dir", str(tmp_path / "cache")])
    except SystemExit as exc:  # argparse errors
        code = exc.code
    assert code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not out.exists()


def test_help_lists_the_presets(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["figure", "3", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--preset" in text and "paper" in text and "--tau" in text


TINY = [
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
]


@pytest.mark.slow
def test_tiny_run_writes_figure_table_and_json_and_reuses_the_cache(tmp_path, capsys):
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert main(["figure", "3", *TINY, "--out", str(out), "--cache-dir", str(cache)]) == 0
    for name in ("figure3.png", "figure3.pdf", "figure3.csv", "figure3_weights.csv", "figure3.json"):
        assert (out / name).is_file()
    with open(out / "figure3.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["n"], r["d"], r["k"]) for r in rows] == [("8", "4", "2"), ("10", "4", "2")]
    for method in ("fitted_approx", "fitted_exact", "x0_approx", "eps_approx", "x0_exact", "eps_exact"):
        assert f"{method}_m_hat" in rows[0] and f"{method}_m_nearest" in rows[0]
    summary = json.loads((out / "figure3.json").read_text())
    assert summary["runs"]["from_cache"] == 0 and summary["versions"]["memlab"]
    assert set(summary["methods"]) >= {"fitted_approx", "x0_approx", "eps_approx"}
    first_csv = (out / "figure3.csv").read_text()
    capsys.readouterr()
    assert main(["figure", "3", *TINY, "--out", str(out), "--cache-dir", str(cache)]) == 0
    summary = json.loads((out / "figure3.json").read_text())
    assert summary["runs"]["executed_now"] == 0 and summary["runs"]["from_cache"] > 0
    assert (out / "figure3.csv").read_text() == first_csv  # same seed, cached runs: identical table
