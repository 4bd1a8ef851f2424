"""Property-based fuzzing of the loaders and the config (issue 21): whatever bytes a user hands over as an
.npz, an IDX file or a TOML config, the result is a valid dataset or config, or a ValueError /
FileNotFoundError with a one-line message (which the CLI turns into exit 2), never another exception.
"""

import gzip
import io
import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from typer.testing import CliRunner

from experiments.cli import app
from experiments.config import TrainConfig, build_config
from experiments.data import IDX_FILES, Dataset, load_dataset

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One folder for the whole module (hypothesis refuses function-scoped fixtures); each example overwrites."""
    return tmp_path_factory.mktemp("fuzz")


def loads_or_refuses(load):
    """Call ``load()``; it returns a result or raises ValueError/FileNotFoundError with a one-line message."""
    try:
        return load()
    except (ValueError, FileNotFoundError) as exc:
        message = str(exc)
        assert message and "\n" not in message, repr(message)
        return None


def corrupted(data: st.DataObject, valid: bytes) -> bytes:
    """``valid`` with a few bytes overwritten, then perhaps truncated."""
    raw = bytearray(valid)
    for _ in range(data.draw(st.integers(0, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    return bytes(raw[: data.draw(st.integers(0, len(raw)))])


# --- .npz --------------------------------------------------------------------------------------------------

def npz_bytes(compressed: bool = False, **arrays) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


VALID_NPZ = {"x_train": np.eye(4), "y_train": np.arange(4) % 2, "x_test": np.eye(4)[:2], "y_test": np.arange(2)}


def load_npz(folder, raw: bytes):
    path = folder / "data.npz"
    path.write_bytes(raw)
    dataset = loads_or_refuses(lambda: load_dataset("npz", path))
    assert dataset is None or isinstance(dataset, Dataset)
    return dataset


@FUZZ
@given(raw=st.binary(max_size=600))
@example(raw=b"")
@example(raw=b"PK\x05\x06" + bytes(18))  # an empty zip archive
@example(raw=b"\x93NUMPY\x01\x00")  # a truncated .npy
def test_fuzz_npz_any_bytes(folder, raw):
    load_npz(folder, raw)


@FUZZ
@given(data=st.data(), compressed=st.booleans())
def test_fuzz_npz_corrupted_archive(folder, data, compressed):
    load_npz(folder, corrupted(data, npz_bytes(compressed, **VALID_NPZ)))


ANY_DTYPE = st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(), hnp.unicode_string_dtypes())


@FUZZ
@given(arrays=st.fixed_dictionaries({k: hnp.arrays(ANY_DTYPE, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0))
                                     for k in IDX_FILES}))
def test_fuzz_npz_any_arrays(folder, arrays):
    dataset = load_npz(folder, npz_bytes(**arrays))
    if dataset is not None:  # accepted only as given: nothing reshaped, no strings cast
        for key in IDX_FILES:
            assert getattr(dataset, key).shape == arrays[key].shape
            assert arrays[key].dtype.kind in "biuf"


# --- IDX -----------------------------------------------------------------------------------------------------

def idx_bytes(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


VALID_IDX = {"x_train": np.zeros((4, 2, 2), np.uint8), "y_train": np.arange(4, dtype=np.uint8),
             "x_test": np.zeros((2, 2, 2), np.uint8), "y_test": np.arange(2, dtype=np.uint8)}


def load_idx(folder, key: str, raw: bytes, gz: bool):
    """Four IDX files in ``folder``, ``key``'s replaced by ``raw`` (gzipped when ``gz``)."""
    for path in folder.glob("*ubyte*"):
        path.unlink()
    for name, stem in IDX_FILES.items():
        data = raw if name == key else idx_bytes(VALID_IDX[name])
        (folder / (stem + ".gz" if gz else stem)).write_bytes(gzip.compress(data) if gz and name != key else data)
    dataset = loads_or_refuses(lambda: load_dataset("mnist", folder))
    assert dataset is None or isinstance(dataset, Dataset)


@FUZZ
@given(key=st.sampled_from(list(IDX_FILES)), raw=st.binary(max_size=300), gz=st.booleans())
@example(key="x_train", raw=b"\x00\x00\x08\x03" + bytes(12), gz=False)  # no images
@example(key="y_test", raw=b"\x00\x00\x08\xff", gz=False)  # 255 dimensions, none given
def test_fuzz_idx_any_bytes(folder, key, raw, gz):
    load_idx(folder, key, raw, gz)


@FUZZ
@given(data=st.data(), key=st.sampled_from(list(IDX_FILES)), gz=st.booleans())
def test_fuzz_idx_corrupted_file(folder, data, key, gz):
    valid = idx_bytes(VALID_IDX[key])
    load_idx(folder, key, corrupted(data, gzip.compress(valid) if gz else valid), gz)


# --- TOML config ---------------------------------------------------------------------------------------------

def toml_value(value) -> str:
    """``value`` as TOML (JSON's strings, numbers and arrays are TOML too, bar the booleans' case)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and not np.isfinite(value):
        return "nan" if np.isnan(value) else ("inf" if value > 0 else "-inf")
    return json.dumps(value)


OPTION = st.sampled_from(sorted(TrainConfig.model_fields)).map(lambda n: n.replace("_", "-")) | st.text(max_size=8)
VALUE = st.one_of(st.integers(-10**6, 10**6), st.floats(), st.booleans(), st.text(max_size=10),
                  st.lists(st.integers(), max_size=3))


def load_toml(folder, raw: bytes):
    path = folder / "config.toml"
    path.write_bytes(raw)
    config = loads_or_refuses(lambda: build_config({}, path))
    assert config is None or isinstance(config, TrainConfig)


@FUZZ
@given(raw=st.binary(max_size=300))
@example(raw=b"\xff\xfe\x00binary")
@example(raw=b"a = " + b"[" * 5000)  # nested past Python's recursion limit
@example(raw=b'"a\\nb" = 1')  # a key with a newline
def test_fuzz_toml_any_bytes(folder, raw):
    load_toml(folder, raw)


@FUZZ
@given(settings_=st.dictionaries(OPTION, VALUE, max_size=4))
def test_fuzz_toml_any_settings(folder, settings_):
    lines = [f"{json.dumps(key)} = {toml_value(value)}" for key, value in settings_.items()]
    load_toml(folder, "\n".join(lines).encode())


# --- the messages the user sees ------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, match", [
    (b"\xff\xfe\x00binary", r"--config .*config.toml: not a UTF-8 text file \(byte 0\); give a TOML file\."),
    (b"k = = 3", r"--config .*config.toml: invalid TOML \(Invalid value \(at line 1, column 5\)\)\."),
    (b"a = " + b"[" * 5000, r"--config .*config.toml: invalid TOML \(nested too deeply\)\."),
    (b"n-neurons = 5\nn_neurons = 6", r"config.toml: sets n_neurons twice \(as n_neurons and n-neurons\); keep one"),
    (b"dataset = [" + b"0, " * 50 + b"]", r"^--dataset: Input should be a valid string\. Got \[(0, ){18}0,\.\.\.\.$"),
])
def test_config_file_messages(tmp_path, raw, match):
    path = tmp_path / "config.toml"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=match):
        build_config({}, path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ValueError, match=r"--config .*nope.toml: cannot read it \(No such file or directory\)"):
        build_config({}, tmp_path / "nope.toml")


def test_cli_exits_2_with_one_line(tmp_path):
    """End to end: a binary config and a truncated npz end in exit code 2 and one line, no traceback."""
    (tmp_path / "binary.toml").write_bytes(b"\x00\xff\xfe")
    (tmp_path / "cut.npz").write_bytes(npz_bytes(**VALID_NPZ)[:100])
    for args, name in ((["--config", str(tmp_path / "binary.toml")], "binary.toml"),
                       (["--dataset", "npz", "--data-dir", str(tmp_path / "cut.npz")], "cut.npz")):
        result = CliRunner().invoke(app, ["train", *args, "--out", str(tmp_path / "run"), "--quiet"])
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and name in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()
