import numpy as np
import pytest

from memlab import InvalidInputError, numerics
from memlab._io import write_npz


def test_means_on_sphere_and_determinism():
    a = numerics.make_gmm_dataset(d=50, k=12, n=200, seed=7)
    b = numerics.make_gmm_dataset(d=50, k=12, n=200, seed=7)
    np.testing.assert_allclose(np.linalg.norm(a.means, axis=1), np.sqrt(50))
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.x_test, b.x_test)
    c = numerics.make_gmm_dataset(d=50, k=12, n=200, n_test=5, seed=7)
    assert np.array_equal(a.x_train, c.x_train) and c.x_test.shape == (5, 50)


def test_samples_have_the_mixture_moments():
    # Residuals x - mu_label are N(0, sigma2 I): their mean variance over N*d entries has
    # standard error sigma2*sqrt(2/(N d)); 5 SE gives failure probability < 1e-6.
    ds = numerics.make_gmm_dataset(d=20, k=3, n=4000, sigma2=2.0, seed=1)
    resid = ds.x_train - ds.means[ds.labels_train]
    se = 2.0 * np.sqrt(2 / resid.size)
    assert abs(resid.var() - 2.0) < 5 * se


def test_load_user_dataset_and_errors(tmp_path):
    ds = numerics.make_gmm_dataset(d=4, k=2, n=10, seed=0)
    write_npz(tmp_path / "ok.npz", x_train=ds.x_train, means=ds.means, sigma2=np.float64(1.0))
    loaded = numerics.load_gmm_dataset(tmp_path / "ok.npz")
    assert loaded.n == 10 and loaded.x_test.shape == (0, 4)
    bad_x = ds.x_train.copy()
    bad_x[0, 0] = np.nan
    cases = {
        "missing.npz": None,
        "nokey.npz": dict(x_train=ds.x_train),
        "nan.npz": dict(x_train=bad_x, means=ds.means),
        "shape.npz": dict(x_train=ds.x_train, means=ds.means[:, :3]),
        "one.npz": dict(x_train=ds.x_train[:1], means=ds.means),
        "neg.npz": dict(x_train=ds.x_train, means=ds.means, sigma2=np.float64(-1)),
    }
    for name, arrays in cases.items():
        if arrays is not None:
            write_npz(tmp_path / name, **arrays)
        with pytest.raises(InvalidInputError):
            numerics.load_gmm_dataset(tmp_path / name)
