"""Theorems 3.1/3.2: the decision rule's size and power on synthetic replicates, and the checks end to end on a
tiny experiment through the engine (negative controls: a perturbed closed form / constant is reported "fails")."""

import math

import numpy as np
import pytest

from memlab.numerics import excess_loss_pmem, make_gmm_dataset, schedule_coefficients
from memlab.verification import Budget, _asymptotics, get_claim, run_claim
from memlab.verification._asymptotics import (
    CellGroup,
    Setting,
    coupon_threshold,
    excursion_decision,
)


def _groups(rng, biases, *, datasets=64, cells=6, spread=0.01, tight_bias=None):
    """Synthetic per-dataset ratios (S, cells) ~ N(1 + bias, spread²) for a sequence of d (and a tight setting)."""
    groups = []
    for j, bias in enumerate(biases):
        setting = Setting(d=10 * 4**j, n=20, k=4, t_indices=(25,))
        values = 1.0 + bias + spread * rng.standard_normal((datasets, cells))
        groups.append(CellGroup(setting, values, np.ones(cells), np.ones(cells), tuple({"i": i} for i in range(cells))))
    if tight_bias is not None:
        setting = Setting(d=1000, n=16, k=2, t_indices=(25,), role="tight")
        values = 1.0 + tight_bias + spread * rng.standard_normal((datasets, cells))
        groups.append(CellGroup(setting, values, np.ones(cells), np.ones(cells), tuple({"i": i} for i in range(cells))))
    return groups


def test_shrinking_deviation_holds_and_constant_or_growing_deviation_fails():
    rng = np.random.default_rng(0)
    assert excursion_decision(_groups(rng, [0.3, 0.02, 0.002]), scale=1.0, tolerance=0.01)["verdict"] == "holds"
    constant = excursion_decision(_groups(rng, [0.03, 0.03, 0.03]), scale=1.0, tolerance=0.01)
    assert constant["verdict"] == "fails" and constant["reasons"][0]["rule"] == "A"
    growing = excursion_decision(_groups(rng, [0.0, 0.05, 0.0]), scale=1.0, tolerance=0.01)
    assert growing["verdict"] == "fails" and {r["rule"] for r in growing["reasons"]} == {"B"}
    tight = excursion_decision(_groups(rng, [0.1, 0.0], tight_bias=0.05), scale=1.0, tolerance=0.01)
    assert tight["verdict"] == "fails" and tight["reasons"][0]["setting"].startswith("d=1000")
    # too few datasets to resolve the tolerance: not "holds"
    vague = excursion_decision(_groups(rng, [0.0, 0.0], datasets=4, spread=0.05), scale=1.0, tolerance=0.01)
    assert vague["verdict"] == "inconclusive"
    # the statement scale divides the measured ratio
    assert excursion_decision(_groups(rng, [0.2, 0.05]), scale=1.05, tolerance=0.01)["verdict"] in (
        "holds",
        "inconclusive",
    )


def test_false_alarm_rate_at_the_boundary_of_the_null_is_at_most_the_stated_size():
    # Every cell exactly at the tolerance (the least favourable truth): with a stated size of 0.2 the rule may
    # reject at most 20% of the time. 400 simulations: fails if the observed rate exceeds 0.2 + 3.5 SE (p ~ 2e-4).
    rng = np.random.default_rng(1)
    size, sims = 0.2, 400
    rejections = sum(
        excursion_decision(
            _groups(rng, [0.01, 0.01, 0.01], datasets=20, cells=8), scale=1.0, tolerance=0.01, false_alarm=size
        )["verdict"]
        == "fails"
        for _ in range(sims)
    )
    assert rejections / sims <= size + 3.5 * math.sqrt(size * (1 - size) / sims)
    assert rejections > 0  # and the rule is not vacuous at that size


def test_bootstrap_rates_match_the_scalar_rule():
    rng = np.random.default_rng(2)
    groups = _groups(rng, [0.2, 0.01, 0.004], tight_bias=0.0)
    rates = _asymptotics._BootstrapRates(groups, 0.01)
    seeds = np.arange(40)
    for scale in (1.0, 1.012, 0.985):
        scalar = np.mean(
            [
                excursion_decision(groups, scale=scale, tolerance=0.01, rng=np.random.default_rng(s))["verdict"]
                == "fails"
                for s in seeds
            ]
        )
        assert rates(scale, seeds) == pytest.approx(scalar)


class _TinyConfig(_asymptotics.ExperimentConfig):
    """One d, 24 datasets of N = 16, four high-SNR timesteps (compiles the engine once)."""

    def __init__(self, budget):
        super().__init__(budget)
        self.draws, self.datasets = 2, 24
        self.settings = [Setting(64, 16, 2, (25, 22, 19, 16))]


@pytest.fixture(scope="module")
def tiny_experiment():
    patch = pytest.MonkeyPatch()
    patch.setattr(_asymptotics, "experiment_config", _TinyConfig)
    patch.setattr(_asymptotics, "_CACHE", {})
    yield 123
    patch.undo()


def _run(claim_id, seed, scale=1.0):
    record = run_claim(get_claim(claim_id), budget=Budget("quick"), seed=seed, statement_scale=scale, power=False)
    assert not record.crashed, record.result.details.get("traceback")
    return record.result


def test_theorem_3_1_negative_control(tiny_experiment):
    result = _run("thm-3.1", tiny_experiment, scale=1.1)  # the closed form 10% too large
    assert result.verdict == "fails" and result.counterexample["reasons"][0]["rule"] == "A"
    assert not result.rescore.fails(1.0, None)  # the statement as given is not rejected on the same data
    assert result.sides["statement"].startswith("memlab.numerics.excess_gen_approx")
    assert "mc_excess_losses" in result.sides["measurement"]
    assert [row["d"] for row in result.details["by_d"]] == [64]


def test_theorem_3_2_as_stated_fails_with_an_independently_recomputed_counterexample(tiny_experiment):
    result = _run("thm-3.2", tiny_experiment)
    assert result.verdict == "fails"
    cx = result.counterexample
    assert cx["C"] > 2 and cx["M"] < coupon_threshold(cx["d"], cx["K"])
    # Recompute C(M, t) on 8 of the same datasets with the float64 NumPy reference and fresh noise.
    alpha, sigma, _ = (float(v) for v in schedule_coefficients(cx["t"]))
    rng = np.random.default_rng(77)
    values = []
    for seed in cx["dataset_seeds"][:8]:
        ds = make_gmm_dataset(d=cx["d"], k=cx["K"], n=cx["N"], n_test=0, seed=seed)
        est = excess_loss_pmem(
            ds.x_train, m=cx["M"], alpha=alpha, sigma=sigma, noise=rng.standard_normal((cx["N"], 20, cx["d"]))
        )
        values.append(est.mean / ((1 - cx["M"] / cx["N"]) * cx["d"]))
    c_mean, c_se = float(np.mean(values)), float(np.std(values, ddof=1) / math.sqrt(len(values)))
    assert c_mean - 4 * c_se > 2.0, (c_mean, c_se)


def test_theorem_3_2_coupon_negative_control(tiny_experiment):
    result = _run("thm-3.2-coupon", tiny_experiment, scale=0.7)  # upper constant 1.4 instead of 2
    assert result.verdict == "fails", result.details["by_d"]
    assert not result.rescore.fails(1.0, None)
    for row in result.details["by_d"]:
        assert row["worst_cell"]["M"] >= math.ceil(coupon_threshold(row["d"], row["K"]))
