import json

import numpy as np
import pytest

from memlab import InvalidInputError
from memlab import _io


def test_write_json_roundtrip_and_nonfinite(tmp_path):
    path = _io.write_json(tmp_path / "a" / "r.json", {"x": np.float32(1.5), "y": np.arange(3), "z": float("nan")})
    assert json.loads(path.read_text()) == {"x": 1.5, "y": [0, 1, 2], "z": None}


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with _io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_csv_full_precision(tmp_path):
    path = _io.write_csv(tmp_path / "t.csv", ["a", "b"], [[1, 0.1 + 0.2]])
    assert path.read_text().splitlines() == ["a,b", f"1,{0.1 + 0.2!r}"]


def test_npz_roundtrip_and_errors(tmp_path):
    _io.write_npz(tmp_path / "d.npz", a=np.eye(2))
    assert np.array_equal(_io.load_npz(tmp_path / "d.npz")["a"], np.eye(2))
    with pytest.raises(InvalidInputError, match="not found"):
        _io.load_npz(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_text("not a zip")
    with pytest.raises(InvalidInputError, match="not a readable"):
        _io.load_npz(tmp_path / "bad.npz")


def test_read_json_errors(tmp_path):
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InvalidInputError, match="malformed"):
        _io.read_json(tmp_path / "bad.json")


def test_results_get_ordinary_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        path = _io.write_text(tmp_path / "r.txt", "x")
    finally:
        os.umask(mask)
    assert (path.stat().st_mode & 0o777) == 0o644
