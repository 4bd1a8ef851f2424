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
    with pytest.raises(DataError, match=r"cerebellar-sdm\[data\].*csdm data mnist DIR") as exc:
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


def npz_arrays(**replace):
    """A valid dataset's four arrays, with ``replace`` swapped in."""
    rng = np.random.default_rng(2)
    arrays = {"x_train": rng.random((6, 4)), "y_train": np.arange(6) % 2, "x_test": rng.random((4, 4)),
              "y_test": np.arange(4) % 2}
    return {**arrays, **replace}


def refused(path, match):
    """load_dataset('npz', path) raises a one-line DataError (a ValueError) matching ``match`` and naming the file."""
    with pytest.raises(DataError, match=match) as exc:
        load_dataset("npz", path)
    assert isinstance(exc.value, ValueError) and "\n" not in str(exc.value) and path.name in str(exc.value)


def test_npz_damaged_files(tmp_path):
    f = tmp_path / "data.npz"
    np.savez(f, **npz_arrays())
    f.write_bytes(f.read_bytes()[:200])
    refused(f, r"truncated or corrupt \.npz archive .*np\.savez")
    f.write_bytes(b"")
    refused(f, r"not an \.npz archive \(an empty file\)")
    f.write_bytes(b"hello, world")
    refused(f, r"not an \.npz archive \(no zip archive header\)")
    npy = tmp_path / "single.npy"
    np.save(npy, np.ones(3))
    renamed = npy.rename(tmp_path / "single.npz")
    refused(renamed, r"is a single \.npy array, not an \.npz archive")


@pytest.mark.parametrize("replace, match", [
    ({"x_train": np.array(1.0)}, r"x_train is a 0-d array"),
    ({"y_test": np.array(1)}, r"y_test is a 0-d array"),
    ({"x_train": np.ones((6, 2, 2)), "x_test": np.ones((4, 2, 2))},
     r"x_train has shape \(6, 2, 2\), expected \(n_samples, n_inputs\); flatten"),
    ({"y_train": (np.arange(6) % 2).reshape(6, 1, 1)}, r"y_train has shape \(6, 1, 1\), expected \(n_samples,\)"),
    ({"x_train": np.full((6, 4), "0.5")}, r"x_train has dtype <U3, expected numbers"),
    ({"x_test": np.ones((4, 4), complex)}, r"x_test has dtype complex128"),
    ({"y_train": np.array(["0", "1"] * 3)}, r"y_train must hold integer class labels, got dtype <U1"),
    ({"x_train": np.ones((0, 4)), "y_train": np.zeros(0, int)}, r"the train split is empty \(0 samples\)"),
    ({"x_test": np.ones((0, 4)), "y_test": np.zeros(0, int)}, r"the test split is empty \(0 samples\)"),
    ({"x_train": np.ones((6, 0)), "x_test": np.ones((4, 0))}, r"x_train has 0 features"),
])
def test_npz_refuses_instead_of_reshaping_or_casting(tmp_path, replace, match):
    f = tmp_path / "data.npz"
    np.savez(f, **npz_arrays(**replace))
    refused(f, match)


def test_npz_keeps_valid_numbers(tmp_path):
    f = tmp_path / "data.npz"
    np.savez(f, **npz_arrays(x_train=np.ones((6, 4), bool), y_train=np.arange(6, dtype=np.uint8) % 2))
    d = load_dataset("npz", f)
    assert d.x_train.dtype == np.float32 and d.x_train.shape == (6, 4) and d.y_train.dtype == np.int64


def test_class_without_test_samples(tmp_path):
    f = tmp_path / "data.npz"
    np.savez(f, **npz_arrays(y_train=np.arange(6) % 4, y_test=np.arange(4) % 2))
    with pytest.raises(DataError, match=r"task 1 \(classes \[2, 3\]\) has no test samples"):
        class_incremental(load_dataset("npz", f), 2)


@pytest.mark.parametrize("data, match", [
    (b"", "bad magic"),
    (b"\x00\x00\x08\x00", "bad magic"),  # 0 dimensions
    (b"\x00\x00\x08\x01\x00\x00", r"truncated or corrupt IDX file \(header says \(\), 0 data bytes\)"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", r"truncated or corrupt IDX file \(header says \(5,\), 3 data bytes\)"),
])
def test_idx_damaged(tmp_path, data, match):
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(data)
    with pytest.raises(DataError, match=match):
        read_idx(path)


def test_idx_wrong_shapes_and_empty(tmp_path):
    make_idx_dir(tmp_path, False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((40, 1)), False)
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte: holds an array of shape \(40, 1\), expected labels"):
        load_dataset("mnist", tmp_path)
    make_idx_dir(tmp_path, False, n_test=0)
    with pytest.raises(DataError, match=r"the test split is empty"):
        load_dataset("mnist", tmp_path)


def test_corrupt_deflate_stream(tmp_path):
    make_idx_dir(tmp_path, True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[10:30] = b"\xff" * 20  # the first deflate block header: zlib.error, not an OSError
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: cannot read IDX file \(Error -3"):
        load_dataset("mnist", tmp_path)
