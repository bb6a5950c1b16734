"""Run claims' checks: per-claim seeds, timing, power, and crashes recorded per claim (the run keeps going).

A crash is the verdict ``error`` (as is a check whose measurement fails its own cross-check); the
power of every other check is measured from its :class:`~memlab.verification._claim.Rescore`
(:func:`memlab.verification._power.measure_power`) with a generator of its own.
"""

from __future__ import annotations

import inspect
import time
import traceback
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memlab._jaxcfg import float64_scope
from memlab.verification._claim import Budget, CheckResult, Claim, quantity
from memlab.verification._power import measure_power
from memlab.verification._registry import select_claims

__all__ = ["ClaimRecord", "VerificationRun", "claim_rng", "power_rng", "run_claim", "run_claims"]

#: Bootstrap replicates per relative error tried in the power search of Monte Carlo checks.
POWER_RESAMPLES = {"quick": 200, "full": 400}


@dataclass
class ClaimRecord:
    """A claim with its check's result, how long the check took and whether it crashed."""

    claim: Claim
    result: CheckResult
    elapsed_s: float
    crashed: bool = False


@dataclass
class VerificationRun:
    """The records of one run plus its configuration (budget, seed, selection, versions, ...)."""

    records: list[ClaimRecord]
    config: dict = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def crashed(self) -> list[ClaimRecord]:
        return [r for r in self.records if r.crashed]

    @property
    def failing(self) -> list[ClaimRecord]:
        return [r for r in self.records if r.result.verdict == "fails"]

    @property
    def errors(self) -> list[ClaimRecord]:
        """Records whose verdict is ``error`` (crashed, or the measurement failed its own cross-check)."""
        return [r for r in self.records if r.result.verdict == "error"]


def _claim_seed_sequence(seed: int, claim_id: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(seed), zlib.crc32(claim_id.encode("utf-8"))])


def claim_rng(seed: int, claim_id: str) -> np.random.Generator:
    """The generator of one claim: the run's seed and the claim id, split once.

    Independent of which other claims run, so ``--only`` reproduces the full run's numbers.
    """
    return np.random.default_rng(_claim_seed_sequence(seed, claim_id))


def power_rng(seed: int, claim_id: str) -> np.random.Generator:
    """The generator of a claim's power measurement: a child of the claim's seed sequence (independent stream)."""
    return np.random.default_rng(_claim_seed_sequence(seed, claim_id).spawn(1)[0])


def _crash_result(exc: BaseException) -> CheckResult:
    message = f"{type(exc).__name__}: {exc}"
    return CheckResult(
        verdict="error",
        measured=quantity(None, what="check crashed"),
        expected=quantity(None),
        tolerance={"value": None, "why": "check crashed"},
        settings={"tried": 0, "summary": "-"},
        details={"crash": message, "traceback": traceback.format_exc()},
        summary=f"CRASH {message}"[:200],
    )


def run_claim(
    claim: Claim, *, budget: Budget, seed: int, statement_scale: float = 1.0, power: bool = True
) -> ClaimRecord:
    """Run one claim's check (and, unless ``power=False``, measure its power).

    ``statement_scale`` multiplies the statement under test (1: the check as reported; the power is only
    measured at 1). An exception becomes an ``error`` record flagged as crashed.
    """
    start = time.perf_counter()
    try:
        parameters = inspect.signature(claim.check).parameters
        kwargs: dict[str, Any] = {"rng": claim_rng(seed, claim.id)}
        if "seed" in parameters:  # checks sharing an experiment get the run seed
            kwargs["seed"] = int(seed)
        if statement_scale != 1.0 or "statement_scale" in parameters:
            kwargs["statement_scale"] = float(statement_scale)
        result = claim.check(budget, **kwargs)
        if not isinstance(result, CheckResult):
            raise TypeError(f"check returned {type(result).__name__}, not CheckResult")
        if power and statement_scale == 1.0 and result.rescore is not None and result.verdict != "error":
            power_start = time.perf_counter()
            result.power = measure_power(
                result.rescore, rng=power_rng(seed, claim.id), resamples=POWER_RESAMPLES[budget.name]
            )
            result.power["elapsed_s"] = round(time.perf_counter() - power_start, 3)
        crashed = False
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - a crashing check becomes the "error" verdict; the others still run
        result = _crash_result(exc)
        crashed = True
    return ClaimRecord(claim, result, time.perf_counter() - start, crashed)


def run_claims(
    claims: Iterable[Claim],
    *,
    budget: Budget,
    seed: int,
    on_record: Callable[[ClaimRecord], None] | None = None,
    on_start: Callable[[Claim], None] | None = None,
    power: bool = True,
) -> VerificationRun:
    """Run the checks in order; ``on_start``/``on_record`` are called around each (progress, streaming table)."""
    start = time.perf_counter()
    records = []
    for claim in claims:
        if on_start is not None:
            on_start(claim)
        record = run_claim(claim, budget=budget, seed=seed, power=power)
        records.append(record)
        if on_record is not None:
            on_record(record)
    return VerificationRun(records, {"budget": budget.name, "seed": int(seed)}, time.perf_counter() - start)


def verify(
    only: Iterable[str] | None = None, *, budget: str | Budget = "quick", seed: int = 0, power: bool = True
) -> VerificationRun:
    """Check the paper's claims from Python, as ``memlab verify`` does: every claim, or the ids in ``only``.

    budget: "quick" (the whole suite in about two minutes on 2 cores) or "full"; seed: every claim's seed is
    derived from it and its id; power: also measure each claim's detectable error. The checks run in
    float64 (inside JAX's thread-local x64 scope; the global configuration is left as it is).
    """
    claims = select_claims(None if only is None else list(only))
    with float64_scope():
        return run_claims(
            claims, budget=budget if isinstance(budget, Budget) else Budget(budget), seed=seed, power=power
        )
