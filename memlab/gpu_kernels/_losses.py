"""Monte Carlo excess losses for every model size M = 1..N in one pass (eq. 13; Figure 1).

For a training set ``x^1..x^N`` (N, d), R noise draws per sample and T timesteps, estimate

- ``loss_mem[t]``        = L_{N,t}(x_mem) = (1/N) sum_i E |x_mem(X) - x^i|^2,
- ``excess_pmem[t, M-1]`` = (1/N) sum_i E |x_pmem,M(X) - x_mem(X)|^2 for every M = 1..N,
- ``excess_gen[t]``       = (1/N) sum_i E |x_*(X) - x_mem(X)|^2,

with ``X = alpha_t x^i + sigma_t Z`` and common random numbers (the same Z for every M, both denoisers
and every t), each with its standard error ``sqrt(sum_i s_i^2 / R) / N`` (Section 2).

Both paths work per noisy point ("row") in the frame centred at the row's own training sample s:
``Y_j = x^j - x^s`` (``Y_s = 0`` exactly), logits ``w_j = -alpha^2 |Y_j|^2 / (2 sigma^2) + (alpha/sigma) z.Y_j``
(the row constant dropped, ``w_s = 0``), ``p^(M)`` the softmax over the prefix 1..M,
``u_M = sum_{j<=M} p^(M)_j Y_j`` and ``r = u_N = x_mem(X) - x^s``; then ``excess_M = |u_M - r|^2``.
Every prefix is taken at its running maximum ``m_M = max_{j<=M} w_j``, so nothing overflows and a term only
underflows when it is negligible next to the prefix maximum (float32 stays finite at t = 0.001).

- Native CPU kernel (``csrc/mc_tile.cc`` through the XLA FFI, see :mod:`._native`): the online recursion
  ``Z_k = e^{m_{k-1} - m_k} Z_{k-1} + e^{w_k - m_k}``, ``u_k = u_{k-1} + (e^{w_k - m_k} / Z_k)(Y_k - u_{k-1})``
  (convex updates), run twice per row (r, then |u_k - r|^2: exactly 0 at k = N), 8 draws per SIMD vector.
  About ``6 N d`` flops per row and timestep, no cancellation.
- Portable XLA path (GPUs, or CPUs without a compiler): ``excess_M = Q_M / Z_M^2 - 2 L_M / Z_M + |r|^2`` with
  ``Z_M = sum_{j<=M} e^{w_j - m_M}``, ``L_M = sum e^{w_j - m_M} Y_j.r`` and
  ``Q_M = sum_{j,k<=M} e^{w_j + w_k - 2 m_M} Y_j.Y_k``, in blocks of ``block_size`` points: a scan over blocks
  (pass A) carries ``P = sum_{j earlier} e^{w_j - M} Y_j`` and gives each block ``P.Y_k`` (thin matmuls),
  |P|^2, Z and the block maxima; a scan over the b positions (pass B) then runs the running-max recursion of
  (m, Z, L, Q) inside every block at once from those start values, with the block's Gram column (from
  exact squared distances by polarization). About ``6 N d`` flops in matmuls plus ``O(N b)`` elementwise
  per row and timestep.

Memory is bounded by chunking the (sample, draw) rows into tiles of at most ``chunk_size`` rows per device
(:func:`mc_memory_estimate`: linear in the chunk size, independent of R and T); the samples of a tile are
sharded across ``devices`` with ``jax.shard_map``. Noise draw r of sample i is
``normal(fold_in(fold_in(key, i), r))``, so numbers do not depend on the tiling, the device count or
the number of draws requested (up to float rounding). Each tile returns, per device, the sums over its
samples of the per-sample mean and centred sum of squares over the draws; a sample whose draws span
several tiles is merged on the host in float64 (Chan et al.) first. See ``docs/engine.md``.
"""

from __future__ import annotations

import functools
import math
import sys
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from memlab._errors import InvalidInputError, require_finite
from memlab._jaxcfg import float64_enabled
from memlab._progress import progress
from memlab.gpu_kernels._denoisers import memorizing_denoiser, partial_memorizing_denoiser
from memlab.gpu_kernels._native import native_kernel, native_threads
from memlab.gpu_kernels._tracing import TRACE_COUNTS
from memlab.numerics import standard_error_from_variance_sum, within_sample_standard_error

if sys.platform != "win32":
    import resource  # POSIX: the address-space limit (ulimit -v) bounds what the engine may allocate

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_CHUNK_SIZE",
    "ExcessLosses",
    "TileLayout",
    "available_memory",
    "default_chunk_size",
    "excess_pmem_single_m",
    "mc_excess_losses",
    "mc_memory_estimate",
    "noise_draws",
    "tile_layout",
]

DEFAULT_CHUNK_SIZE = 1024  # (sample, draw) rows per device and tile on CPUs (cache-sized tiles are fastest there)
_ACCELERATOR_CHUNK_SIZE = 32768  # on GPUs/TPUs: large tiles keep the device busy (shrunk to fit its memory)
DEFAULT_BLOCK_SIZE = 8  # training points per block of the all-M kernel's XLA path
# The native kernel sums a tile's samples in this many groups (its parallel tasks are (group, t) pairs); fixed,
# so that the numbers do not depend on the number of threads.
_NATIVE_GROUPS = 8

# LLVM's -O1 instead of -O3 for the (long, mostly elementwise) tile kernel: compiles about twice as fast
# on CPU with the same run time here; ignored by backends that do not know the option.
_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=[
        "loss_mem",
        "loss_mem_se",
        "excess_pmem",
        "excess_pmem_se",
        "excess_gen",
        "excess_gen_se",
        "alphas",
        "sigmas",
    ],
    meta_fields=["draws", "dtype", "chunk_size", "engine"],
)
@dataclass(frozen=True)
class ExcessLosses:
    """Monte Carlo losses over T timesteps for a training set of N samples (x0 units; numpy float64).

    loss_mem, loss_mem_se: (T,) loss of the memorizing denoiser and its standard error;
    excess_pmem, excess_pmem_se: (T, N), column M-1 holds x_pmem,M (M = 1..N; column N-1 is x_mem itself: 0,
    exactly with the native kernel, up to rounding with the XLA path);
    excess_gen, excess_gen_se: (T,) the generalizing denoiser x_*;
    alphas, sigmas: (T,) the schedule values used; draws: noise draws per sample; dtype: compute dtype;
    chunk_size: the (sample, draw) rows per device and tile used; engine: "native" (the C++ CPU kernel) or "xla".
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
    chunk_size: int = 0
    engine: str = ""


def noise_draws(
    key: jax.Array, sample_indices: jax.Array, draw_indices: jax.Array, *, d: int, dtype=jnp.float32
) -> jax.Array:
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
        folded = op(x[:half], x[half : 2 * half])
        x = jnp.concatenate([folded, x[2 * half :]], axis=0) if x.shape[0] % 2 else folded
    return x[0]


def _sum0(x: jax.Array) -> jax.Array:
    return _fold_leading(x, jnp.add)


def _softmax0(logits: jax.Array) -> jax.Array:
    """Softmax over axis 0 (max-subtracted), for the (..., S, R) layout."""
    shifted = jnp.exp(logits - _fold_leading(logits, jnp.maximum)[None])
    return shifted / _sum0(shifted)[None]


def _fold_blocks(x: jax.Array, op) -> jax.Array:
    """Reduce axis 1 (the positions within a block) with the elementwise ``op``: (nb, b, ...) -> (nb, ...)."""
    return _fold_leading(jnp.moveaxis(x, 1, 0), op)


def _tile_stats(
    x_train,
    means,
    sigma2,
    alphas,
    sigmas,
    sample_idx,
    sample_weights,
    draw_idx,
    draw_weights,
    key,
    *,
    block: int,
    n_pad: int,
):
    """Statistics of one tile on one device: its S samples x R draws, every t.

    x_train (N, d); means (K, d); sigma2 (); alphas, sigmas (T,); sample_idx (S,) and sample_weights (S,)
    (1 for real samples, 0 for padding); draw_idx (R,) and draw_weights (R,) (1 for real draws, 0 for padding);
    key: PRNG key. Returns, with a leading axis of length 1 (the device), the sums over the tile's samples of the
    per-sample mean and centred sum of squares over the tile's draws: pmem (1, T, N) x2, gen (1, T) x2,
    mem (1, T) x2 (a tile holding a single sample gives that sample's own statistics).

    Layout: per-row arrays are (..., S, R) with the draws axis last (contiguous), so reductions over training
    points / block entries run across rows in vector registers and every matmul is a plain 2-D product with
    the (S, R) rows as its free dimension.
    """
    TRACE_COUNTS["mc_excess_losses"] += 1
    dtype = x_train.dtype
    n, d = x_train.shape
    n_samples, n_blocks = sample_idx.shape[0], n_pad // block
    neg_inf = jnp.array(-jnp.inf, dtype)
    own = (sample_idx, jnp.arange(n_samples))  # index of each row's own training sample in an (Np, S, R) array

    # t-independent, per sample. Centred dot products v . Y_j (Y_j = x^j - x^s) are computed as (X v)_j - (X v)_s:
    # one plain matmul, exactly 0 at j = s. Squared distances are exact (difference first); the within-block
    # Gram entries come from them by polarization, Y_j . Y_k = (|Y_j|^2 + |Y_k|^2 - |x^j - x^k|^2) / 2.
    # Nothing of size S x N x d is formed: memory stays proportional to the tile's rows.
    centers = x_train[sample_idx]  # (S, d)
    center_cols = centers.T[:, :, None]  # (d, S, 1)
    valid = jnp.arange(n_pad) < n  # (Np,)
    x_pad = jnp.pad(x_train, ((0, n_pad - n), (0, 0)))  # (Np, d)
    x_blocks = x_pad.reshape(n_blocks, block, d)
    dist2 = jnp.sum((x_pad[:, None, :] - centers[None]) ** 2, axis=-1)  # (Np, S) |x^j - x^s|^2
    pair_dist2 = jnp.sum((x_blocks[:, :, None, :] - x_blocks[:, None, :, :]) ** 2, axis=-1)  # (nb, b, b)
    dist2_blocks = dist2.reshape(n_blocks, block, n_samples)
    # (nb, b, b, S)
    gram_blocks = 0.5 * (dist2_blocks[:, :, None, :] + dist2_blocks[:, None, :, :] - pair_dist2[..., None])
    # Per position k of a block: the block's Gram column G[j, k] for j < k (0 for j >= k): (b, b, nb, S) [k, j].
    gram_cols = jnp.where(
        (jnp.arange(block)[:, None] > jnp.arange(block)[None, :])[:, :, None, None],
        jnp.transpose(gram_blocks, (2, 1, 0, 3)),
        0,
    )
    z = jnp.moveaxis(noise_draws(key, sample_idx, draw_idx, d=d, dtype=dtype), 2, 0)  # (d, S, R)
    zx = jnp.einsum("nd,dsr->nsr", x_pad, z)
    zy = zx - zx[own][None]  # (Np, S, R) z . Y_j
    zv = jnp.einsum("kd,dsr->ksr", means, z) - _sum0(z * center_cols)[None]  # (K, S, R) z . V_k, V_k = mu_k - x^s
    vdist2 = jnp.sum((means[:, None, :] - centers[None]) ** 2, axis=-1)  # (K, S)

    def block_step(carry, blk):
        """Pass A over one block: carry the prefix max M, Z and P = sum_{j earlier} e^{w_j - M} Y_j (d, S, R).

        Emits, at the scale e^{M_{B-1}} of the earlier blocks: P . Y_k for the block's points (b, S, R),
        |P|^2, Z and M (S, R); then the block's weights e^{w_j - M_B} (b, S, R) and the rescaling e^{M_{B-1} - M_B}.
        """
        run_max, run_z, run_p = carry
        w_b, x_b = blk  # (b, S, R), (b, d)
        p_dot_y = jnp.einsum("kd,dsr->ksr", x_b, run_p) - _sum0(run_p * center_cols)[None]
        p_norm2 = _sum0(run_p * run_p)
        end_max = jnp.maximum(run_max, _fold_leading(w_b, jnp.maximum))  # finite: block 0 holds point 0
        decay = jnp.exp(run_max - end_max)  # block 0: e^{-inf} = 0
        weights = jnp.exp(w_b - end_max[None])
        weight_sum = _sum0(weights)
        new_p = decay[None] * run_p + jnp.einsum("kd,ksr->dsr", x_b, weights) - weight_sum[None] * center_cols
        return (end_max, decay * run_z + weight_sum, new_p), (p_dot_y, p_norm2, run_z, run_max, weights, decay)

    def lin_step(run_l, blk):
        decay, block_sum = blk
        return decay * run_l + block_sum, run_l

    def per_timestep(coefficients):
        alpha, sigma = coefficients
        # Memorizing denoiser's logits in the centred frame (row constant -|z|^2/2 dropped; w_s = 0).
        w = jnp.where(
            valid[:, None, None], -(alpha**2 / (2 * sigma**2)) * dist2[..., None] + (alpha / sigma) * zy, neg_inf
        )  # (Np, S, R)
        rows = w.shape[1:]
        w_blocks = w.reshape((n_blocks, block, *rows))
        (_, z_total, p_total), (p_dot_y, p_norm2, z_start, m_start, block_weights, decays) = jax.lax.scan(
            block_step,
            (jnp.full(rows, neg_inf), jnp.zeros(rows, dtype), jnp.zeros((d, *rows), dtype)),
            (w_blocks, x_blocks),
        )
        r = p_total / z_total[None]  # (d, S, R): x_mem(X) - x^s, the full softmax mean
        loss_mem = _sum0(r * r)  # (S, R)
        rx = jnp.einsum("nd,dsr->nsr", x_pad, r)
        lin_blocks = (rx - rx[own][None]).reshape((n_blocks, block, *rows))  # Y_j . r
        _, l_start = jax.lax.scan(
            lin_step, jnp.zeros(rows, dtype), (decays, _fold_blocks(block_weights * lin_blocks, jnp.add))
        )

        # Pass B: the running-max recursion inside every block at once (a scan over the b positions, each step
        # over all blocks), from the block's start values.
        def position_step(carry, position):
            run_max, run_z, run_l, run_q, earlier_scale, own_weights = carry  # (nb, S, R) x5, (b, nb, S, R)
            w_k, p_dot_y_k, lin_k, gram_col, dist2_k, onehot = position
            m_k = jnp.maximum(run_max, w_k)  # finite from the first point on
            rho = jnp.exp(run_max - m_k)
            a = jnp.exp(w_k - m_k)
            earlier_scale = earlier_scale * rho
            own_weights = own_weights * rho[None]  # entries j >= k are 0
            cross = earlier_scale * p_dot_y_k + _sum0(own_weights * gram_col[..., None])
            run_z = rho * run_z + a
            run_l = rho * run_l + a * lin_k
            run_q = rho * rho * run_q + a * (a * dist2_k[..., None] + 2 * cross)
            own_weights = own_weights + onehot[:, None, None, None] * a[None]
            return (m_k, run_z, run_l, run_q, earlier_scale, own_weights), run_q / run_z**2 - 2 * run_l / run_z

        init = (m_start, z_start, l_start, p_norm2, jnp.ones_like(z_start), jnp.zeros((block, *z_start.shape), dtype))
        _, values = jax.lax.scan(
            position_step,
            init,
            (
                jnp.moveaxis(w_blocks, 1, 0),
                jnp.moveaxis(p_dot_y, 1, 0),
                jnp.moveaxis(lin_blocks, 1, 0),
                gram_cols,
                jnp.moveaxis(dist2_blocks, 1, 0),
                jnp.eye(block, dtype=dtype),
            ),
        )
        values = jnp.moveaxis(values, 0, 1).reshape((n_pad, *rows))  # (Np, S, R)
        excess_pmem = jnp.maximum(values[:n] + loss_mem[None], 0)  # (N, S, R); a squared norm: clip rounding below 0

        # Generalizing denoiser x_* (eq. 11 with the true means): x_* - x^s = B sum_k pi_k V_k + A sigma z.
        total_var = alpha**2 * sigma2 + sigma**2
        gen_logits = (alpha * sigma * zv - 0.5 * alpha**2 * vdist2[..., None]) / total_var  # (K, S, R)
        mean_v = jnp.einsum("kd,ksr->dsr", means, _softmax0(gen_logits)) - center_cols
        gen_minus_center = (sigma**2 / total_var) * mean_v + (alpha * sigma2 * sigma / total_var) * z
        excess_gen = _sum0((gen_minus_center - r) ** 2)  # (S, R)

        def sample_sums(values):
            mean, m2 = _masked_mean_and_m2(values, draw_weights)  # (..., S)
            return jnp.sum(mean * sample_weights, axis=-1), jnp.sum(m2 * sample_weights, axis=-1)

        return sample_sums(excess_pmem), sample_sums(excess_gen), sample_sums(loss_mem)

    per_t = jax.lax.map(per_timestep, (alphas, sigmas))
    return jax.tree_util.tree_map(lambda leaf: leaf[None], per_t)


def _tile_stats_native(
    x_train,
    means,
    sigma2,
    alphas,
    sigmas,
    sample_idx,
    sample_weights,
    draw_idx,
    draw_weights,
    key,
    *,
    target: str,
    n_pad: int,
    groups: int,
    threads: int,
):
    """:func:`_tile_stats` with the per-row work in the native CPU kernel (``csrc/mc_tile.cc``).

    XLA does the t-independent projections (noise, z . Y_j, z . V_k: plain matmuls); the native loop computes the
    exact squared distances |x^j - x^s|^2 and runs, per timestep and row, the prefix recursion of u_M in
    d-vectors (exact |u_M - r|^2, no Gram expansion), x_*, and the draw statistics, summed over ``groups``
    groups of the tile's samples (then over the groups here).
    """
    TRACE_COUNTS["mc_excess_losses"] += 1
    dtype = x_train.dtype
    n, d = x_train.shape
    n_samples = sample_idx.shape[0]
    centers = x_train[sample_idx]  # (S, d)
    x_pad = jnp.pad(x_train, ((0, n_pad - n), (0, 0)))  # (Np, d)
    z = noise_draws(key, sample_idx, draw_idx, d=d, dtype=dtype)  # (S, R, d)
    zx = jnp.einsum("srd,nd->srn", z, x_pad)
    zy = zx - zx[jnp.arange(n_samples), :, sample_idx][:, :, None]  # (S, R, Np) z . Y_j, exactly 0 at j = s
    zv = jnp.einsum("srd,kd->srk", z, means) - jnp.einsum("srd,sd->sr", z, centers)[..., None]  # (S, R, K)
    vdist2 = jnp.sum((centers[:, None, :] - means[None]) ** 2, axis=-1)  # (S, K)
    t_count = alphas.shape[0]
    shapes = [jax.ShapeDtypeStruct((t_count, groups, n_pad), dtype)] * 2 + [
        jax.ShapeDtypeStruct((t_count, groups), dtype)
    ] * 4
    pmem_mean, pmem_m2, gen_mean, gen_m2, mem_mean, mem_m2 = jax.ffi.ffi_call(target, shapes)(
        zy,
        x_pad,
        centers,
        z,
        zv,
        vdist2,
        means,
        alphas,
        sigmas,
        jnp.reshape(sigma2, ()),
        sample_weights,
        draw_weights,
        n=np.int64(n),
        threads=np.int64(threads),
    )
    sums = (
        (pmem_mean.sum(axis=1)[:, :n], pmem_m2.sum(axis=1)[:, :n]),
        (gen_mean.sum(axis=1), gen_m2.sum(axis=1)),
        (mem_mean.sum(axis=1), mem_m2.sum(axis=1)),
    )
    return jax.tree_util.tree_map(lambda leaf: leaf[None], sums)


@functools.lru_cache(maxsize=64)
def _tile_function(devices: tuple, layout: TileLayout, dtype_name: str, native: bool, threads: int):
    """The jitted, sharded tile kernel for a device set and static configuration (cached: no retracing).

    ``native``: use the C++ kernel (CPU devices only, when it could be built), else the portable XLA path.
    """
    mesh = Mesh(np.array(devices, dtype=object), ("samples",))
    target = native_kernel(dtype_name) if native and devices[0].platform == "cpu" else None
    if target is not None:
        kernel = functools.partial(
            _tile_stats_native,
            target=target,
            n_pad=layout.n_pad,
            groups=min(layout.samples, _NATIVE_GROUPS),
            threads=threads,
        )
    else:
        kernel = functools.partial(_tile_stats, block=layout.block, n_pad=layout.n_pad)
    replicated, by_sample = P(), P("samples")
    sharded = jax.shard_map(
        kernel,
        mesh=mesh,
        in_specs=(
            replicated,
            replicated,
            replicated,
            replicated,
            replicated,
            by_sample,
            by_sample,
            replicated,
            replicated,
            replicated,
        ),
        out_specs=by_sample,
        check_vma=False,
    )
    options = _COMPILER_OPTIONS if devices[0].platform == "cpu" else None
    return mesh, jax.jit(sharded, compiler_options=options), target is not None


def _check_dtype(dtype) -> jnp.dtype:
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise InvalidInputError(f"dtype must be float32 or float64, got {dtype}")
    if dtype == jnp.float64 and not float64_enabled():
        raise InvalidInputError(
            "float64 requested but JAX's x64 mode is off: call memlab._jaxcfg.enable_float64() first"
        )
    return dtype


def _combine_draw_tiles(mean_a, m2_a, count_a, mean_b, m2_b, count_b):
    """Chan et al.: merge (mean, centred sum of squares) of two disjoint groups of draws (float64)."""
    count = count_a + count_b
    delta = mean_b - mean_a
    return mean_a + delta * (count_b / count), m2_a + m2_b + delta**2 * (count_a * count_b / count), count


@dataclass(frozen=True)
class TileLayout:
    """How the (sample, draw) rows are cut into tiles: per device and tile, ``samples`` samples x ``draws`` draws.

    Either every draw of a sample is in one tile (``draws`` = R), or a sample's draws span several tiles and
    each device holds one sample per tile (``samples`` = 1, ``draws`` = the chunk size). ``rows`` = samples x
    draws <= the chunk size. ``n_pad``: N rounded up to whole blocks of ``block`` points.
    """

    samples: int
    draws: int
    devices: int
    block: int
    n_pad: int

    @property
    def rows(self) -> int:
        return self.samples * self.draws


def tile_layout(n: int, draws: int, *, chunk_size: int, devices: int, block_size: int) -> TileLayout:
    """The tiling :func:`mc_excess_losses` uses for N samples and R draws, ``chunk_size`` rows per device and tile."""
    tile_draws = min(draws, chunk_size)
    samples = min(max(1, chunk_size // tile_draws), math.ceil(n / devices))
    return TileLayout(
        samples=samples,
        draws=tile_draws,
        devices=devices,
        block=block_size,
        n_pad=math.ceil(n / block_size) * block_size,
    )


def default_chunk_size(platform: str) -> int:
    """The engine's default (sample, draw) rows per device and tile: :data:`DEFAULT_CHUNK_SIZE` on CPUs, larger on
    accelerators (either is halved until :func:`mc_memory_estimate` fits the device's memory)."""
    return DEFAULT_CHUNK_SIZE if platform == "cpu" else _ACCELERATOR_CHUNK_SIZE


def mc_memory_estimate(
    n: int,
    d: int,
    k: int,
    *,
    draws: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dtype=jnp.float32,
    devices: int = 1,
    native: bool = True,
    threads: int = 1,
    block_size: int = DEFAULT_BLOCK_SIZE,
    times: int = 26,
) -> int:
    """Upper bound (bytes, per device) of the memory :func:`mc_excess_losses` allocates for N samples in d dimensions,
    K mixture means, R draws and T timesteps: its inputs plus the working set of one tile.

    With B the bytes per number, C = S x R_t <= chunk_size the tile's rows (S samples x R_t draws per device),
    Np = N rounded up to whole blocks of b points, d' = d rounded up to 8, L = 8 SIMD lanes, G = min(S, 8) sample
    groups and C_g = ceil(S / G) R_t rows per group:

    - native kernel:  B [3 C Np + 8 C d + 3 C K + Np d'] + threads B [(5 L + 2) Np + L d' + d + K + C_g (Np + 2)
                      + S_g Np]  (S_g = ceil(S / G))
    - XLA path:       B [(12 + 2 (b + 1)) C Np + 8 C d + 3 C K]

    plus the inputs and outputs, B [N d + K d + 2 T + 2 T (Np + 2) G'] (G' = G for the native kernel, 1 for XLA).
    Nothing else grows with N, d, R or T: the bound is linear in the chunk size (the one-sample-per-tile case
    R > chunk_size included) and is checked against XLA's own buffer assignment in the tests. The process
    itself adds the Python/JAX runtime and, while compiling, the compiler's memory.
    """
    itemsize = jnp.dtype(dtype).itemsize
    layout = tile_layout(n, draws, chunk_size=chunk_size, devices=devices, block_size=block_size)
    rows, n_pad = layout.rows, layout.n_pad
    groups = min(layout.samples, _NATIVE_GROUPS) if native else 1
    io = n * d + k * d + 2 * times + 2 * times * (n_pad + 2) * groups
    if native:
        lanes, d_pad = 8, -(-d // 8) * 8
        group_rows = -(-layout.samples // groups) * layout.draws
        tile = 3 * rows * n_pad + 8 * rows * d + 3 * rows * k + n_pad * d_pad
        scratch = threads * (
            (5 * lanes + 2) * n_pad
            + lanes * d_pad
            + d
            + k
            + group_rows * (n_pad + 2)
            + -(-layout.samples // groups) * n_pad
        )
        return itemsize * (tile + scratch + io)
    return itemsize * ((12 + 2 * (block_size + 1)) * rows * n_pad + 8 * rows * d + 3 * rows * k + io)


def available_memory(device) -> int | None:
    """Bytes the engine may use on ``device``: free accelerator memory, or the host's available memory (Linux
    MemAvailable, capped by ``ulimit -v``) for CPU devices; None when unknown."""
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "bytes_limit" in stats:
            return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        return None
    limits = []
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    if sys.platform != "win32":
        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY:
            limits.append(soft // 2)  # the address-space limit also covers the interpreter and XLA
    return min(limits) if limits else None


def _estimate(sum_mean: np.ndarray, sum_m2: np.ndarray, n: int, draws: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums over the N samples of per-sample means and centred sums of squares -> (mean, SE sqrt(sum_i s_i^2/R)/N)."""
    mean = sum_mean / n
    if draws < 2:
        return mean, np.full(mean.shape, np.nan)
    return mean, standard_error_from_variance_sum(sum_m2 / (draws - 1), n, draws)


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
    def of(
        cls, x: np.ndarray, means: np.ndarray, sigma2: float, sigmas: np.ndarray, alphas: np.ndarray, dtype
    ) -> _NormalisedFrame:
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
                f"softmax logits would reach about {logit_bound:.2g}{hint}"
            )
        return cls(center, scale)

    def inputs(self, x, means, sigma2: float, sigmas):
        """The kernel's inputs in this frame."""
        return (
            (x - self.center) / self.scale,
            (means - self.center) / self.scale,
            sigma2 / self.scale / self.scale,
            sigmas / self.scale,
        )

    def losses(self, values: dict[str, np.ndarray], draws: int) -> dict[str, np.ndarray]:
        """Losses and standard errors back in the original units; a non-finite one is an error."""
        with np.errstate(over="ignore", invalid="ignore"):
            out = {name: value * self.scale * self.scale for name, value in values.items()}
        checked = out if draws >= 2 else {k: v for k, v in out.items() if not k.endswith("_se")}
        require_finite(
            checked,
            "the Monte Carlo losses",
            "they exceed float64's range in the data's units (data of too large a magnitude)",
        )
        return out


def mc_excess_losses(
    x_train,
    means,
    sigma2,
    *,
    alphas,
    sigmas,
    draws: int,
    key: jax.Array,
    chunk_size: int | None = None,
    dtype=jnp.float32,
    devices=None,
    block_size: int = DEFAULT_BLOCK_SIZE,
    native: bool = True,
    memory_limit: int | None = None,
    show_progress: bool = False,
) -> ExcessLosses:
    """Monte Carlo loss of x_mem and excess losses of x_pmem,M (every M = 1..N) and x_* at T timesteps.

    x_train: (N, d) training set; means: (K, d) and sigma2 > 0: the true mixture pi_* (for x_*);
    alphas, sigmas: (T,) schedule values (sigma > 0); draws: noise draws R per sample; key: PRNG key
    (draw r of sample i uses ``fold_in(fold_in(key, i), r)``, see :func:`noise_draws`).
    chunk_size: (sample, draw) rows per device and tile (default :func:`default_chunk_size`): a tile holds
    whole samples (all R draws) when R <= chunk_size, else one sample and chunk_size of its draws per device;
    devices: the devices to shard samples over (default all of ``jax.devices()``); block_size: points per
    block of the portable XLA path (speed/memory knob only); native: on CPU devices, run the per-row work in the
    C++ kernel (``gpu_kernels/_native.py``; built on first use, the XLA path when no compiler is found);
    memory_limit: bytes the engine may use per device (default: :func:`available_memory`). A request whose
    :func:`mc_memory_estimate` exceeds it raises InvalidInputError before anything is allocated (the default
    chunk size is first halved until the tile fits).
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
        raise InvalidInputError(
            f"alphas and sigmas must be (T,) arrays of equal length, got {alphas_np.shape}, {sigmas_np.shape}"
        )
    if not np.all(sigmas_np > 0) or not np.all(np.isfinite(alphas_np)) or not float(sigma2) > 0:
        raise InvalidInputError("sigmas and sigma2 must be positive and alphas finite")
    if int(draws) < 1:
        raise InvalidInputError(f"draws must be >= 1, got {draws}")
    draws = int(draws)
    devices = tuple(jax.devices() if devices is None else devices)
    chunk_given = chunk_size is not None
    chunk_size = default_chunk_size(devices[0].platform) if chunk_size is None else int(chunk_size)
    if chunk_size < 1 or block_size < 1:
        raise InvalidInputError("chunk_size and block_size must be >= 1")
    schedule_sigmas = sigmas_np
    frame = _NormalisedFrame.of(x_np, means_np, float(sigma2), sigmas_np, alphas_np, dtype)
    x_np, means_np, sigma2, sigmas_np = frame.inputs(x_np, means_np, float(sigma2), sigmas_np)

    n, d = x_np.shape
    n_dev = len(devices)
    limit = available_memory(devices[0]) if memory_limit is None else int(memory_limit)
    threads = native_threads(n_dev)
    while True:
        layout = tile_layout(n, draws, chunk_size=chunk_size, devices=n_dev, block_size=int(block_size))
        mesh, tile_fn, is_native = _tile_function(devices, layout, dtype.name, bool(native), threads)
        needed = mc_memory_estimate(
            n,
            d,
            means_np.shape[0],
            draws=draws,
            chunk_size=chunk_size,
            dtype=dtype,
            devices=n_dev,
            native=is_native,
            threads=threads,
            block_size=int(block_size),
            times=alphas_np.shape[0],
        )
        if limit is None or needed <= limit:
            break
        if not chunk_given and chunk_size > 1:  # the default chunk shrinks until the tile fits
            chunk_size = max(1, chunk_size // 2)
            continue
        raise InvalidInputError(
            f"the Monte Carlo engine needs about {needed / 2**20:,.0f} MiB per device for N={n}, d={d}, "
            f"chunk_size={chunk_size} (estimate: gpu_kernels.mc_memory_estimate), more than the "
            f"{max(limit, 0) / 2**20:,.0f} MiB available: use a smaller chunk size"
        )
    replicated = NamedSharding(mesh, P())
    by_sample = NamedSharding(mesh, P("samples"))

    # Inputs are converted on the host (NumPy) and only then put on the devices: a jnp conversion would be one
    # more small compiled program each (tens of milliseconds apiece on a first call).
    host = np.dtype(dtype.name)
    put = functools.partial(jax.device_put, device=replicated)
    args = (
        put(x_np.astype(host)),
        put(means_np.astype(host)),
        put(np.asarray(sigma2, host)),
        put(alphas_np.astype(host)),
        put(sigmas_np.astype(host)),
    )
    key = put(key)
    group = layout.samples * n_dev  # samples per tile, all devices together

    def dispatch(s0, r0):
        """Start the tile of samples s0.. and draws r0.. on the devices (asynchronous) -> (outputs, real draws)."""
        sample_idx = np.arange(s0, s0 + group)
        draw_idx = np.arange(r0, r0 + layout.draws)
        draw_weights = (draw_idx < draws).astype(host)
        out = tile_fn(
            *args,
            jax.device_put(np.minimum(sample_idx, n - 1).astype(np.int32), by_sample),
            jax.device_put((sample_idx < n).astype(host), by_sample),
            put(draw_idx.astype(np.int32)),
            put(draw_weights),
            key,
        )
        return out, int(draw_weights.sum())

    t_count = alphas_np.shape[0]
    names = ("pmem", "gen", "mem")
    totals = {
        name: [np.zeros((t_count, *extra)), np.zeros((t_count, *extra))] for name, extra in zip(names, ((n,), (), ()))
    }
    tiles = [(s0, r0) for s0 in range(0, n, group) for r0 in range(0, draws, layout.draws)]
    bar = progress(total=len(tiles), desc="Monte Carlo tiles") if show_progress else None
    pending = dispatch(*tiles[0])
    group_stats: list[tuple[np.ndarray, np.ndarray]] = []
    seen = 0
    for index, (_, r0) in enumerate(tiles):
        out, count = pending
        if index + 1 < len(tiles):  # queue the next tile before waiting for this one's numbers
            pending = dispatch(*tiles[index + 1])
        tile_stats = [(np.asarray(mean, np.float64), np.asarray(m2, np.float64)) for mean, m2 in out]  # (dev, T, ..)
        if r0 == 0:
            group_stats, seen = tile_stats, count
        else:  # a sample's draws span tiles (one sample per device): merge them per device
            group_stats = [
                _combine_draw_tiles(mean_a, m2_a, seen, mean_b, m2_b, count)[:2]
                for (mean_a, m2_a), (mean_b, m2_b) in zip(group_stats, tile_stats)
            ]
            seen += count
        if r0 + layout.draws >= draws:  # the tile's samples are complete: add them to the totals
            for name, (mean, m2) in zip(names, group_stats):
                totals[name][0] += mean.sum(axis=0)
                totals[name][1] += m2.sum(axis=0)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()

    loss_mem, loss_mem_se = _estimate(totals["mem"][0], totals["mem"][1], n, draws)
    excess_pmem, excess_pmem_se = _estimate(totals["pmem"][0], totals["pmem"][1], n, draws)
    excess_gen, excess_gen_se = _estimate(totals["gen"][0], totals["gen"][1], n, draws)
    losses = frame.losses(
        dict(
            loss_mem=loss_mem,
            loss_mem_se=loss_mem_se,
            excess_pmem=excess_pmem,
            excess_pmem_se=excess_pmem_se,
            excess_gen=excess_gen,
            excess_gen_se=excess_gen_se,
        ),
        draws,
    )
    return ExcessLosses(
        **losses,
        alphas=alphas_np,
        sigmas=schedule_sigmas,
        draws=draws,
        dtype=str(dtype),
        chunk_size=chunk_size,
        engine="native" if is_native else "xla",
    )


@jax.jit
def excess_pmem_single_m(x_train: jax.Array, noise: jax.Array, m, alpha, sigma) -> tuple[jax.Array, jax.Array]:
    """One M at a time, the straightforward way: excess loss of x_pmem,M over x_mem and its standard error.

    x_train (N, d); noise (N, R, d); m, alpha, sigma scalars (traced: one compilation for every M and t).
    Builds the N R noisy points, runs both denoisers on them, reduces as in Section 2. For tests and the
    per-M baseline of ``benchmarks/bench_figure1.py``.
    """
    TRACE_COUNTS["excess_pmem_single_m"] += 1
    n, r, d = noise.shape
    x_t = (alpha * x_train[:, None, :] + sigma * noise).reshape(n * r, d)
    pmem = partial_memorizing_denoiser(x_t, alpha=alpha, sigma=sigma, train=x_train, m=m)
    mem = memorizing_denoiser(x_t, alpha=alpha, sigma=sigma, train=x_train)
    values = jnp.sum((pmem - mem) ** 2, axis=-1).reshape(n, r)
    per_sample_var = jnp.var(values, axis=1, ddof=1)
    return jnp.mean(values), within_sample_standard_error(per_sample_var, r)
