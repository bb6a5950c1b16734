"""The simple image model's data: resizing, template loading (bundled and user files), layout, moments."""

import gzip
import socket
import struct

import numpy as np
import pytest
from scipy.stats import norm
from seeds import fresh_seed

from memlab import numerics
from memlab._errors import InvalidInputError
from memlab.numerics import _image_data

# ---------------------------------------------------------------------------------------------- resizing


@pytest.mark.parametrize("n_in,n_out", [(8, 15), (28, 15), (15, 15), (3, 7), (10, 4), (1, 5)])
def test_resampling_matrix_is_row_stochastic_and_local(n_in, n_out):
    r = numerics.resampling_matrix(n_in, n_out)
    assert r.shape == (n_out, n_in)
    assert np.all(r >= 0)
    np.testing.assert_allclose(r.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    # Output pixel i only sees input pixels within the filter footprint of its centre.
    scale = n_in / n_out
    centres = (np.arange(n_out) + 0.5) * scale
    dist = np.abs(np.arange(n_in)[None, :] + 0.5 - centres[:, None])
    assert np.all(r[dist >= max(1.0, scale)] == 0)


def test_resampling_identity_and_linear_interpolation():
    np.testing.assert_array_equal(numerics.resampling_matrix(9, 9), np.eye(9))
    # Enlarging interpolates linearly: an affine ramp sampled at pixel centres stays affine away from the edges.
    n_in, n_out = 8, 15
    ramp = 0.3 + 2.0 * (np.arange(n_in) + 0.5)
    out = numerics.resampling_matrix(n_in, n_out) @ ramp
    centres = (np.arange(n_out) + 0.5) * n_in / n_out
    interior = (centres >= 0.5) & (centres <= n_in - 0.5)
    np.testing.assert_allclose(out[interior], 0.3 + 2.0 * centres[interior], rtol=1e-13)
    # Shrinking by an integer factor 2 with the triangle filter of width 2: weights (1/8, 3/8, 3/8, 1/8).
    r = numerics.resampling_matrix(8, 4)
    np.testing.assert_allclose(r[1, 1:5], [1 / 8, 3 / 8, 3 / 8, 1 / 8], rtol=1e-14)


def test_resize_preserves_constants_and_shape():
    images = np.full((2, 8, 8), 0.7)
    out = numerics.resize_images(images, 15)
    assert out.shape == (2, 15, 15)
    np.testing.assert_allclose(out, 0.7, rtol=1e-14)


# ---------------------------------------------------------------------------------------------- loading


def test_bundled_templates_load_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("template loading tried to open a network socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    images, description = numerics.load_template_images("digits")
    assert images.shape == (1797, 8, 8) and "load_digits" in description
    assert images.min() == 0.0 and images.max() == 1.0
    ds = numerics.make_image_dataset(k=4, n=10, seed=3)
    assert ds.templates.shape == (4, 225) and ds.x_train.shape == (10, 675)


def _idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 6, 6), dtype=np.uint8)
    raw = _idx_bytes(images)
    path = tmp_path / ("t.idx3-ubyte.gz" if compress else "t.idx3-ubyte")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    np.testing.assert_array_equal(numerics.read_idx(path), images)
    loaded, _ = numerics.load_template_images(path)
    np.testing.assert_allclose(loaded, images / 255.0)
    floats = rng.standard_normal((3, 4, 4))
    path_f = tmp_path / "f.idx"
    path_f.write_bytes(_idx_bytes(floats, code=0x0E))
    np.testing.assert_array_equal(numerics.read_idx(path_f), floats)


def test_npz_templates(tmp_path):
    images = np.random.default_rng(1).random((6, 5, 5))
    np.savez(tmp_path / "a.npz", images=images, other=np.zeros(3))
    np.savez(tmp_path / "b.npz", images.reshape(6, 25))
    for name in ("a.npz", "b.npz"):
        loaded, _ = numerics.load_template_images(tmp_path / name)
        np.testing.assert_array_equal(loaded, images)
    ds = numerics.make_image_dataset(k=3, n=4, side=5, source=tmp_path / "a.npz", seed=0)
    np.testing.assert_allclose(ds.templates, images[ds.template_indices].reshape(3, 25), rtol=1e-14)


MALFORMED = {
    "bad_magic.idx": b"\x01\x02\x08\x03" + b"\x00" * 20,
    "truncated.idx": _idx_bytes(np.zeros((2, 3, 3), np.uint8))[:-4],
    "bad_code.idx": bytes([0, 0, 0x07, 1]) + struct.pack(">I", 2) + b"\x00\x00",
    "labels.idx": _idx_bytes(np.zeros(4, np.uint8)),
    "short.idx": b"\x00\x00",
    "bad.gz": b"\x1f\x8b" + b"garbage" * 3,
    "not_zip.npz": b"hello",
    "empty.idx": _idx_bytes(np.zeros((0, 3, 3), np.uint8)),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_template_files_are_user_errors(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(MALFORMED[name])
    with pytest.raises(InvalidInputError) as exc:
        numerics.load_template_images(path)
    assert "\n" not in str(exc.value)


def test_npz_without_images_and_missing_file(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros((2, 3, 3)), b=np.zeros((2, 3, 3)))
    with pytest.raises(InvalidInputError, match="images"):
        numerics.load_template_images(tmp_path / "x.npz")
    np.savez(tmp_path / "rect.npz", images=np.zeros((2, 10)))
    with pytest.raises(InvalidInputError, match="square"):
        numerics.load_template_images(tmp_path / "rect.npz")
    with pytest.raises(InvalidInputError, match="not found"):
        numerics.load_template_images(tmp_path / "nope.idx")
    np.savez(tmp_path / "zeros.npz", images=np.zeros((3, 4, 4)))
    with pytest.raises(InvalidInputError, match="nonzero"):
        numerics.make_image_dataset(k=2, n=3, source=tmp_path / "zeros.npz")


# ---------------------------------------------------------------------------------------------- the model


def test_layout_is_channel_major_kronecker():
    ds = numerics.make_image_dataset(k=3, n=7, side=6, seed=5)
    for i in range(ds.n):
        chw = ds.x_train[i].reshape(ds.channels, ds.side, ds.side)
        template = ds.templates[ds.labels_train[i]].reshape(ds.side, ds.side)
        for j in range(ds.channels):
            np.testing.assert_allclose(chw[j], ds.colors_train[i, j] * template, rtol=1e-15)
        np.testing.assert_allclose(ds.x_train[i], np.kron(ds.colors_train[i], ds.templates[ds.labels_train[i]]))
    recovered = numerics.colors_from_images(ds.x_train, ds.templates[ds.labels_train])
    np.testing.assert_allclose(recovered, ds.colors_train, rtol=1e-12, atol=1e-12)
    rgb = numerics.images_to_rgb(ds.x_train, side=ds.side)
    assert rgb.shape == (7, 6, 6, 3) and rgb.min() >= 0 and rgb.max() <= 1


def test_seed_streams_are_independent_and_reproducible():
    a = numerics.make_image_dataset(k=4, n=20, n_test=5, seed=11)
    b = numerics.make_image_dataset(k=4, n=20, n_test=9, seed=11)
    np.testing.assert_array_equal(a.templates, b.templates)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    c = numerics.make_image_dataset(k=4, n=20, n_test=5, seed=11)
    np.testing.assert_array_equal(a.x_test, c.x_test)
    balanced = numerics.make_image_dataset(k=8, n=8, seed=2, balanced=True)
    assert sorted(balanced.labels_train.tolist()) == list(range(8))


@pytest.mark.parametrize("color_mean,color_var", [(0.0, 1.0), ((0.8, -0.5, 1.5), 0.3)])
def test_samples_have_the_stated_mean_and_covariance(color_mean, color_var):
    """Monte Carlo: projections on J random directions u (mean) and pairs (u, v) (covariance).

    Each of the 2J statistics is a sample mean of n i.i.d. terms, standardised by its exact (mean)
    or estimated (covariance) standard error; the threshold z is the two-sided normal quantile at
    1e-6 / (2J) (Bonferroni), so the test fails with probability <= ~1e-6 if the formulas hold.
    """
    seed = fresh_seed()
    n, j = 20000, 8
    ds = numerics.make_image_dataset(k=3, n=n, n_test=0, side=4, color_mean=color_mean, color_var=color_var, seed=seed)
    mean, cov = numerics.image_mixture_moments(
        ds.templates, color_mean=ds.color_mean, color_var=color_var, channels=ds.channels
    )
    z_max = norm.isf(1e-6 / (2 * 2 * j))
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((j, ds.d))
    v = rng.standard_normal((j, ds.d))
    proj_u = (ds.x_train - mean) @ u.T  # (n, J)
    proj_v = (ds.x_train - mean) @ v.T
    z_mean = proj_u.mean(axis=0) / np.sqrt(np.einsum("jd,de,je->j", u, cov, u) / n)
    products = proj_u * proj_v
    z_cov = (products.mean(axis=0) - np.einsum("jd,de,je->j", u, cov, v)) / (products.std(axis=0, ddof=1) / np.sqrt(n))
    assert np.all(np.abs(z_mean) < z_max), (seed, z_mean)
    assert np.all(np.abs(z_cov) < z_max), (seed, z_cov)


def test_mixture_moments_against_direct_formula():
    templates = np.random.default_rng(0).random((2, 4))
    mean, cov = numerics.image_mixture_moments(templates, color_mean=(1.0, 2.0), color_var=0.5, channels=2)
    # Component k: y = col ⊗ x_k, E y = mu ⊗ x_k, Cov y = 0.5 * kron(I_2, x x^T); mix two components equally.
    m = [np.kron([1.0, 2.0], x) for x in templates]
    c = [0.5 * np.kron(np.eye(2), np.outer(x, x)) for x in templates]
    expected_mean = (m[0] + m[1]) / 2
    expected_cov = (c[0] + c[1]) / 2 + np.outer(m[0] - m[1], m[0] - m[1]) / 4
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-14)
    np.testing.assert_allclose(cov, expected_cov, rtol=1e-13, atol=1e-15)


def test_bad_parameters_are_user_errors():
    with pytest.raises(InvalidInputError):
        numerics.make_image_dataset(k=0, n=3)
    with pytest.raises(InvalidInputError):
        numerics.make_image_dataset(k=2, n=3, color_var=-1.0)
    with pytest.raises(InvalidInputError):
        numerics.make_image_dataset(k=2000, n=3)
    assert _image_data.DEFAULT_SIDE == 15


def test_large_images_are_converted_and_resized_in_bands(monkeypatch):
    """Images above the conversion block go through the banded path: same templates as the direct one."""
    from memlab.numerics import _image_data

    rng = np.random.default_rng(3)
    raw = _image_data._RawTemplates(rng.integers(0, 256, (5, 37, 29)).astype(np.uint8), 255.0, "test")
    direct_norms, direct = raw.squared_norms(), raw.resized([1, 4], 6)
    monkeypatch.setattr(_image_data, "_CONVERT_BLOCK", 64)  # every image now spans many blocks
    np.testing.assert_allclose(raw.squared_norms(), direct_norms, rtol=1e-13)
    np.testing.assert_allclose(raw.resized([1, 4], 6), direct, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(direct, numerics.resize_images(raw.images[[1, 4]] / 255.0, 6))
