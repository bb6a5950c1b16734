"""One negative control per claim: the check run with its statement perturbed (the ``statement_scale`` hook)
reports "fails", while its own decision rule does not reject the statement as given on the same measurement.

Scales: identities and deterministic inequalities × 0.95 or 1.05; a bound is tightened beyond its measured
looseness (its largest P/bound, see the claim's notes); claims that are false as stated must stay "fails".
Theorems 3.1/3.2 have theirs in test_verification_asymptotics.py (a tiny experiment through the engine).
"""

import pytest

from memlab.numerics import make_gmm_dataset, timestep_grid
from memlab.verification import (
    Budget,
    _gmm_identities,
    _loss_identities,
    _theory_claims,
    all_claims,
    get_claim,
    run_claim,
)

#: claim id -> (statement scale, whether the claim as stated holds)
CONTROLS = {
    "thm-C.1-generic": (1.05, False),
    "thm-C.1-generic-standard": (0.5, True),  # largest P/bound 0.66
    "thm-C.1-eq17": (0.5, True),  # 0.68
    "thm-C.1-eq18": (0.4, True),  # 0.50
    "thm-C.1-eq19": (0.05, True),  # 0.096
    "lemma-C.2": (0.05, True),  # 0.096
    "prop-C.3": (1e-4, True),  # 1.3e-3 (exact, n = 2)
    "prop-C.3-proof-rate": (1e-10, True),  # 4.2e-9 (exact, n = 2)
    "prop-C.4": (1.05, False),
    "prop-C.4-factor2": (0.5, True),  # 0.73
    "lemma-D.1": (0.95, True),
    "lemma-D.2": (0.95, True),
    "lemma-E.1": (1e-6, True),  # 2.3e-5 (exact, K = 2)
    "lemma-2.1": (1.05, True),
    "eq-11": (0.95, True),
    "eq-7-minimizer": (1.05, True),
    "eq-7-limit": (0.95, True),
    "eq-13": (1.05, True),
    "app-B": (0.95, True),
    "app-H.4-inverse": (1.05, True),
    "app-H.4-logdet": (0.95, True),
    "eq-14-mstar": (1.05, True),
}
ASYMPTOTIC = {"thm-3.1", "thm-3.2", "thm-3.2-coupon"}


def test_every_claim_has_a_negative_control():
    assert {c.id for c in all_claims()} == set(CONTROLS) | ASYMPTOTIC


@pytest.fixture
def small_settings(monkeypatch):
    """Fewer shapes / datasets / timesteps for the heaviest identity checks (the checks' code is unchanged)."""
    monkeypatch.setattr(_gmm_identities, "_SHAPES_QUICK", ((1, 1), (3, 5)))
    monkeypatch.setattr(_theory_claims, "_proof_sizes", lambda budget: ((1, 2),))
    monkeypatch.setattr(_gmm_identities, "_t_values", lambda budget: [float(timestep_grid()[i]) for i in (25, 10)])
    monkeypatch.setattr(
        _loss_identities,
        "_datasets",
        lambda budget, seed: [
            make_gmm_dataset(d=d, k=k, n=n, n_test=0, seed=seed + j)
            for j, (d, k, n) in enumerate([(2, 2, 6), (10, 3, 12)])
        ],
    )
    monkeypatch.setattr(_loss_identities, "_t_values", lambda budget: [float(timestep_grid()[i]) for i in (22, 10)])


@pytest.mark.parametrize("claim_id", sorted(CONTROLS))
def test_a_perturbed_statement_fails(claim_id, small_settings):
    scale, holds = CONTROLS[claim_id]
    record = run_claim(get_claim(claim_id), budget=Budget("quick"), seed=0, statement_scale=scale, power=False)
    assert not record.crashed, record.result.details.get("traceback")
    result = record.result
    assert result.verdict == "fails", result.summary
    # the same decision rule, on the same measurement, with the statement as given:
    assert result.rescore.fails(1.0, None) is (not holds)
    assert result.sides.get("statement") and result.sides.get("measurement")
