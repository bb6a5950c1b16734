"""Isotropic Gaussian-mixture data (Section 2, App. H.1): generation with a seed, and loading a user's ``.npz``."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from memlab._errors import InvalidInputError
from memlab._limits import check_allocation
from memlab._readers import NpzArchive, open_npz

__all__ = ["GMMDataset", "load_gmm_dataset", "make_gmm_dataset", "nearest_labels", "sphere_means"]


@dataclass(frozen=True, eq=False)
class GMMDataset:
    """A target pi_* = (1/K) sum_k N(mu_k, sigma2 I_d) and samples from it.

    means: (K, d); x_train: (N, d); labels_train: (N,) component of each sample;
    x_test: (N_test, d) held-out samples (possibly 0 rows); labels_test: (N_test,).
    """

    means: np.ndarray
    sigma2: float
    x_train: np.ndarray
    labels_train: np.ndarray
    x_test: np.ndarray
    labels_test: np.ndarray

    @property
    def n(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def d(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def k(self) -> int:
        return int(self.means.shape[0])


def sphere_means(rng: np.random.Generator, k: int, d: int) -> np.ndarray:
    """K means uniform on the sphere of radius sqrt(d) in R^d, shape (K, d)."""
    g = rng.standard_normal((k, d))
    return np.sqrt(d) * g / np.linalg.norm(g, axis=1, keepdims=True)


def _sample(rng: np.random.Generator, means: np.ndarray, sigma2: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, means.shape[0], size=count)
    x = means[labels] + np.sqrt(sigma2) * rng.standard_normal((count, means.shape[1]))
    return x, labels


def make_gmm_dataset(
    *, d: int, k: int, n: int, n_test: int | None = None, sigma2: float = 1.0, seed: int = 0
) -> GMMDataset:
    """Draw means on the sphere of radius sqrt(d), N training and N_test held-out samples (default N_test = N).

    The seed is split once into three independent streams (means, train, test), so changing
    ``n_test`` never changes the means or the training set.
    """
    if d < 1 or k < 1 or n < 1:
        raise InvalidInputError(f"d, k and n must be >= 1, got d={d}, k={k}, n={n}")
    if not (np.isfinite(sigma2) and sigma2 > 0):
        raise InvalidInputError(f"sigma2 must be a positive number, got {sigma2}")
    n_test = n if n_test is None else n_test
    if n_test < 0:
        raise InvalidInputError(f"n_test must be >= 0, got {n_test}")
    check_allocation((n + n_test + k, d), 8, "the generated data set")
    means_ss, train_ss, test_ss = np.random.SeedSequence(seed).spawn(3)
    means = sphere_means(np.random.default_rng(means_ss), k, d)
    x_train, labels_train = _sample(np.random.default_rng(train_ss), means, sigma2, n)
    x_test, labels_test = _sample(np.random.default_rng(test_ss), means, sigma2, n_test)
    return GMMDataset(means, float(sigma2), x_train, labels_train, x_test, labels_test)


def nearest_labels(x: np.ndarray, means: np.ndarray) -> np.ndarray:
    """Index of the nearest mean for each row of x: (B, d), (K, d) -> (B,).

    Distances are compared in a frame scaled by a power of two (exact), so data of any finite magnitude
    gives the same labels without overflowing.
    """
    scale = _power_of_two_scale(np.max(np.abs(x), initial=0.0), np.max(np.abs(means), initial=0.0))
    xs, ms = x / scale, means / scale
    d2 = np.sum((xs[:, None, :] - ms[None, :, :]) ** 2, axis=-1)
    return np.argmin(d2, axis=1)


def _power_of_two_scale(*magnitudes: float) -> float:
    largest = max(float(m) for m in magnitudes)
    return 1.0 if not largest > 0 else float(2.0 ** np.frexp(largest)[1])


def _float_matrix(archive: NpzArchive, key: str, path) -> np.ndarray:
    """Member ``key`` as a finite float64 (rows, d) matrix with d >= 1 (its header is checked before reading)."""
    header = archive.header(key)
    if header.dtype.kind not in "fiu":
        raise InvalidInputError(f"{path}: '{key}' must be a numeric array, got dtype {header.dtype}")
    if len(header.shape) != 2:
        raise InvalidInputError(f"{path}: '{key}' must be a 2-D array (rows x d), got shape {header.shape}")
    if header.shape[1] < 1:
        raise InvalidInputError(f"{path}: '{key}' has dimension d = 0 (shape {header.shape})")
    value = np.asarray(archive.read(key), dtype=np.float64)
    if not np.all(np.isfinite(value)):
        raise InvalidInputError(f"{path}: '{key}' contains NaN or Inf")
    return value


def load_gmm_dataset(path: str | os.PathLike) -> GMMDataset:
    """Load a user's dataset from ``.npz``: ``x_train`` (N, d), ``means`` (K, d), optional ``sigma2``, ``x_test``.

    Only these members are read (through :func:`memlab._readers.open_npz`: sizes checked before reading,
    at most ``memlab._limits.max_input_bytes()``). Component labels are the nearest mean. Every problem
    is a one-line ``InvalidInputError``.
    """
    with open_npz(path) as archive:
        for key in ("x_train", "means"):
            if key not in archive:
                found = ", ".join(sorted(archive.names)) or "none"
                raise InvalidInputError(f"{path}: missing array '{key}' (found: {found})")
        x_train = _float_matrix(archive, "x_train", path)
        means = _float_matrix(archive, "means", path)
        if x_train.shape[0] < 2:
            raise InvalidInputError(f"{path}: need at least 2 training samples, got {x_train.shape[0]}")
        if means.shape[0] < 1:
            raise InvalidInputError(f"{path}: 'means' has no rows")
        if means.shape[1] != x_train.shape[1]:
            raise InvalidInputError(f"{path}: 'means' has d={means.shape[1]} but 'x_train' has d={x_train.shape[1]}")
        sigma2 = 1.0
        if "sigma2" in archive:
            header = archive.header("sigma2")
            if math.prod(header.shape) != 1 or header.dtype.kind not in "fiu":
                raise InvalidInputError(f"{path}: 'sigma2' must be a numeric scalar")
            sigma2 = float(archive.read("sigma2").reshape(()))
            if not (np.isfinite(sigma2) and sigma2 > 0):
                raise InvalidInputError(f"{path}: 'sigma2' must be positive and finite, got {sigma2}")
        if "x_test" in archive:
            x_test = _float_matrix(archive, "x_test", path)
            if x_test.shape[1] != x_train.shape[1]:
                raise InvalidInputError(
                    f"{path}: 'x_test' has d={x_test.shape[1]} but 'x_train' has d={x_train.shape[1]}"
                )
        else:
            x_test = np.zeros((0, x_train.shape[1]))
    labels_test = nearest_labels(x_test, means) if x_test.shape[0] else np.zeros(0, dtype=np.int64)
    return GMMDataset(means, sigma2, x_train, nearest_labels(x_train, means), x_test, labels_test)
