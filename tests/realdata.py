"""Where the real data sets are, for tests that need them.

CI sets ZEROKARA_DATA_DIR to ../shared/data; a developer running pytest by
hand gets the same folder found beside the repository. A test whose data is
absent is skipped, and the skip says what was looked for.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def real_data_dir(subdir: str, files: tuple[str, ...]) -> Path:
    """The data root holding ``subdir/files``, or skip the test saying why."""
    candidates = []
    if os.environ.get("ZEROKARA_DATA_DIR"):
        candidates.append(Path(os.environ["ZEROKARA_DATA_DIR"]))
    candidates.append(REPO.parent / "shared" / "data")
    for root in candidates:
        if all((root / subdir / f).is_file() for f in files):
            return root
    pytest.skip(f"real data absent: {subdir}/{{{','.join(files)}}} not found in "
                f"{' or '.join(str(c) for c in candidates)} (set ZEROKARA_DATA_DIR)")


@pytest.fixture
def real_mnist(monkeypatch: pytest.MonkeyPatch) -> Path:
    root = real_data_dir("mnist", MNIST_FILES)
    monkeypatch.setenv("ZEROKARA_DATA_DIR", str(root))
    return root
