"""Figure 3's sweep: orchestration (grid, refinement, exact losses, collection), resuming, and the CPU preset."""

from dataclasses import replace

import numpy as np
import pytest

from memlab import InvalidInputError, numerics
from memlab._io import write_npz
from memlab._sweep import SweepOptions
from memlab.paper_figs import _figure3_sweep as f3
from memlab.paper_figs import preset
from memlab.paper_figs._phase_transition import run_config


@pytest.fixture(autouse=True)
def _no_persistent_jax_cache(monkeypatch):
    monkeypatch.setenv("MEMLAB_JAX_CACHE", "0")  # tests write nothing outside tmp_path


def fake_ratio(n, d, k, m):
    """A deterministic transition centred at 0.7 N + (d + k) mod 3, width 0.2 N."""
    return float(np.clip((m - (0.7 * n + (d + k) % 3)) / (0.2 * n) + 0.5, 0.0, 1.0))


def fake_train(config, run_dir):
    """Stands in for train_and_evaluate: memorization flags from :func:`fake_ratio`, no training."""
    n_eval = config["n_eval"]
    hits = round(fake_ratio(config["n"], config["d"], config["k"], config["m"]) * n_eval)
    return {"memorized_flags": [int(i < hits) for i in range(n_eval)]}


def fake_exact(config, run_dir):
    """Stands in for exact_losses: the Theorem 3.1/3.2 values (C = 2) with a d-dependent tilt."""
    n, d = config["n"], config["d"]
    t = numerics.timestep_grid(config["steps"])
    _, _, psi = numerics.schedule_coefficients(t)
    m = np.arange(1, n + 1)
    pmem = 2 * (1 - m[None, :] / n) * d * (1 + 0.01 * d * t[:, None])
    gen = d / (psi + 1)
    write_npz(
        run_dir / "exact_losses.npz",
        t=t,
        excess_pmem=pmem,
        excess_pmem_se=0.01 * pmem,
        excess_gen=gen,
        excess_gen_se=0.01 * gen,
        loss_mem=np.zeros_like(t),
        loss_mem_se=np.zeros_like(t),
    )
    return {}


def small_settings(**overrides):
    cpu = preset(3, "cpu")
    base = dict(
        ns=(20, 30), ds=(5,), ks=(2, 3), multiples=12, refine=4, exact_draws=2, recipe=replace(cpu.recipe, n_eval=20)
    )
    base.update(overrides)
    return replace(cpu, **base)


def run(settings, cache):
    return f3.run_figure3_sweep(
        settings, SweepOptions(cache_dir=cache), run_function=fake_train, exact_function=fake_exact
    )


def test_sweep_grid_refinement_and_m_pt(tmp_path):
    settings = small_settings()
    result = run(settings, tmp_path / "cache")
    assert [(o.n, o.d, o.k) for o in result.outcomes] == settings.tuples()
    for outcome in result.outcomes:
        grid = numerics.m_grid(outcome.n, multiples=12)
        assert set(grid) <= set(outcome.m_values) and len(outcome.m_values) > len(grid)  # refined
        ratios = [fake_ratio(outcome.n, outcome.d, outcome.k, m) for m in outcome.m_values]
        np.testing.assert_allclose(outcome.ratios, np.round(np.array(ratios) * 20) / 20)
        expected = next(m for m, r in zip(outcome.m_values, outcome.ratios) if r >= 0.5)
        assert outcome.m_pt == expected
        assert outcome.exact is not None and outcome.exact.gaps.shape == (26, outcome.n)
    assert result.executed == sum(len(o.m_values) for o in result.outcomes) + len(result.outcomes)


def test_resumed_sweep_equals_uninterrupted(tmp_path):
    settings = small_settings()
    full = run(settings, tmp_path / "a")
    first = run(settings, tmp_path / "b")
    # interrupt: forget three finished runs (a run is finished iff its result.json exists)
    results = sorted((tmp_path / "b").glob("*/result.json"))
    for path in results[::7][:3]:
        path.unlink()
    resumed = run(settings, tmp_path / "b")
    assert resumed.executed == 3 and resumed.cached == first.executed - 3
    for a, b in zip(full.outcomes, resumed.outcomes):
        assert (a.m_values, a.ratios, a.m_pt, a.m_pt_ci, a.m_start, a.m_end) == (
            b.m_values,
            b.ratios,
            b.m_pt,
            b.m_pt_ci,
            b.m_start,
            b.m_end,
        )
        np.testing.assert_array_equal(a.exact.gaps, b.exact.gaps)


def test_configs_are_shared_with_the_phase_transition_experiment():
    s = small_settings()
    config = run_config(f3.tuple_experiment(s, 20, 5, 2, [2, 4]), m=4, seed=0)
    assert config["n"] == 20 and config["m"] == 4 and config["epochs"] == preset(2, "cpu").recipe.epochs
    assert config["n_eval"] == 20  # the override reached the training recipe
    # the same run as Figure 2's experiment with these data settings: the cache is shared
    figure2 = replace(preset(2, "cpu"), n=20, d=5, k=2, recipe=s.recipe)
    assert run_config(figure2, m=4, seed=0) == config


def test_paper_small_preset_is_the_app_h1_recipe_at_the_cpu_sizes():
    """paper-small: App. H.1's training recipe as the paper states it (50,000 full-batch epochs, 100 noise draws
    per sample, warm-up over N_epochs / 10 from 0 to 1e-3 then linear decay to 1e-6, eps weighting; Adam with
    optax's defaults b1 0.9, b2 0.999, eps 1e-8, which the paper does not override) on the CPU preset's tuples,
    grid and evaluation, so that only the training differs from the CPU preset."""
    from memlab.paper_figs._phase_transition import run_config
    from memlab.paper_figs._presets import preset

    app_h1 = dict(epochs=50_000, draws=100, peak_lr=1e-3, final_lr=1e-6, warmup_fraction=0.1, adam_b2=0.999)
    small, cpu = preset(3, "paper-small"), preset(3, "cpu")
    assert {key: getattr(small.recipe, key) for key in app_h1} == app_h1
    assert (small.ns, small.ds, small.ks, small.multiples, small.refine, small.sigma2) == (
        cpu.ns,
        cpu.ds,
        cpu.ks,
        cpu.multiples,
        cpu.refine,
        cpu.sigma2,
    )
    for key in ("n_eval", "eval_draws", "chunk_size", "dtype"):
        assert getattr(small.recipe, key) == getattr(cpu.recipe, key), key
    config = run_config(f3.tuple_experiment(small, 20, 20, 2, [16]), m=16, seed=0)
    assert (config["weighting"], config["adam_b1"], config["adam_eps"], config["steps"]) == ("eps", 0.9, 1e-8, 25)
    for figure in (2, 6, 7):  # the phase-transition figures' paper-small: the smallest CPU tuple, same recipe
        settings = preset(figure, "paper-small")
        assert settings.recipe == small.recipe
        assert (settings.n, settings.d, settings.k) == (min(cpu.ns), min(cpu.ds), min(cpu.ks))


@pytest.mark.parametrize(
    "overrides",
    [{"ns": (1,)}, {"ds": ()}, {"multiples": 0}, {"exact_dtype": "float16"}, {"refine": -1}, {"exact_draws": 1}],
)
def test_bad_settings(overrides):
    with pytest.raises(InvalidInputError):
        small_settings(**overrides)


def test_unknown_preset():
    with pytest.raises(InvalidInputError):
        preset(3, "gpu")


@pytest.mark.slow
def test_cpu_preset_smallest_tuple_runs_and_resumes(tmp_path):
    """The CPU preset's smallest tuple (N=20, d=20, K=2) end to end with real training and exact losses;
    then two runs are forgotten and the resumed sweep reproduces the same outcome."""
    settings = replace(preset(3, "cpu"), ns=(20,), ds=(20,), ks=(2,))
    options = SweepOptions(cache_dir=tmp_path / "cache")
    first = f3.run_figure3_sweep(settings, options)
    (outcome,) = first.outcomes
    assert outcome.m_pt is not None  # the preset's grid reaches the memorizing side
    assert outcome.ratios[0] < 0.5 and outcome.exact is not None
    results = sorted((tmp_path / "cache").glob("*/result.json"))
    for path in results[:2]:
        path.unlink()
    again = f3.run_figure3_sweep(settings, options)
    assert again.executed == 2
    (resumed,) = again.outcomes
    assert (resumed.m_values, resumed.ratios, resumed.m_pt, resumed.m_pt_ci) == (
        outcome.m_values,
        outcome.ratios,
        outcome.m_pt,
        outcome.m_pt_ci,
    )
    np.testing.assert_array_equal(resumed.exact.gaps, outcome.exact.gaps)
