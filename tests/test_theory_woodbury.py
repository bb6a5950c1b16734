import numpy as np
import pytest
import sympy as sp

from memlab import InvalidInputError, theory


@pytest.mark.parametrize("c, D", [(1, 1), (2, 2), (3, 2)])
def test_proofs_hold(c, D):
    inv = theory.prove_woodbury_inverse(c=c, D=D)
    logdet = theory.prove_woodbury_logdet(c=c, D=D)
    for proof in (inv, logdet):
        assert proof and proof.holds and proof.explicit and proof.general and proof.sizes == ((c, D),)
        assert proof.seconds < 10


def test_wrong_inverse_is_rejected():
    # forgets ||x||^2 in the denominator
    proof = theory.prove_woodbury_inverse(
        c=3, D=2, coefficient=lambda a, sc, st, s: a**2 * sc**2 / (st**2 + a**2 * sc**2)
    )
    assert not proof and not proof.explicit and not proof.general and "nonzero" in proof.residual


def test_wrong_logdet_is_rejected():
    # forgets the factor c in front of the second log
    wrong = lambda c, D, a, sc, st, s: c * D * sp.log(st**2) + sp.log(1 + a**2 * sc**2 * s / st**2)
    proof = theory.prove_woodbury_logdet(c=3, D=2, claimed_logdet=wrong)
    assert not proof and not proof.explicit and not proof.general
    # for c = 1 the wrong formula coincides with the right one at that size, but the size-free check catches it
    proof_c1 = theory.prove_woodbury_logdet(c=1, D=2, claimed_logdet=wrong)
    assert proof_c1.explicit and not proof_c1.general and not proof_c1


def test_numeric_spot_check_float64():
    """Independent float64 check on a larger size than the symbolic one (c=3, D=16)."""
    rng = np.random.default_rng(1)
    c, D, alpha, sc, st = 3, 16, 0.7, 1.3, 0.4
    x = rng.normal(size=(D, 1))
    A = np.kron(np.eye(c), x)
    mat = alpha**2 * sc**2 * A @ A.T + st**2 * np.eye(c * D)
    s = float(np.sum(x**2))
    inv = (np.eye(c * D) - alpha**2 * sc**2 / (st**2 + alpha**2 * sc**2 * s) * A @ A.T) / st**2
    np.testing.assert_allclose(inv @ mat, np.eye(c * D), atol=1e-10)
    sign, logdet = np.linalg.slogdet(mat)
    assert sign == 1 and logdet == pytest.approx(
        c * D * np.log(st**2) + c * np.log1p(alpha**2 * sc**2 * s / st**2), rel=1e-12
    )


@pytest.mark.parametrize("c, D", [(0, 2), (2, 0), (1.5, 2), (5, 5)])
def test_bad_sizes(c, D):
    with pytest.raises(InvalidInputError):
        theory.prove_woodbury_inverse(c=c, D=D)
