"""``memlab crossover``: JSON round trip, the issue's reference values, human output, bad input."""

import json
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest

from memlab.cli import main

BASE = ["crossover", "--n", "200", "--d", "50", "--k", "12"]


def run_cli(argv, capsys):
    """Run main() in-process; argparse errors raise SystemExit, InvalidInputError returns 2."""
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def independent_m_star_over_n(weighting, continuous, c):
    """Section 2 / eq. 14 by hand for VP, sigma_*^2 = 1: 1/(psi+1) = t^2, psi = 1/t^2 - 1."""
    if continuous:  # closed-form integrals over [a, b]
        a, b = 0.001, 0.999
        int_t2 = (b**3 - a**3) / 3
        e_g = int_t2 / (b - a) if weighting == "x0" else ((b - a) - int_t2) / (b - a)
        e_l = 1.0 if weighting == "x0" else (1 / a - 1 / b - (b - a)) / (b - a)
    else:
        t = 0.999 - 0.998 * np.arange(26) / 25
        lam = np.ones_like(t) if weighting == "x0" else 1 / t**2 - 1
        e_l, e_g = np.mean(lam), np.mean(lam * t**2)
    return 1 - e_g / (c * e_l)


@pytest.mark.parametrize("c", ["1", "2"])
@pytest.mark.parametrize("continuous", [False, True])
@pytest.mark.parametrize("weighting", ["x0", "eps"])
def test_reference_values_json_round_trip(weighting, continuous, c, capsys):
    argv = BASE + ["--weighting", weighting, "--c", c, "--json"] + (["--continuous"] if continuous else [])
    code, out, err = run_cli(argv, capsys)
    assert code == 0 and err == ""
    lines = out.strip().splitlines()
    assert len(lines) == 1
    obj = json.loads(lines[0])
    assert json.loads(json.dumps(obj)) == obj
    for key in (
        "m_star",
        "m_star_over_n",
        "n",
        "d",
        "k",
        "c",
        "sigma2",
        "weighting",
        "schedule",
        "steps",
        "t_min",
        "t_max",
        "formula_latex",
    ):
        assert key in obj
    assert (obj["n"], obj["d"], obj["k"], obj["c"], obj["weighting"]) == (200, 50, 12, float(c), weighting)
    assert obj["steps"] == (None if continuous else 25)
    expected = independent_m_star_over_n(weighting, continuous, float(c))
    assert obj["m_star_over_n"] == pytest.approx(expected, abs=1e-12)
    assert obj["m_star"] == pytest.approx(200 * expected, abs=1e-9)
    assert float(Fraction(obj["m_star_over_n_exact"])) == pytest.approx(obj["m_star_over_n"], abs=1e-15)
    assert r"\mathbb{E}_t" in obj["formula_latex"]


def test_fine_grid_skips_the_exact_value(capsys):
    code, out, _err = run_cli([*BASE, "--steps", "5000", "--weighting", "score", "--json"], capsys)
    obj = json.loads(out)
    assert code == 0 and obj["m_star_over_n_exact"] is None and obj["steps"] == 5000


def test_human_output(capsys):
    code, out, err = run_cli(BASE, capsys)
    assert code == 0 and err == ""
    assert "M*/N = 0.8301798200" in out and "exact: 41508991/50000000" in out
    assert "<- M*" in out and "x_pmem,M" in out and "Eₜ" in out


def test_weights_file_formats(tmp_path, capsys):
    weights = [0.0] * 26
    weights[16] = 2.5
    as_json = tmp_path / "w.json"
    as_json.write_text(json.dumps(weights))
    as_csv = tmp_path / "w.csv"
    as_csv.write_text("weight\n" + "\n".join(map(str, weights)) + "\n")
    as_txt = tmp_path / "w.txt"
    as_txt.write_text("# one per line\n" + "\n".join(map(str, weights)) + "\n\n")
    t = 0.36028
    psi = (1 - t * t) / (t * t)
    expected = 1 - 1 / (2 * (psi + 1))
    for path in (as_json, as_csv, as_txt):
        code, out, err = run_cli([*BASE, "--weights", str(path), "--json"], capsys)
        assert code == 0, err
        obj = json.loads(out)
        assert obj["weighting"] == "user" and obj["m_star_over_n"] == pytest.approx(expected, abs=1e-13)


def _bad_files(tmp_path):
    files = {
        "missing": tmp_path / "nope.json",
        "malformed": tmp_path / "bad.json",
        "nan_json": tmp_path / "nan.json",
        "not_list": tmp_path / "obj.json",
        "negative": tmp_path / "neg.csv",
        "all_zero": tmp_path / "zero.txt",
        "short": tmp_path / "short.txt",
        "text": tmp_path / "text.txt",
        "two_cols": tmp_path / "two.csv",
        "binary": tmp_path / "bin.txt",
        "empty": tmp_path / "empty.txt",
        "directory": tmp_path,
    }
    files["malformed"].write_text("[1, 2,")
    files["nan_json"].write_text(json.dumps([1.0] * 25 + [float("nan")]))
    files["not_list"].write_text('{"a": 1}')
    files["negative"].write_text("\n".join(["1"] * 25 + ["-1"]))
    files["all_zero"].write_text("\n".join(["0"] * 26))
    files["short"].write_text("\n".join(["1"] * 25))
    files["text"].write_text("\n".join(["1"] * 25 + ["one"]))
    files["two_cols"].write_text("\n".join(["1,2"] * 26))
    files["binary"].write_bytes(b"\xff\xfe\x00\x81" * 10)
    files["empty"].write_text("")
    return files


BAD_ARGS = [
    ["--n", "0"],
    ["--n", "-3"],
    ["--n", "abc"],
    ["--d", "0"],
    ["--k", "-1"],
    ["--c", "0"],
    ["--c", "-1"],
    ["--c", "nan"],
    ["--sigma2", "0"],
    ["--sigma2", "-1"],
    ["--sigma2", "inf"],
    ["--steps", "0"],
    ["--steps", "-2"],
    ["--weighting", "bogus"],
    ["--schedule", "cosine"],
    ["--continuous", "--t-min", "0.5", "--t-max", "0.5"],
    ["--continuous", "--t-min", "0.6", "--t-max", "0.5"],
    ["--continuous", "--t-min", "0"],
    ["--continuous", "--t-max", "1.5"],
    ["--continuous", "--t-min", "-0.1"],
    ["--t-min", "0.1"],
    ["--continuous", "--steps", "10"],
    ["--weighting", "eps", "--weights", "w.json"],
]


@pytest.mark.parametrize("extra", BAD_ARGS, ids=[" ".join(a) for a in BAD_ARGS])
def test_bad_arguments_one_line_exit_2(extra, capsys):
    argv = BASE + extra  # a repeated option (--n 0) overrides the base value
    code, out, err = run_cli(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "error" in err


def test_missing_required(capsys):
    code, _out, err = run_cli(["crossover", "--d", "50", "--k", "12"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_bad_weights_files_one_line_exit_2(tmp_path, capsys):
    for name, path in _bad_files(tmp_path).items():
        code, out, err = run_cli([*BASE, "--weights", str(path)], capsys)
        assert code == 2, name
        assert out == "" and len(err.strip().splitlines()) == 1 and "error" in err, name
    good = tmp_path / "good.json"
    good.write_text(json.dumps([1] * 26))
    code, out, err = run_cli([*BASE, "--weights", str(good), "--continuous"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_subprocess_bad_input_and_no_jax():
    bad = subprocess.run(
        [sys.executable, "-m", "memlab", "crossover", "--n", "200", "--d", "50", "--k", "12", "--sigma2", "-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and bad.stdout == "" and len(bad.stderr.strip().splitlines()) == 1
    code = (
        "import sys; from memlab.cli import main; rc = main(%r); "
        "print('jax imported' if 'jax' in sys.modules else 'no jax', file=sys.stderr); sys.exit(rc)"
    ) % ([*BASE, "--json", "--continuous", "--weighting", "v"])
    good = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert good.returncode == 0 and good.stderr.strip() == "no jax"
    assert json.loads(good.stdout)["weighting"] == "v"
