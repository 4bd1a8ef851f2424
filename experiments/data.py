"""Datasets, all real and all offline: scikit-learn's digits (embedded default), MNIST and
Fashion-MNIST from standard IDX files, and user-supplied ``.npz`` arrays.

Every dataset is returned as float32 inputs in [0, 1] (pixels) or as given (npz), samples
in rows, and int64 labels 0..C-1. Missing or corrupt files raise :class:`DataError` with a
one-line message that says what to download and where to put it; there is never a silent
fallback to other data.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASETS = ("digits", "mnist", "fashion-mnist", "npz")
DATA_DIR_ENV = "CSDM_DATA_DIR"
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
_WHERE = {
    "mnist": "run ../shared/data/get-mnist.sh DIR (or download the four MNIST IDX files) and pass --data-dir DIR",
    "fashion-mnist": "apt-get install dataset-fashion-mnist (without root: apt-get download dataset-fashion-mnist "
    "&& dpkg-deb -x dataset-fashion-mnist_*.deb pkg, then --data-dir pkg/usr/share/datasets/fashion-mnist), or "
    "put the four Fashion-MNIST IDX files in a folder and pass --data-dir DIR",
}


class DataError(ValueError):
    """A dataset could not be loaded or failed validation; the message says how to fix it."""


@dataclass(frozen=True)
class Dataset:
    """Train and test arrays of one dataset: x (n, n_inputs) float32, y (n,) int64."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
                raise DataError(f"{self.name}: x_{split} {x.shape} and y_{split} {y.shape} do not match "
                                "(expected (n, n_inputs) and (n,)).")
            if not np.all(np.isfinite(x)):
                raise DataError(f"{self.name}: x_{split} contains NaN or inf.")
            if len(y) and (y.min() < 0 or not np.issubdtype(y.dtype, np.integer)):
                raise DataError(f"{self.name}: y_{split} must hold integer labels >= 0.")
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise DataError(f"{self.name}: train has {self.x_train.shape[1]} features, test "
                            f"{self.x_test.shape[1]}.")

    @property
    def n_inputs(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def load_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load ``name`` (one of :data:`DATASETS`).

    ``data_dir`` is the folder of the IDX files (mnist, fashion-mnist) or the ``.npz`` file
    (npz); when None, the environment variable ``CSDM_DATA_DIR`` is used, and for
    fashion-mnist also Debian's ``/usr/share/datasets/fashion-mnist``.
    """
    if name == "digits":
        return _digits()
    if name in ("mnist", "fashion-mnist"):
        return _idx_dataset(name, _find_idx_dir(name, data_dir))
    if name == "npz":
        return _npz(data_dir)
    raise DataError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}.")


def _digits() -> Dataset:
    """scikit-learn's 1,797 8x8 digits (UCI), pixels /16, a fixed stratified 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32)
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, stratify=y, random_state=0)
    return Dataset("digits", x_tr, y_tr, x_te, y_te)


def _find_idx_dir(name: str, data_dir) -> Path:
    candidates = [Path(data_dir)] if data_dir else []
    if not data_dir and os.environ.get(DATA_DIR_ENV):
        candidates.append(Path(os.environ[DATA_DIR_ENV]))
    if not data_dir and name == "fashion-mnist":
        candidates.append(FASHION_SYSTEM_DIR)
    for folder in candidates:
        if all(_idx_path(folder, stem) for stem in IDX_FILES.values()):
            return folder
    looked = ", ".join(str(c) for c in candidates) or f"nowhere (no --data-dir and no ${DATA_DIR_ENV})"
    raise DataError(f"{name}: the IDX files {', '.join(IDX_FILES.values())} (optionally .gz) were not found "
                    f"in {looked}; {_WHERE[name]}.")


def _idx_path(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz", folder / stem.replace("-idx", ".idx")):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzipped or not): magic 0x0000 08 NDIM, big-endian dims, uint8 data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc}).") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number); re-download it.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", raw[4:header]) if len(raw) >= header else ()
    expected = int(np.prod(dims)) if dims else -1
    if len(dims) != ndim or len(raw) - header != expected:
        raise DataError(f"{path}: truncated or corrupt IDX file (header says {dims}, "
                        f"{len(raw) - header} data bytes); re-download it.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _idx_dataset(name: str, folder: Path) -> Dataset:
    arrays = {key: read_idx(_idx_path(folder, stem)) for key, stem in IDX_FILES.items()}
    for split in ("train", "test"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise DataError(f"{name} in {folder}: {split} images and labels differ in count.")
    x = {k: (arrays[k].reshape(len(arrays[k]), -1) / 255.0).astype(np.float32) for k in ("x_train", "x_test")}
    return Dataset(name, x["x_train"], arrays["y_train"].astype(np.int64), x["x_test"],
                   arrays["y_test"].astype(np.int64))


def _npz(path) -> Dataset:
    if not path:
        raise DataError("--dataset npz needs --data-dir FILE.npz holding x_train, y_train, x_test, y_test.")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such .npz file (expected arrays x_train, y_train, x_test, y_test).")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in IDX_FILES if k not in z]
            if missing:
                raise DataError(f"{path}: missing arrays {missing}; expected x_train, y_train, x_test, y_test.")
            arrays = {k: z[k] for k in IDX_FILES}
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: not a readable .npz file ({exc}).") from exc
    for k in ("y_train", "y_test"):
        if not np.issubdtype(arrays[k].dtype, np.integer):
            raise DataError(f"{path}: {k} must hold integer class labels, got dtype {arrays[k].dtype}.")
    x = {k: arrays[k].reshape(len(arrays[k]), -1).astype(np.float32) for k in ("x_train", "x_test")}
    return Dataset(f"npz:{path.name}", x["x_train"], arrays["y_train"].astype(np.int64).ravel(),
                   x["x_test"], arrays["y_test"].astype(np.int64).ravel())
