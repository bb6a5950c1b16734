"""``memlab verify``: arguments, exit codes, the printed table and the reports."""

import json
import subprocess
import sys

import pytest

from memlab.cli import main
from memlab.verification import CLAIM_FIELDS, CheckResult, Claim, all_claims, quantity
from memlab.verification import _registry


def test_list_prints_every_claim(capsys):
    assert main(["verify", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(c.id in out for c in all_claims())


@pytest.mark.parametrize("argv", [["verify", "--only", "no-such-claim"], ["verify", "--only", "lemma-D.1,"],
                                  ["verify", "--quick", "--full"], ["verify", "--seed", "-1"],
                                  ["verify", "--bogus"]])
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "error" in err


def test_output_path_that_is_a_directory_is_refused_before_any_work(tmp_path, capsys):
    assert main(["verify", "--only", "lemma-D.1", "--json", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_run_writes_reports_and_strict_turns_fails_into_exit_1(tmp_path, capsys):
    out_json, out_md = tmp_path / "r" / "v.json", tmp_path / "v.md"
    argv = ["verify", "--only", "prop-C.4,lemma-D.1", "--json", str(out_json), "--report", str(out_md), "--seed", "5"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "prop-C.4" in printed and "fails" in printed and "holds" in printed
    doc = json.loads(out_json.read_text())
    assert [c["id"] for c in doc["claims"]] == ["prop-C.4", "lemma-D.1"]
    assert all(tuple(c) == CLAIM_FIELDS for c in doc["claims"])
    assert doc["config"]["seed"] == 5 and doc["config"]["budget"] == "quick"
    assert doc["summary"]["fails"] == 1 and doc["claims"][0]["counterexample"] is not None
    assert "Proposition C.4" in out_md.read_text()
    assert main(argv + ["--strict"]) == 1
    assert main(["verify", "--only", "lemma-D.1", "--strict"]) == 0


def test_same_seed_same_numbers(tmp_path):
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    for p in paths:
        assert main(["verify", "--only", "prop-C.3-proof-rate,prop-C.4", "--json", str(p)]) == 0
    a, b = (json.loads(p.read_text()) for p in paths)
    assert [c["measured"] for c in a["claims"]] == [c["measured"] for c in b["claims"]]


@pytest.fixture
def crashing_claim():
    def boom(budget, *, rng):
        raise RuntimeError("kaboom")

    def fine(budget, *, rng):
        return CheckResult(verdict="holds", measured=quantity(0.0), expected=quantity(0.0),
                           tolerance={"value": 0, "why": "-"}, settings={"tried": 1}, summary="fine")

    _registry._CLAIMS["zz-crash"] = Claim(id="zz-crash", paper_ref="test", statement="crashes", kind="identity",
                                          check=boom)
    _registry._CLAIMS["zz-fine"] = Claim(id="zz-fine", paper_ref="test", statement="fine", kind="identity", check=fine)
    yield
    del _registry._CLAIMS["zz-crash"], _registry._CLAIMS["zz-fine"]


def test_a_crashing_check_is_reported_and_the_others_still_run(crashing_claim, tmp_path, capsys):
    path = tmp_path / "c.json"
    assert main(["verify", "--only", "zz-crash,zz-fine", "--json", str(path)]) == 1
    captured = capsys.readouterr()
    assert "kaboom" in captured.err and "zz-fine" in captured.out
    doc = json.loads(path.read_text())
    crash, fine = doc["claims"]
    assert crash["details"]["crashed"] and "RuntimeError: kaboom" in crash["details"]["crash"]
    assert fine["verdict"] == "holds" and doc["summary"]["crashed_ids"] == ["zz-crash"]


@pytest.mark.slow
def test_quick_suite_on_a_fresh_process(tmp_path):
    path = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, "-m", "memlab", "verify", "--quick", "--json", str(path)],
                          capture_output=True, text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(path.read_text())
    assert len(doc["claims"]) == len(all_claims()) and doc["summary"]["crashed"] == 0
    verdicts = {c["id"]: c["verdict"] for c in doc["claims"]}
    assert verdicts["thm-C.1-generic"] == verdicts["prop-C.4"] == verdicts["thm-3.2"] == "fails"
