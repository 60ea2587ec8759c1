"""IDX parsing and the MNIST / Fashion-MNIST loaders.

Tiny synthetic IDX gz files test the parser and the whole fetch-and-decode path
offline (served through file:// URLs). The real files are checked only when a
local copy exists: $ZEROKARA_DATA_DIR first, else <repo>/../shared/data.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from zerokara.data import load_fashion_mnist, load_mnist
from zerokara.data.mnist import (FASHION_MNIST, FILE_NAMES, IMAGES_MAGIC, LABELS_MAGIC, MNIST,
                                 IdxSource, load_idx, read_idx)
from zerokara.errors import DataError, InputError

REPO_ROOT = Path(__file__).resolve().parents[2]


def idx_bytes(arr: np.ndarray, magic: int | None = None,
              shape: tuple[int, ...] | None = None) -> bytes:
    """Raw IDX bytes for a uint8 array; ``magic``/``shape`` override the header to corrupt it."""
    shape = arr.shape if shape is None else shape
    magic = (0x800 | arr.ndim) if magic is None else magic
    header = struct.pack(">I", magic) + struct.pack(f">{len(shape)}I", *shape)
    return header + arr.astype(np.uint8).tobytes()


def write_gz(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data))
    return path


# ---------------------------------------------------------------- parser


def test_read_idx_images_and_labels(tmp_path):
    imgs = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    labels = np.array([2, 0, 9], dtype=np.uint8)
    x = read_idx(write_gz(tmp_path / "x.gz", idx_bytes(imgs)), IMAGES_MAGIC)
    t = read_idx(write_gz(tmp_path / "t.gz", idx_bytes(labels)), LABELS_MAGIC)
    assert x.dtype == np.uint8 and x.shape == (3, 4, 5)
    np.testing.assert_array_equal(x, imgs)
    np.testing.assert_array_equal(t, labels)


@pytest.mark.parametrize("case", ["bad-magic", "labels-as-images", "truncated", "too-long",
                                  "short-header", "empty"])
def test_read_idx_rejects_invalid_idx(tmp_path, case):
    imgs = np.zeros((2, 3, 3), dtype=np.uint8)
    data = {
        "bad-magic": idx_bytes(imgs, magic=0x0D03),
        "labels-as-images": idx_bytes(np.zeros(5, np.uint8)),
        "truncated": idx_bytes(imgs)[:-1],
        "too-long": idx_bytes(imgs) + b"\0",
        "short-header": idx_bytes(imgs)[:8],
        "empty": b"",
    }[case]
    path = write_gz(tmp_path / f"{case}.gz", data)
    with pytest.raises(DataError, match="not a valid IDX file") as info:
        read_idx(path, IMAGES_MAGIC)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_read_idx_reports_declared_vs_actual_size(tmp_path):
    path = write_gz(tmp_path / "x.gz", idx_bytes(np.zeros((2, 3, 3), np.uint8), shape=(5, 3, 3)))
    with pytest.raises(DataError, match=r"\(5, 3, 3\) = 45 bytes, payload has 18"):
        read_idx(path, IMAGES_MAGIC)


@pytest.mark.parametrize("case", ["not-gzip", "cut-gzip"])
def test_read_idx_rejects_bad_gzip(tmp_path, case):
    good = gzip.compress(idx_bytes(np.zeros((2, 3, 3), np.uint8)))
    path = tmp_path / "x.gz"
    path.write_bytes(idx_bytes(np.zeros((2, 3, 3), np.uint8)) if case == "not-gzip" else good[:-12])
    with pytest.raises(DataError, match="not a valid gzip file") as info:
        read_idx(path, IMAGES_MAGIC)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------- loader on tiny data


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A 28x28 IDX data set (5 train, 3 test) on a file:// mirror; returns (source, arrays)."""
    rng = np.random.default_rng(0)
    arrays = {
        FILE_NAMES[0]: rng.integers(0, 256, (5, 28, 28), dtype=np.uint8),
        FILE_NAMES[1]: np.array([0, 9, 3, 3, 1], np.uint8),
        FILE_NAMES[2]: rng.integers(0, 256, (3, 28, 28), dtype=np.uint8),
        FILE_NAMES[3]: np.array([7, 0, 5], np.uint8),
    }
    arrays[FILE_NAMES[0]][0, 0, 0], arrays[FILE_NAMES[0]][0, 0, 1] = 0, 255
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    sha = {}
    for name, arr in arrays.items():
        sha[name] = hashlib.sha256(write_gz(mirror / name, idx_bytes(arr)).read_bytes()).hexdigest()
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(tmp_path / "data"))
    source = IdxSource(name="Tiny", folder="tiny", mirrors=(mirror.as_uri(),), sha256=sha)
    return source, arrays


def test_load_idx_defaults(tiny, tmp_path):
    source, arrays = tiny
    (x, t), (xt, tt) = load_idx(source)
    assert x.shape == (5, 784) and x.dtype == np.float32
    assert xt.shape == (3, 784)
    assert t.dtype == np.int64 and t.tolist() == [0, 9, 3, 3, 1] and tt.tolist() == [7, 0, 5]
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_allclose(x, arrays[FILE_NAMES[0]].reshape(5, 784) / 255, rtol=1e-6)
    # the download landed where fetch puts it
    assert sorted(p.name for p in (tmp_path / "data" / "tiny").iterdir()) == sorted(FILE_NAMES)


def test_load_idx_raw_unflattened_one_hot(tiny):
    source, arrays = tiny
    (x, t), (xt, tt) = load_idx(source, normalize=False, flatten=False, one_hot=True,
                                dtype=np.float64)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float64 and xt.shape == (3, 1, 28, 28)
    np.testing.assert_array_equal(x[:, 0], arrays[FILE_NAMES[0]])
    assert t.shape == (5, 10) and tt.shape == (3, 10) and t.dtype == np.float64
    np.testing.assert_array_equal(t.argmax(axis=1), [0, 9, 3, 3, 1])
    np.testing.assert_array_equal(t.sum(axis=1), 1)
    x[0, 0, 0, 0] = 1  # results are writable copies


def test_load_idx_uint8_raw(tiny):
    source, arrays = tiny
    (x, _), _ = load_idx(source, normalize=False, dtype=np.uint8)
    assert x.dtype == np.uint8
    np.testing.assert_array_equal(x, arrays[FILE_NAMES[0]].reshape(5, 784))


def test_normalize_needs_float_dtype(tiny):
    with pytest.raises(InputError, match="dtype"):
        load_idx(tiny[0], dtype=np.uint8)


def test_mismatched_counts_and_bad_labels(tiny, tmp_path):
    source, arrays = tiny
    mirror = tmp_path / "mirror"
    sha = dict(source.sha256)
    for labels, folder in [(np.array([0, 1, 2, 3], np.uint8), "short"),
                           (np.array([0, 1, 2, 3, 10], np.uint8), "big")]:
        path = write_gz(mirror / FILE_NAMES[1], idx_bytes(labels))
        sha[FILE_NAMES[1]] = hashlib.sha256(path.read_bytes()).hexdigest()
        src = replace(source, folder=folder, sha256=dict(sha))
        with pytest.raises(DataError, match="4 labels" if folder == "short" else "label 10"):
            load_idx(src)


def test_corrupt_cached_file_is_reported_not_replaced(tiny, tmp_path):
    source, _ = tiny
    local = tmp_path / "data" / "tiny" / FILE_NAMES[0]
    local.parent.mkdir(parents=True)
    local.write_bytes(b"garbage")
    with pytest.raises(DataError, match="is corrupt") as info:
        load_idx(source)
    assert str(local) in str(info.value)
    assert local.read_bytes() == b"garbage"


def test_sources_list_their_files():
    for source, folder in [(MNIST, "mnist"), (FASHION_MNIST, "fashion-mnist")]:
        files = source.files()
        assert [rel for rel, _, _ in files] == [f"{folder}/{n}" for n in FILE_NAMES]
        for rel, urls, sha in files:
            assert len(sha) == 64 and all(u.endswith("/" + rel.split("/")[1]) for u in urls)
    assert MNIST.files()[0][1][0] == "http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz"


# ---------------------------------------------------------------- real data (when present)


def real_root(folder: str) -> Path:
    """The first data dir holding all four files of ``folder``, else skip the test."""
    candidates = []
    if os.environ.get("ZEROKARA_DATA_DIR"):
        candidates.append(Path(os.environ["ZEROKARA_DATA_DIR"]))
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for root in candidates:
        if all((root / folder / name).is_file() for name in FILE_NAMES):
            return root
    pytest.skip(f"real {folder} files not found in {', '.join(map(str, candidates))}")


@pytest.fixture(scope="module")
def real_mnist():
    root = real_root("mnist")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZEROKARA_DATA_DIR", str(root))
        return load_mnist()


@pytest.fixture(scope="module")
def real_fashion():
    root = real_root("fashion-mnist")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ZEROKARA_DATA_DIR", str(root))
        return load_fashion_mnist()


def test_real_mnist(real_mnist):
    (x, t), (xt, tt) = real_mnist
    assert x.shape == (60000, 784) and xt.shape == (10000, 784) and x.dtype == np.float32
    assert t.shape == (60000,) and tt.shape == (10000,) and t.dtype == np.int64
    assert np.bincount(t).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(tt).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert 0.0 <= x.min() and x.max() == 1.0
    # mean raw pixel: 33.3184 (train), 33.7912 (test) in 0..255 units
    assert x.mean(dtype=np.float64) * 255 == pytest.approx(33.3184, abs=1e-4)
    assert xt.mean(dtype=np.float64) * 255 == pytest.approx(33.7912, abs=1e-4)


def test_real_fashion_mnist(real_fashion):
    (x, t), (xt, tt) = real_fashion
    assert x.shape == (60000, 784) and xt.shape == (10000, 784)
    assert np.bincount(t).tolist() == [6000] * 10
    assert np.bincount(tt).tolist() == [1000] * 10
    assert 0.0 <= x.min() and x.max() == 1.0
