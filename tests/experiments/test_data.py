"""Datasets: digits, IDX files (generated fixtures, gzipped and raw), npz, and clear errors."""

import gzip
import struct

import numpy as np
import pytest

from experiments.data import DataError, load_dataset, read_idx
from experiments.streams import class_incremental, permuted


def write_idx(path, array, compress):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def make_idx_dir(tmp_path, compress, n_train=40, n_test=20):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": np.arange(n_test) % 10,
    }
    for name, arr in arrays.items():
        write_idx(tmp_path / name, arr, compress)
    return arrays


@pytest.mark.parametrize("compress", [True, False])
def test_idx_round_trip(tmp_path, compress):
    arrays = make_idx_dir(tmp_path, compress)
    d = load_dataset("mnist", tmp_path)
    assert d.x_train.shape == (40, 784) and d.x_train.dtype == np.float32
    assert np.allclose(d.x_train * 255, arrays["train-images-idx3-ubyte"].reshape(40, -1))
    assert d.y_test.tolist() == arrays["t10k-labels-idx1-ubyte"].tolist()
    assert d.n_classes == 10


def test_env_var_is_used(tmp_path, monkeypatch):
    make_idx_dir(tmp_path, True)
    monkeypatch.setenv("CSDM_DATA_DIR", str(tmp_path))
    assert load_dataset("fashion-mnist").x_test.shape == (20, 784)


def test_missing_files_message(tmp_path):
    with pytest.raises(DataError, match="get-mnist.sh") as exc:
        load_dataset("mnist", tmp_path)
    assert "\n" not in str(exc.value)


def test_corrupt_idx(tmp_path):
    make_idx_dir(tmp_path, False)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dataset("mnist", tmp_path)
    path.write_bytes(b"\x01\x02\x03\x04garbage")
    with pytest.raises(DataError, match="magic"):
        read_idx(path)


def test_corrupt_gzip(tmp_path):
    make_idx_dir(tmp_path, True)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="cannot read"):
        load_dataset("mnist", tmp_path)


def test_npz(tmp_path):
    rng = np.random.default_rng(1)
    f = tmp_path / "emb.npz"
    np.savez(f, x_train=rng.random((30, 5)), y_train=np.arange(30) % 3, x_test=rng.random((9, 5)),
             y_test=np.arange(9) % 3)
    d = load_dataset("npz", f)
    assert d.n_inputs == 5 and d.n_classes == 3
    np.savez(f, x_train=np.full((3, 2), np.nan), y_train=np.arange(3), x_test=np.ones((3, 2)), y_test=np.arange(3))
    with pytest.raises(DataError, match="NaN"):
        load_dataset("npz", f)
    np.savez(f, x_train=np.ones((3, 2)))
    with pytest.raises(DataError, match="missing arrays"):
        load_dataset("npz", f)
    with pytest.raises(DataError, match="no such"):
        load_dataset("npz", tmp_path / "nope.npz")


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("imagenet")


def test_digits_and_streams():
    d = load_dataset("digits")
    assert d.x_train.shape[1] == 64 and d.x_train.min() >= 0 and d.x_train.max() <= 1
    assert len(d.x_train) + len(d.x_test) == 1797
    s = class_incremental(d, 2)
    assert [t.classes for t in s] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    for t in s:
        assert set(np.unique(t.y_train)) == set(t.classes) == set(np.unique(t.y_test))
    assert sum(len(t.x_train) for t in s) == len(d.x_train)
    r1, r2 = class_incremental(d, 5, "random", seed=3), class_incremental(d, 5, "random", seed=3)
    assert [t.classes for t in r1] == [t.classes for t in r2]
    assert sorted(sum((t.classes for t in r1), ())) == list(range(10))
    with pytest.raises(DataError, match="divisor"):
        class_incremental(d, 3)


def test_permuted_stream():
    d = load_dataset("digits")
    s = permuted(d, 3, seed=0)
    assert len(s) == 3 and np.array_equal(s[0].x_train, d.x_train)
    assert not np.array_equal(s[1].x_train, d.x_train)
    assert np.allclose(np.sort(s[2].x_train, axis=1), np.sort(d.x_train, axis=1))
