"""Generic full-batch denoiser training (App. H.1): weighted grid loss, fixed noise draws, Adam with warm-up/decay.

The model is a pair ``(params, apply)``: ``params`` any pytree of arrays, ``apply(params, x (B, d), alpha, sigma)
-> (B, d)`` a *module-level* function (jit caches on its identity; a fresh lambda per call retraces).
The objective is the grid version of eq. 5 with fixed noise draws per sample:

    L(params) = (1/T) sum_{l<T} lambda_l (1/(N R)) sum_{i<N, r<R}
                |apply(params, alpha_l x_i + sigma_l z_{l,i,r}, alpha_l, sigma_l) - x_i|^2

(T = L + 1 = 26 grid times, R = ``draws``). The (sample, draw) points of one t are taken in chunks of
``chunk_size`` (flat index i * R + r, the last chunk padded and masked). The draws are fixed for the whole
training and are a function of the key: *stored* draws (``store_noise``; by default when they fit in
1 GiB) are made once on the host from ``host_generator(key)`` (no device compilation; independent of
the chunk size) and kept in memory (fastest); *regenerated* draws are made on the device every step,
chunk c of time l from the (l * n_chunks + c)-th of ``split(key, T * n_chunks)`` (memory: one chunk;
the numbers depend on the chunk size). ``training_noise`` returns whichever the trainer uses. The gradient is
accumulated over chunks with ``lax.scan``, so peak
memory is one chunk's activations.

Several runs (seeds, datasets, initialisations of the same shapes) train together: ``train_runs``
vmaps over a leading run axis and shards that axis over the available devices. ``train`` is the
single-run wrapper. Each compiled call runs ``block_epochs`` Adam steps in one ``lax.scan``; repeated
calls with the same config, ``apply`` and shapes never retrace (see ``trace_counts``).

Pausing and resuming: after every block the trainer can hand a ``TrainState`` (parameters, optimizer
state, losses so far, epoch; the noise draws are a function of the keys, so the keys are all the random
state there is) to an ``on_block`` callback, and ``initial_state`` continues from such a state. The
state is taken at a block boundary of the same compiled block length, so a resumed run performs exactly
the steps of an uninterrupted one and ends bit-identically (same machine). The state's ``fingerprint``
(config, model function, shapes, digests of the data, initial parameters and keys) must match the run it
resumes. File checkpoints on top of this: ``memlab.gpu_kernels.resumable`` (``_checkpoint.py``).
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from memlab._errors import InvalidInputError
from memlab._progress import progress
from memlab.gpu_kernels._gmm_model import gmm_apply, gmm_loss_and_grad
from memlab.gpu_kernels._host_random import host_generator
from memlab.gpu_kernels._tracing import TRACE_COUNTS as _TRACE_COUNTS
from memlab.numerics import loss_weighting_values, schedule_coefficients, timestep_grid

__all__ = ["TrainConfig", "TrainResult", "TrainState", "train", "train_runs", "training_noise", "weighted_loss"]

_STORED_NOISE_LIMIT_BYTES = 1 << 30  # store_noise=None: store the draws when they fit in 1 GiB (all runs)

# Models with a hand-written value-and-gradient of the pass objective
# ``sum_i w_i |apply(alpha x0_i + sigma z_i) - x0_i|^2``
# (the same numbers as autodiff up to rounding; one pass shares the softmax between forward and backward).
_FUSED_LOSS_AND_GRAD = {gmm_apply: gmm_loss_and_grad}
_CPU_PASS_POINTS = 2048  # points per loss/gradient pass on CPU (see _pass_points)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Static training configuration (hashable; a jit static argument).

    epochs: full-batch Adam steps; learning rate 0 -> ``peak_lr`` linearly over ``round(warmup_fraction *
    epochs)`` steps, then ``peak_lr`` -> ``final_lr`` linearly over the rest (App. H.1); adam_b1/b2/eps: Adam's
    constants (optax defaults, which the paper's setup presumably used).
    draws: noise draws R per training sample and timestep; steps: L (grid of L+1 times); schedule: "vp", ...;
    weighting: "eps" (lambda = psi_t), "x0" (lambda = 1) or a tuple of L+1 per-timestep weights.
    chunk_size: (sample, draw) points per chunk at one t (None: all N*R). store_noise: keep the draws in
    memory (None: when they fit in 1 GiB). block_epochs: at most this many steps per compiled call (progress
    granularity; all blocks share one compiled length).
    history_points: at most this many (epoch, loss) pairs are returned.
    """

    epochs: int
    peak_lr: float = 1e-3
    final_lr: float = 1e-6
    warmup_fraction: float = 0.1
    adam_b1: float = 0.9
    adam_b2: float = 0.999
    adam_eps: float = 1e-8
    draws: int = 100
    steps: int = 25
    schedule: str = "vp"
    weighting: str | tuple[float, ...] = "eps"
    chunk_size: int | None = None
    store_noise: bool | None = None
    block_epochs: int = 500
    history_points: int = 500

    def __post_init__(self):
        for name in ("epochs", "draws", "steps", "block_epochs", "history_points"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise InvalidInputError(f"TrainConfig.{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.chunk_size is not None:
            if not isinstance(self.chunk_size, (int, np.integer)) or self.chunk_size < 1:
                raise InvalidInputError(
                    f"TrainConfig.chunk_size must be a positive integer or None, got {self.chunk_size!r}"
                )
            object.__setattr__(self, "chunk_size", int(self.chunk_size))
        for name in ("peak_lr", "final_lr"):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and value >= 0):
                raise InvalidInputError(f"TrainConfig.{name} must be a non-negative number, got {value}")
            object.__setattr__(self, name, value)
        for name in ("adam_b1", "adam_b2"):
            value = float(getattr(self, name))
            if not 0.0 <= value < 1.0:
                raise InvalidInputError(f"TrainConfig.{name} must be in [0, 1), got {value}")
            object.__setattr__(self, name, value)
        if not (math.isfinite(float(self.adam_eps)) and float(self.adam_eps) > 0):
            raise InvalidInputError(f"TrainConfig.adam_eps must be a positive number, got {self.adam_eps}")
        object.__setattr__(self, "adam_eps", float(self.adam_eps))
        if not 0.0 <= float(self.warmup_fraction) <= 1.0:
            raise InvalidInputError(f"TrainConfig.warmup_fraction must be in [0, 1], got {self.warmup_fraction}")
        object.__setattr__(self, "warmup_fraction", float(self.warmup_fraction))
        if not isinstance(self.weighting, str):
            object.__setattr__(self, "weighting", tuple(float(v) for v in np.asarray(self.weighting).reshape(-1)))
        self.grid()  # validates schedule and weighting

    @property
    def warmup_epochs(self) -> int:
        return round(self.warmup_fraction * self.epochs)

    def learning_rate_schedule(self) -> optax.Schedule:
        """Linear warm-up 0 -> peak over ``warmup_epochs`` steps, then linear decay peak -> final."""
        decay = optax.linear_schedule(self.peak_lr, self.final_lr, max(self.epochs - self.warmup_epochs, 1))
        if self.warmup_epochs == 0:
            return decay
        warmup = optax.linear_schedule(0.0, self.peak_lr, self.warmup_epochs)
        return optax.join_schedules([warmup, decay], [self.warmup_epochs])

    def grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Float64 ``(t, alphas, sigmas, weights)`` on the (L+1)-point grid."""
        t = timestep_grid(self.steps)
        alphas, sigmas, _ = schedule_coefficients(t, self.schedule)
        weights = loss_weighting_values(self.weighting, t, self.schedule)
        return t, alphas, sigmas, weights


@dataclass(frozen=True)
class TrainResult:
    """Trained parameters and a sub-sampled loss history.

    params: the final pytree (leading run axis for ``train_runs``); loss_history: (H,) or (S, H) objective
    values *before* the update of the epochs ``history_epochs`` (H,); final_loss: () or (S,) objective after
    the last update; seconds: wall time of the training loops (compilation included; summed over resumes);
    records: name -> (B, ...) or (B, S, ...) values of the ``record`` function at ``record_epochs`` (B,)
    (epoch 0 and every block boundary; empty without ``record``).
    """

    params: Any
    loss_history: np.ndarray
    history_epochs: np.ndarray
    final_loss: np.ndarray
    seconds: float = field(default=0.0)
    records: Mapping[str, np.ndarray] = field(default_factory=dict)
    record_epochs: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass(frozen=True)
class TrainState:
    """A set of runs paused at a block boundary: everything ``train_runs`` needs to continue bit-identically.

    epoch: Adam steps done (a multiple of the compiled block length, or ``epochs``); epochs: the total;
    fingerprint: SHA-256 of what the runs are (config, ``apply``, pytree structures, shapes, dtypes, and
    the bytes of the training data, the initial parameters and the noise keys); param_leaves / opt_leaves:
    the leaves (leading run axis S) of the parameters and of the optimizer state (Adam moments, step
    counts) in ``tree_flatten`` order; noise_keys: (S, ...) the key data of the runs' noise draws (the draws
    are a function of them); losses: (S, epoch) objective before each update so far; end_loss: (S,)
    objective after the last update (NaN at epoch 0); record_epochs (B,) and records name -> (B, S, ...):
    the ``record`` values so far; seconds: training wall time so far.
    """

    epoch: int
    epochs: int
    fingerprint: str
    param_leaves: tuple[np.ndarray, ...]
    opt_leaves: tuple[np.ndarray, ...]
    noise_keys: np.ndarray
    losses: np.ndarray
    end_loss: np.ndarray
    record_epochs: np.ndarray
    records: Mapping[str, np.ndarray]
    seconds: float

    @property
    def finished(self) -> bool:
        return self.epoch >= self.epochs


# ----------------------------------------------------------------------------------------------------
# The objective
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    n_times: int
    n: int
    draws: int
    chunk: int

    @property
    def points(self) -> int:
        return self.n * self.draws

    @property
    def n_chunks(self) -> int:
        return -(-self.points // self.chunk)

    @property
    def padded(self) -> int:
        return self.n_chunks * self.chunk


def _layout(config: TrainConfig, n: int) -> _Layout:
    points = n * config.draws
    chunk = points if config.chunk_size is None else min(config.chunk_size, points)
    return _Layout(config.steps + 1, n, config.draws, chunk)


def _chunk_noise(key: jax.Array, index, layout: _Layout, d: int, dtype) -> jax.Array:
    """Draws of chunk ``index`` = t * n_chunks + c: (chunk, d) normals from the index-th of T * n_chunks split keys."""
    return jax.random.normal(jax.random.split(key, layout.n_times * layout.n_chunks)[index], (layout.chunk, d), dtype)


def _all_noise(key: jax.Array, layout: _Layout, d: int, dtype) -> jax.Array:
    """Every chunk's regenerated draws on the device: (T, n_chunks * chunk, d) (padded points included)."""
    keys = jax.random.split(key, layout.n_times * layout.n_chunks)
    noise = jax.vmap(lambda k: jax.random.normal(k, (layout.chunk, d), dtype))(keys)
    return noise.reshape(layout.n_times, layout.padded, d)


def _host_noise(key: jax.Array, layout: _Layout, d: int, dtype) -> np.ndarray:
    """Stored draws, made once on the host from ``key``: (T, n_chunks * chunk, d), padded points zero.

    Row ``i * R + r`` of time ``l`` is z_{l,i,r}; the numbers do not depend on the chunk size.
    """
    dtype = np.dtype(dtype)
    draw_dtype = dtype if dtype in (np.float32, np.float64) else np.float64
    noise = np.zeros((layout.n_times, layout.padded, d), dtype=dtype)
    noise[:, : layout.points] = host_generator(key).standard_normal(
        (layout.n_times, layout.points, d), dtype=draw_dtype
    )
    return noise


def _pass_points(chunk: int) -> int:
    """Points per pass of the loss/gradient: on CPU at most ``_CPU_PASS_POINTS`` (a pass's (points x M) arrays
    stay in cache: ~1.5x faster there), elsewhere the whole chunk (GPUs want large matmuls)."""
    return min(chunk, _CPU_PASS_POINTS) if jax.default_backend() == "cpu" else chunk


def _loss_and_grad(
    apply: Callable,
    config: TrainConfig,
    params,
    x_train: jax.Array,
    noise_key: jax.Array,
    noise: jax.Array | None,
    *,
    with_grad: bool = True,
):
    """Objective (and its gradient) for one run, accumulated over chunks with ``lax.scan``.

    A chunk's draws are made (or sliced) as before; its points then go through the model in passes of
    :func:`_pass_points` (an inner scan; the last pass overlaps the previous one and masks the points already
    counted), so the numbers do not depend on the pass size beyond summation order.
    """
    n, d = x_train.shape
    dtype = x_train.dtype
    layout = _layout(config, n)
    _, alphas_np, sigmas_np, weights = config.grid()
    alphas = jnp.asarray(alphas_np, dtype)
    sigmas = jnp.asarray(sigmas_np, dtype)
    scales = jnp.asarray(weights / (layout.n_times * layout.points), dtype)
    size = _pass_points(layout.chunk)
    n_passes = -(-layout.chunk // size)
    offsets = jnp.arange(size)
    fused = _FUSED_LOSS_AND_GRAD.get(apply) if with_grad else None

    def chunk_body(carry, index):
        t = index // layout.n_chunks
        start = (index % layout.n_chunks) * layout.chunk
        # Regenerated draws: the chunk's (chunk, d) block; stored draws: sliced per pass from (T, padded, d).
        z_chunk = _chunk_noise(noise_key, index, layout, d, dtype) if noise is None else None
        alpha, sigma = alphas[t], sigmas[t]

        def pass_body(carry, j):
            first = jnp.minimum(j * size, layout.chunk - size)  # the last pass is shifted back to fit
            local = first + offsets
            points = start + local
            point_weights = jnp.where((points < layout.points) & (local >= j * size), scales[t], 0.0)
            x0 = x_train[jnp.minimum(points // layout.draws, n - 1)]
            if noise is None:
                z = jax.lax.dynamic_slice_in_dim(z_chunk, first, size, axis=0)
            else:
                z = jax.lax.dynamic_slice(noise, (t, start + first, 0), (1, size, d))[0]

            def pass_loss(p):
                err = apply(p, alpha * x0 + sigma * z, alpha, sigma) - x0
                return jnp.sum(point_weights * jnp.sum(err * err, axis=-1))

            if not with_grad:
                return (carry[0] + pass_loss(params), carry[1]), None
            if fused is not None:
                value, grad = fused(params, x0, z, alpha, sigma, point_weights)
            else:
                value, grad = jax.value_and_grad(pass_loss)(params)
            return (carry[0] + value, jax.tree_util.tree_map(jnp.add, carry[1], grad)), None

        return jax.lax.scan(pass_body, carry, jnp.arange(n_passes))

    init = (jnp.zeros((), dtype), jax.tree_util.tree_map(jnp.zeros_like, params) if with_grad else None)
    (loss, grad), _ = jax.lax.scan(chunk_body, init, jnp.arange(layout.n_times * layout.n_chunks))
    return loss, grad


def _optimizer(config: TrainConfig) -> optax.GradientTransformation:
    return optax.adam(config.learning_rate_schedule(), b1=config.adam_b1, b2=config.adam_b2, eps=config.adam_eps)


# ----------------------------------------------------------------------------------------------------
# Compiled kernels (vmapped over a leading run axis)
# ----------------------------------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("layout", "d", "dtype"))
def _device_noise_for_runs(keys, *, layout: _Layout, d: int, dtype):
    _TRACE_COUNTS["noise"] += 1
    return jax.vmap(lambda k: _all_noise(k, layout, d, dtype))(keys)


def _stored_noise_for_runs(keys, layout: _Layout, d: int, dtype) -> np.ndarray:
    return np.stack([_host_noise(keys[s], layout, d, dtype) for s in range(keys.shape[0])])


@functools.partial(jax.jit, static_argnames=("config",))
def _init_opt_state(params, *, config: TrainConfig):
    _TRACE_COUNTS["init"] += 1
    return jax.vmap(_optimizer(config).init)(params)


@functools.partial(jax.jit, static_argnames=("apply", "config", "length"))
def _train_block(
    params, opt_state, x_train, noise_keys, noise, active_steps, *, apply: Callable, config: TrainConfig, length: int
):
    """Up to ``length`` Adam steps for every run; steps ``>= active_steps`` leave the state unchanged (so one
    compiled length serves every block). -> (params, opt_state, losses (S, length), loss after the block (S,))."""
    _TRACE_COUNTS["train_block"] += 1
    optimizer = _optimizer(config)

    def one_run(params, opt_state, x_train, noise_key, noise):
        def step(carry, index):
            params, opt_state = carry
            loss, grad = _loss_and_grad(apply, config, params, x_train, noise_key, noise)
            updates, new_opt_state = optimizer.update(grad, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            keep = index < active_steps
            new_carry = jax.tree_util.tree_map(
                lambda new, old: jnp.where(keep, new, old), (new_params, new_opt_state), (params, opt_state)
            )
            return new_carry, loss

        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), jnp.arange(length))
        end_loss = _loss_and_grad(apply, config, params, x_train, noise_key, noise, with_grad=False)[0]
        return params, opt_state, losses, end_loss

    return jax.vmap(one_run)(params, opt_state, x_train, noise_keys, noise)


@functools.partial(jax.jit, static_argnames=("apply", "config"))
def _loss_for_runs(params, x_train, noise_keys, noise, *, apply: Callable, config: TrainConfig):
    _TRACE_COUNTS["loss"] += 1

    def one_run(params, x_train, noise_key, noise):
        return _loss_and_grad(apply, config, params, x_train, noise_key, noise, with_grad=False)[0]

    return jax.vmap(one_run)(params, x_train, noise_keys, noise)


# ----------------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------------


def _check_runs(params, x_train, keys) -> tuple[int, Any, jax.Array, jax.Array]:
    x_train = jnp.asarray(x_train)
    if x_train.ndim != 3:
        raise InvalidInputError(f"x_train must have shape (S, N, d) for train_runs, got {x_train.shape}")
    runs = x_train.shape[0]
    leaves = jax.tree_util.tree_leaves(params)
    if not leaves:
        raise InvalidInputError("params must contain at least one array")
    for leaf in leaves:
        if jnp.ndim(leaf) < 1 or jnp.shape(leaf)[0] != runs:
            raise InvalidInputError(
                f"every params leaf needs a leading run axis of size {runs}, got shape {jnp.shape(leaf)}"
            )
    if isinstance(keys, (list, tuple)):
        keys = jnp.stack(keys)
    elif not isinstance(keys, jax.Array):
        keys = jnp.asarray(keys)
    if keys.shape[0] != runs:
        raise InvalidInputError(f"need one key per run ({runs}), got {keys.shape[0]}")
    dtype = leaves[0].dtype
    if not jnp.issubdtype(dtype, jnp.floating):
        raise InvalidInputError(f"params must be floating point, got {dtype}")
    return runs, params, x_train.astype(dtype), keys


def _run_sharding(runs: int):
    """A NamedSharding over the run axis when there are at least as many runs as devices (else None)."""
    devices = jax.devices()
    if len(devices) < 2 or runs < len(devices):
        return None, runs
    mesh = jax.sharding.Mesh(np.array(devices), ("runs",))
    padded = -(-runs // len(devices)) * len(devices)
    return jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs")), padded


def _pad_runs(tree, padded: int):
    def pad(leaf):
        extra = padded - leaf.shape[0]
        if extra == 0:
            return leaf
        return jnp.concatenate([leaf, jnp.repeat(leaf[:1], extra, axis=0)], axis=0)

    return jax.tree_util.tree_map(pad, tree)


def _history_indices(epochs: int, points: int) -> np.ndarray:
    if epochs <= points:
        return np.arange(epochs)
    return np.unique(np.round(np.linspace(0, epochs - 1, points)).astype(np.int64))


def _stored(config: TrainConfig, layout: _Layout, runs: int, d: int, dtype) -> bool:
    if config.store_noise is not None:
        return config.store_noise
    nbytes = runs * layout.n_times * layout.padded * d * jnp.dtype(dtype).itemsize
    return nbytes <= _STORED_NOISE_LIMIT_BYTES


def _fingerprint(config: TrainConfig, apply: Callable, params, opt_state, x_train, keys) -> str:
    """SHA-256 of everything that determines a set of runs' training (see ``TrainState``)."""
    digest = hashlib.sha256()
    param_leaves, param_tree = jax.tree_util.tree_flatten(params)
    opt_leaves, opt_tree = jax.tree_util.tree_flatten(opt_state)
    name = f"{getattr(apply, '__module__', '?')}:{getattr(apply, '__qualname__', repr(apply))}"
    header = [
        repr(config),
        name,
        str(param_tree),
        str(opt_tree),
        [(leaf.shape, str(leaf.dtype)) for leaf in opt_leaves],
    ]
    digest.update(repr(header).encode())
    for array in (x_train, _key_data(keys), *param_leaves):
        array = np.ascontiguousarray(np.asarray(array))
        digest.update(repr((array.shape, str(array.dtype))).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _key_data(keys) -> np.ndarray:
    """The raw uint32 data of typed or raw PRNG keys."""
    if jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        return np.asarray(jax.random.key_data(keys))
    return np.asarray(keys)


def _host_tree(tree, runs: int) -> list[np.ndarray]:
    """The leaves of a run-axis pytree as host arrays, padding runs dropped."""
    return [np.array(leaf)[:runs] for leaf in jax.tree_util.tree_leaves(tree)]


def _restore_tree(leaves, like, padded: int, what: str):
    """``like``'s structure with ``leaves`` (run axis S) padded to ``padded`` runs; checks shapes and dtypes."""
    like_leaves, treedef = jax.tree_util.tree_flatten(like)
    if len(leaves) != len(like_leaves):
        raise InvalidInputError(f"resume state has {len(leaves)} {what} leaves, the run has {len(like_leaves)}")
    restored = []
    for leaf, ref in zip(leaves, like_leaves):
        leaf = np.asarray(leaf)
        if leaf.shape[1:] != ref.shape[1:] or leaf.dtype != ref.dtype:
            raise InvalidInputError(
                f"resume state {what} leaf {leaf.shape} {leaf.dtype} does not match the run's {ref.shape} {ref.dtype}"
            )
        restored.append(jnp.asarray(leaf))
    return _pad_runs(jax.tree_util.tree_unflatten(treedef, restored), padded)


def _record_values(record: Callable | None, params, runs: int) -> dict[str, np.ndarray]:
    if record is None:
        return {}
    values = record(jax.tree_util.tree_map(lambda leaf: np.asarray(leaf)[:runs], params))
    if not isinstance(values, Mapping):
        raise TypeError("record must return a dict of arrays")
    return {str(k): np.asarray(v) for k, v in values.items()}


def train_runs(
    apply: Callable,
    params,
    x_train,
    *,
    config: TrainConfig,
    keys,
    desc: str = "training",
    show_progress: bool = True,
    initial_state: TrainState | None = None,
    on_block: Callable[[TrainState], None] | None = None,
    record: Callable[[Any], Mapping[str, Any]] | None = None,
) -> TrainResult:
    """Train S runs together (vmapped, sharded over devices when S >= #devices).

    apply: model function ``(params, (B, d), alpha, sigma) -> (B, d)``; params: pytree with a leading run
    axis S on every leaf (its dtype is the compute dtype); x_train: (S, N, d); keys: S PRNG keys, one per
    run, used only for that run's noise draws. Returns a ``TrainResult`` with leading run axes.

    initial_state: continue from this ``TrainState`` (taken by ``on_block`` of a run with the same
    ``apply``, ``params``, ``x_train``, ``config`` and ``keys``, else ``InvalidInputError``); the result is
    bit-identical to an uninterrupted run's. on_block: called with the ``TrainState`` after every compiled
    block (host copies; it may write them to disk). record: ``params`` (host arrays, run axis S) ->
    dict of arrays, evaluated at epoch 0 and after every block (e.g. a learned variance's trajectory);
    returned as ``TrainResult.records`` and carried through ``TrainState`` (so it survives a resume).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError("config must be a TrainConfig")
    started = time.perf_counter()
    runs, params, x_train, keys = _check_runs(params, x_train, keys)
    n, d = x_train.shape[1:]
    dtype = x_train.dtype
    layout = _layout(config, n)
    sharding, padded = _run_sharding(runs)
    params, x_train, keys = (_pad_runs(tree, padded) for tree in (params, x_train, keys))
    if sharding is not None:
        params, x_train, keys = jax.device_put((params, x_train, keys), sharding)
    opt_state = _init_opt_state(params, config=config)

    # One compiled block length for the whole run: n_blocks blocks of ceil(epochs / n_blocks) steps, the last
    # one partly masked (fewer than n_blocks wasted steps in all).
    n_blocks = -(-config.epochs // config.block_epochs)
    length = -(-config.epochs // n_blocks)
    fingerprint = ""  # only states (on_block) and resuming need it
    if initial_state is not None or on_block is not None:
        fingerprint = _fingerprint(
            config,
            apply,
            jax.tree_util.tree_map(lambda leaf: leaf[:runs], params),
            opt_state,
            x_train[:runs],
            keys[:runs],
        )
    if initial_state is None:
        done, seconds_before = 0, 0.0
        losses = [np.zeros((runs, 0), dtype=np.dtype(dtype))]
        end_loss = np.full(runs, np.nan)
        record_epochs = [0]
        records = [_record_values(record, params, runs)]
    else:
        if not isinstance(initial_state, TrainState):
            raise TypeError("initial_state must be a TrainState")
        if initial_state.fingerprint != fingerprint:
            raise InvalidInputError(
                "the resume state belongs to a different training run (config, model, data, "
                "initial parameters or keys differ)"
            )
        done = int(initial_state.epoch)
        if not (0 <= done <= config.epochs and (done % length == 0 or done == config.epochs)):
            raise InvalidInputError(f"resume state epoch {done} is not a block boundary of this run")
        params = _restore_tree(initial_state.param_leaves, params, padded, "parameter")
        opt_state = _restore_tree(initial_state.opt_leaves, opt_state, padded, "optimizer state")
        if sharding is not None:
            params, opt_state = jax.device_put((params, opt_state), sharding)
        seconds_before = float(initial_state.seconds)
        losses = [np.asarray(initial_state.losses)]
        end_loss = np.asarray(initial_state.end_loss)
        record_epochs = [int(e) for e in initial_state.record_epochs]
        records = [{k: v[i] for k, v in initial_state.records.items()} for i in range(len(record_epochs))]
    noise = None
    if done < config.epochs and _stored(config, layout, padded, d, dtype):
        noise = jnp.asarray(_stored_noise_for_runs(keys, layout, d, dtype))
        if sharding is not None:
            noise = jax.device_put(noise, sharding)

    def state() -> TrainState:
        stacked = {k: np.stack([r[k] for r in records]) for k in records[0]} if records and records[0] else {}
        return TrainState(
            epoch=done,
            epochs=config.epochs,
            fingerprint=fingerprint,
            param_leaves=tuple(_host_tree(params, runs)),
            opt_leaves=tuple(_host_tree(opt_state, runs)),
            noise_keys=_key_data(keys)[:runs],
            losses=np.concatenate(losses, axis=1),
            end_loss=np.asarray(end_loss)[:runs],
            record_epochs=np.asarray(record_epochs, np.int64),
            records=stacked,
            seconds=seconds_before + time.perf_counter() - started,
        )

    bar = progress(total=config.epochs, desc=desc, initial=done) if show_progress else None
    while done < config.epochs:
        active = min(length, config.epochs - done)
        params, opt_state, block_losses, end_loss = _train_block(
            params, opt_state, x_train, keys, noise, jnp.asarray(active), apply=apply, config=config, length=length
        )
        losses.append(np.asarray(block_losses)[:runs, :active])
        end_loss = np.asarray(end_loss)[:runs]
        done += active
        if record is not None:
            record_epochs.append(done)
            records.append(_record_values(record, params, runs))
        if bar is not None:
            bar.update(active)
        if on_block is not None:
            on_block(state())
    if bar is not None:
        bar.close()
    final_loss = np.asarray(end_loss)[:runs]
    all_losses = np.concatenate(losses, axis=1)[:runs]
    history_epochs = _history_indices(config.epochs, config.history_points)
    params = jax.tree_util.tree_map(lambda leaf: leaf[:runs], params)
    stacked = {k: np.stack([r[k] for r in records]) for k in records[0]} if records and records[0] else {}
    return TrainResult(
        params,
        all_losses[:, history_epochs],
        history_epochs,
        final_loss,
        seconds_before + time.perf_counter() - started,
        stacked,
        np.asarray(record_epochs if stacked else [], np.int64),
    )


def train(
    apply: Callable,
    params,
    x_train,
    *,
    config: TrainConfig,
    key: jax.Array,
    desc: str = "training",
    show_progress: bool = True,
    initial_state: TrainState | None = None,
    on_block: Callable[[TrainState], None] | None = None,
    record: Callable[[Any], Mapping[str, Any]] | None = None,
) -> TrainResult:
    """Train one model: params pytree, x_train (N, d), ``key`` for the noise draws (used once).

    initial_state / on_block / record as in ``train_runs`` (states carry a run axis of size 1; ``record``
    sees and returns arrays without one).
    """
    x_train = jnp.asarray(x_train)
    if x_train.ndim != 2:
        raise InvalidInputError(f"x_train must have shape (N, d), got {x_train.shape}")
    stacked = jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf)[None], params)
    stacked_record = None
    if record is not None:

        def stacked_record(run_params):
            single = jax.tree_util.tree_map(lambda leaf: leaf[0], run_params)
            return {k: np.asarray(v)[None] for k, v in record(single).items()}

    result = train_runs(
        apply,
        stacked,
        x_train[None],
        config=config,
        keys=jnp.asarray(key)[None],
        desc=desc,
        show_progress=show_progress,
        initial_state=initial_state,
        on_block=on_block,
        record=stacked_record,
    )
    return TrainResult(
        jax.tree_util.tree_map(lambda leaf: leaf[0], result.params),
        result.loss_history[0],
        result.history_epochs,
        result.final_loss[0],
        result.seconds,
        {k: v[:, 0] for k, v in result.records.items()},
        result.record_epochs,
    )


def weighted_loss(apply: Callable, params, x_train, *, config: TrainConfig, key: jax.Array) -> jax.Array:
    """The training objective of one model with the noise draws of ``key`` (the value ``train`` minimizes)."""
    x_train = jnp.asarray(x_train)
    dtype = jax.tree_util.tree_leaves(params)[0].dtype
    n, d = x_train.shape
    layout = _layout(config, n)
    stacked = jax.tree_util.tree_map(lambda leaf: jnp.asarray(leaf)[None], params)
    keys = jnp.asarray(key)[None]
    noise = (
        jnp.asarray(_stored_noise_for_runs(keys, layout, d, dtype)) if _stored(config, layout, 1, d, dtype) else None
    )
    return _loss_for_runs(stacked, x_train.astype(dtype)[None], keys, noise, apply=apply, config=config)[0]


def training_noise(key: jax.Array, *, n: int, d: int, config: TrainConfig, dtype=jnp.float64) -> np.ndarray:
    """The noise draws the trainer uses with ``key`` for one run: (T, N, R, d) as a NumPy array (reference checks).

    Stored draws (``store_noise`` True, or None and small enough) come from the host generator and do not
    depend on the chunk size; regenerated draws come from ``jax.random`` per chunk and do.
    """
    layout = _layout(config, n)
    dtype = jnp.dtype(dtype)
    keys = jnp.asarray(key)[None]
    if _stored(config, layout, 1, d, dtype):
        noise = _stored_noise_for_runs(keys, layout, d, dtype)[0]
    else:
        noise = np.asarray(_device_noise_for_runs(keys, layout=layout, d=d, dtype=dtype)[0])
    return noise[:, : layout.points].reshape(layout.n_times, n, config.draws, d)
