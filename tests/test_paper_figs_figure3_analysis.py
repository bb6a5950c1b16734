"""Figure 3's analysis on synthetic sweep outcomes (no training): split, fits, fixed weightings, CSV."""

import numpy as np
import pytest

from memlab import InvalidInputError, numerics
from memlab.paper_figs import _figure3_analysis as fa


def grid(steps=25):
    return 0.999 - 0.998 * np.arange(steps + 1) / steps


def outcome(n, d, k, m_pt, exact=None):
    ms = tuple(range(max(1, n // 10), 2 * n + 1, max(1, n // 10)))
    return fa.TupleOutcome(
        n=n,
        d=d,
        k=k,
        m_values=ms,
        ratios=tuple(float(m >= (m_pt or 10**9)) for m in ms),
        m_pt=m_pt,
        m_pt_ci=(m_pt, m_pt),
        exact=exact,
    )


def tuples_at(ratio, ns=(50, 100, 150, 200), ds=(30, 60), ks=(3,)):
    return [outcome(n, d, k, round(ratio * n)) for n in ns for d in ds for k in ks]


def test_fitted_approx_reproduces_a_linear_m_pt_and_fixed_weightings_match_m_star():
    analysis = fa.analyze(tuples_at(0.8), fa.AnalysisSettings(test_fraction=0.25, split_seed=0))
    assert analysis.split.count("test") == 2 and analysis.split.count("train") == 6
    fitted = analysis.methods["fitted_approx"]
    # the relaxed predictor can reach M_pt = 0.8 N to within rounding of the targets (<= 0.5 / 25 relative)
    assert fitted.errors["train"].max_abs_rel < 0.02 and fitted.errors["test"].max_abs_rel < 0.02
    assert fitted.m_star_over_n == pytest.approx(0.8, abs=0.01)
    t = grid()
    x0 = analysis.methods["x0_approx"]
    assert x0.m_star_over_n == pytest.approx(1 - np.mean(t**2) / 2, rel=1e-12)  # VP: 1/(psi+1) = t^2, C = 2
    eps = analysis.methods["eps_approx"]
    psi = (1 - t**2) / t**2
    assert eps.m_star_over_n == pytest.approx(1 - np.mean(psi * t**2) / (2 * np.mean(psi)), rel=1e-12)
    ns = np.array([t.n for t in analysis.tuples])
    np.testing.assert_allclose(x0.crossover, x0.m_star_over_n * ns, rtol=1e-9)
    assert "fitted_exact" not in analysis.methods and any("exact" in note for note in analysis.notes)


def test_unreached_tuples_are_excluded_but_predicted():
    tuples = [*tuples_at(0.8, ns=(50, 100), ds=(30,)), outcome(150, 30, 3, None)]
    analysis = fa.analyze(tuples, fa.AnalysisSettings(test_fraction=0.5))
    assert analysis.split[-1] == "excluded" and sorted(analysis.split[:2]) == ["test", "train"]
    assert np.isfinite(analysis.methods["x0_approx"].m_hat[-1])
    header, rows = fa.csv_table(analysis)
    assert rows[-1][header.index("m_pt")] is None and rows[-1][header.index("split")] == "excluded"
    assert len(header) == len(rows[0]) == 11 + 3 * len(analysis.methods)


def test_exact_methods_run_when_every_tuple_has_exact_gaps():
    """Exact gaps built from the approximations themselves: the exact methods must then agree with the approx ones."""
    tuples = []
    for n in (50, 100, 150):
        approx = numerics.approx_loss_gaps(n, d=30)
        tuples.append(outcome(n, 30, 3, int(0.8 * n), exact=approx))
    analysis = fa.analyze(tuples, fa.AnalysisSettings(test_fraction=0.34))
    for name in ("x0", "eps"):
        np.testing.assert_allclose(analysis.methods[f"{name}_exact"].m_hat, analysis.methods[f"{name}_approx"].m_hat)
    assert analysis.methods["fitted_exact"].m_star_over_n is None
    np.testing.assert_allclose(
        analysis.methods["fitted_exact"].m_hat, analysis.methods["fitted_approx"].m_hat, rtol=1e-6
    )


def test_no_reached_tuple_is_a_user_error():
    with pytest.raises(InvalidInputError):
        fa.analyze([outcome(50, 30, 3, None)])
