"""Run folders on disk: config.json, metrics.json, accuracy_matrix.csv, checkpoint.pt, plots/.

Every file is written atomically (temp file in the same folder, then ``os.replace``), so an
interrupted run never leaves a half-written result, and ``--resume`` continues from the
last checkpoint: the last finished task, or the last learning-curve point within a task.
"""

from __future__ import annotations

import csv
import json
import math
import os
import pickle
import platform
import re
import shutil
import struct
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch


class RunDirError(ValueError):
    """The output folder cannot be used as asked; the message says which flag to use."""


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    """Write ``path`` through ``write(fileobj)`` into a temp file, then rename it into place.

    The file gets the permissions of a plain ``open`` (0666 less the umask, e.g. 0644), not the
    0600 of the temporary file, so other users of a shared machine can read results.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _clean(obj: Any) -> Any:
    """JSON-safe copy: numpy to lists, NaN/inf to null."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda f: json.dump(_clean(obj), f, indent=2, allow_nan=False))


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """CSV via the csv module (task names such as "{0,1}" get quoted); floats to 6 decimals, NaN empty."""

    def cell(v: Any) -> Any:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else f"{v:.6f}"
        return v

    def write(f):
        out = csv.writer(f, lineterminator="\n")
        out.writerow(header)
        out.writerows([cell(v) for v in row] for row in rows)

    atomic_write(path, write)


def provenance() -> dict[str, str]:
    """Git revision of the code and library versions, stored beside the config."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        rev = "unknown"
    return {"git_revision": rev, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "brian2": metadata.version("brian2"), "machine": platform.machine()}


_ARRAY = "__ndarray__"  # a numpy array inside a checkpoint, stored as a tensor under this single key


def to_safe(obj: Any) -> Any:
    """A copy of ``obj`` that ``torch.load(weights_only=True)`` can read: numpy arrays become tagged tensors,
    numpy scalars Python numbers; tensors, dicts, lists, tuples and plain values stay as they are."""
    if isinstance(obj, dict):
        return {k: to_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(to_safe(v) for v in obj)
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("a checkpoint cannot hold numpy object arrays")
        return {_ARRAY: torch.from_numpy(np.ascontiguousarray(obj).copy())}
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def from_safe(obj: Any) -> Any:
    """Inverse of :func:`to_safe`."""
    if isinstance(obj, dict):
        if set(obj) == {_ARRAY}:
            return obj[_ARRAY].numpy()
        return {k: from_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(from_safe(v) for v in obj)
    return obj


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a checkpoint with ``torch.load(weights_only=True)``: tensors and plain data only, never code.

    A file that needs arbitrary unpickling (written by an older version, or crafted to run code), a
    truncated or corrupt file raises ``RunDirError`` naming it. Loads onto the CPU: a run checkpointed on
    a GPU resumes on a machine without one; the learners move their state to their own device.
    """
    try:
        with warnings.catch_warnings():  # a corrupt file can name any pickle protocol; the error below says enough
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if re.search(r"\bglobal\b", str(exc), re.IGNORECASE):  # torch's weights-only loader refused a class
            raise RunDirError(f"{path} holds objects other than tensors and plain data, so it is not loaded (a "
                              "checkpoint of an older version, or one crafted to run code); start again with "
                              "--overwrite.") from None
        raise RunDirError(f"{path} is damaged or truncated (not a readable checkpoint); start again with "
                          "--overwrite.") from None
    # what corrupt bytes make the unpickler raise
    except (RuntimeError, EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            OverflowError, struct.error) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RunDirError(f"{path} is damaged or truncated ({reason}); start again with --overwrite.") from None
    if not isinstance(state, dict):
        raise RunDirError(f"{path} is not a checkpoint of this program; start again with --overwrite.")
    return from_safe(state)


class RunDir:
    """One run's folder. ``prepare`` decides between new run, resume and overwrite."""

    CONFIG, METRICS, CHECKPOINT = "config.json", "metrics.json", "checkpoint.pt"

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._started: str | None = None  # set by prepare: "folder" (made it) or "files" (in an empty folder)

    def prepare(self, config: dict[str, Any], *, resume: bool, overwrite: bool,
                defaults: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Make the folder ready; return the checkpoint to resume from, or None for a fresh run.

        ``defaults``: values of options that a run written by an older version may not have stored
        (an option added since); a stored run without the key counts as having the default.
        """
        if resume and overwrite:
            raise RunDirError("--resume and --overwrite contradict each other; pick one.")
        config_path = self.path / self.CONFIG
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"--out {self.path} is a file; give a folder.")
        existing = self.path.exists() and any(self.path.iterdir())
        if existing and not config_path.exists():
            raise RunDirError(f"--out {self.path} is a non-empty folder that holds no run (no {self.CONFIG}); "
                              "choose an empty or new folder.")
        if existing and overwrite:
            shutil.rmtree(self.path)
            existing = False
        if existing:
            if not resume:
                raise RunDirError(f"--out {self.path} already holds a run; pass --resume to continue it or "
                                  "--overwrite to replace it.")
            self.check_settings(config, defaults, hint="use the same options or --overwrite")
            ckpt = self.path / self.CHECKPOINT
            return load_checkpoint(ckpt) if ckpt.exists() else None
        if resume:
            raise RunDirError(f"--resume: {self.path} holds no run to continue; drop --resume to start a new run.")
        self._started = "files" if self.path.exists() else "folder"
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(config_path, {"config": config, "provenance": provenance()})
        return None

    def abandon(self) -> None:
        """Undo a new run that failed before its first checkpoint, so that the corrected command needs no
        --overwrite: remove what :meth:`prepare` started (the folder if it made it, else the files in it).
        A resumed run, or one with a checkpoint, is left as it is."""
        if self._started is None or (self.path / self.CHECKPOINT).exists():
            return
        if self._started == "folder":
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            for child in self.path.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        self._started = None

    def check_settings(self, config: dict[str, Any], defaults: dict[str, Any] | None = None, *, hint: str) -> None:
        """Raise ``RunDirError`` (ending with ``hint``) naming every setting, the device apart, in which the
        run stored here differs from ``config``; ``defaults`` as in :meth:`prepare`."""
        stored = self.stored_config(defaults)
        diff = {k for k in set(stored) | set(config) if k != "device" and stored.get(k) != config.get(k)}
        if diff:
            raise RunDirError(f"{self.path} holds a run with different settings ({', '.join(sorted(diff))}); {hint}.")

    def stored_config(self, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
        """The settings stored in config.json, over ``defaults``: a run made before a setting existed stored
        none for it and ran with its default. A damaged file raises ``RunDirError`` naming it."""
        try:
            return {**(defaults or {}), **json.loads((self.path / self.CONFIG).read_text())["config"]}
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise RunDirError(f"{self.path / self.CONFIG} is damaged ({type(exc).__name__}: {exc}).") from None

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        """Write ``state`` (nested dicts and lists of tensors, numpy arrays and plain values) atomically."""
        safe = to_safe(state)
        atomic_write(self.path / self.CHECKPOINT, lambda f: torch.save(safe, f), mode="wb")

    def load_learner(self, learner: Any, state: dict[str, Any]) -> None:
        """``learner.load_state_dict(state)`` for the run stored here (resumed or read back); a circuit saved with
        other parameters than this version builds (its defaults changed since) is refused with the revision that
        wrote the run."""
        try:
            learner.load_state_dict(state)
        except ValueError as exc:
            from bio.circuit import ParameterMismatch  # only here: other learners do not need Brian2

            if not isinstance(exc, ParameterMismatch):
                raise
            written = json.loads((self.path / self.CONFIG).read_text()).get("provenance", {}).get("git_revision", "?")
            raise RunDirError(f"{self.path}: its circuit was saved with other parameters than this version builds "
                              f"({exc.listed}; written at git revision {written}); run it again with --overwrite, or "
                              "use that revision.") from None

    def file(self, name: str) -> Path:
        return self.path / name
