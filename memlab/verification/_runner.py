"""Run claims' checks: per-claim seeds, timing, and crashes recorded per claim (the run keeps going)."""

from __future__ import annotations

import inspect
import time
import traceback
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from memlab.verification._claim import Budget, CheckResult, Claim, quantity

__all__ = ["ClaimRecord", "VerificationRun", "claim_rng", "run_claim", "run_claims"]


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


def claim_rng(seed: int, claim_id: str) -> np.random.Generator:
    """The generator of one claim: the run's seed and the claim id, split once.

    Independent of which other claims run, so ``--only`` reproduces the full run's numbers.
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(claim_id.encode("utf-8"))]))


def _crash_result(exc: BaseException) -> CheckResult:
    message = f"{type(exc).__name__}: {exc}"
    return CheckResult(
        verdict="inconclusive",
        measured=quantity(None, what="check crashed"),
        expected=quantity(None),
        tolerance={"value": None, "why": "check crashed"},
        settings={"tried": 0, "summary": "-"},
        details={"crash": message, "traceback": traceback.format_exc()},
        summary=f"CRASH {message}"[:200],
    )


def run_claim(claim: Claim, *, budget: Budget, seed: int) -> ClaimRecord:
    """Run one claim's check; an exception becomes an ``inconclusive`` record flagged as crashed."""
    start = time.perf_counter()
    try:
        kwargs = {"rng": claim_rng(seed, claim.id)}
        if "seed" in inspect.signature(claim.check).parameters:  # checks sharing an experiment get the run seed
            kwargs["seed"] = int(seed)
        result = claim.check(budget, **kwargs)
        if not isinstance(result, CheckResult):
            raise TypeError(f"check returned {type(result).__name__}, not CheckResult")
        crashed = False
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - report per claim, keep going
        result = _crash_result(exc)
        crashed = True
    return ClaimRecord(claim, result, time.perf_counter() - start, crashed)


def run_claims(claims: Iterable[Claim], *, budget: Budget, seed: int,
               on_record: Callable[[ClaimRecord], None] | None = None,
               on_start: Callable[[Claim], None] | None = None) -> VerificationRun:
    """Run the checks in order; ``on_start``/``on_record`` are called around each (progress, streaming table)."""
    start = time.perf_counter()
    records = []
    for claim in claims:
        if on_start is not None:
            on_start(claim)
        record = run_claim(claim, budget=budget, seed=seed)
        records.append(record)
        if on_record is not None:
            on_record(record)
    return VerificationRun(records, {"budget": budget.name, "seed": int(seed)}, time.perf_counter() - start)
