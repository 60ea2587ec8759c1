"""Which layers ``zerokara explain`` traces as their readable reference, and the twin it traces.

Where speed rearranges a layer beyond recognition, the library keeps a readable
reference of the same function beside it (:mod:`zerokara.layers.reference`,
book 2's loop over one cell per step), and the guides and ``explain`` show the
readable one: traced, TimeLSTM's fused layout would show its workspace (``[1, x]``
rows against ``[b; Wx]``, weights scaled so that one ``tanh`` gives all four gates,
at some sizes a padded copy of Wh) instead of the algorithm the reader is learning.

Convolution is traced as Im2colConvolution: its dx made as book 1 makes it (the whole
dcol, then col2im's scatter-add) instead of one kernel offset at a time.

RNN and TimeRNN are not replaced: their fast forms are the book's algorithm
(TimeRNN's one product over T*N rows is what docs/bptt.md explains).
"""

from __future__ import annotations

import copy
from typing import Any

from zerokara.layers import GRU, LSTM, Convolution, Im2colConvolution, TimeGRU, TimeLSTM
from zerokara.layers.reference import SimpleGRU, SimpleLSTM, SimpleTimeGRU, SimpleTimeLSTM

#: fast layer -> its readable reference (same constructor, parameter names, state, results)
READABLE: dict[type, type] = {
    TimeLSTM: SimpleTimeLSTM,
    LSTM: SimpleLSTM,
    TimeGRU: SimpleTimeGRU,
    GRU: SimpleGRU,
    Convolution: Im2colConvolution,
}


def twin(fast: Any) -> Any:
    """The reference layer holding copies of ``fast``'s parameters and carried state."""
    cls = READABLE[type(fast)]
    kw = {"stateful": fast.stateful} if hasattr(fast, "stateful") else {}
    if isinstance(fast, Convolution):
        kw = {"stride": fast.stride, "pad": fast.pad}
    ref = cls(**{k: v.copy() for k, v in fast.params.items()}, **kw)
    for name in getattr(fast, "state_names", ()):  # h (and c) carried in from a previous call
        value = getattr(fast, name, None)
        setattr(ref, name, None if value is None else value.copy())
    ref.training, ref.input_grad = fast.training, fast.input_grad
    return ref


def readable(layer: Any) -> tuple[Any, list[tuple[str, str]]]:
    """``layer`` with itself, or each of its sub-layers, replaced by the readable twin.

    Returns (the layer to trace, [(fast class name, reference class name)] of what was
    replaced); ``layer`` itself unchanged and no list when nothing has a reference.
    """
    if type(layer) in READABLE:
        ref = twin(layer)
        return ref, [(type(layer).__name__, type(ref).__name__)]
    if not hasattr(layer, "named_modules"):
        return layer, []
    swaps = [
        (mod, attr, v)
        for _, mod in layer.named_modules()
        for attr, v in {**vars(mod), **mod.children()}.items()  # attributes, Sequential's layers
        if type(v) in READABLE
    ]
    if not swaps:
        return layer, []
    shown = copy.deepcopy(layer)  # the same tree, then its fast parts swapped
    memo = {
        id(o): c
        for o, c in zip(
            (m for _, m in layer.named_modules()), (m for _, m in shown.named_modules()), strict=True
        )
    }
    replaced = []
    for mod, attr, v in swaps:
        target = memo[id(mod)]
        if attr in vars(target):
            setattr(target, attr, twin(v))
        else:
            target.children()[attr] = twin(v)
        replaced.append((type(v).__name__, READABLE[type(v)].__name__))
    return shown, list(dict.fromkeys(replaced))


def traced_line(layer: Any, replaced: list[tuple[str, str]], lang: str = "en") -> str:
    """``traced: SimpleTimeLSTM, the readable reference; TimeLSTM computes the same function
    arranged for speed (docs/speed.md)``."""
    fast = sorted({f for f, _ in replaced})
    refs = ", ".join(dict.fromkeys(r for _, r in replaced))
    top = type(layer).__name__
    whole = top in refs.split(", ")
    if lang == "ja":
        what = top if whole else f"{refs} を使った {top}"
        return (
            f"トレース対象: {what}(読みやすい参照実装)。{'・'.join(fast)} は同じ関数を"
            f"速さのために並べ替えて計算します(docs/speed.md)"
        )
    what = top if whole else f"{top} with {refs}"
    verb = "computes" if len(fast) == 1 else "compute"
    return (
        f"traced: {what}, the readable reference; {' and '.join(fast)} {verb} the same "
        f"function arranged for speed (docs/speed.md)"
    )
