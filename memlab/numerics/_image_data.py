"""The simple image model's data (Section 4.2, App. H.1/H.4).

A monochrome template ``x_k`` (an ``s x s`` image flattened row-major to ``D = s^2`` pixels) and a
colour ``col ~ N(mu_c, sigma_c^2 I_c)`` give the coloured image ``y = col ⊗ x_k`` (Kronecker product).

Layout (fixed everywhere in memlab): ``y`` is a flat vector of length ``c*D``, **channel-major**:
``y[j*D + p] = col[j] * x_k[p]``, i.e. ``y.reshape(c, s, s)`` is a CHW image (channel ``j`` is the
template scaled by ``col[j]``); :func:`images_to_rgb` turns it into HWC for display.

Templates come from a real image set that ships inside an installed package (scikit-learn's
bundled 8x8 ``load_digits``, no download), or from a user's file: an MNIST/FashionMNIST IDX file
(``.gz`` or not) or an ``.npz``. They are resized to ``s x s`` (default 15, as the paper) with a
separable triangle (bilinear, antialiased when shrinking) filter implemented here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memlab._errors import InvalidInputError
from memlab._limits import check_allocation
from memlab._readers import open_npz, read_idx

__all__ = [
    "DEFAULT_CHANNELS",
    "DEFAULT_SIDE",
    "ImageDataset",
    "colors_from_images",
    "image_component_covariances",
    "image_mixture_moments",
    "images_to_rgb",
    "kron_images",
    "load_template_images",
    "make_image_dataset",
    "read_idx",
    "resampling_matrix",
    "resize_images",
]

DEFAULT_SIDE = 15
DEFAULT_CHANNELS = 3
BUILTIN_SOURCES = ("digits",)


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """The mixture ``(1/K) sum_k N(mu_c ⊗ x_k, sigma_c^2 (I_c ⊗ x_k)(I_c ⊗ x_k)^T)`` and samples from it.

    templates: (K, D) monochrome templates, D = side^2, row-major pixels;
    color_mean: (c,); color_var: sigma_c^2 > 0;
    x_train: (N, c*D) channel-major coloured images; labels_train: (N,) template of each sample;
    colors_train: (N, c) the colour that generated each sample
    (so x_train[i] = colors_train[i] ⊗ templates[labels_train[i]]);
    x_test, labels_test, colors_test: the same for the held-out set;
    source: where the templates came from; template_indices: (K,) their indices in that source.
    """

    templates: np.ndarray
    side: int
    color_mean: np.ndarray
    color_var: float
    x_train: np.ndarray
    labels_train: np.ndarray
    colors_train: np.ndarray
    x_test: np.ndarray
    labels_test: np.ndarray
    colors_test: np.ndarray
    source: str
    template_indices: np.ndarray

    @property
    def n(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def k(self) -> int:
        return int(self.templates.shape[0])

    @property
    def channels(self) -> int:
        return int(self.color_mean.shape[0])

    @property
    def pixels(self) -> int:
        """D = side^2."""
        return int(self.templates.shape[1])

    @property
    def d(self) -> int:
        """Ambient dimension c * D."""
        return self.channels * self.pixels

    @property
    def component_means(self) -> np.ndarray:
        """(K, c*D): mu_c ⊗ x_k for each template."""
        return kron_images(np.broadcast_to(self.color_mean, (self.k, self.channels)), self.templates)


# ----------------------------------------------------------------------------------------------
# Resizing


def resampling_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) row-stochastic matrix of a 1-D triangle filter with pixel-centre alignment.

    Output pixel ``i`` has centre ``(i + 1/2) n_in / n_out`` in input coordinates; input pixel ``j``
    (centre ``j + 1/2``) gets weight ``max(0, 1 - |j + 1/2 - centre| / f)`` with ``f = max(1, n_in/n_out)``
    (so shrinking averages over the footprint, i.e. is antialiased, and enlarging interpolates
    linearly); each row is normalised to sum to 1 (edge pixels renormalise over what exists).
    """
    if n_in < 1 or n_out < 1:
        raise InvalidInputError(f"sizes must be >= 1, got {n_in} -> {n_out}")
    scale = n_in / n_out
    width = max(1.0, scale)
    centres = (np.arange(n_out) + 0.5) * scale
    offsets = (np.arange(n_in)[None, :] + 0.5 - centres[:, None]) / width
    weights = np.clip(1.0 - np.abs(offsets), 0.0, None)
    zero_rows = weights.sum(axis=1) == 0  # cannot happen for width >= 1, kept as a guard
    if np.any(zero_rows):
        nearest = np.clip(np.floor(centres[zero_rows]).astype(int), 0, n_in - 1)
        weights[zero_rows, nearest] = 1.0
    return weights / weights.sum(axis=1, keepdims=True)


def resize_images(images, side: int) -> np.ndarray:
    """Resize ``(n, h, w)`` images to ``(n, side, side)`` with :func:`resampling_matrix` along each axis."""
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3:
        raise InvalidInputError(f"images must have shape (n, h, w), got {images.shape}")
    if side < 1:
        raise InvalidInputError(f"side must be >= 1, got {side}")
    rows = resampling_matrix(images.shape[1], side)
    cols = resampling_matrix(images.shape[2], side)
    return np.einsum("ih,nhw,jw->nij", rows, images, cols)


# ----------------------------------------------------------------------------------------------
# Loading templates


def _images_from_npz(path: Path) -> np.ndarray:
    """The ``images`` member (or the only member) of an ``.npz``; nothing else is read."""
    with open_npz(path, "template file") as archive:
        if "images" in archive:
            name = "images"
        elif len(archive.names) == 1:
            name = archive.names[0]
        else:
            found = ", ".join(sorted(archive.names)) or "none"
            raise InvalidInputError(f"{path}: expected an array named 'images' (found: {found})")
        header = archive.header(name)
        _check_image_shape(header.shape, header.dtype, path)
        return archive.read(name)


def _check_image_shape(shape: tuple[int, ...], dtype: np.dtype, path) -> tuple[int, int, int]:
    """(n, h, w) of images stored as (n, h, w) or (n, h*w) square images; errors are one line."""
    if dtype.kind not in "fiu":
        raise InvalidInputError(f"{path}: images must be numeric, got dtype {dtype}")
    if len(shape) == 2:  # (n, h*w) flattened square images
        side = math.isqrt(shape[1])
        if side * side != shape[1]:
            raise InvalidInputError(f"{path}: flattened images of length {shape[1]} are not square")
        shape = (shape[0], side, side)
    if len(shape) != 3:
        raise InvalidInputError(f"{path}: images must have shape (n, h, w) or (n, h*w), got {shape}")
    if min(shape) < 1:
        raise InvalidInputError(f"{path}: no images (shape {shape})")
    return shape


@dataclass(frozen=True, eq=False)
class _RawTemplates:
    """Candidate templates as stored (n, h, w) — not converted — and the factor that maps them to [0, 1]."""

    images: np.ndarray
    scale: float
    description: str

    def converted(self, indices) -> np.ndarray:
        """float64 images of the given indices only: (len(indices), h, w)."""
        chosen = np.asarray(self.images[np.asarray(indices)], dtype=np.float64)
        return chosen / self.scale if self.scale != 1.0 else chosen

    def squared_norms(self) -> np.ndarray:
        """(n,) sum of squared (scaled) pixels of every image, computed in float64 one block of at most
        ``_CONVERT_BLOCK`` pixels at a time (memory: one block, however large the images); a non-finite
        pixel is an error."""
        n = self.images.shape[0]
        pixels = math.prod(self.images.shape[1:])
        flat = self.images.reshape(n, pixels)
        rows_per_block, cols_per_block = max(1, _CONVERT_BLOCK // pixels), min(pixels, _CONVERT_BLOCK)
        out = np.zeros(n)
        for r0 in range(0, n, rows_per_block):
            for c0 in range(0, pixels, cols_per_block):
                block = np.asarray(flat[r0 : r0 + rows_per_block, c0 : c0 + cols_per_block], dtype=np.float64)
                if not np.all(np.isfinite(block)):
                    raise InvalidInputError(f"{self.description}: images contain NaN or Inf")
                with np.errstate(over="ignore"):
                    out[r0 : r0 + rows_per_block] += np.sum((block / self.scale) ** 2, axis=1)
        if not np.all(np.isfinite(out)):
            raise InvalidInputError(f"{self.description}: pixel values are too large (squared norms overflow float64)")
        return out

    def resized(self, indices, side: int) -> np.ndarray:
        """The chosen images, scaled and resized to (len(indices), side, side) float64.

        Images up to ``_CONVERT_BLOCK`` pixels go through :func:`resize_images` as they are; a larger one is
        converted and resized a band of rows at a time (memory: one band, not a float64 copy of it).
        """
        indices = np.asarray(indices)
        h, w = self.images.shape[1:]
        if h * w <= _CONVERT_BLOCK:
            return resize_images(self.converted(indices), side)
        rows, cols = resampling_matrix(h, side), resampling_matrix(w, side)
        band = max(1, _CONVERT_BLOCK // w)
        out = np.zeros((indices.size, side, side))
        for i, index in enumerate(indices):
            for h0 in range(0, h, band):
                chunk = np.asarray(self.images[index, h0 : h0 + band], dtype=np.float64) / self.scale
                out[i] += rows[:, h0 : h0 + band] @ (chunk @ cols.T)
        return out


_CONVERT_BLOCK = 1 << 20  # pixels converted to float64 at a time


def _raw_templates(source: str | os.PathLike) -> _RawTemplates:
    if isinstance(source, str) and source in BUILTIN_SOURCES:
        # scikit-learn (about a second to import) is needed only for its bundled digits.
        from sklearn.datasets import load_digits

        return _RawTemplates(np.asarray(load_digits().images, dtype=np.float64), 16.0, "sklearn.datasets.load_digits")
    path = Path(source)
    arr = _images_from_npz(path) if path.suffix == ".npz" else read_idx(path, "template file")
    n, h, w = _check_image_shape(arr.shape, arr.dtype, path)
    return _RawTemplates(arr.reshape(n, h, w), 255.0 if arr.dtype == np.uint8 else 1.0, str(path))


def load_template_images(source: str | os.PathLike = "digits") -> tuple[np.ndarray, str]:
    """Candidate templates as ``(n, h, w)`` float64 images, and a description of where they came from.

    ``source``: ``"digits"`` (scikit-learn's bundled 8x8 digits, 1797 images, pixel values /16 in
    [0, 1]; offline), or a path to an IDX file (``.gz`` allowed; uint8 scaled by 1/255) or an ``.npz``
    holding an array ``images`` (or a single array) of shape (n, h, w) or (n, h*w) (uint8 scaled by
    1/255, other dtypes used as given). Files are read through :mod:`memlab._readers` (sizes checked
    before reading); this converts *every* image to float64 — :func:`make_image_dataset` converts only
    the templates it draws.
    """
    raw = _raw_templates(source)
    raw.squared_norms()  # the finiteness check, one block at a time
    return raw.converted(np.arange(raw.images.shape[0])), raw.description


# ----------------------------------------------------------------------------------------------
# The model


def kron_images(colors, templates) -> np.ndarray:
    """Row-wise ``colors[i] ⊗ templates[i]``: (n, c), (n, D) -> (n, c*D), channel-major."""
    colors = np.asarray(colors, dtype=np.float64)
    templates = np.asarray(templates, dtype=np.float64)
    return (colors[:, :, None] * templates[:, None, :]).reshape(colors.shape[0], colors.shape[1] * templates.shape[1])


def colors_from_images(images, templates) -> np.ndarray:
    """The colour ``A^T y / |x|^2`` that best explains each image given its template (exact if y = col ⊗ x).

    images: (n, c*D); templates: (n, D) nonzero -> (n, c).
    """
    images = np.asarray(images, dtype=np.float64)
    templates = np.asarray(templates, dtype=np.float64)
    n, pixels = templates.shape
    blocks = images.reshape(n, -1, pixels)
    return np.einsum("ncd,nd->nc", blocks, templates) / np.sum(templates * templates, axis=1)[:, None]


def _sample(
    rng: np.random.Generator,
    templates: np.ndarray,
    color_mean: np.ndarray,
    color_var: float,
    count: int,
    balanced: bool,
):
    k = templates.shape[0]
    if balanced:
        labels = rng.permutation(np.arange(count) % k)
    else:
        labels = rng.integers(0, k, size=count)
    colors = color_mean[None, :] + np.sqrt(color_var) * rng.standard_normal((count, color_mean.shape[0]))
    return kron_images(colors, templates[labels]), labels, colors


def make_image_dataset(
    *,
    k: int,
    n: int,
    n_test: int | None = None,
    side: int = DEFAULT_SIDE,
    channels: int = DEFAULT_CHANNELS,
    color_mean=0.0,
    color_var: float = 1.0,
    seed: int = 0,
    source: str | os.PathLike = "digits",
    balanced: bool = False,
) -> ImageDataset:
    """K templates drawn uniformly without replacement from ``source`` and resized to side x side; N + N_test samples.

    Labels are i.i.d. uniform over the K templates (``balanced=True``: each template ``floor(N/K)`` or
    ``ceil(N/K)`` times, in random order). Colours are i.i.d. N(color_mean, color_var I_c).
    The seed is split once into three independent streams (templates, train, test): changing
    ``n_test`` never changes the templates or the training set. Default N_test = N.
    """
    if k < 1 or n < 1 or side < 1 or channels < 1:
        raise InvalidInputError(
            f"k, n, side and channels must be >= 1, got k={k}, n={n}, side={side}, channels={channels}"
        )
    if not (np.isfinite(color_var) and color_var > 0):
        raise InvalidInputError(f"color_var must be a positive number, got {color_var}")
    color_mean = np.broadcast_to(np.asarray(color_mean, dtype=np.float64), (channels,)).copy()
    if not np.all(np.isfinite(color_mean)):
        raise InvalidInputError("color_mean must be finite")
    n_test = n if n_test is None else n_test
    if n_test < 0:
        raise InvalidInputError(f"n_test must be >= 0, got {n_test}")
    check_allocation((n + n_test, channels * side * side), 8, "the generated image data set")
    raw = _raw_templates(source)
    usable = np.flatnonzero(raw.squared_norms() > 0)
    if usable.size < k:
        raise InvalidInputError(f"{raw.description}: need {k} nonzero template images, found {usable.size}")
    templates_ss, train_ss, test_ss = np.random.SeedSequence(seed).spawn(3)
    chosen = np.sort(np.random.default_rng(templates_ss).choice(usable, size=k, replace=False))
    templates = raw.resized(chosen, side).reshape(k, side * side)
    description = raw.description
    x_train, labels_train, colors_train = _sample(
        np.random.default_rng(train_ss), templates, color_mean, color_var, n, balanced
    )
    x_test, labels_test, colors_test = _sample(
        np.random.default_rng(test_ss), templates, color_mean, color_var, n_test, balanced
    )
    return ImageDataset(
        templates,
        int(side),
        color_mean,
        float(color_var),
        x_train,
        labels_train,
        colors_train,
        x_test,
        labels_test,
        colors_test,
        description,
        chosen,
    )


def images_to_rgb(y, *, side: int, channels: int = DEFAULT_CHANNELS, scale: float | None = None) -> np.ndarray:
    """Channel-major flat images (n, c*D) -> displayable (n, side, side, 3) in [0, 1].

    Values map affinely ``v -> 1/2 + v / (2 scale)`` (0 is mid-grey), clipped; ``scale`` defaults to the
    largest |value| in ``y`` so that one colour scale is shared by all images. c = 1 is shown grey,
    c = 2 fills the blue channel with 1/2, c > 3 shows the first three channels.
    """
    y = np.asarray(y, dtype=np.float64)
    chw = y.reshape(y.shape[0], channels, side, side)
    if scale is None:
        scale = float(np.max(np.abs(chw))) if chw.size else 1.0
    scale = scale if scale > 0 else 1.0
    shown = np.clip(0.5 + chw / (2.0 * scale), 0.0, 1.0)
    if channels == 1:
        shown = np.repeat(shown, 3, axis=1)
    elif channels == 2:
        shown = np.concatenate([shown, np.full_like(shown[:, :1], 0.5)], axis=1)
    else:
        shown = shown[:, :3]
    return np.transpose(shown, (0, 2, 3, 1))


# ----------------------------------------------------------------------------------------------
# Dense references (small sizes only: (c*D) x (c*D) matrices)


def image_component_covariances(templates, *, color_var: float, channels: int) -> np.ndarray:
    """Dense ``sigma_c^2 A_k A_k^T`` with ``A_k = I_c ⊗ x_k``: (K, D) -> (K, c*D, c*D). For tests/small sizes."""
    templates = np.asarray(templates, dtype=np.float64)
    eye = np.eye(channels)
    return np.stack([color_var * np.kron(eye, np.outer(x, x)) for x in templates])


def image_mixture_moments(templates, *, color_mean, color_var: float, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean (c*D,) and covariance (c*D, c*D) of the equal-weight mixture over the templates.

    mean = (1/K) sum_k m_k with m_k = mu_c ⊗ x_k;
    cov = (1/K) sum_k (sigma_c^2 A_k A_k^T + m_k m_k^T) - mean mean^T.
    """
    templates = np.asarray(templates, dtype=np.float64)
    k = templates.shape[0]
    color_mean = np.broadcast_to(np.asarray(color_mean, dtype=np.float64), (channels,))
    comp_means = kron_images(np.broadcast_to(color_mean, (k, channels)), templates)
    mean = comp_means.mean(axis=0)
    second = image_component_covariances(templates, color_var=color_var, channels=channels).mean(axis=0)
    second += comp_means.T @ comp_means / k
    return mean, second - np.outer(mean, mean)
