"""The Monte Carlo engine's normalised frame (issue 11): no silent NaN, float32 on data of any magnitude.

The losses are translation invariant and homogeneous of degree 2: for x -> s x + c, means -> s means + c,
sigma2 -> s^2 sigma2, sigma_t -> s sigma_t (same noise) every loss and standard error is multiplied by s^2.
The engine computes in the frame where the data are centred and of norm < 1, so float32 gives the
float32 answer of the unscaled problem at any s; a setting whose (dimensionless) softmax logits leave the
dtype is refused up front, and a non-finite result is an error.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from memlab import InvalidInputError, gpu_kernels, numerics
from memlab.gpu_kernels import _losses
from memlab.paper_figs._recipes import check_trained

# The shapes of tests/test_gpu_kernels_losses.py, so the float64 kernel compiled there is reused here.
N, D, K, R = 11, 4, 3, 6
BLOCK = 4
T_VALUES = np.array([0.999, 0.5, 0.36028, 0.05, 0.001])
EPS32 = float(np.finfo(np.float32).eps)
NAMES = ("loss_mem", "loss_mem_se", "excess_pmem", "excess_pmem_se", "excess_gen", "excess_gen_se")


def _case(seed=5):
    ds = numerics.make_gmm_dataset(d=D, k=K, n=N, seed=seed)
    alphas, sigmas, _ = numerics.schedule_coefficients(T_VALUES)
    return ds, alphas, sigmas, jax.random.key(seed)


def _losses_of(x, means, sigma2, alphas, sigmas, key, dtype):
    return gpu_kernels.mc_excess_losses(
        x, means, sigma2, alphas=alphas, sigmas=sigmas, draws=R, key=key, dtype=dtype, block_size=BLOCK
    )


def _spread2(ds) -> float:
    pts = np.concatenate([ds.x_train, ds.means])
    return float(np.max(np.sum((pts[:, None] - pts[None]) ** 2, axis=-1)))


@pytest.mark.parametrize("scale, offset", [(2.0**80, 0.0), (1e-25, 0.0), (3e17, 1e19), (1.0, 1e6)])
def test_float32_on_scaled_and_shifted_data_is_the_scaled_answer(scale, offset):
    """float32 at data magnitude 1e24, 1e-25, or offset by 1e19 or 1e6 gives s^2 times float32's answer for the
    unscaled problem (same float32 noise) within the float32 rounding bound 8 (N + d) eps |x|^2 (in units of
    s^2) — the bound the unscaled float32 kernel is held to against the float64 reference
    (tests/test_gpu_kernels_losses.py). Without the frame these overflow, underflow or lose the spread."""
    ds, alphas, sigmas, key = _case()
    reference = _losses_of(ds.x_train, ds.means, ds.sigma2, alphas, sigmas, key, jnp.float32)
    got = _losses_of(
        scale * ds.x_train + offset,
        scale * ds.means + offset,
        scale**2 * ds.sigma2,
        alphas,
        scale * sigmas,
        key,
        jnp.float32,
    )
    tolerance = 8 * (N + D) * EPS32 * _spread2(ds)
    for name in NAMES:
        value = getattr(got, name) / scale**2
        assert np.all(np.isfinite(value)), name
        np.testing.assert_allclose(value, getattr(reference, name), rtol=0, atol=tolerance, err_msg=name)
    np.testing.assert_array_equal(got.sigmas, scale * sigmas)  # the schedule is reported as given


def test_float64_invariance_is_tight():
    ds, alphas, sigmas, key = _case(7)
    base = _losses_of(ds.x_train, ds.means, ds.sigma2, alphas, sigmas, key, jnp.float64)
    s, c = 1e120, -3e121
    moved = _losses_of(s * ds.x_train + c, s * ds.means + c, s * s * ds.sigma2, alphas, s * sigmas, key, jnp.float64)
    for name in NAMES:
        np.testing.assert_allclose(
            getattr(moved, name) / s**2, getattr(base, name), rtol=0, atol=1e-10 * _spread2(ds), err_msg=name
        )


@pytest.mark.parametrize(
    "dtype, scale, message",
    [
        (jnp.float32, 1e30, "beyond float32.*use dtype float64"),
        (jnp.float64, 1e200, "beyond float64"),
    ],
)
def test_logits_beyond_the_dtype_are_refused_before_computing(dtype, scale, message):
    """Data of spread s against the schedule's noise (sigma_t < 1): the logits ~ (s / sigma_t)^2 are
    dimensionless, so no frame brings them into range; refused, never NaN."""
    ds, alphas, sigmas, key = _case()
    with pytest.raises(InvalidInputError, match=message):
        _losses_of(scale * ds.x_train, scale * ds.means, ds.sigma2, alphas, sigmas, key, dtype)


def test_a_non_finite_result_is_an_error(monkeypatch):
    ds, alphas, sigmas, key = _case()
    real = _losses._estimate

    def overflowing(*args):  # whatever _estimate takes: its estimate made non-finite
        value, se = real(*args)
        return np.full_like(value, np.inf), se

    monkeypatch.setattr(_losses, "_estimate", overflowing)
    with pytest.raises(InvalidInputError, match="Monte Carlo losses is not finite"):
        _losses_of(ds.x_train, ds.means, ds.sigma2, alphas, sigmas, key, jnp.float64)


def test_non_finite_input_is_an_error():
    ds, alphas, sigmas, key = _case()
    x = ds.x_train.copy()
    x[0, 0] = np.nan
    with pytest.raises(InvalidInputError, match="finite"):
        _losses_of(x, ds.means, ds.sigma2, alphas, sigmas, key, jnp.float64)


def test_trained_model_check():
    good = gpu_kernels.TrainResult(
        params={"m": jnp.ones(3)}, loss_history=np.ones(2), history_epochs=np.arange(2), final_loss=np.float32(1.0)
    )
    check_trained(good, jnp.float32)
    bad = gpu_kernels.TrainResult(
        params={"m": jnp.array([1.0, jnp.nan])},
        loss_history=np.ones(2),
        history_epochs=np.arange(2),
        final_loss=np.float32(np.nan),
    )
    with pytest.raises(InvalidInputError, match=r"trained model is not finite.*--dtype float64"):
        check_trained(bad, jnp.float32)
