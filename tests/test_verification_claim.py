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
    all_claims,
    claim_rng,
    quantity,
    run_claim,
    run_claims,
    run_to_dict,
    select_claims,
    write_json_report,
    write_markdown_report,
)
from memlab.verification import _registry

REQUIRED_IDS = {
    "lemma-2.1", "eq-11", "eq-7-minimizer", "eq-7-limit", "eq-13", "app-B", "app-H.4-inverse", "app-H.4-logdet",
    "eq-14-mstar", "thm-3.1", "thm-3.2", "thm-C.1-generic", "thm-C.1-eq17", "thm-C.1-eq18", "thm-C.1-eq19",
    "lemma-C.2", "prop-C.3", "prop-C.4", "lemma-D.1", "lemma-D.2", "lemma-E.1",
}


def _result(verdict="holds"):
    return CheckResult(verdict=verdict, measured=quantity(1.0, se=0.1), expected=quantity(1.0),
                       tolerance={"value": 0.1, "why": "test"}, settings={"tried": 1, "summary": "one"},
                       summary="ok")


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
    assert run.records[0].result.verdict == "inconclusive"
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
    claim = Claim(id="c", paper_ref="r", statement="s", kind="bound",
                  check=lambda b, *, rng: CheckResult(verdict="fails", measured=quantity(math.nan, se=math.inf),
                                                      expected=quantity(np.float64(1.0)),
                                                      tolerance={"value": 3.0, "why": "w"},
                                                      settings={"tried": 2}, counterexample={"x": np.int64(1)},
                                                      summary="bad"))
    run = run_claims([claim], budget=Budget(), seed=1)
    path = write_json_report(tmp_path / "sub" / "r.json", run)
    doc = json.loads(path.read_text())
    assert set(doc) == {"claims", "summary", "config"}
    (entry,) = doc["claims"]
    assert tuple(entry) == CLAIM_FIELDS
    assert entry["verdict"] in VERDICTS and entry["measured"]["value"] is None  # NaN -> null
    assert entry["counterexample"] == {"x": 1}
    assert doc["summary"]["fails"] == 1 and doc["summary"]["failing_ids"] == ["c"]
    assert run_to_dict(run)["config"] == {"budget": "quick", "seed": 1}
    md = write_markdown_report(tmp_path / "r.md", run).read_text()
    assert "| `c` |" in md and "counterexample" in md
    assert not list(tmp_path.rglob("*.tmp"))


def test_duplicate_registration_is_refused():
    with pytest.raises(ValueError):
        _registry.register_claim(id="lemma-D.1", paper_ref="x", statement="x", kind="identity")(lambda b, *, rng: None)
