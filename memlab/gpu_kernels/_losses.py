"""Monte Carlo excess losses for every model size M = 1..N in one pass (SPEC §3, eq. 13; Figure 1).

For a training set ``x^1..x^N`` (N, d), R noise draws per sample and T timesteps, estimate

- ``loss_mem[t]``        = L_{N,t}(x_mem) = (1/N) sum_i E |x_mem(X) - x^i|^2,
- ``excess_pmem[t, M-1]`` = (1/N) sum_i E |x_pmem,M(X) - x_mem(X)|^2 for every M = 1..N,
- ``excess_gen[t]``       = (1/N) sum_i E |x_*(X) - x_mem(X)|^2,

with ``X = alpha_t x^i + sigma_t Z`` and common random numbers (the same Z for every M, both denoisers
and every t), each with its standard error ``sqrt(sum_i s_i^2 / R) / N`` (SPEC §3).

The all-M algorithm (per noisy point; all arrays are batched over (sample, draw)):

Work in the frame centred at the point's own training sample s: ``Y_j = x^j - x^s`` (so ``Y_s = 0``
exactly), ``r = x_mem(X) - x^s``. The logits ``w_j = -|alpha Y_j - sigma z|^2 / (2 sigma^2)`` (up to a
per-row constant) are ``-alpha^2 |Y_j|^2/(2 sigma^2) + (alpha/sigma) z.Y_j``: no large cancelling terms,
``w_s = 0``. With ``p^(M)`` the softmax over the prefix 1..M and ``u_M = sum_{j<=M} p^(M)_j Y_j``,

    excess_M = |u_M - r|^2 = Q_M / Z_M^2 - 2 L_M / Z_M + |r|^2,

where, at the prefix running max ``m_M = max_{j<=M} w_j`` (so nothing overflows and an exponent only
underflows when its term is negligible next to the prefix maximum),

    Z_M = sum_{j<=M} e^{w_j - m_M},  L_M = sum_{j<=M} e^{w_j - m_M} (Y_j . r),
    Q_M = sum_{j,k<=M} e^{w_j + w_k - 2 m_M} (Y_j . Y_k).

``Q_M`` grows by ``a_k^2 |Y_k|^2 + 2 a_k I_k`` at step k (``a_k = e^{w_k - m_k}``), with the cross term
``I_k = sum_{j<k} e^{w_j - m_k} Y_j . Y_k``. ``I_k`` is what costs; it is split at blocks of
``block_size`` points, flash-attention style:

- earlier blocks: a scan over blocks carries (running max, ``P`` = their weighted sum of ``Y_j``); the
  block's ``P . Y_k`` is one small matmul, used as ``e^{M_block - m_k} P . Y_k``;
- the own block: a scan over points carries the block's weights ``e^{w_j - m_k}`` (rescaled by
  ``e^{m_{k-1} - m_k}`` at each step) and contracts them with the block's Gram column ``Y_j . Y_k``.

The same point scan carries (m, Z, L, Q), rescaling by ``e^{m_{k-1} - m_k} <= 1`` (Q by its square): two
exponentials per point, no term underflows unless it is negligible next to the running maximum. Cost
per noisy point and timestep: about ``8 N d`` multiply-adds in plain matmuls plus ``O(N block_size)``
elementwise work, versus ``4 N d`` per M (``4 N^2 d`` for all M) evaluated one M at a time.

Memory is bounded by chunking the (sample, draw) batch into tiles of about ``chunk_size`` rows; the
samples of a tile are sharded across ``devices`` with ``jax.shard_map``. Noise draw r of sample i is
``normal(fold_in(fold_in(key, i), r))``, so numbers do not depend on the tiling, the device count or
the number of draws requested (up to float rounding). Per-tile per-sample means and centred sums of
squares are combined across draw tiles on the host in float64 (Chan et al.).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from memlab._errors import InvalidInputError, require_finite

from memlab.gpu_kernels._denoisers import memorizing_denoiser, partial_memorizing_denoiser
from memlab.gpu_kernels._tracing import TRACE_COUNTS

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_CHUNK_SIZE",
    "ExcessLosses",
    "excess_pmem_single_m",
    "mc_excess_losses",
    "noise_draws",
]

DEFAULT_CHUNK_SIZE = 4096  # (sample, draw) rows per tile
DEFAULT_BLOCK_SIZE = 8  # training points per block of the all-M kernel

# LLVM's -O1 instead of -O3 for the (long, mostly elementwise) tile kernel: compiles about twice as fast
# on CPU with the same run time here; ignored by backends that do not know the option.
_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["loss_mem", "loss_mem_se", "excess_pmem", "excess_pmem_se", "excess_gen",
                                "excess_gen_se", "alphas", "sigmas"],
                   meta_fields=["draws", "dtype"])
@dataclass(frozen=True)
class ExcessLosses:
    """Monte Carlo losses over T timesteps for a training set of N samples (x0 units; numpy float64).

    loss_mem, loss_mem_se: (T,) loss of the memorizing denoiser and its standard error;
    excess_pmem, excess_pmem_se: (T, N), column M-1 holds x_pmem,M (M = 1..N; column N-1 is exactly 0);
    excess_gen, excess_gen_se: (T,) the generalizing denoiser x_*;
    alphas, sigmas: (T,) the schedule values used; draws: noise draws per sample; dtype: compute dtype.
    """

    loss_mem: np.ndarray
    loss_mem_se: np.ndarray
    excess_pmem: np.ndarray
    excess_pmem_se: np.ndarray
    excess_gen: np.ndarray
    excess_gen_se: np.ndarray
    alphas: np.ndarray
    sigmas: np.ndarray
    draws: int
    dtype: str


def noise_draws(key: jax.Array, sample_indices: jax.Array, draw_indices: jax.Array, *, d: int,
                dtype=jnp.float32) -> jax.Array:
    """The standard normal draws ``(S, R, d)``: draw r of sample i is ``normal(fold_in(fold_in(key, i), r), (d,))``."""

    def one_sample(i):
        sample_key = jax.random.fold_in(key, i)
        return jax.vmap(lambda r: jax.random.normal(jax.random.fold_in(sample_key, r), (d,), dtype))(draw_indices)

    return jax.vmap(one_sample)(sample_indices)


def _masked_mean_and_m2(values: jax.Array, weights: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Mean and centred sum of squares over the last axis (draws) with 0/1 ``weights`` (R,): (..., R) -> (...)."""
    mean = jnp.sum(weights * values, axis=-1) / jnp.sum(weights)
    m2 = jnp.sum(weights * (values - mean[..., None]) ** 2, axis=-1)
    return mean, m2


def _fold_leading(x: jax.Array, op) -> jax.Array:
    """Reduce axis 0 by pairwise folding with the elementwise ``op`` (e.g. ``jnp.add``): (L, ...) -> (...).

    XLA:CPU reduces over a leading (non-contiguous) axis an order of magnitude slower than over the last
    one; halving with elementwise ops keeps the per-row layout and fuses into a few loops.
    """
    while x.shape[0] > 1:
        half = x.shape[0] // 2
        folded = op(x[:half], x[half:2 * half])
        x = jnp.concatenate([folded, x[2 * half:]], axis=0) if x.shape[0] % 2 else folded
    return x[0]


def _sum0(x: jax.Array) -> jax.Array:
    return _fold_leading(x, jnp.add)


def _softmax0(logits: jax.Array) -> jax.Array:
    """Softmax over axis 0 (max-subtracted), for the (..., S, R) layout."""
    shifted = jnp.exp(logits - _fold_leading(logits, jnp.maximum)[None])
    return shifted / _sum0(shifted)[None]


def _tile_stats(x_train, means, sigma2, alphas, sigmas, sample_idx, draw_idx, draw_weights, key, *,
                block: int, n_pad: int):
    """Per-sample statistics for one tile (the body run on each device).

    x_train (N, d); means (K, d); sigma2 (); alphas, sigmas (T,); sample_idx (S,); draw_idx (R,);
    draw_weights (R,) 1 for real draws, 0 for padding; key: PRNG key.
    Returns per t and sample the mean and centred sum of squares over the tile's draws:
    pmem (T, S, N) x2, gen (T, S) x2, mem (T, S) x2.

    Layout: per-row arrays are (..., S, R) with the draws axis last (contiguous), so reductions over
    training points / block entries run across rows in vector registers and every matmul is a plain
    2-D product with the (S, R) rows as its free dimension.
    """
    TRACE_COUNTS["mc_excess_losses"] += 1
    dtype = x_train.dtype
    n, d = x_train.shape
    n_samples, n_blocks = sample_idx.shape[0], n_pad // block
    neg_inf = jnp.array(-jnp.inf, dtype)
    own = (sample_idx, jnp.arange(n_samples))  # index of each row's own training sample in an (Np, S, R) array

    # t-independent, per sample: the centred frame Y_j = x^j - x^s, its Gram diagonal blocks, noise projections.
    # Centred dot products v . Y_j are computed as (X v)_j - (X v)_s: one plain matmul, exactly 0 at j = s.
    centers = x_train[sample_idx].T[:, :, None]  # (d, S, 1)
    valid = jnp.arange(n_pad) < n  # (Np,)
    x_pad = jnp.pad(x_train, ((0, n_pad - n), (0, 0)))  # (Np, d)
    y = jnp.where(valid[:, None, None], x_pad[:, :, None] - centers[:, :, 0][None], 0)  # (Np, d, S); y[s,:,s] = 0
    dist2 = jnp.sum(y * y, axis=1)  # (Np, S) |x^j - x^s|^2 (t-independent: layout does not matter)
    y_blocks = y.reshape(n_blocks, block, d, n_samples)
    gram_blocks = jnp.einsum("njds,nkds->nkjs", y_blocks, y_blocks)  # (nb, b, b, S) Y_k . Y_j within blocks
    z = jnp.moveaxis(noise_draws(key, sample_idx, draw_idx, d=d, dtype=dtype), 2, 0)  # (d, S, R)
    zx = jnp.einsum("nd,dsr->nsr", x_pad, z)
    zy = zx - zx[own][None]  # (Np, S, R) z . Y_j
    zv = jnp.einsum("kd,dsr->ksr", means, z) - _sum0(z * centers)[None]  # (K, S, R) z . V_k
    v = means[:, :, None] - centers[:, :, 0][None]  # (K, d, S) V_k = mu_k - x^s
    vdist2 = jnp.sum(v * v, axis=1)  # (K, S)
    x_blocks = x_pad.reshape(n_blocks, block, d)

    def block_step(carry, blk):
        """P-part over one block: ``e^{M - m_k} P . Y_k`` for the block's points, then absorb the block into P.

        carry: the running max M over earlier blocks (S, R) and P = sum_{j earlier} e^{w_j - M} Y_j (d, S, R);
        m_k is the running max up to point k (inclusive), so the output is at the scale the point scan uses.
        """
        run_max, run_p = carry
        w_b, x_b = blk  # (b, S, R), (b, d)
        p_dot_y = jnp.einsum("kd,dsr->ksr", x_b, run_p) - _sum0(run_p * centers)[None]  # (b, S, R)
        maxima = [jnp.maximum(run_max, w_b[0])]
        for k in range(1, block):
            maxima.append(jnp.maximum(maxima[-1], w_b[k]))
        m_b = jnp.stack(maxima, axis=0)  # (b, S, R) m_k, finite
        scaled = jnp.exp(run_max[None] - m_b) * p_dot_y  # block 0: e^{-inf} * 0 = 0
        end_max = maxima[-1]
        end_weights = jnp.exp(w_b - end_max[None])  # e^{w_j - m_end}
        run_p = jnp.exp(run_max - end_max)[None] * run_p + jnp.einsum("kd,ksr->dsr", x_b, end_weights) \
            - _sum0(end_weights)[None] * centers
        return (end_max, run_p), scaled

    def point_step(carry, point):
        """The recursion at one point k: (Z, L, Q) at scale e^{m_k} and the block's weights e^{w_j - m_k}, j < k."""
        run_max, run_z, run_l, run_q, own_weights = carry  # (S, R) x4, (b, S, R)
        w_k, lin_k, dist2_k, gram_col, earlier_cross, block_onehot, in_block = point
        m_k = jnp.maximum(run_max, w_k)
        rho = jnp.exp(run_max - m_k)  # k = 0: e^{-inf} = 0
        a = jnp.exp(w_k - m_k)
        own_weights = own_weights * (rho * in_block)[None]  # reset at a block start
        cross = earlier_cross + _sum0(own_weights * gram_col[:, :, None])
        run_z = rho * run_z + a
        run_l = rho * run_l + a * lin_k
        run_q = rho * rho * run_q + a * (a * dist2_k[:, None] + 2 * cross)
        own_weights = own_weights + block_onehot[:, None, None] * a[None]
        return (m_k, run_z, run_l, run_q, own_weights), run_q / run_z**2 - 2 * run_l / run_z

    # Per point k: its block's Gram column G[j, k] (j in the block), one-hot position, not-a-block-start flag.
    gram_cols = jnp.moveaxis(gram_blocks, 1, 2).reshape(n_pad, block, n_samples)  # [k, j, S]
    positions = jnp.arange(n_pad) % block
    block_onehots = jax.nn.one_hot(positions, block, dtype=dtype)  # (Np, b)
    in_block = (positions > 0).astype(dtype)  # (Np,)

    def per_timestep(coefficients):
        alpha, sigma = coefficients
        # Memorizing denoiser: logits in the centred frame (row constant -|z|^2/2 dropped), r = x_mem - x^s.
        w = jnp.where(valid[:, None, None], -(alpha**2 / (2 * sigma**2)) * dist2[..., None] + (alpha / sigma) * zy,
                      neg_inf)  # (Np, S, R)
        shifted = jnp.exp(w - _fold_leading(w, jnp.maximum)[None])  # softmax numerator
        r = jnp.einsum("nd,nsr->dsr", x_pad, shifted) / _sum0(shifted)[None] - centers  # (d, S, R)
        loss_mem = _sum0(r * r)  # (S, R)
        rx = jnp.einsum("nd,dsr->nsr", x_pad, r)
        lin = rx - rx[own][None]  # (Np, S, R) Y_j . r

        rows = w.shape[1:]
        _, earlier_cross = jax.lax.scan(
            block_step, (jnp.full(rows, neg_inf), jnp.zeros((d,) + rows, dtype)),
            (w.reshape((n_blocks, block) + rows), x_blocks))
        init = (jnp.full(rows, neg_inf), jnp.zeros(rows, dtype), jnp.zeros(rows, dtype), jnp.zeros(rows, dtype),
                jnp.zeros((block,) + rows, dtype))
        _, values = jax.lax.scan(point_step, init, (
            w, lin, dist2, gram_cols, earlier_cross.reshape((n_pad,) + rows), block_onehots, in_block))
        excess_pmem = jnp.maximum(values[:n] + loss_mem[None], 0)  # (N, S, R); a squared norm: clip rounding below 0

        # Generalizing denoiser x_* (eq. 11 with the true means): x_* - x^s = B sum_k pi_k V_k + A sigma z.
        total_var = alpha**2 * sigma2 + sigma**2
        gen_logits = (alpha * sigma * zv - 0.5 * alpha**2 * vdist2[..., None]) / total_var  # (K, S, R)
        mean_v = jnp.einsum("kd,ksr->dsr", means, _softmax0(gen_logits)) - centers
        gen_minus_center = (sigma**2 / total_var) * mean_v + (alpha * sigma2 * sigma / total_var) * z
        excess_gen = _sum0((gen_minus_center - r) ** 2)  # (S, R)

        pmem_mean, pmem_m2 = _masked_mean_and_m2(excess_pmem, draw_weights)  # (N, S)
        return ((pmem_mean.T, pmem_m2.T), _masked_mean_and_m2(excess_gen, draw_weights),
                _masked_mean_and_m2(loss_mem, draw_weights))

    return jax.lax.map(per_timestep, (alphas, sigmas))


@functools.lru_cache(maxsize=64)
def _tile_function(devices: tuple, block: int, n_pad: int):
    """The jitted, sharded tile kernel for a device set and static configuration (cached: no retracing)."""
    mesh = Mesh(np.array(devices, dtype=object), ("samples",))
    kernel = functools.partial(_tile_stats, block=block, n_pad=n_pad)
    replicated = P()
    sharded = jax.shard_map(
        kernel, mesh=mesh,
        in_specs=(replicated, replicated, replicated, replicated, replicated, P("samples"), replicated, replicated,
                  replicated),
        out_specs=P(None, "samples"), check_vma=False)
    options = _COMPILER_OPTIONS if devices[0].platform == "cpu" else None
    return mesh, jax.jit(sharded, compiler_options=options)


def _check_dtype(dtype) -> jnp.dtype:
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise InvalidInputError(f"dtype must be float32 or float64, got {dtype}")
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        raise InvalidInputError("float64 requested but JAX's x64 mode is off: call memlab._jaxcfg.enable_float64() first")
    return dtype


def _combine_draw_tiles(mean_a, m2_a, count_a, mean_b, m2_b, count_b):
    """Chan et al.: merge (mean, centred sum of squares) of two disjoint groups of draws (float64)."""
    count = count_a + count_b
    delta = mean_b - mean_a
    return mean_a + delta * (count_b / count), m2_a + m2_b + delta**2 * (count_a * count_b / count), count


def _estimate(per_sample_mean: np.ndarray, per_sample_m2: np.ndarray, draws: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, N, ...) per-sample means and sums of squares -> mean over samples and SE sqrt(sum_i s_i^2/R)/N."""
    n = per_sample_mean.shape[1]
    mean = per_sample_mean.mean(axis=1)
    if draws < 2:
        return mean, np.full(mean.shape, np.nan)
    variance = per_sample_m2 / (draws - 1)
    return mean, np.sqrt(variance.sum(axis=1) / draws) / n


@dataclass(frozen=True)
class _NormalisedFrame:
    """The frame the engine computes in: data centred at ``center`` and divided by ``scale`` (a power of two).

    The losses are translation invariant and homogeneous of degree 2 in the data scale: with
    ``x -> (x - c)/s``, ``means -> (means - c)/s``, ``sigma2 -> sigma2/s^2``, ``sigma_t -> sigma_t/s`` (and the
    same standard normal draws) every loss and standard error is the original one divided by ``s^2``.
    Scaling by a power of two is exact in floating point, so the kernel sees the same logits as in the
    original frame; but its data are O(1), so float32 neither overflows (|x|^2 beyond 3e38) nor
    underflows on data of any finite magnitude. What no frame can change is the size of the softmax
    logits ``alpha_t^2 |x^j - x^i|^2 / (2 sigma_t^2)`` (dimensionless): :meth:`of` refuses a setting whose
    logits would leave the dtype's range, before any work.
    """

    center: np.ndarray
    scale: float

    @classmethod
    def of(cls, x: np.ndarray, means: np.ndarray, sigma2: float, sigmas: np.ndarray, alphas: np.ndarray,
           dtype) -> _NormalisedFrame:
        """Centre at the training mean; scale so every centred row (data and means) has norm < 1."""
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(means)) and math.isfinite(sigma2)):
            raise InvalidInputError("x_train, means and sigma2 must be finite")
        center = x.mean(axis=0)
        rows = np.concatenate([x - center, means - center])
        peak = float(np.max(np.abs(rows), initial=0.0))
        spread = peak * float(np.max(np.linalg.norm(rows / peak, axis=1))) if peak > 0 else 0.0
        if not math.isfinite(spread):
            raise InvalidInputError("x_train and means are too far apart for float64")
        scale = float(2.0 ** np.frexp(spread)[1]) if spread > 0 else 1.0  # spread / scale in [1/2, 1)
        # In this frame |x^j - x^i| < 2, so the softmax logits are at most alpha^2 * 4 / (2 sigma_t'^2); they
        # (and sigma2') must stay well inside the dtype, with room for the kernel's sums.
        info = np.finfo(dtype)
        limit = float(info.max) / 2**16
        with np.errstate(over="ignore", divide="ignore", under="ignore"):
            sigma_frame = sigmas / scale
            logit_bound = float(np.max(2.0 * alphas**2 / sigma_frame**2, initial=0.0))
            sigma2_frame = sigma2 / scale / scale
            smallest_sigma2 = float(np.min(sigma_frame)) ** 2
        if not (logit_bound < limit and smallest_sigma2 > float(info.tiny) * 2**16 and sigma2_frame < limit):
            hint = "; use dtype float64" if info.bits < 64 else ""
            raise InvalidInputError(
                f"the data's spread ({spread:.3g}) against the noise levels sigma_t (down to "
                f"{float(np.min(sigmas)):.3g}) and sigma2 ({sigma2:.3g}) is beyond {np.dtype(dtype).name}: the "
                f"softmax logits would reach about {logit_bound:.2g}{hint}")
        return cls(center, scale)

    def inputs(self, x, means, sigma2: float, sigmas):
        """The kernel's inputs in this frame."""
        return (x - self.center) / self.scale, (means - self.center) / self.scale, \
            sigma2 / self.scale / self.scale, sigmas / self.scale

    def losses(self, values: dict[str, np.ndarray], draws: int) -> dict[str, np.ndarray]:
        """Losses and standard errors back in the original units; a non-finite one is an error."""
        with np.errstate(over="ignore", invalid="ignore"):
            out = {name: value * self.scale * self.scale for name, value in values.items()}
        checked = out if draws >= 2 else {k: v for k, v in out.items() if not k.endswith("_se")}
        require_finite(checked, "the Monte Carlo losses", "they exceed float64's range in the data's units "
                       "(data of too large a magnitude)")
        return out


def mc_excess_losses(x_train, means, sigma2, *, alphas, sigmas, draws: int, key: jax.Array,
                     chunk_size: int | None = None, dtype=jnp.float32, devices=None,
                     block_size: int = DEFAULT_BLOCK_SIZE, show_progress: bool = False) -> ExcessLosses:
    """Monte Carlo loss of x_mem and excess losses of x_pmem,M (every M = 1..N) and x_* at T timesteps.

    x_train: (N, d) training set; means: (K, d) and sigma2 > 0: the true mixture pi_* (for x_*);
    alphas, sigmas: (T,) schedule values (sigma > 0); draws: noise draws R per sample; key: PRNG key
    (draw r of sample i uses ``fold_in(fold_in(key, i), r)``, see :func:`noise_draws`).
    chunk_size: (sample, draw) rows per tile (default 4096; a tile holds at least one sample's draws or
    ``chunk_size`` of them); devices: the devices to shard samples over (default all of
    ``jax.devices()``); block_size: points per block of the all-M kernel (speed/memory knob only).
    Returns :class:`ExcessLosses` (numpy float64, reductions done in float64 on the host).
    """
    dtype = _check_dtype(dtype)
    x_np = np.asarray(x_train, dtype=np.float64)
    means_np = np.asarray(means, dtype=np.float64)
    alphas_np = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    sigmas_np = np.atleast_1d(np.asarray(sigmas, dtype=np.float64))
    if x_np.ndim != 2 or x_np.shape[0] < 1:
        raise InvalidInputError(f"x_train must have shape (N, d) with N >= 1, got {x_np.shape}")
    if means_np.ndim != 2 or means_np.shape[1] != x_np.shape[1] or means_np.shape[0] < 1:
        raise InvalidInputError(f"means must have shape (K, {x_np.shape[1]}), got {means_np.shape}")
    if alphas_np.shape != sigmas_np.shape or alphas_np.ndim != 1:
        raise InvalidInputError(f"alphas and sigmas must be (T,) arrays of equal length, got {alphas_np.shape}, {sigmas_np.shape}")
    if not np.all(sigmas_np > 0) or not np.all(np.isfinite(alphas_np)) or not float(sigma2) > 0:
        raise InvalidInputError("sigmas and sigma2 must be positive and alphas finite")
    if int(draws) < 1:
        raise InvalidInputError(f"draws must be >= 1, got {draws}")
    draws = int(draws)
    chunk_size = DEFAULT_CHUNK_SIZE if chunk_size is None else int(chunk_size)
    if chunk_size < 1 or block_size < 1:
        raise InvalidInputError("chunk_size and block_size must be >= 1")
    schedule_sigmas = sigmas_np
    frame = _NormalisedFrame.of(x_np, means_np, float(sigma2), sigmas_np, alphas_np, dtype)
    x_np, means_np, sigma2, sigmas_np = frame.inputs(x_np, means_np, float(sigma2), sigmas_np)

    n, _ = x_np.shape
    devices = tuple(jax.devices() if devices is None else devices)
    n_dev = len(devices)
    draws_per_tile = min(draws, chunk_size)
    samples_per_tile = max(1, chunk_size // draws_per_tile)
    samples_per_tile = min(samples_per_tile, math.ceil(n / n_dev) * n_dev)
    samples_per_tile = math.ceil(samples_per_tile / n_dev) * n_dev
    n_pad = math.ceil(n / block_size) * block_size
    mesh, tile_fn = _tile_function(devices, int(block_size), n_pad)
    replicated = NamedSharding(mesh, P())
    by_sample = NamedSharding(mesh, P("samples"))

    put = functools.partial(jax.device_put, device=replicated)
    args = (put(jnp.asarray(x_np, dtype)), put(jnp.asarray(means_np, dtype)), put(jnp.asarray(float(sigma2), dtype)),
            put(jnp.asarray(alphas_np, dtype)), put(jnp.asarray(sigmas_np, dtype)))
    key = put(key)

    sample_starts = range(0, n, samples_per_tile)
    draw_starts = range(0, draws, draws_per_tile)
    t_count = alphas_np.shape[0]
    stats = {name: (np.zeros((t_count, n) + extra), np.zeros((t_count, n) + extra))
             for name, extra in (("pmem", (n,)), ("gen", ()), ("mem", ()))}
    tiles = [(s0, r0) for s0 in sample_starts for r0 in draw_starts]
    if show_progress:
        from memlab._progress import progress

        tiles_iter = progress(tiles, total=len(tiles), desc="Monte Carlo tiles")
    else:
        tiles_iter = tiles
    for s0, r0 in tiles_iter:
        sample_idx = np.minimum(np.arange(s0, s0 + samples_per_tile), n - 1)  # padding repeats the last sample
        draw_idx = np.arange(r0, r0 + draws_per_tile)
        draw_weights = (draw_idx < draws).astype(np.float64)
        count = int(draw_weights.sum())
        out = tile_fn(*args, jax.device_put(jnp.asarray(sample_idx, jnp.int32), by_sample),
                      put(jnp.asarray(draw_idx, jnp.int32)), put(jnp.asarray(draw_weights, dtype)), key)
        real = slice(0, min(samples_per_tile, n - s0))
        rows = slice(s0, s0 + real.stop)
        for name, (tile_mean, tile_m2) in zip(("pmem", "gen", "mem"), out):
            tile_mean = np.asarray(tile_mean, dtype=np.float64)[:, real]
            tile_m2 = np.asarray(tile_m2, dtype=np.float64)[:, real]
            mean, m2 = stats[name]
            if r0 == 0:
                mean[:, rows], m2[:, rows] = tile_mean, tile_m2
            else:
                mean[:, rows], m2[:, rows], _ = _combine_draw_tiles(mean[:, rows], m2[:, rows], r0, tile_mean,
                                                                    tile_m2, count)

    loss_mem, loss_mem_se = _estimate(*stats["mem"], draws)
    excess_pmem, excess_pmem_se = _estimate(*stats["pmem"], draws)
    excess_gen, excess_gen_se = _estimate(*stats["gen"], draws)
    losses = frame.losses(dict(loss_mem=loss_mem, loss_mem_se=loss_mem_se, excess_pmem=excess_pmem,
                               excess_pmem_se=excess_pmem_se, excess_gen=excess_gen, excess_gen_se=excess_gen_se),
                          draws)
    return ExcessLosses(**losses, alphas=alphas_np, sigmas=schedule_sigmas, draws=draws, dtype=str(dtype))


@jax.jit
def excess_pmem_single_m(x_train: jax.Array, noise: jax.Array, m, alpha, sigma) -> tuple[jax.Array, jax.Array]:
    """One M at a time, the straightforward way: excess loss of x_pmem,M over x_mem and its standard error.

    x_train (N, d); noise (N, R, d); m, alpha, sigma scalars (traced: one compilation for every M and t).
    Builds the N R noisy points, runs both denoisers on them, reduces as SPEC §3. For tests and the
    per-M baseline of ``benchmarks/bench_figure1.py``.
    """
    TRACE_COUNTS["excess_pmem_single_m"] += 1
    n, r, d = noise.shape
    x_t = (alpha * x_train[:, None, :] + sigma * noise).reshape(n * r, d)
    pmem = partial_memorizing_denoiser(x_t, alpha=alpha, sigma=sigma, train=x_train, m=m)
    mem = memorizing_denoiser(x_t, alpha=alpha, sigma=sigma, train=x_train)
    values = jnp.sum((pmem - mem) ** 2, axis=-1).reshape(n, r)
    per_sample_var = jnp.var(values, axis=1, ddof=1)
    return jnp.mean(values), jnp.sqrt(jnp.sum(per_sample_var) / r) / n
