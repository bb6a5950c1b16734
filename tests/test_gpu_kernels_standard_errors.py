"""The engine's standard errors against the spread of independent replicates (not the formula written elsewhere).

For a fixed dataset, two runs of ``mc_excess_losses`` with fresh keys estimate the same expectation
independently, so z = (m_a − m_b) / sqrt(se_a² + se_b²) is ~N(0, 1) if the reported SEs are right (and the
central limit theorem holds for the R draws of the N samples). Each pair contributes one z from one cell —
x̂_* at some t, x̂_mem at some t, x̂_pmem,M at some (M, t) — in rotation, so the z's are independent and can be
pooled. (The merge of per-tile means and sums of squares when the draws are split into tiles is covered by
test_gpu_kernels_losses.py::test_chunk_size_does_not_change_the_numbers.)

Decision: the pooled z's fail if a two-sided Kolmogorov–Smirnov test against N(0, 1) or a two-sided
chi-square test of Σz² ~ χ²(n) has a p-value below 5e-4: failure probability <= 1e-3 when the SEs are right.
An SE off by 30% moves Σz² by ~ 40-70% of n (n = 200: p ~ 1e-6) and is caught.

The regime: moderate SNR (t >= 0.4 here, where the "log-normal scale" √ψ_t min‖x^i − x^j‖ of the softmax
weights is <= 3.3). At high SNR the per-draw values are dominated by rare draws and a typical run's SE is far
below the actual spread (t = 0.2, scale 7: median SE 1.9e-9 against a spread of 2.3e-4 for x̂_mem's loss): the
SE is not reliable there — recorded by the strict xfail below. The Theorem 3.1/3.2 checks do not rely on
it: their standard errors come from independent datasets.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from memlab.gpu_kernels import mc_excess_losses
from memlab.numerics import make_gmm_dataset, schedule_coefficients

FAILURE_PROBABILITY = 1e-3  # split evenly between the two tests


def _pooled_z(ts, cells, *, pairs: int, draws: int, seed: int) -> np.ndarray:
    """One z per pair of fresh runs, the pair's cell chosen in rotation over ``cells`` ((field, index) pairs)."""
    ds = make_gmm_dataset(d=6, k=3, n=12, n_test=0, seed=5)
    alphas, sigmas, _ = schedule_coefficients(np.asarray(ts))
    zs = []
    for p in range(pairs):
        name, idx = cells[p % len(cells)]
        runs = [
            mc_excess_losses(
                ds.x_train,
                ds.means,
                ds.sigma2,
                alphas=alphas,
                sigmas=sigmas,
                draws=draws,
                key=jax.random.key(seed + 2 * p + h),
                dtype=jnp.float64,
            )
            for h in (0, 1)
        ]
        means = [getattr(r, name)[idx] for r in runs]
        ses = [getattr(r, name + "_se")[idx] for r in runs]
        zs.append((means[0] - means[1]) / math.hypot(*ses))
    return np.array(zs)


def _p_values(z: np.ndarray) -> tuple[float, float]:
    ks = float(stats.kstest(z, "norm").pvalue)
    total = float(np.sum(z * z))
    chi2 = 2 * min(float(stats.chi2.cdf(total, z.size)), float(stats.chi2.sf(total, z.size)))
    return ks, chi2


def _cells(t_count: int, ms=(1, 6, 11)) -> list:
    return (
        [("excess_gen", (ti,)) for ti in range(t_count)]
        + [("loss_mem", (ti,)) for ti in range(t_count)]
        + [("excess_pmem", (ti, m - 1)) for ti in range(t_count) for m in ms]
    )


def test_standard_errors_match_the_spread_of_independent_replicates():
    ts = [0.4, 0.6, 0.8]
    z = _pooled_z(ts, _cells(len(ts)), pairs=200, draws=16, seed=1000)
    ks, chi2 = _p_values(z)
    assert min(ks, chi2) >= FAILURE_PROBABILITY / 2, (ks, chi2, float(np.mean(z * z)))
    # the test can fail: the same z's with every SE 30% too small (or too large) are rejected
    assert min(_p_values(1.3 * z)) < FAILURE_PROBABILITY / 2
    assert min(_p_values(z / 1.3)) < FAILURE_PROBABILITY / 2


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="known limitation: at high SNR rare draws dominate and a run's SE "
    "underestimates the spread (log-normal softmax weights)",
)
def test_standard_errors_at_high_snr():
    # t = 0.2 (log-normal scale 7), x̂_mem's loss and x̂_pmem,N−1: mean z² 3-5 over three seeds (p < 1e-30)
    z = _pooled_z([0.2], [("loss_mem", (0,)), ("excess_pmem", (0, 10))], pairs=150, draws=64, seed=5000)
    assert min(_p_values(z)) >= FAILURE_PROBABILITY / 2
