"""The claim registry, result schema, runner (seeds, crashes) and report writers."""

import json
import math

import numpy as np
import pytest

from memlab._errors import InvalidInputError
from memlab.verification import (
    CLAIM_FIELDS,
    KINDS,
    VERDICTS,
    Budget,
    CheckResult,
    Claim,
    Perturbation,
    Rescore,
    _registry,
    all_claims,
    claim_rng,
    power_rng,
    quantity,
    run_claim,
    run_claims,
    run_to_dict,
    select_claims,
    write_json_report,
    write_markdown_report,
)
from memlab.verification._power import measure_power

REQUIRED_IDS = {
    "lemma-2.1",
    "eq-11",
    "eq-7-minimizer",
    "eq-7-limit",
    "eq-13",
    "app-B",
    "app-H.4-inverse",
    "app-H.4-logdet",
    "eq-14-mstar",
    "thm-3.1",
    "thm-3.2",
    "thm-C.1-generic",
    "thm-C.1-eq17",
    "thm-C.1-eq18",
    "thm-C.1-eq19",
    "lemma-C.2",
    "prop-C.3",
    "prop-C.4",
    "lemma-D.1",
    "lemma-D.2",
    "lemma-E.1",
}


def _result(verdict="holds"):
    return CheckResult(
        verdict=verdict,
        measured=quantity(1.0, se=0.1),
        expected=quantity(1.0),
        tolerance={"value": 0.1, "why": "test"},
        settings={"tried": 1, "summary": "one"},
        summary="ok",
    )


def test_registry_covers_every_claim_of_the_issue():
    claims = all_claims()
    ids = [c.id for c in claims]
    assert REQUIRED_IDS <= set(ids)
    assert len(ids) == len(set(ids))
    for claim in claims:
        assert claim.kind in KINDS and claim.paper_ref and claim.statement


def test_select_claims_keeps_report_order_and_rejects_unknown_ids():
    ids = [c.id for c in all_claims()]
    picked = select_claims([ids[5], ids[1], ids[5]])
    assert [c.id for c in picked] == [ids[1], ids[5]]
    with pytest.raises(InvalidInputError, match="no-such-claim"):
        select_claims(["no-such-claim"])
    with pytest.raises(InvalidInputError):
        select_claims([" "])


def test_budget_and_verdict_validation():
    assert Budget("full").pick(1, 2) == 2 and Budget("quick").pick(1, 2) == 1
    with pytest.raises(ValueError):
        Budget("medium")
    with pytest.raises(ValueError):
        _result("maybe")
    with pytest.raises(ValueError):
        Claim(id="x", paper_ref="r", statement="s", kind="lemma", check=lambda b, *, rng: _result())


def test_claim_rng_depends_on_seed_and_id_only():
    a = claim_rng(3, "lemma-D.1").standard_normal(4)
    assert np.array_equal(a, claim_rng(3, "lemma-D.1").standard_normal(4))
    assert not np.array_equal(a, claim_rng(4, "lemma-D.1").standard_normal(4))
    assert not np.array_equal(a, claim_rng(3, "lemma-D.2").standard_normal(4))


def test_crash_is_recorded_per_claim_and_the_run_continues():
    def boom(budget, *, rng):
        raise ZeroDivisionError("nope")

    crashing = Claim(id="crash", paper_ref="r", statement="s", kind="identity", check=boom)
    fine = Claim(id="fine", paper_ref="r", statement="s", kind="identity", check=lambda b, *, rng: _result())
    run = run_claims([crashing, fine], budget=Budget("quick"), seed=0)
    assert [r.crashed for r in run.records] == [True, False]
    assert run.records[0].result.verdict == "error" and run.errors == [run.records[0]]
    assert "ZeroDivisionError: nope" in run.records[0].result.details["crash"]
    assert run.records[1].result.verdict == "holds"


def test_checks_declaring_seed_get_the_run_seed():
    seen = {}

    def check(budget, *, rng, seed):
        seen["seed"] = seed
        return _result()

    run_claim(Claim(id="s", paper_ref="r", statement="s", kind="identity", check=check), budget=Budget(), seed=42)
    assert seen["seed"] == 42


def test_json_report_has_exactly_the_issue_schema(tmp_path):
    claim = Claim(
        id="c",
        paper_ref="r",
        statement="s",
        kind="bound",
        check=lambda b, *, rng: CheckResult(
            verdict="fails",
            measured=quantity(math.nan, se=math.inf),
            expected=quantity(np.float64(1.0)),
            tolerance={"value": 3.0, "why": "w"},
            settings={"tried": 2},
            counterexample={"x": np.int64(1)},
            summary="bad",
        ),
    )
    run = run_claims([claim], budget=Budget(), seed=1)
    path = write_json_report(tmp_path / "sub" / "r.json", run)
    doc = json.loads(path.read_text())
    assert set(doc) == {"claims", "summary", "config"}
    (entry,) = doc["claims"]
    assert tuple(entry) == CLAIM_FIELDS
    assert entry["verdict"] in VERDICTS and entry["measured"]["value"] is None  # NaN -> null
    assert entry["counterexample"] == {"x": 1}
    assert doc["summary"]["fails"] == 1 and doc["summary"]["failing_ids"] == ["c"]
    config = run_to_dict(run)["config"]
    assert {k: config[k] for k in ("budget", "seed")} == {"budget": "quick", "seed": 1}
    assert config["decision_rules"]["false_alarm_per_claim"] == 1e-3
    md = write_markdown_report(tmp_path / "r.md", run).read_text()
    assert "| `c` |" in md and "counterexample" in md
    assert not list(tmp_path.rglob("*.tmp"))


def _threshold_check(tolerance, *, stochastic=False):
    """A toy identity: measured 1 ± rounding against the statement × scale, decided by |measured − stated| <= tol."""

    def check(budget, *, rng, statement_scale=1.0):
        measured = 1.0 + 1e-13

        def fails(scale, resample):
            noise = 0.0 if resample is None else resample.normal(0.0, tolerance / 10)
            return abs(measured + noise - scale) > tolerance

        verdict = "fails" if fails(statement_scale, None) else "holds"
        return CheckResult(
            verdict=verdict,
            measured=quantity(measured),
            expected=quantity(statement_scale),
            tolerance={"value": tolerance, "why": "toy"},
            settings={"tried": 1},
            sides={"statement": "1", "measurement": "1 + 1e-13"},
            rescore=Rescore(
                fails=fails,
                perturbations=(Perturbation("× (1 + r)", +1), Perturbation("× (1 − r)", -1, primary=False)),
                stochastic=stochastic,
                method="toy",
            ),
        )

    return Claim(id="toy", paper_ref="r", statement="s", kind="identity", check=check)


def test_power_is_the_smallest_detected_relative_error():
    record = run_claim(_threshold_check(1e-6), budget=Budget("quick"), seed=0)
    power = record.result.power
    assert record.result.verdict == "holds"
    up, down = power["perturbations"]
    assert up["detectable_relative_error"] == pytest.approx(1e-6, rel=1e-3)  # deterministic bisection
    assert down["detectable_relative_error"] == pytest.approx(1e-6, rel=1e-3) and not down["primary"]
    assert power["detectable_relative_error"] == up["detectable_relative_error"]  # the primary ones only
    # the statement_scale hook reaches the check: a perturbed statement fails
    perturbed = run_claim(_threshold_check(1e-6), budget=Budget("quick"), seed=0, statement_scale=1.01)
    assert perturbed.result.verdict == "fails"


def test_stochastic_power_uses_resampled_measurements():
    power = run_claim(_threshold_check(1e-3, stochastic=True), budget=Budget("quick"), seed=0).result.power
    # detected with probability 0.95 when r - 1e-3 >= 1.645 · 1e-4 (normal noise of SD tol/10)
    assert power["resamples"] == 200
    assert power["detectable_relative_error"] == pytest.approx(1e-3 + 1.645e-4, rel=0.03)


def test_power_rng_is_independent_of_the_check_rng():
    assert not np.array_equal(claim_rng(0, "x").standard_normal(3), power_rng(0, "x").standard_normal(3))
    assert np.array_equal(power_rng(0, "x").standard_normal(3), power_rng(0, "x").standard_normal(3))


def test_a_claim_that_fails_as_stated_needs_no_perturbation():
    record = run_claim(_threshold_check(1e-6), budget=Budget("quick"), seed=0, statement_scale=1.0)
    assert record.result.power["detectable_relative_error"] > 0
    power = measure_power(
        Rescore(fails=lambda s, r: True, perturbations=(Perturbation("x", -1),)),
        rng=np.random.default_rng(0),
        resamples=10,
    )
    assert power["detectable_relative_error"] == 0.0 and power["perturbations"] == []


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError):
        _registry.register_claim(id="lemma-D.1", paper_ref="x", statement="x", kind="identity")(lambda b, *, rng: None)
