"""Consumers: the paper's claims (Theorems 3.1-3.2, Section 2, App. B-H) and their checks.

``all_claims()`` lists every registered claim; ``run_claims(claims, budget=Budget("quick"), seed=0)``
runs their checks and measures their power; ``write_json_report`` / ``write_markdown_report`` write
the results. Each check compares the statement as a user gets it with an independent measurement,
decides at a stated false-alarm probability (1e-3 per claim) and can be re-run with the statement
perturbed (``statement_scale``); see docs/verification.md.
Importing this package imports NumPy/SciPy only; checks that need JAX import it when they run.
"""

from memlab.verification._claim import (
    BUDGETS,
    KINDS,
    VERDICTS,
    Budget,
    CheckResult,
    Claim,
    Perturbation,
    Rescore,
    quantity,
)
from memlab.verification._power import DETECTION_PROBABILITY, measure_power
from memlab.verification._registry import all_claims, get_claim, register_claim, select_claims
from memlab.verification._report import (
    CLAIM_FIELDS,
    DECISION_RULES,
    format_table,
    power_text,
    run_to_dict,
    summarize,
    table_header,
    table_row,
    write_json_report,
    write_markdown_report,
)
from memlab.verification._runner import (
    ClaimRecord,
    VerificationRun,
    claim_rng,
    power_rng,
    run_claim,
    run_claims,
    verify,
)

# Check modules register their claims on import: the report's order is this import order.
# isort: off
from memlab.verification import _chernoff as _chernoff
from memlab.verification import _norm_concentration as _norm_concentration
from memlab.verification import _softmax_average as _softmax_average
from memlab.verification import _coupon as _coupon
from memlab.verification import _softmax_sparsity as _softmax_sparsity
from memlab.verification import _distance_gap as _distance_gap
from memlab.verification import _gmm_identities as _gmm_identities
from memlab.verification import _loss_identities as _loss_identities
from memlab.verification import _theory_claims as _theory_claims
from memlab.verification import _asymptotics as _asymptotics
# isort: on

__all__ = [
    "BUDGETS",
    "CLAIM_FIELDS",
    "DECISION_RULES",
    "DETECTION_PROBABILITY",
    "KINDS",
    "VERDICTS",
    "Budget",
    "CheckResult",
    "Claim",
    "ClaimRecord",
    "Perturbation",
    "Rescore",
    "VerificationRun",
    "all_claims",
    "claim_rng",
    "format_table",
    "get_claim",
    "measure_power",
    "power_rng",
    "power_text",
    "quantity",
    "register_claim",
    "run_claim",
    "run_claims",
    "run_to_dict",
    "select_claims",
    "summarize",
    "table_header",
    "table_row",
    "verify",
    "write_json_report",
    "write_markdown_report",
]
