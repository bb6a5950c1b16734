"""``memlab verify``: arguments, exit codes, the printed table and the reports."""

import json
import subprocess
import sys

import pytest

from memlab.cli import main
from memlab.verification import CLAIM_FIELDS, CheckResult, Claim, _registry, all_claims, quantity


def test_list_prints_every_claim(capsys):
    assert main(["verify", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(c.id in out for c in all_claims())


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "--only", "no-such-claim"],
        ["verify", "--only", "lemma-D.1,"],
        ["verify", "--quick", "--full"],
        ["verify", "--seed", "-1"],
        ["verify", "--bogus"],
    ],
)
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
    # both sides and the power of each claim are in the report and the printed table
    for claim in doc["claims"]:
        assert claim["sides"]["statement"] and claim["sides"]["measurement"]
        assert set(claim["power"]) >= {"detectable_relative_error", "method"}
    assert doc["claims"][0]["power"]["detectable_relative_error"] == 0.0  # prop-C.4 fails as stated
    assert doc["claims"][1]["power"]["detectable_relative_error"] < 1e-6  # lemma D.1 is tight
    assert "power" in printed and "fails as is" in printed
    assert doc["config"]["decision_rules"]["false_alarm_per_claim"] == 1e-3
    md = out_md.read_text()
    assert "Proposition C.4" in md and "detectable rel. error" in md and "statement side" in md
    assert main([*argv, "--strict"]) == 1
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
        return CheckResult(
            verdict="holds",
            measured=quantity(0.0),
            expected=quantity(0.0),
            tolerance={"value": 0, "why": "-"},
            settings={"tried": 1},
            summary="fine",
        )

    def inconsistent(budget, *, rng):
        return CheckResult(
            verdict="error",
            measured=quantity(0.0),
            expected=quantity(0.0),
            tolerance={"value": 0, "why": "-"},
            settings={"tried": 1},
            summary="measurement inconsistent: exact 0.1 vs simulated 0.3",
        )

    _registry._CLAIMS["zz-crash"] = Claim(
        id="zz-crash", paper_ref="test", statement="crashes", kind="identity", check=boom
    )
    _registry._CLAIMS["zz-fine"] = Claim(id="zz-fine", paper_ref="test", statement="fine", kind="identity", check=fine)
    _registry._CLAIMS["zz-error"] = Claim(
        id="zz-error", paper_ref="test", statement="x", kind="identity", check=inconsistent
    )
    yield
    del _registry._CLAIMS["zz-crash"], _registry._CLAIMS["zz-fine"], _registry._CLAIMS["zz-error"]


def test_a_crashing_check_is_reported_and_the_others_still_run(crashing_claim, tmp_path, capsys):
    path = tmp_path / "c.json"
    assert main(["verify", "--only", "zz-crash,zz-fine", "--json", str(path)]) == 1
    captured = capsys.readouterr()
    assert "kaboom" in captured.err and "zz-fine" in captured.out
    doc = json.loads(path.read_text())
    crash, fine = doc["claims"]
    assert crash["verdict"] == "error" and "error/crash" in captured.out
    assert crash["details"]["crashed"] and "RuntimeError: kaboom" in crash["details"]["crash"]
    assert fine["verdict"] == "holds" and doc["summary"]["crashed_ids"] == ["zz-crash"]
    assert doc["summary"]["error_ids"] == ["zz-crash"]


def test_an_inconsistent_measurement_is_an_error_with_exit_1(crashing_claim, capsys):
    assert main(["verify", "--only", "zz-error,zz-fine"]) == 1
    captured = capsys.readouterr()
    assert "zz-error" in captured.err and "inconsistent" in captured.err
    assert "1 error" in captured.out


@pytest.mark.slow
def test_quick_suite_on_a_fresh_process(tmp_path):
    path = tmp_path / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "memlab", "verify", "--quick", "--json", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(path.read_text())
    assert len(doc["claims"]) == len(all_claims()) and doc["summary"]["crashed"] == 0
    verdicts = {c["id"]: c["verdict"] for c in doc["claims"]}
    assert verdicts["thm-C.1-generic"] == verdicts["prop-C.4"] == verdicts["thm-3.2"] == "fails"
    assert all(v == "holds" for k, v in verdicts.items() if k not in ("thm-C.1-generic", "prop-C.4", "thm-3.2"))
    power = {c["id"]: c["power"]["detectable_relative_error"] for c in doc["claims"]}
    # the issue's targets at --quick: identities <= 1e-6, Theorem 3.1 <= 2%, Theorem 3.2's constant <= 10%
    assert all(power[c["id"]] <= 1e-6 for c in doc["claims"] if c["kind"] == "identity")
    assert power["thm-3.1"] <= 0.02 and power["thm-3.2-coupon"] <= 0.10
