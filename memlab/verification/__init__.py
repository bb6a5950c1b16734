"""Consumers: the paper's claims (SPEC §6) and their checks.

``all_claims()`` lists every registered claim; ``run_claims(claims, budget=Budget("quick"), seed=0)``
runs their checks; ``write_json_report`` / ``write_markdown_report`` write the results.
Importing this package imports NumPy/SciPy only; checks that need JAX import it when they run.
"""

from memlab.verification._claim import BUDGETS, KINDS, VERDICTS, Budget, CheckResult, Claim, quantity
from memlab.verification._registry import all_claims, get_claim, register_claim, select_claims
from memlab.verification._report import (
    CLAIM_FIELDS,
    format_table,
    run_to_dict,
    summarize,
    table_header,
    table_row,
    write_json_report,
    write_markdown_report,
)
from memlab.verification._runner import ClaimRecord, VerificationRun, claim_rng, run_claim, run_claims

# Check modules register their claims on import (report order = import order).
from memlab.verification import _chernoff, _norm_concentration, _softmax_average, _coupon, _softmax_sparsity, _distance_gap, _gmm_identities, _loss_identities, _theory_claims, _asymptotics  # noqa: E402,F401  isort: skip

__all__ = [
    "BUDGETS",
    "CLAIM_FIELDS",
    "KINDS",
    "VERDICTS",
    "Budget",
    "CheckResult",
    "Claim",
    "ClaimRecord",
    "VerificationRun",
    "all_claims",
    "claim_rng",
    "format_table",
    "get_claim",
    "quantity",
    "register_claim",
    "run_claim",
    "run_claims",
    "run_to_dict",
    "select_claims",
    "summarize",
    "table_header",
    "table_row",
    "write_json_report",
    "write_markdown_report",
]
