"""Speed of the O(c*D) Woodbury image denoiser vs the dense Lemma 2.1 evaluation it replaces.

Both are JAX, jit-compiled, float32 and float64, on the same inputs: K components of the simple image model
(c = 3, D = side^2), a batch of B noisy images at t_16. The dense version factors each (cD) x (cD)
covariance once (Cholesky, outside the timed loop — the most favourable setting for it) and then
solves per batch; the Woodbury version never forms those matrices.

FLOP counts (multiply-adds counted as 2):
  Woodbury: 2 contractions of B*M*c*D multiply-adds -> 4 B M c D;
  dense:    per component two triangular solves of (cD)^2 per point -> 2 B M (cD)^2 (plus the
            factorisation M (cD)^3 / 3, excluded).
Usage: python benchmarks/bench_image_denoiser.py [--side 15] [--m 100] [--batch 2000]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)

from memlab import gpu_kernels, numerics  # noqa: E402


def _timeit(fn, *args, repeats=5):
    fn(*args).block_until_ready()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return best


def dense_denoiser(x, alpha, sigma, means, chol, logdets):
    """Lemma 2.1 with precomputed Cholesky factors of S_i = alpha^2 Sigma_i + sigma^2 I: (B, d) -> (B, d)."""
    residual = x[:, None, :] - alpha * means[None, :, :]  # (B, M, d)

    def solve(l_i, r_i):  # (d, d), (B, d) -> (B, d)
        return jax.scipy.linalg.cho_solve((l_i, True), r_i.T).T

    solved = jax.vmap(solve, in_axes=(0, 1), out_axes=1)(chol, residual)  # (B, M, d)
    logits = -0.5 * logdets[None, :] - 0.5 * jnp.sum(residual * solved, axis=-1)
    post = jax.nn.softmax(logits, axis=-1)
    return (x - sigma**2 * jnp.einsum("bm,bmd->bd", post, solved)) / alpha


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=15)
    parser.add_argument("--m", type=int, default=100)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), jax {jax.__version__}")
    ds = numerics.make_image_dataset(k=4, n=args.m, side=args.side, seed=0)
    c, pixels = ds.channels, ds.pixels
    d = c * pixels
    alpha, sigma, _ = numerics.schedule_coefficients(numerics.representative_t())
    alpha, sigma = float(alpha), float(sigma)
    templates = ds.templates[ds.labels_train]
    color_means = ds.colors_train
    rng = np.random.default_rng(0)
    x = alpha * ds.x_train[rng.integers(0, args.m, args.batch)] + sigma * rng.standard_normal((args.batch, d))
    covs = numerics.image_component_covariances(templates, color_var=1.0, channels=c)
    s_mats = alpha**2 * covs + sigma**2 * np.eye(d)
    chol64 = np.linalg.cholesky(s_mats)
    logdets = 2 * np.sum(np.log(np.diagonal(chol64, axis1=1, axis2=2)), axis=1)
    means = numerics.kron_images(color_means, templates)
    flops_wood = 4.0 * args.batch * args.m * c * pixels
    flops_dense = 2.0 * args.batch * args.m * d**2
    print(
        f"B={args.batch} M={args.m} c={c} D={pixels} (d={d}); FLOPs Woodbury {flops_wood:.3g}, dense {flops_dense:.3g}"
    )
    for dtype in (jnp.float32, jnp.float64):
        wood = jax.jit(
            lambda x, t, mu: gpu_kernels.low_rank_image_denoiser(
                x, alpha=alpha, sigma=sigma, templates=t, color_means=mu, color_var=1.0
            )
        )
        dense = jax.jit(lambda x, mu, lower, ld: dense_denoiser(x, alpha, sigma, mu, lower, ld))
        xs = jnp.asarray(x, dtype)
        t_wood = _timeit(wood, xs, jnp.asarray(templates, dtype), jnp.asarray(color_means, dtype))
        t_dense = _timeit(
            dense, xs, jnp.asarray(means, dtype), jnp.asarray(chol64, dtype), jnp.asarray(logdets, dtype), repeats=2
        )
        diff = np.abs(
            np.asarray(wood(xs, jnp.asarray(templates, dtype), jnp.asarray(color_means, dtype)), np.float64)
            - np.asarray(
                dense(xs, jnp.asarray(means, dtype), jnp.asarray(chol64, dtype), jnp.asarray(logdets, dtype)),
                np.float64,
            )
        ).max()
        print(
            f"{jnp.dtype(dtype).name}: Woodbury {t_wood * 1e3:.2f} ms ({flops_wood / t_wood / 1e9:.2f} GFLOP/s), "
            f"dense {t_dense * 1e3:.1f} ms ({flops_dense / t_dense / 1e9:.2f} GFLOP/s), "
            f"speed-up {t_dense / t_wood:.0f}x, max |diff| {diff:.2e}"
        )


if __name__ == "__main__":
    main()
