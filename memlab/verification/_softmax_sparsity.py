"""Lemmas D.1 and D.2: softmax at low temperature vs one-hot / restricted softmax (deterministic).

Both sides are evaluated in log space, exactly up to rounding, so that tiny temperatures and huge
gaps (where e^{−γ/T} underflows) are still compared:

- D.1: softmax(v/T)_i for i != k equals exp((v_i − v_k)/T − log Z), Z = Σ_j exp((v_j − v_k)/T),
  and 1 − softmax(v/T)_k = Σ_{i≠k} softmax(v/T)_i, so
  ‖softmax(v/T) − e_k‖_p^p = Σ_{i≠k} s_i^p + (Σ_{i≠k} s_i)^p.
- D.2: for ℓ in S, softmax(v|_S/T)_ℓ − softmax(v/T)_ℓ = q_ℓ · r exactly, with q the restricted
  softmax and r = Σ_{i∉S} softmax(v/T)_i; outside S the difference is −softmax(v/T)_i.

The generated inputs include what the statements exclude (ties, where "distinct entries" fails),
and the adversarial corners: huge gaps, temperatures from 1e-300 to 1e300, n = 1, 2 and 10⁴,
p in {1, 1.5, 2, 3, 10, ∞}, all non-maximal entries equal (the proof's worst case), S = {k}, S = [n].
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from memlab.verification._claim import Budget, CheckResult, Rescore, quantity
from memlab.verification._common import BOUND_TIGHTENED, fmt
from memlab.verification._registry import register_claim

__all__ = ["check_lemma_d1", "check_lemma_d2", "lemma_d1_log_sides", "lemma_d2_log_sides", "softmax_cases"]

#: Relative tolerance of the log-space comparison: rounding of (v_i − v_k)/T and of log-sum-exp.
LOG_RTOL = 1e-9


def logsumexp(x) -> float:
    """log Σ exp(x_i), max-subtracted (−inf entries allowed); a lean version of SciPy's for small vectors."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return -math.inf
    m = float(x.max())
    if m == -math.inf:
        return -math.inf
    return m + math.log(float(np.exp(x - m).sum()))


def _log_p_norm(log_abs_entries: np.ndarray, p: float) -> float:
    """log ‖x‖_p from log|x_i| (−inf entries are zeros)."""
    if log_abs_entries.size == 0 or np.all(log_abs_entries == -np.inf):
        return -math.inf
    if math.isinf(p):
        return float(np.max(log_abs_entries))
    return float(logsumexp(p * log_abs_entries) / p)


def lemma_d1_log_sides(v, temperature: float, p: float) -> tuple[float, float]:
    """(log ‖softmax(v/T) − e_k‖_p, log 2(n−1)e^{−γ/T}) with k = argmax v (first on ties), γ = min_{i≠k}(v_k − v_i)."""
    v = np.asarray(v, dtype=np.float64)
    n = v.size
    k = int(np.argmax(v))
    if n == 1:
        return -math.inf, -math.inf
    others = np.delete(v, k)
    scaled = (others - v[k]) / temperature  # <= 0
    log_z = float(np.logaddexp(0.0, logsumexp(scaled)))  # the k-th term contributes e^0
    log_s = scaled - log_z
    log_r = float(logsumexp(log_s))
    log_lhs = _log_p_norm(np.concatenate([log_s, [log_r]]), p)
    gamma = float(np.min(v[k] - others))
    log_rhs = math.log(2.0 * (n - 1)) - gamma / temperature
    return log_lhs, log_rhs


def lemma_d2_log_sides(v, subset, temperature: float, p: float) -> tuple[float, float]:
    """(log ‖softmax(v/T) − softmax(v|_S/T)‖_p, log (1+|S|)^{1/p}(n−|S|)e^{−γ_S/T}); S must contain argmax v."""
    v = np.asarray(v, dtype=np.float64)
    n = v.size
    k = int(np.argmax(v))
    mask = np.zeros(n, dtype=bool)
    mask[list(subset)] = True
    if not mask[k]:
        raise ValueError("S must contain k = argmax v")
    size = int(mask.sum())
    if size == n:
        return -math.inf, -math.inf
    scaled = (v - v[k]) / temperature
    log_s = scaled - float(logsumexp(scaled))
    log_q = scaled[mask] - float(logsumexp(scaled[mask]))
    log_r = float(logsumexp(log_s[~mask]))
    log_lhs = _log_p_norm(np.concatenate([log_s[~mask], log_q + log_r]), p)
    gamma_s = float(np.min(v[k] - v[~mask]))
    log_rhs = (0.0 if math.isinf(p) else math.log1p(size) / p) + math.log(n - size) - gamma_s / temperature
    return log_lhs, log_rhs


_PS = (1.0, 1.0 + 1e-9, 1.5, 2.0, 3.0, 10.0, math.inf)


def softmax_cases(rng: np.random.Generator, count: int) -> Iterator[dict]:
    """Random and adversarial (v, T, p) cases, tagged by family; ``count`` random ones plus fixed corners."""
    families = (
        "random",
        "ties_at_max",
        "ties_elsewhere",
        "huge_gap",
        "tiny_T",
        "huge_T",
        "equal_others",
        "n_small",
        "large_n",
        "near_tie",
    )
    for i in range(count):
        family = families[i % len(families)]
        n = int(rng.integers(2, 40))
        scale = 10.0 ** rng.uniform(-3, 3)
        v = scale * rng.standard_normal(n)
        temperature = 10.0 ** rng.uniform(-4, 4)
        if family == "ties_at_max":
            v[rng.integers(n)] = v.max()
            v[np.argsort(v)[-2]] = v.max()
        elif family == "ties_elsewhere":
            v[:] = np.round(v / scale) * scale
        elif family == "huge_gap":
            v[rng.integers(n)] = v.max() + 10.0 ** rng.uniform(3, 12)
        elif family == "tiny_T":
            temperature = 10.0 ** rng.uniform(-300, -6)
        elif family == "huge_T":
            temperature = 10.0 ** rng.uniform(6, 300)
        elif family == "equal_others":
            v[:] = 0.0
            v[rng.integers(n)] = 10.0 ** rng.uniform(-6, 2)
        elif family == "n_small":
            n = int(rng.integers(1, 3))
            v = scale * rng.standard_normal(n)
        elif family == "large_n":
            n = int(rng.choice([1000, 10000]))
            v = scale * rng.standard_normal(n)
        elif family == "near_tie":
            top = int(np.argmax(v))
            second = int(np.argsort(v)[-2])
            v[second] = np.nextafter(v[top], -np.inf)
        p = float(_PS[int(rng.integers(len(_PS)))])
        yield {"family": family, "v": v, "T": float(temperature), "p": p, "distinct": bool(np.unique(v).size == v.size)}


def _violated(log_lhs: float, log_rhs: float) -> bool:
    if log_lhs == -math.inf:
        return False
    return log_lhs > log_rhs + LOG_RTOL * max(1.0, abs(log_rhs))


def _violated_array(log_lhs: np.ndarray, log_rhs: np.ndarray) -> np.ndarray:
    """:func:`_violated` elementwise."""
    with np.errstate(invalid="ignore"):  # log rhs = −inf (n = 1, S = [n]): lhs is −inf too and never violates
        return (log_lhs > -np.inf) & (log_lhs > log_rhs + LOG_RTOL * np.maximum(1.0, np.abs(log_rhs)))


def _case_record(case: dict, log_lhs: float, log_rhs: float, **extra) -> dict:
    v = case["v"]
    return {
        "family": case["family"],
        "n": int(v.size),
        "T": case["T"],
        "p": case["p"],
        "distinct": case["distinct"],
        "log_lhs": log_lhs,
        "log_rhs": log_rhs,
        "log_ratio": log_lhs - log_rhs if log_lhs > -math.inf else -math.inf,
        "v": v.tolist() if v.size <= 12 else f"{v.size} entries",
        **extra,
    }


def _deterministic_result(records: list[dict], *, bound_what: str, lemma: str, statement_scale: float) -> CheckResult:
    """Verdict over the generated inputs; ``records`` hold log lhs and the log of the *stated* rhs."""
    log_scale = math.log(statement_scale)
    for r in records:
        r["log_rhs"] += log_scale
        r["log_ratio"] = r["log_lhs"] - r["log_rhs"] if r["log_lhs"] > -math.inf else -math.inf
        r["violated"] = _violated(r["log_lhs"], r["log_rhs"])
    violations = [r for r in records if r["violated"]]
    # lhs / rhs is reported where both sides are representable numbers; beyond e^±700 only the relative
    # log difference is meaningful (float rounding of (v_i − v_k)/T at ~1e300 is ~1e284 in absolute terms).
    finite = [r for r in records if r["log_ratio"] > -math.inf and abs(r["log_rhs"]) <= 700]
    tightest = max(finite, key=lambda r: r["log_ratio"]) if finite else None
    extreme = [r for r in records if r["log_ratio"] > -math.inf and abs(r["log_rhs"]) > 700]
    worst_relative = max((r["log_ratio"] / abs(r["log_rhs"]) for r in extreme), default=None)
    by_family: dict[str, int] = {}
    for r in records:
        by_family[r["family"]] = by_family.get(r["family"], 0) + 1
    nondistinct = [r for r in records if not r["distinct"]]
    counterexample = min(violations, key=lambda r: (r["n"], -r["T"])) if violations else None
    ratio = math.exp(tightest["log_ratio"]) if tightest else 0.0
    notes = [
        f"{len(nondistinct)} inputs violate the hypothesis 'distinct entries' (ties); "
        f"{sum(r['violated'] for r in nondistinct)} of them violate the inequality "
        "(with a tie at the maximum γ = 0 and the bound is >= 2 >= the left side; ties elsewhere do not enter)."
    ]
    lhs = np.array([r["log_lhs"] for r in records])
    rhs = np.array([r["log_rhs"] for r in records]) - log_scale  # the stated bound
    return CheckResult(
        verdict="fails" if violations else "holds",
        sides={
            "statement": f"Lemma {lemma}'s bound {bound_what}, as typed from the paper "
            f"(memlab.verification._softmax_sparsity.lemma_{lemma.lower().replace('.', '')}_log_sides)",
            "measurement": "the left side evaluated exactly in log space (log-sum-exp, no underflow), "
            "independently of the bound's formula",
        },
        rescore=Rescore(
            fails=lambda scale, _rng: bool(np.any(_violated_array(lhs, rhs + math.log(scale)))),
            perturbations=(BOUND_TIGHTENED,),
            method="every generated input re-compared, no randomness",
        ),
        measured=quantity(
            ratio,
            se=0.0,
            what="largest lhs / rhs over all generated inputs (log-space evaluation)",
            at={k: tightest[k] for k in ("family", "n", "T", "p")} if tightest else None,
        ),
        expected=quantity(1.0, what=f"lhs <= {bound_what} on every input"),
        tolerance={
            "value": LOG_RTOL,
            "why": "log-space comparison, relative to max(1, |log rhs|): rounding of "
            "(v_i − v_k)/T and log-sum-exp in float64",
        },
        settings={
            "tried": len(records),
            "summary": f"{len(records)} inputs, {len(by_family)} families, p in 1..∞",
            "families": by_family,
            "p": [str(p) for p in _PS],
        },
        counterexample=counterexample,
        details={
            "violations": len(violations),
            "tightest_case": tightest,
            "notes": notes,
            "lemma": lemma,
            "extreme_cases": len(extreme),
            "largest_relative_log_excess_in_extreme_cases": worst_relative,
        },
        summary=f"max lhs/rhs = {fmt(ratio)} over {len(records)} inputs; {len(violations)} violations",
    )


@register_claim(
    id="lemma-D.1",
    paper_ref="Lemma D.1",
    statement="v in R^n with distinct entries, k = argmax v, γ = min_{i≠k}(v_k − v_i): for T > 0, p >= 1, "
    "‖softmax(v/T) − e_k‖_p <= 2(n − 1) e^{−γ/T}.",
    kind="deterministic inequality",
)
def check_lemma_d1(budget: Budget, *, rng: np.random.Generator, statement_scale: float = 1.0) -> CheckResult:
    records = []
    for case in softmax_cases(rng, budget.pick(2000, 30000)):
        log_lhs, log_rhs = lemma_d1_log_sides(case["v"], case["T"], case["p"])
        records.append(_case_record(case, log_lhs, log_rhs, violated=_violated(log_lhs, log_rhs)))
    return _deterministic_result(records, bound_what="2(n−1)e^{−γ/T}", lemma="D.1", statement_scale=statement_scale)


@register_claim(
    id="lemma-D.2",
    paper_ref="Lemma D.2",
    statement="As D.1 with S ⊂ [n], k in S, γ_S = min_{i∉S}(v_k − v_i): ‖softmax(v/T) − softmax(v|_S/T)‖_p <= "
    "(1 + |S|)^{1/p} (n − |S|) e^{−γ_S/T}.",
    kind="deterministic inequality",
)
def check_lemma_d2(budget: Budget, *, rng: np.random.Generator, statement_scale: float = 1.0) -> CheckResult:
    records = []
    for i, case in enumerate(softmax_cases(rng, budget.pick(2000, 30000))):
        v = case["v"]
        n, k = v.size, int(np.argmax(v))
        choice = i % 4
        if choice == 0:
            subset = [k]
        elif choice == 1:
            subset = list(range(n))
        elif choice == 2:
            subset = [j for j in range(n) if j != (k + 1) % n] if n > 1 else [k]
        else:
            others = [j for j in range(n) if j != k]
            size = int(rng.integers(0, len(others) + 1))
            subset = [k, *list(rng.choice(others, size=size, replace=False))] if others else [k]
        log_lhs, log_rhs = lemma_d2_log_sides(v, subset, case["T"], case["p"])
        records.append(
            _case_record(case, log_lhs, log_rhs, S_size=len(set(subset)), violated=_violated(log_lhs, log_rhs))
        )
    return _deterministic_result(
        records, bound_what="(1+|S|)^{1/p}(n−|S|)e^{−γ_S/T}", lemma="D.2", statement_scale=statement_scale
    )
