"""Figures 4 and 5 (the simple image model) through the CLI: outputs, bad input, cache reuse."""

import csv
import json

import numpy as np
import pytest

from memlab.cli import main


def _one_line_exit_2(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "error" in err, err
    return err


@pytest.mark.parametrize("figure", ["4", "5"])
def test_malformed_user_template_file_is_exit_2_with_one_line(tmp_path, capsys, figure):
    bad = tmp_path / "templates.idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x05")  # header cut short
    extra = (
        ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
        if figure == "5"
        else ["--out", str(tmp_path / "out")]
    )
    err = _one_line_exit_2(capsys, ["figure", figure, "--templates", str(bad), *extra])
    assert "templates.idx3-ubyte" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").glob("figure*"))
    assert not (tmp_path / "cache").exists()
    _one_line_exit_2(capsys, ["figure", figure, "--templates", str(tmp_path / "missing.npz"), *extra])


def test_bad_options_are_exit_2(tmp_path, capsys):
    for argv in (
        ["figure", "5", "--m-values", "0,10"],
        ["figure", "5", "--m-values", "a"],
        ["figure", "4", "--side", "0"],
        ["figure", "4", "--color-mean", "1,2", "--out", str(tmp_path)],
        ["figure", "5", "--t-index", "26", "--out", str(tmp_path)],
    ):
        with pytest.raises(SystemExit) as exc:
            if main(argv) == 2:
                raise SystemExit(2)
        assert exc.value.code == 2, argv
        assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_figure4_with_the_exact_denoiser(tmp_path):
    out = tmp_path / "fig4"
    assert main(["figure", "4", "--denoiser", "exact", "--side", "5", "--k", "3", "--n", "3", "--out", str(out)]) == 0
    for ext in ("png", "pdf", "csv", "npz", "json"):
        assert (out / f"figure4.{ext}").is_file()
    with open(out / "figure4.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and set(rows[0]) >= {"matched_template", "memorized", "color_2"}
    meta = json.loads((out / "figure4.json").read_text())
    assert meta["denoiser"]["name"] == "exact" and meta["data"]["source"].endswith("load_digits")
    assert {"versions", "device", "timings", "seed", "settings"} <= set(meta)
    data = np.load(out / "figure4.npz")
    assert data["samples"].shape == (3, 75) and np.all(np.isfinite(data["samples"]))


@pytest.mark.slow
def test_figure4_trained_tiny(tmp_path):
    out = tmp_path / "fig4"
    assert main(["figure", "4", "--side", "4", "--k", "2", "--n", "2", "--epochs", "5", "--out", str(out)]) == 0
    meta = json.loads((out / "figure4.json").read_text())
    assert meta["denoiser"]["m"] == 2 and np.isfinite(meta["denoiser"]["final_loss"])


@pytest.mark.slow
def test_figure5_tiny_sweep_then_cache(tmp_path, capsys):
    out = tmp_path / "fig5"
    argv = [
        "figure",
        "5",
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
        "--out",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    assert main(argv) == 0
    first = (out / "figure5.csv").read_text()
    assert "2 models trained, 0 from cache" in capsys.readouterr().out
    for name in ("figure5.png", "figure5.pdf", "figure5.json", "figure5_excess.csv", "figure5_excess.png"):
        assert (out / name).is_file()
    assert main(argv) == 0
    assert "0 models trained, 2 from cache" in capsys.readouterr().out
    assert (out / "figure5.csv").read_text() == first
    with open(out / "figure5.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["M"]) for r in rows] == [2, 6]
    assert float(rows[1]["pmem_train_loss"]) == pytest.approx(float(rows[1]["mem_train_loss"]))
