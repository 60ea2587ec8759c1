"""What to notice in a convolution's or a pooling's traced graphs, in words, en/ja
(the Transformer layers' notes are in :mod:`zerokara.explain.notes_transformer`).

Book 1's readers ask of chapter 7: why im2col? why does col2im add overlapping
patches instead of copying them? why is the bias gradient summed over N, OH and
OW? how does max pooling's backward know where the max was? The graphs answer
each, spread over dozens of nodes; these notes point at the nodes that do. Each
note is written from the traced graph (node numbers, shapes) and the layer, and
only when the nodes it names are there, so a note never describes a graph that
was not drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from zerokara.errors import shape_str
from zerokara.explain.graph import Graph, Node, refs
from zerokara.explain.notes_transformer import transformer_notes
from zerokara.layers.conv import Convolution, col2im, im2col
from zerokara.layers.pooling import Pooling
from zerokara.layers.reference_conv import SimpleConvolution

if TYPE_CHECKING:
    from zerokara.explain.explanation import Explanation

TITLE = {"en": "What to notice", "ja": "注目点"}


def notes(ex: Explanation, lang: str = "en") -> list[str]:
    """The notes for ``ex``: a Convolution, a Pooling, or a Transformer layer
    (:mod:`zerokara.explain.notes_transformer`); empty for any other layer."""
    if isinstance(ex.module, Convolution) and not isinstance(ex.module, SimpleConvolution):
        return _convolution(ex.graph, ex.module, ex.inputs[0].shape, lang)
    if type(ex.module) is Pooling:
        return _pooling(ex.graph, ex.module, lang)
    return transformer_notes(ex, lang)


def _reads(n: Node, op: str, label: str) -> bool:
    return n.op == op and bool(n.inputs) and n.inputs[0].name == label


def coverage(x_shape: tuple[int, ...], fh: int, fw: int, stride: int, pad: int) -> np.ndarray:
    """How many windows hold each pixel of an (N, C, H, W) input: col2im(im2col(ones))."""
    ones = np.ones(x_shape)
    return col2im(im2col(ones, fh, fw, stride, pad), x_shape, fh, fw, stride, pad)


def _convolution(g: Graph, layer: Convolution, x_shape: tuple[int, ...], lang: str) -> list[str]:
    W = layer.params["W"]
    FN, C, FH, FW = W.shape
    N = x_shape[0]
    out = g.forward.stored("out")
    OH, OW = out.shape[-2:] if out is not None and len(out.shape) == 4 else (0, 0)
    ja = lang == "ja"
    lines = []
    concat = g.forward.find("Concat")
    if concat is not None:
        slices = [n for n in concat.inputs if n.op == "Slice"]
        pad = next((n for n in g.forward if n.op == "pad"), None)
        cover = coverage(x_shape, FH, FW, layer.stride, layer.pad)
        lo, hi = int(cover.min()), int(cover.max())
        times = f"{hi}" if lo == hi else f"{lo}-{hi}"
        padded = f"padded ({refs([pad])}) and " if pad is not None and not ja else ""
        padded_ja = f"パディングして({refs([pad])})" if pad is not None else ""
        if ja:
            lines.append(
                f"im2col は集める操作(gather): x を{padded_ja} FH*FW = {FH * FW} 個のずらした位置で"
                f"切り出し({refs(slices)})、Concat({refs([concat])})で col {shape_str(concat.shape)}"
                f" = (C*FH*FW, N*OH*OW) に積みます。画素はそれを含むすべての窓にコピーされます"
                f"(ここでは 1 画素が {times} 回。im2col した 1 を col2im で戻した数)。"
            )
        else:
            lines.append(
                f"im2col is a gather: x is {padded}read at FH*FW = {FH * FW} shifted offsets "
                f"({refs(slices)}), and Concat ({refs([concat])}) stacks them into col "
                f"{shape_str(concat.shape)} = (C*FH*FW, N*OH*OW). A pixel is copied into every "
                f"window that covers it: here {times} times (im2col of ones, added back by col2im)."
            )
    reshape = next((n for n in g.forward if _reads(n, "Reshape", "W")), None)
    product = g.forward.find("MatMul")
    if reshape is not None and product is not None:
        lines.append(
            f"W は形を変えるだけ({refs([reshape])}): {shape_str(W.shape)} -> "
            f"{shape_str(reshape.shape)}、1 行が 1 フィルタ。だから畳み込み全体が 1 回の行列積"
            f"({refs([product])})になります。"
            if ja
            else f"the weights are only reshaped ({refs([reshape])}): W {shape_str(W.shape)} -> "
            f"{shape_str(reshape.shape)}, one row per filter, so the whole convolution is one "
            f"MatMul ({refs([product])})."
        )
    repeat = next((n for n in g.forward if _reads(n, "Repeat", "b")), None)
    db = g.backward.stored("db")
    if repeat is not None and db is not None:
        where = f"N*OH*OW = {N}*{OH}*{OW} = {N * OH * OW}"
        lines.append(
            f"b は {where} 箇所に繰り返されます({refs([repeat])}: {shape_str((FN,))} -> "
            f"{shape_str(repeat.shape)})。だから db は dout を N, OH, OW について合計します"
            f"({refs([db])})。Affine の db = np.sum(dout, axis=0) がバッチについて合計するのと同じ理由です"
            "(docs/bias-gradient.ja.md)。"
            if ja
            else f"b is repeated at {where} positions ({refs([repeat])}: {shape_str((FN,))} -> "
            f"{shape_str(repeat.shape)}), so db sums dout over N, OH and OW ({refs([db])}), for the "
            "reason Affine's db = np.sum(dout, axis=0) sums over the batch (docs/bias-gradient.md)."
        )
    dx = g.backward.stored("dx")
    if dx is not None:
        back = g.ancestors(dx)
        adds = [n for n in g.backward if n.op == "Add" and n.id in back]
        if adds:
            lines.append(
                f"backward の col2im は足し込み(scatter-add)です(Add {refs(adds)} -> dx {refs([dx])}): "
                "W.T @ dout はコピー 1 つごとに勾配を与え、各画素は自分のコピーの勾配の和を受け取ります。"
                "上書きではなく加算なのは、何度も使われた値の勾配はそれぞれの勾配の和だからです。"
                if ja
                else f"backward's col2im is a scatter-add (Add {refs(adds)} -> dx {refs([dx])}): W.T @ dout "
                "gives one gradient per copy, and each pixel receives the sum over its copies, "
                "not one of them: a value used several times gets the sum of its gradients."
            )
    return lines


def _pooling(g: Graph, layer: Pooling, lang: str) -> list[str]:
    k = layer.pool_h * layer.pool_w
    ja = lang == "ja"
    lines = []
    dx = g.backward.stored("dx")
    if layer.mode == "max":
        maxima = g.forward.find_all("Maximum")
        if maxima:
            lines.append(
                f"順伝播は各窓の {k} 画素を比べます(Maximum {refs(maxima)}): out は窓の最大値で、"
                "どの位置が勝ったか(arg_max)を backward のために覚えておきます。"
                if ja
                else f"forward compares the pool_h*pool_w = {k} pixels of each window (Maximum "
                f"{refs(maxima)}): out is the window's largest value, and which offset won "
                "(arg_max) is kept for backward."
            )
        masks = [n for n in g.backward if n.op in ("Mul", "Where")]
        if masks and dx is not None:
            lines.append(
                f"逆伝播は振り分けです: 位置ごとに dout にマスク (arg_max == その位置) を掛けます"
                f"({refs(masks)})。窓の勾配は全部、最大だった 1 画素へ行き、残りの {k - 1} 画素は 0。"
                f"{refs([dx])} で位置を画像に戻します。"
                if ja
                else f"backward routes: each offset takes dout times a mask (arg_max == that offset) "
                f"({refs(masks)}), so a window's whole gradient goes to the one pixel that was its "
                f"max and the other {k - 1} get 0; {refs([dx])} puts the offsets back into the image."
            )
    else:
        spread = [n for n in g.backward if n.op in ("Div", "Mul", "Repeat")]
        if spread:
            lines.append(
                f"平均の逆伝播は dout / {k} を窓の {k} 画素に配ります({refs(spread)}): "
                f"どの画素も平均に 1/{k} ずつ効いたからです。"
                if ja
                else f"the mean's backward spreads dout / {k} over the window's {k} pixels "
                f"({refs(spread)}): each pixel counted 1/{k} in the mean."
            )
    return lines
