"""Monte Carlo per-time losses against the float64 reference (same noise), chunking, and the SE formula."""

import jax.numpy as jnp
import numpy as np
import pytest

from memlab import gpu_kernels, numerics


def test_mc_time_loss_matches_reference_with_same_noise():
    ds = numerics.make_gmm_dataset(d=5, k=3, n=13, n_test=11, seed=30)
    rng = np.random.default_rng(3)
    noise = rng.standard_normal((11, 6, 5))
    alphas, sigmas, _ = numerics.schedule_coefficients(numerics.timestep_grid())
    params = gpu_kernels.gmm_params(ds.x_train[:7], 0.0)  # x_hat_pmem,7 on held-out data
    for index in (3, 16, 24):
        a, s = alphas[index], sigmas[index]
        ref_losses, ref_se = numerics.per_time_training_losses(
            lambda x, al, si: numerics.partial_memorizing_denoiser(x, alpha=al, sigma=si, train=ds.x_train, m=7),
            ds.x_test,
            noise[None],
            alphas=[a],
            sigmas=[s],
        )
        for chunk_rows in (None, 4):
            loss, se = gpu_kernels.mc_time_loss(
                gpu_kernels.gmm_apply, params, jnp.asarray(ds.x_test), noise, alpha=a, sigma=s, chunk_rows=chunk_rows
            )
            assert loss == pytest.approx(ref_losses[0], rel=1e-10)
            assert se == pytest.approx(ref_se[0], rel=1e-8)
