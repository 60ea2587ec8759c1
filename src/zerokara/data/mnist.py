"""MNIST and Fashion-MNIST from the four canonical IDX gz files (book 1, chapter 3).

Both data sets share one format and one code path (``load_idx``); they differ
only in folder, mirrors and hashes (an ``IdxSource``).

IDX format: a big-endian header ``0x00 0x00 <type> <ndim>`` (the magic number;
type 0x08 = unsigned byte), then ``ndim`` big-endian uint32 sizes, then the
payload in C order. Images are magic 0x803 (N, rows, cols), labels 0x801 (N,).
"""

from __future__ import annotations

import gzip
import math
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike

from zerokara.data.fetch import fetch
from zerokara.errors import DataError, InputError

IMAGES_MAGIC = 0x803
LABELS_MAGIC = 0x801

# The four files every IDX data set has, in the order (train x, train t, test x, test t).
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"
FILE_NAMES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)


@dataclass(frozen=True)
class IdxSource:
    """Where one IDX data set lives: its folder under ``data_dir()``, mirrors, hashes."""

    name: str  # shown in error messages, e.g. "MNIST"
    folder: str  # folder under data_dir(), e.g. "mnist"
    mirrors: tuple[str, ...]  # base URLs, tried in order; the file name is appended
    sha256: dict[str, str]  # file name -> expected SHA-256 (hex)
    num_classes: int = 10

    def file(self, name: str) -> tuple[str, list[str], str]:
        """``(relpath, urls, sha256)`` of one file, ready for ``fetch``."""
        urls = [base.rstrip("/") + "/" + name for base in self.mirrors]
        return f"{self.folder}/{name}", urls, self.sha256[name]

    def files(self) -> list[tuple[str, list[str], str]]:
        """``(relpath, urls, sha256)`` of all four files, e.g. for a CLI to report."""
        return [self.file(name) for name in FILE_NAMES]


MNIST = IdxSource(
    name="MNIST",
    folder="mnist",
    mirrors=(
        "http://yann.lecun.com/exdb/mnist",  # canonical; often refuses downloads nowadays
        "https://ossci-datasets.s3.amazonaws.com/mnist",
        "https://storage.googleapis.com/cvdf-datasets/mnist",
    ),
    sha256={
        TRAIN_IMAGES: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        TRAIN_LABELS: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        TEST_IMAGES: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        TEST_LABELS: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
)

FASHION_MNIST = IdxSource(
    name="Fashion-MNIST",
    folder="fashion-mnist",
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",),
    sha256={
        TRAIN_IMAGES: "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        TRAIN_LABELS: "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        TEST_IMAGES: "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        TEST_LABELS: "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
)

DATASETS = {"mnist": MNIST, "fashion-mnist": FASHION_MNIST}


def read_idx(path: str | Path, magic: int) -> np.ndarray:
    """Decode one gzipped unsigned-byte IDX file into a read-only uint8 array.

    ``magic`` is the expected magic number (0x803 images -> (N, rows, cols),
    0x801 labels -> (N,)). Raises ``DataError`` naming the file if it is not
    gzip, has another magic number, or its payload size disagrees with the header.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise DataError(
            f"{path}: not a valid gzip file ({' '.join(str(err).split())}); "
            f"delete it so it is downloaded again"
        ) from err

    def bad(what: str) -> DataError:
        return DataError(f"{path}: not a valid IDX file: {what}; delete it so it is downloaded again")

    if len(raw) < 4:
        raise bad(f"only {len(raw)} bytes")
    got = int.from_bytes(raw[:4], "big")
    if got != magic:
        raise bad(f"magic number 0x{got:08x}, expected 0x{magic:08x}")
    ndim = magic & 0xFF  # low byte of the magic is the number of dimensions
    offset = 4 + 4 * ndim
    if len(raw) < offset:
        raise bad(f"header truncated ({len(raw)} bytes)")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = math.prod(shape)  # Python ints: a corrupt header cannot overflow this
    payload = len(raw) - offset
    if payload != expected:
        raise bad(f"header declares shape {shape} = {expected} bytes, payload has {payload}")
    # frombuffer views the bytes without copying or looping; callers copy via astype.
    return np.frombuffer(raw, np.uint8, offset=offset).reshape(shape)


def _load_split(source: IdxSource, images: str, labels: str) -> tuple[np.ndarray, np.ndarray]:
    """Fetch and decode one (images, labels) pair as uint8 (N, rows, cols), (N,)."""
    x = read_idx(fetch(*source.file(images), dataset=source.name), IMAGES_MAGIC)
    t = read_idx(fetch(*source.file(labels), dataset=source.name), LABELS_MAGIC)
    if len(x) != len(t):
        raise DataError(f"{source.name}: {images} holds {len(x)} images but {labels} holds {len(t)} labels")
    if t.size and int(t.max()) >= source.num_classes:
        raise DataError(
            f"{source.name}: {labels} holds label {int(t.max())}, expected 0..{source.num_classes - 1}"
        )
    return x, t


def load_idx(
    source: IdxSource,
    *,
    normalize: bool = True,
    flatten: bool = True,
    one_hot: bool = False,
    dtype: DTypeLike = np.float32,
    caller: str = "load_idx",
):
    """Load any IDX data set described by ``source``; see ``load_mnist`` for the flags."""
    dtype = np.dtype(dtype)
    if normalize and dtype.kind != "f":
        raise InputError(f"{caller}: dtype must be a float type when normalize=True, got {dtype}")
    label_dtype = dtype if dtype.kind == "f" else np.dtype(np.float32)

    def convert(x: np.ndarray, t: np.ndarray):
        n, rows, cols = x.shape
        x = x.astype(dtype)  # a fresh, writable copy (the decoded bytes are read-only)
        if normalize:
            x /= 255
        x = x.reshape(n, rows * cols) if flatten else x.reshape(n, 1, rows, cols)
        if one_hot:
            t_out = np.zeros((n, source.num_classes), dtype=label_dtype)
            t_out[np.arange(n), t] = 1
        else:
            t_out = t.astype(np.int64)
        return x, t_out

    train = convert(*_load_split(source, TRAIN_IMAGES, TRAIN_LABELS))
    test = convert(*_load_split(source, TEST_IMAGES, TEST_LABELS))
    return train, test


def load_mnist(
    *, normalize: bool = True, flatten: bool = True, one_hot: bool = False, dtype: DTypeLike = np.float32
):
    """MNIST handwritten digits, downloaded once into ``data_dir()/mnist``.

    Returns ``((x_train, t_train), (x_test, t_test))`` with 60,000 / 10,000 examples:
        x: (N, 784) if ``flatten`` else (N, 1, 28, 28); values in [0, 1] if
           ``normalize`` else the raw 0..255 (then ``dtype`` may be any type,
           e.g. np.uint8).
        t: (N,) int64 class ids 0..9, or (N, 10) one-hot floats if ``one_hot``.
    """
    return load_idx(
        MNIST, normalize=normalize, flatten=flatten, one_hot=one_hot, dtype=dtype, caller="load_mnist"
    )


def load_fashion_mnist(
    *, normalize: bool = True, flatten: bool = True, one_hot: bool = False, dtype: DTypeLike = np.float32
):
    """Fashion-MNIST (Zalando): same shapes and flags as ``load_mnist``, 10 clothing classes.

    Stored in ``data_dir()/fashion-mnist``.
    """
    return load_idx(
        FASHION_MNIST,
        normalize=normalize,
        flatten=flatten,
        one_hot=one_hot,
        dtype=dtype,
        caller="load_fashion_mnist",
    )
