"""What the books' names mean: the shape (or value) each constructor and forward argument
gets, the likeliest first. ``W`` is (D, H) as Affine's, (V, D) as an embedding's or
(FN, C, FH, FW) as a convolution's; ``b`` follows its weight; ``Wx``/``Wh`` carry k gates;
``x`` is (N, D), (N,), (N, T, D) or (N, C, H, W); ``t`` follows the scores before it.
:mod:`zerokara.check.build` tries these in turn until forward and backward run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

SIZES: dict[str, int] = {"N": 3, "T": 2, "D": 4, "H": 5, "C": 6, "V": 7}
#: a convolution's input: (N, C_in, IH, IW) with filters (FN, C_in, FH, FW)
CONV = {"C_in": 2, "IH": 6, "FN": 4, "FH": 3}
Maker = Callable[[dict[str, Any], np.random.Generator], Any]


_DIGITS = re.compile(r"^(.*?)_?(\d+)$")
INT_NAMES = ("idx", "ids", "word_id", "word_ids", "target", "targets", "contexts", "context", "corpus")
LABEL_NAMES = ("t", "ts", "label", "labels", "target_label")
SIZE_NAMES = {
    "input_size": "D",
    "hidden_size": "H",
    "output_size": "C",
    "vocab_size": "V",
    "wordvec_size": "D",
    "D": "D",
    "H": "H",
    "V": "V",
    "C": "C",
    "N": "N",
    "T": "T",
}
SCALARS = {
    "dropout_ratio": 0.5,
    "ratio": 0.5,
    "p": 0.5,
    "stateful": False,
    "pool_h": 2,
    "pool_w": 2,
    "pool_size": 2,
    "sample_size": 2,
    "power": 0.75,
    "momentum": 0.9,
    "activation": "tanh",
}


def _const(value: Any) -> Maker:
    return lambda built, rng: value


def _normal(shape: tuple[int, ...]) -> Maker:
    return lambda built, rng: rng.standard_normal(shape)


def _bias(name: str, s: dict[str, int], chain: list[int]) -> Maker:
    return lambda built, rng: rng.standard_normal(_bias_shape(name, built, s, chain))


def _numbered(name: str) -> tuple[str, int] | None:
    m = _DIGITS.match(name)
    return (m.group(1), int(m.group(2))) if m and m.group(1) else None


def _weight_like(base: str) -> bool:
    return base in ("W", "w", "theta", "weight", "weights", "U", "V_", "Wout", "Win") or base.startswith("W")


def _bias_like(base: str) -> bool:
    return base in ("b", "bias", "c") or (base.startswith("b") and len(base) <= 3)


def constructor_options(name: str, s: dict[str, int], k: int, conv: bool) -> list[Maker] | None:
    """Ways to make the constructor argument ``name`` (None: no idea)."""
    chain = [s["D"], s["H"], s["C"], s["V"], s["T"] + 6]
    num = _numbered(name)
    base, idx = num if num else (name, 0)
    if name in SIZE_NAMES:
        return [_const(s[SIZE_NAMES[name]])]
    if name == "hidden_size_list":
        return [lambda b, r: [s["H"], s["H"]]]
    if name in SCALARS:
        return [_const(SCALARS[name])]
    if name == "corpus":  # every id of the vocabulary (its W's rows) appears
        return [lambda b, r: _corpus(b, r, s["V"])]
    if name == "Wx" or base == "Wx":
        return [lambda b, r: r.standard_normal((s["D"], k * s["H"]))]
    if name == "Wh" or base == "Wh":
        return [lambda b, r: r.standard_normal((s["H"], k * s["H"]))]
    if name in ("gamma", "beta"):
        return [lambda b, r: r.uniform(0.5, 1.5, s["D"]) if name == "gamma" else r.standard_normal(s["D"])]
    if name in ("running_mean", "running_var"):
        return None
    if base in ("W_in", "Win"):
        return [lambda b, r: r.standard_normal((s["D"], s["H"]))]
    if base in ("W_out", "Wout"):
        return [lambda b, r: r.standard_normal((s["H"], s["C"]))]
    if _weight_like(base):
        if idx:
            return [_normal((chain[idx - 1], chain[idx]))]
        # (D, H) as Affine's; (V, D) as an embedding's with a vocabulary larger than a batch
        two = [
            lambda b, r: r.standard_normal((s["D"], s["H"])),
            lambda b, r: r.standard_normal((s["V"], s["D"])),
        ]
        four = [lambda b, r: r.standard_normal((CONV["FN"], CONV["C_in"], CONV["FH"], CONV["FH"]))]
        return four + two if conv else two + four
    if _bias_like(base):
        return [_bias(name, s, chain)]
    return None


def _corpus(built: dict[str, Any], r: np.random.Generator, vocab: int) -> np.ndarray:
    w = main_weight(built)
    v = w.shape[0] if w is not None and w.ndim == 2 else vocab
    return np.r_[np.arange(v), r.integers(0, v, 3 * v)]


def _bias_shape(name: str, built: dict[str, Any], s: dict[str, int], chain: list[int]) -> tuple[int, ...]:
    """A bias is as long as its weight's output side: b of W (D, H) is (H,), of a convolution's
    W (FN, C, FH, FW) is (FN,), of Wx (D, 4H) is (4H,); b1 goes with W1 (or theta1)."""
    num = _numbered(name)
    suffix = name[1:] if name.startswith("b") else ""
    partners = [f"W{suffix}", f"theta{suffix}", f"Wx{suffix}", "W", "Wx"]
    if num:
        partners = [f"W{num[1]}", f"W_{num[1]}", f"theta{num[1]}", f"Wx{num[1]}", f"w{num[1]}"]
    for p in partners:
        w = built.get(p)
        if isinstance(w, np.ndarray) and w.ndim == 2:
            return (w.shape[1],)
        if isinstance(w, np.ndarray) and w.ndim == 4:
            return (w.shape[0],)
    return (chain[num[1]],) if num else (s["H"],)


def main_weight(built: dict[str, Any]) -> np.ndarray | None:
    """The weight that sets the input's size: Wx, W, W1... (or the first matrix given)."""
    for k in ("Wx", "W", "W1", "W_1", "theta1", "W_in", "Wx1", "w1", "gamma"):
        v = built.get(k)
        if isinstance(v, np.ndarray):
            return v
    return next(
        (v for v in built.values() if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.ndim >= 2), None
    )


def ids_with_repeat(r: np.random.Generator, high: int, shape: tuple[int, ...]) -> np.ndarray:
    """Integer ids in [0, high) with the first id repeated at the end: an Embedding that
    assigns where it must add shows on that row."""
    ids = r.integers(0, high, shape)
    flat = ids.reshape(-1)
    if flat.size > 1:
        flat[-1] = flat[0]
    return ids


def input_options(
    name: str, s: dict[str, int], built: dict[str, Any], cls_name: str, so_far: dict[str, Any]
) -> list[Maker]:
    """Ways to make forward's argument ``name``, the likeliest first."""
    N, T, D, H = s["N"], s["T"], s["D"], s["H"]
    w = main_weight(built)
    wh = built.get("Wh")
    d_in = w.shape[0] if w is not None and w.ndim == 2 else D
    h_size = (
        wh.shape[0] if isinstance(wh, np.ndarray) else (w.shape[1] if w is not None and w.ndim == 2 else H)
    )
    vocab = w.shape[0] if w is not None and w.ndim == 2 else s["V"]
    first = next(iter(so_far.values()), None)
    timeish = cls_name.startswith("Time")
    if name in LABEL_NAMES or name.startswith("t_"):
        return _label_options(first, s)
    if name in INT_NAMES:
        shape = (N, T) if timeish else (N,)
        return [lambda b, r: ids_with_repeat(r, vocab, shape)]
    if name in ("h_prev", "c_prev", "h", "c", "h0", "c0", "dh", "h_next"):
        sizes = [h_size]
        hs = so_far.get("hs")
        if isinstance(hs, np.ndarray):
            sizes.insert(0, hs.shape[-1])
        if w is not None and w.ndim == 2:
            sizes.append(w.shape[1])
        sizes += [D, H]
        return [_normal((N, n)) for n in dict.fromkeys(sizes)]
    if name in ("hs", "hs_enc", "hs_dec", "enc_hs", "dec_hs"):
        return [lambda b, r: r.standard_normal((N, T, h_size if wh is not None else H))]
    if name == "a":
        return [lambda b, r: r.uniform(0.1, 1.0, (N, T))]
    seq = [lambda b, r: r.standard_normal((N, T, d_in))]
    flat = [lambda b, r: r.standard_normal((N, d_in))]
    ids = [lambda b, r: ids_with_repeat(r, vocab, (N, T) if timeish or name == "xs" else (N,))]
    vec = [lambda b, r: r.standard_normal(N)]
    image = [
        lambda b, r: r.standard_normal(
            (N, w.shape[1] if w is not None and w.ndim == 4 else CONV["C_in"], CONV["IH"], CONV["IH"])
        )
    ]
    if w is not None and w.ndim == 4:
        return image + flat
    if name == "xs" or timeish:
        return seq + ids + flat
    return flat + vec + seq + image + ids


def _labels(r: np.random.Generator, classes: int, shape: tuple[int, ...]) -> np.ndarray:
    """Class ids that are not all the same (consecutive classes from a random start)."""
    size = int(np.prod(shape))
    return ((np.arange(size) + r.integers(classes)) % classes).reshape(shape)


def _label_options(x: Any, s: dict[str, int]) -> list[Maker]:
    """Labels for a loss whose scores are ``x``: class ids, one-hot, or 0/1 of x's shape."""
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        return [lambda b, r: r.integers(0, s["C"], s["N"])]
    shape, classes = x.shape, x.shape[-1]
    opts: list[Maker] = []
    if x.ndim >= 2:
        opts.append(lambda b, r: _labels(r, classes, shape[:-1]))
        opts.append(lambda b, r: np.eye(classes)[_labels(r, classes, shape[:-1])])
    opts.append(lambda b, r: r.integers(0, 2, shape))
    opts.append(lambda b, r: r.integers(0, 2, shape).astype(np.float64))
    # a model's loss compares its own output (output_size wide), not x, with t: one-hot or targets
    n = shape[0]
    opts.append(lambda b, r: np.eye(_out(b, s))[_labels(r, _out(b, s), (n,))])
    opts.append(lambda b, r: r.standard_normal((n, _out(b, s))))
    return opts


def _out(built: dict[str, Any], s: dict[str, int]) -> int:
    size = built.get("output_size")
    return size if isinstance(size, int) else s["C"]
