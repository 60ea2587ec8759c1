"""Name the mistake behind a wrong gradient, from the numbers alone.

Each rule compares the analytic gradient backward gave with the numerical one and with
what the layer saw (its inputs, its output, the ``dout`` it was given), and recognises
one of the classic slips: a broadcast not summed back, a sum over the wrong axis, a
transposed product, a missing ``1/N``, an activation's derivative taken from ``dout`` or
from the input instead of the output, an Embedding that assigns where it must add.
:mod:`zerokara.check.source` then finds the line of the reader's file the slip is on.
"""

from __future__ import annotations

import itertools

import numpy as np

from zerokara.check.findings import Finding
from zerokara.check.messages import Msg, Text
from zerokara.check.seen import Seen, axes_text, broadcast_axes

# -- the messages ----------------------------------------------------------------------

NOT_SUMMED = Msg(
    "d{p} has shape {got} but {p} has shape {want}: forward repeated {p} over axis {ax} "
    "({what}); backward must sum over axis {ax} (d{p} = np.sum(dout, axis={ax}))",
    "d{p} の形が {got} ですが {p} は {want} です。順伝播で {p} は軸 {ax}({what})に"
    "繰り返されている(Repeat)ので、逆伝播では軸 {ax} で合計します(d{p} = np.sum(dout, axis={ax}))",
)
SUMMED_MATCHES = Msg(
    "summed that way it matches the numerical gradient (rel {rel:.1e})",
    "そのように合計すると数値微分と一致します(相対誤差 {rel:.1e})",
)
KEEPDIMS = Msg(
    "d{p} has shape {got} but {p} has shape {want}: the sum kept its axis (keepdims=True); "
    "an optimizer's {p} -= lr * d{p} then fails or turns {p} into {got}",
    "d{p} の形が {got} ですが {p} は {want} です。合計が軸を残しています(keepdims=True)。"
    "オプティマイザの {p} -= lr * d{p} が失敗するか、{p} が {got} に変わってしまいます",
)
WRONG_AXIS = Msg(
    "d{p} has shape {got}: it was summed over axis {bad}, but {p} {want} was repeated over "
    "axis {ax} of the output {out}; sum over axis {ax}",
    "d{p} の形が {got} です。軸 {bad} で合計していますが、{p} {want} は出力 {out} の軸 {ax} "
    "に繰り返されたので、軸 {ax} で合計します",
)
TRANSPOSED = Msg(
    "d{p} ({got}) is transposed: its transpose matches the numerical gradient; for a product "
    "out = a @ {p}, d{p} = a.T @ dout (shape {want}, as {p})",
    "d{p}({got})が転置になっています(転置すると数値微分と一致します)。積 out = a @ {p} なら "
    "d{p} = a.T @ dout({p} と同じ形 {want})です",
)
TRANSPOSED_SHAPE = Msg(
    "d{p} has shape {got}, the transpose of {p}'s {want}",
    "d{p} の形 {got} は {p} の形 {want} の転置です",
)
OTHER_INPUT = Msg(
    "d{p} has shape {got}, the shape of {other}, not of {p} {want}: the product uses the "
    "weight that belongs to {other}",
    "d{p} の形 {got} は {p} の形 {want} ではなく {other} の形です。{other} 側の重みで掛けています",
)
WRONG_SHAPE = Msg(
    "gradient has shape {got}, expected {want}",
    "勾配の形が {got} です。期待される形は {want} です",
)
SWAPPED = Msg(
    "d{p} has shape {got}, the shape of {other}, not of {p} {want}: is {other}'s gradient stored "
    "under {p}'s name?",
    "d{p} の形 {got} は {p} の形 {want} ではなく {other} の形です。{other} の勾配を {p} の名前で"
    "格納していませんか?",
)
NO_GRADIENT = Msg("backward returned no gradient for {p}", "逆伝播が {p} の勾配を返していません")
NOT_STORED = Msg(
    "the analytic gradient is all zeros: did backward store it (grads[...] = ...)?",
    "解析的な勾配がすべて 0 です。逆伝播で勾配を格納しましたか(grads[...] = ...)?",
)
NO_DEPENDENCE = Msg(
    "the numerical gradient is zero: does the output depend on this value?",
    "数値微分が 0 です。出力はこの値に依存していますか?",
)
TOO_LARGE = Msg(
    "off by exactly the batch size: {n} times too large; the loss is a mean over the batch, "
    "so the gradient needs the factor 1/N (N={n})",
    "ちょうどバッチサイズ倍ずれています: {n} 倍大きすぎます。損失はバッチ平均なので、"
    "勾配にも 1/N(N={n})が要ります",
)
TOO_SMALL = Msg(
    "off by exactly the batch size: {n} times too small; a 1/N (N={n}) too many: the loss takes the "
    "mean once, and every other gradient is a sum (np.sum, not np.mean; no / N)",
    "ちょうどバッチサイズ分ずれています: {n} 分の 1 に小さすぎます。1/N(N={n})が余分です。平均を取るのは"
    "損失の一度だけで、ほかの勾配は和です(np.mean でなく np.sum、/ N は不要)",
)
SIGN = Msg("the sign is flipped", "符号が逆です")
FACTOR = Msg("off by a constant factor {c:.6g}", "定数倍 {c:.6g} ずれています")
DIFFER = Msg(
    "the values differ (not by a constant factor): check backward's formula",
    "値が違います(定数倍ではありません): 逆伝播の式を確認してください",
)
FROM_DOUT = Msg(
    "the {act} derivative is computed from dout instead of the forward output: "
    "{wrong} uses the gradient where the derivative needs {y}",
    "{act} の微分を順伝播の出力ではなく dout から計算しています: {wrong} は勾配を使っていますが、"
    "微分に要るのは {y} です",
)
AT_INPUT = Msg(
    "the {act} derivative is taken at the input (the pre-activation) instead of the output: "
    "{wrong}, where {act}'(x) = {right_expr} is written with the output y = {act}(x)",
    "{act} の微分を出力ではなく入力(活性化の前の値)で計算しています: {wrong}。"
    "{act}'(x) = {right_expr} は出力 y = {act}(x) で書きます",
)
LEFT_OUT = Msg(
    "the {act} derivative is left out: backward passes dout straight through {act}; "
    "multiply by {act}' = {right_expr}",
    "{act} の微分が抜けています: dout をそのまま {act} の手前に流しています。"
    "{act}' = {right_expr} を掛けます",
)
ASSIGN = Msg(
    "rows of a repeated id are wrong and the others right: backward assigns d{p}[id] = ... "
    "where it must add (+=), so an id that appears twice keeps only its last gradient",
    "同じ id が二度現れる行だけが間違っています: 逆伝播で d{p}[id] = ... と代入していますが、"
    "足し込む(+=)必要があります。二度現れた id は最後の勾配しか残りません",
)

BATCH = Msg("the batch", "バッチ")
BATCH_TIME = Msg("the batch and time", "バッチと時間")
IMAGE_ROWS = Msg(
    "the rows, N*OH*OW = {n}*{oh}*{ow} = {rows}: every output position of every image",
    "行: N*OH*OW = {n}*{oh}*{ow} = {rows}、すべての画像のすべての出力位置",
)


def _repeated_over(seen: Seen, rows: int, time: bool) -> Text:
    """What the repeated axis is: the batch (and time), or a convolution's
    N*OH*OW rows when an image (N, C, H, W) came in and an (N, FN, OH, OW) went out."""
    image = next((x for x in seen.inputs if isinstance(x, np.ndarray) and x.ndim == 4), None)
    out = next((o for o in seen.outs if isinstance(o, np.ndarray) and o.ndim == 4), None)
    if not time and image is not None and out is not None:
        n, _, oh, ow = out.shape
        if rows == n * oh * ow and rows != n:
            return IMAGE_ROWS(n=n, oh=oh, ow=ow, rows=rows)
    return BATCH_TIME() if time else BATCH()


# -- the rules ---------------------------------------------------------------------------


def shape_findings(
    name: str, kind: str, want: tuple[int, ...], a: np.ndarray, num: np.ndarray, seen: Seen
) -> tuple[list[Finding], np.ndarray | None]:
    """Findings for a gradient whose shape is not its value's, and the gradient brought to
    the right shape when the mistake is clear (to go on checking its values), else None."""
    short = name.rsplit(".", 1)[-1]
    got, wants = seen.shape(a.shape), seen.shape(want)
    axes = broadcast_axes(want, a.shape)
    if axes is not None and axes:
        fixed = a.sum(axis=axes).reshape(want)
        out = _output_like(a.shape, seen)
        right = broadcast_axes(want, out) if out is not None else None
        if (
            right
            and len(out or ()) > len(a.shape)
            and a.shape == tuple(out or ())[len(out or ()) - len(a.shape) :]
        ):
            axes = right  # summed over some of the repeated axes (the batch, not time): name them all
        summed = out is not None and len(out) == len(a.shape) and all(out[i] > 1 for i in axes)
        if all(a.shape[i] == 1 for i in axes) and summed:  # (1, H) where the output has N > 1 rows
            return [
                Finding(
                    "bias-keepdims",
                    KEEPDIMS(p=short, got=got, want=wants),
                    f"d{short} = np.sum(dout, axis=0)",
                )
            ], fixed
        time = len(axes) > 1
        f = Finding(
            "bias-not-summed",
            NOT_SUMMED(
                p=short,
                got=got,
                want=wants,
                ax=axes_text(axes),
                what=_repeated_over(seen, a.shape[axes[0]], time),
            ),
            f"d{short} = np.sum(dout, axis={axes_text(axes)})",
        )
        if seen.close(fixed, num):
            f.extra["matches"] = SUMMED_MATCHES(rel=_rel(fixed, num))
        return [f], fixed
    out = _output_like(a.shape, seen)
    if out is not None and kind == "param":
        right = broadcast_axes(want, out)
        for r in range(1, len(out)):
            for bad in itertools.combinations(range(len(out)), r):
                kept = tuple(s for i, s in enumerate(out) if i not in bad)
                if kept == a.shape and right is not None and bad != right:
                    return [
                        Finding(
                            "bias-wrong-axis",
                            WRONG_AXIS(
                                p=short,
                                got=got,
                                want=wants,
                                bad=axes_text(bad),
                                ax=axes_text(right),
                                out=seen.shape(out),
                            ),
                            f"d{short} = np.sum(dout, axis={axes_text(right)})",
                        )
                    ], None
    if a.ndim == 2 and a.T.shape == want:
        if seen.close(a.T, num):
            return [
                Finding(
                    "transposed", TRANSPOSED(p=short, got=got, want=wants), f"d{short} = np.dot(x.T, dout)"
                )
            ], None
        return [Finding("wrong-shape", TRANSPOSED_SHAPE(p=short, got=got, want=wants))], None
    if kind == "input":
        for other, x in zip(seen.input_names, seen.inputs, strict=False):
            if other != name and isinstance(x, np.ndarray) and x.shape == a.shape:
                return [Finding("wrong-weight", OTHER_INPUT(p=short, got=got, want=wants, other=other))], None
    if kind == "param":
        others = [p for p, shape in seen.params.items() if p != name and shape == a.shape]
        if others:
            return [Finding("swapped", SWAPPED(p=short, got=got, want=wants, other=others[0]))], None
    return [Finding("wrong-shape", WRONG_SHAPE(got=got, want=wants))], None


def _output_like(shape: tuple[int, ...], seen: Seen) -> tuple[int, ...] | None:
    """The output shape a wrongly summed gradient came from (one output only)."""
    if len(seen.outs) != 1 or not isinstance(seen.outs[0], np.ndarray):
        return None
    return tuple(seen.outs[0].shape)


def _rel(a: np.ndarray, n: np.ndarray) -> float:
    return float(np.max(np.abs(a - n)) / max(float(np.max(np.abs(a))), float(np.max(np.abs(n))), 1e-300))


def value_findings(
    name: str, kind: str, a: np.ndarray, num: np.ndarray, seen: Seen, *, full: bool
) -> list[Finding]:
    """Findings for a gradient of the right shape whose values are wrong. ``full``: the
    numerical gradient covers every element (the rules that look at the whole array run)."""
    short = name.rsplit(".", 1)[-1]
    av, nv = a.ravel(), num.ravel()
    nn = float(nv @ nv)
    if nn == 0.0:
        return [Finding("no-dependence", NO_DEPENDENCE())]
    if not np.any(av):
        return [Finding("grad-not-stored", NOT_STORED())]
    if full:
        for rule in (_transposed_square, _activation, _bias_activation, _assign_rows):
            found = rule(short, kind, a, num, seen)
            if found is not None:
                return [found]
    c = float(av @ nv) / nn
    tol = 1e-2 if seen.loose else 1e-3
    if np.linalg.norm(av - c * nv) > tol * np.linalg.norm(av):
        return [Finding("values-differ", DIFFER())]
    n = seen.batch
    if n and n > 1 and abs(c - n) < tol * n:
        return [Finding("missing-1/N", TOO_LARGE(n=n))]
    if n and n > 1 and abs(c * n - 1) < tol:
        return [Finding("double-1/N", TOO_SMALL(n=n))]
    if abs(c + 1) < tol:
        return [Finding("sign-flipped", SIGN())]
    return [Finding("constant-factor", FACTOR(c=c))]


def _transposed_square(short: str, kind: str, a: np.ndarray, num: np.ndarray, seen: Seen) -> Finding | None:
    if kind == "param" and a.ndim == 2 and a.shape[0] == a.shape[1] and seen.close(a.T, num):
        shape = seen.shape(a.shape)
        return Finding(
            "transposed", TRANSPOSED(p=short, got=shape, want=shape), f"d{short} = np.dot(x.T, dout)"
        )
    return None


#: an activation's derivative written with its output y, and the slips readers make
_ACTS = {
    "sigmoid": ("y * (1 - y)", lambda y: y * (1 - y)),
    "tanh": ("(1 - y ** 2)", lambda y: 1 - y**2),
}


def _single(seen: Seen) -> tuple[np.ndarray, np.ndarray] | None:
    if (
        len(seen.outs) != 1
        or not isinstance(seen.outs[0], np.ndarray)
        or not isinstance(seen.douts[0], np.ndarray)
    ):
        return None
    return seen.outs[0], seen.douts[0]


def _activation(short: str, kind: str, a: np.ndarray, num: np.ndarray, seen: Seen) -> Finding | None:
    """An elementwise layer: the input's gradient against the local derivatives readers write."""
    od = _single(seen)
    if kind != "input" or od is None:
        return None
    y, d = od
    x = seen.inputs[seen.input_names.index(short)] if short in seen.input_names else None
    if not isinstance(x, np.ndarray) or not (x.shape == y.shape == a.shape):
        return None
    for act, (expr, local) in _ACTS.items():
        if not seen.close(d * local(y), num):
            continue
        if seen.close(a, local(d)) or seen.close(a, d * local(d)):
            wrong = (
                f"dx = dout * {expr.replace('y', 'dout')}"
                if seen.close(a, d * local(d))
                else f"dx = {expr.replace('y', 'dout')}"
            )
            return Finding(
                "derivative-from-dout", FROM_DOUT(act=act, wrong=wrong, y="y"), f"dx = dout * {expr}"
            )
        if seen.close(a, d * local(x)):
            return Finding(
                "derivative-at-input",
                AT_INPUT(act=act, wrong=f"dx = dout * {expr.replace('y', 'x')}", right_expr=expr),
                f"dx = dout * {expr}",
            )
        if seen.close(a, d):
            return Finding("derivative-left-out", LEFT_OUT(act=act, right_expr=expr), f"dx = dout * {expr}")
    return None


def _bias_activation(short: str, kind: str, a: np.ndarray, num: np.ndarray, seen: Seen) -> Finding | None:
    """A bias added just before the layer's last activation (an RNN cell, an MLP's last
    layer): its gradient is the activation's local gradient summed over the batch, so the
    slip in that local gradient shows in it."""
    od = _single(seen)
    if kind != "param" or od is None:
        return None
    y, d = od
    axes = broadcast_axes(a.shape, y.shape)
    if axes is None or a.shape == y.shape:
        return None

    def summed(v: np.ndarray) -> np.ndarray:
        return v.sum(axis=axes).reshape(a.shape)

    for act, (expr, local) in _ACTS.items():
        if not seen.close(summed(d * local(y)), num):
            continue
        slip = expr.replace("y", "dout")
        for wrong, value in ((f"dout * {slip}", d * local(d)), (slip, local(d))):
            if seen.close(a, summed(value)):
                return Finding(
                    "derivative-from-dout", FROM_DOUT(act=act, wrong=wrong, y="y"), f"dt = dout * {expr}"
                )
        if seen.close(a, summed(d)):
            return Finding("derivative-left-out", LEFT_OUT(act=act, right_expr=expr), f"dt = dout * {expr}")
    return None


def _assign_rows(short: str, kind: str, a: np.ndarray, num: np.ndarray, seen: Seen) -> Finding | None:
    """An embedding's rows: right where an id appears once, wrong where it repeats."""
    if kind != "param" or a.ndim != 2:
        return None
    for x in seen.inputs:
        if not (isinstance(x, np.ndarray) and x.dtype.kind in "iu" and x.size and x.max() < a.shape[0]):
            continue
        ids, counts = np.unique(x, return_counts=True)
        rep = ids[counts > 1]
        once = ids[counts == 1]
        if (
            rep.size
            and all(seen.close(a[i], num[i]) for i in once)
            and not all(seen.close(a[i], num[i]) for i in rep)
        ):
            return Finding("assign-not-add", ASSIGN(p=short), f"np.add.at(d{short}, idx, dout)")
    return None
