"""What to notice in the Transformer layers' traced graphs: Softmax, LayerNorm, attention; en/ja.

The questions readers bring to these layers (docs/transformer.md): why is softmax's
backward ``y * (dy - sum(y * dy))``? what does backward do with the mask? how does the
gradient split over heads? why does LayerNorm's backward have three terms? Each note
points at the nodes that answer one, found by the shape of the graph (the Mul whose
input is the Sub of the Repeat of the Sum...), and is left out when they are not there,
so a note never describes a graph that was not drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from zerokara.errors import shape_str
from zerokara.explain.graph import Graph, Node, refs
from zerokara.layers.position_wise import LayerNorm
from zerokara.layers.transformer import MultiHeadAttention, ScaledDotProductAttention, Softmax

if TYPE_CHECKING:
    from zerokara.explain.explanation import Explanation


def transformer_notes(ex: Explanation, lang: str = "en") -> list[str]:
    """The notes for a traced Softmax, LayerNorm, ScaledDotProductAttention or
    MultiHeadAttention (empty for any other layer)."""
    kind = type(ex.module)
    if kind is Softmax:
        return _softmax(ex, lang)
    if kind is LayerNorm:
        return _layer_norm(ex, lang)
    if kind is ScaledDotProductAttention:
        q, mask = ex.inputs[0], ex.inputs[3] if len(ex.inputs) > 3 else None
        return _attention(ex.graph, q.shape[-1], mask, lang)
    if kind is MultiHeadAttention:
        return _multi_head(ex, lang)
    return []


def _say(lang: str, en: str, ja: str) -> str:
    return ja if lang == "ja" else en


def _path(g: Graph, end: Node, start: Node) -> list[Node]:
    """The backward nodes between ``start`` (excluded) and ``end`` (included)."""
    ids = (g.ancestors(end) | {end.id}) - g.ancestors(start) - {start.id}
    return [n for n in g.backward if n.id in ids]


def _users(g: Graph, n: Node, op: str, phase: str = "backward") -> list[Node]:
    return [m for m in g.consumers(n) if m.op == op and m.phase == phase]


def _span(j: int, dk: int) -> str:
    return f"{j * dk}-{(j + 1) * dk - 1}"


# -- softmax ---------------------------------------------------------------------------------------
def _softmax_backward(end: Node | None) -> list[Node] | None:
    """The nodes of ``y * (dy - sum(y * dy))`` that end at ``end``: Mul, Sum, Repeat, Sub, Mul."""
    if end is None or end.op != "Mul":
        return None
    sub = next((i for i in end.inputs if i.op == "Sub" and i.phase == "backward"), None)
    if sub is None or len(sub.inputs) != 2 or sub.inputs[1].op != "Repeat":
        return None
    rep = sub.inputs[1]
    total = rep.inputs[0] if rep.inputs else None
    if total is None or total.op != "Sum" or not total.inputs or total.inputs[0].op != "Mul":
        return None
    return [total.inputs[0], total, rep, sub, end]


def _softmax(ex: Explanation, lang: str) -> list[str]:
    g = ex.graph
    chain = _softmax_backward(g.backward.stored("dx"))
    if chain is None:
        return []
    prod, total, rep, sub, dx = chain
    C = dx.shape[-1]
    lines = [
        _say(
            lang,
            f"backward is dx = y * (dy - sum(y * dy)), five nodes: Mul {refs([prod])} (y * dy), "
            f"Sum {refs([total])} along the row, Repeat {refs([rep])} back across it, Sub "
            f"{refs([sub])} (dy minus it), Mul {refs([dx])} (times y). It reads only y, kept from "
            f"forward; the {C} x {C} Jacobian y_i (delta_ij - y_j) of each row is never built, only "
            "its product with dy.",
            f"逆伝播は dx = y * (dy - sum(y * dy))の 5 ノードです: Mul {refs([prod])} (y * dy)、"
            f"行方向の Sum {refs([total])}、行へ戻す Repeat {refs([rep])}、Sub {refs([sub])} "
            f"(dy からそれを引く)、Mul {refs([dx])} (y を掛ける)。読むのは順伝播で覚えた y だけで、"
            f"各行の {C} x {C} のヤコビ行列 y_i (delta_ij - y_j)は作らず、dy との積だけを計算します。",
        )
    ]
    grad = ex.trace.input_grads.get("x")
    shift = _shift(g)
    if grad is not None and shift:
        worst = float(np.abs(np.sum(grad, axis=-1)).max())
        lines.append(
            _say(
                lang,
                f"each row of dx sums to 0: sum_j y_j (dy_j - s) = s - s * sum_j y_j = 0 (here the "
                f"largest |row sum| is {worst:.0e}). Adding one number to every score of a row changes "
                "no y, so that direction gets no gradient: the row max subtracted for stability (Max, "
                f"Repeat, Sub {refs(shift)}) changes nothing, and backward() need not go through the "
                "Max at all (what it would send back is minus a row sum of dx: 0). A hidden score (a "
                "mask's -inf) has y = 0, so its dx is 0 and the rest of its row still sums to 0.",
                "dx の各行の和は 0 です: sum_j y_j (dy_j - s) = s - s * sum_j y_j = 0 (ここでは行和の"
                f"絶対値の最大が {worst:.0e})。行のすべてのスコアに同じ数を足しても y は変わらないので、"
                "その方向には勾配がありません。安定化のために引く行の最大値(Max, Repeat, Sub "
                f"{refs(shift)})は何も変えず、backward()は Max を通る必要がありません(Max へ戻るはず"
                "の勾配は dx の行和にマイナスを付けたもの、つまり 0)。隠したスコア(マスクの -inf)は "
                "y = 0 なので dx も 0 で、行の残りの和はやはり 0 です。",
            )
        )
    return lines


def _shift(g: Graph) -> list[Node]:
    """Max, Repeat, Sub: the row max subtracted before exp (empty if not traced so)."""
    top = g.forward.find("Max")
    if top is None:
        return []
    for rep in _users(g, top, "Repeat", "forward"):
        sub = [n for n in _users(g, rep, "Sub", "forward") if n.inputs[1] is rep]
        if sub:
            return [top, rep, sub[0]]
    return []


# -- attention -------------------------------------------------------------------------------------
def _attention(g: Graph, dk: int, mask: np.ndarray | None, lang: str) -> list[str]:
    """The mask's Repeat and its zero gradients, softmax's backward, the scale in dq and dk."""
    lines = []
    scale = 1.0 / float(np.sqrt(dk))
    fwd = next((n for n in g.forward if n.op == "Mul" and _is(n.attrs.get("const"), scale)), None)
    dS = next((n for n in g.backward if n.op == "Mul" and _is(n.attrs.get("const"), scale)), None)
    weights = g.forward.find("Div")
    rep = next((n for n in g.forward if n.op == "Repeat" and n.attrs.get("no_grad")), None)
    where = _users(g, rep, "Where", "forward") if rep is not None else []
    if rep is not None and where and mask is not None and weights is not None:
        hidden = int(np.broadcast_to(mask, weights.shape).sum())
        axes = tuple(rep.attrs.get("axes", ()))
        lines.append(
            _say(
                lang,
                f"the mask {shape_str(mask.shape)} is repeated to the scores' shape "
                f"{shape_str(rep.shape)} (Repeat {refs([rep])} over axes {axes}) before Where "
                f"{refs(where)} puts -inf at the hidden entries ({hidden} of {int(np.prod(rep.shape))} "
                "here). A bool mask has no gradient, so no Sum undoes this Repeat in backward, unlike "
                "a bias's.",
                f"マスク {shape_str(mask.shape)} はスコアの形 {shape_str(rep.shape)} に繰り返され"
                f"(Repeat {refs([rep])}、軸 {axes})、Where {refs(where)} が隠す位置に -inf を入れます"
                f"(ここでは {int(np.prod(rep.shape))} 個中 {hidden} 個)。bool のマスクには勾配がないので、"
                "バイアスの Repeat と違い、逆伝播でこの Repeat を戻す Sum はありません。",
            )
        )
    chain = _softmax_backward(dS.inputs[0]) if dS is not None and dS.inputs else None
    if chain is not None:
        prod, total, back, sub, end = chain
        lines.append(
            _say(
                lang,
                f"softmax's backward dS = A * (dA - sum(A * dA)) is traced as Mul {refs([prod])}, Sum "
                f"{refs([total])}, Repeat {refs([back])}, Sub {refs([sub])}, Mul {refs([end])}; it reads "
                "only the weights A kept from forward. A hidden score has weight exactly 0 "
                f"(exp(-inf) = 0), so the last Mul {refs([end])} gives it exactly 0 gradient: backward "
                "needs no mask and no Where of its own.",
                f"softmax の逆伝播 dS = A * (dA - sum(A * dA))は Mul {refs([prod])}、Sum "
                f"{refs([total])}、Repeat {refs([back])}、Sub {refs([sub])}、Mul {refs([end])} として"
                "トレースされ、読むのは順伝播で覚えた重み A だけです。隠したスコアの重みはちょうど 0 "
                f"(exp(-inf) = 0)なので、最後の Mul {refs([end])} でその勾配もちょうど 0 になります。"
                "逆伝播にはマスクも Where も要りません。",
            )
        )
    if fwd is not None and dS is not None:
        mm = _users(g, dS, "MatMul")
        tr = [m for t in _users(g, dS, "Transpose") for m in _users(g, t, "MatMul")]
        if mm and tr:
            lines.append(
                _say(
                    lang,
                    f"the scale 1/sqrt(dk) = 1/sqrt({dk}) = {scale:g} multiplies the scores once in "
                    f"forward (Mul {refs([fwd])}), so backward multiplies dS by it once (Mul "
                    f"{refs([dS])}), and that one node feeds both dq = dS @ k ({refs(mm)}) and "
                    f"dk = dS.T @ q ({refs(tr)}): q and k were both inside the scaled product.",
                    f"スケール 1/sqrt(dk) = 1/sqrt({dk}) = {scale:g} は順伝播でスコアに 1 回掛かり"
                    f"(Mul {refs([fwd])})、逆伝播でも dS に 1 回掛かります(Mul {refs([dS])})。"
                    f"その 1 つのノードが dq = dS @ k ({refs(mm)})と dk = dS.T @ q ({refs(tr)})の"
                    "両方に入ります。q も k もスケールされた積の中にあったからです。",
                )
            )
    return lines


def _is(value: object, want: float) -> bool:
    return isinstance(value, (int, float, np.number)) and bool(np.isclose(float(value), want))


def _multi_head(ex: Explanation, lang: str) -> list[str]:
    g, layer = ex.graph, ex.module
    D = layer.params["Wq"].shape[0]
    h = layer.heads
    dk = D // h
    mask = ex.inputs[2] if len(ex.inputs) > 2 else None
    blocks = ", ".join(f"head {j}: {_span(j, dk)}" for j in range(h))
    blocks_ja = "、".join(f"ヘッド {j} は {_span(j, dk)}" for j in range(h))
    lines = []
    splits = [_split(g, x, W) for x, W in (("query", "Wq"), ("key_value", "Wk"), ("key_value", "Wv"))]
    if splits[0] is not None and splits[1] is not None and splits[2] is not None:
        proj, rs, ts = splits[0]
        others = [n for _, r, t in (splits[1], splits[2]) for n in (r, *t)]
        lines.append(
            _say(
                lang,
                f"heads are made by moving numbers, not by arithmetic: Q ({refs([proj])} "
                f"{shape_str(proj.shape)}) is reshaped to (N, T, h, dk) = {shape_str(rs.shape)} "
                f"(Reshape {refs([rs])}) and transposed to (N, h, T, dk) = {shape_str(ts[0].shape)} "
                f"(Transpose{ts[0].attrs['axes']} {refs(ts)}); K and V the same ({refs(others)}; K's "
                "Transpose also swaps the last two axes, for q @ k.T). Head j reads features "
                f"j*dk ... (j+1)*dk - 1 of each projection ({blocks}).",
                f"ヘッドは計算ではなく数の並べ替えで作ります: Q ({refs([proj])} {shape_str(proj.shape)}) "
                f"を (N, T, h, dk) = {shape_str(rs.shape)} に Reshape ({refs([rs])})し、(N, h, T, dk) = "
                f"{shape_str(ts[0].shape)} に Transpose{ts[0].attrs['axes']} ({refs(ts)})します。K と V "
                f"も同じです({refs(others)}。K の Transpose は q @ k.T のために最後の 2 軸も入れ替え"
                f"ます)。ヘッド j は各射影の特徴 j*dk ... (j+1)*dk - 1 を読みます({blocks_ja})。",
            )
        )
    lines += _head_gradients(g, dk, blocks, blocks_ja, lang)
    lines += _attention(g, dk, mask, lang)
    lines += _fan_out(ex, lang)
    return lines


def _split(g: Graph, x: str, W: str) -> tuple[Node, Node, list[Node]] | None:
    """(x @ W + b, its Reshape to (N, T, h, dk), the Transposes of that): one split into heads."""
    mm = next((n for n in g.forward if n.op == "MatMul" and [i.name for i in n.inputs] == [x, W]), None)
    proj = next(iter(_users(g, mm, "Add", "forward")), None) if mm is not None else None
    if proj is None:
        return None
    rs = [r for r in _users(g, proj, "Reshape", "forward") if len(r.shape) == 4]
    ts = _users(g, rs[0], "Transpose", "forward") if rs else []
    return (proj, rs[0], ts) if ts else None


def _head_gradients(g: Graph, dk: int, blocks: str, blocks_ja: str, lang: str) -> list[str]:
    """dQ = merge(dq): Transpose back, Reshape back; so each head owns a column block of dWq."""
    dquery, dWq = g.backward.stored("dquery"), g.backward.grad("Wq")
    if dquery is None or dWq is None or not dquery.inputs:
        return []
    merged = dquery.inputs[0]  # dQ = merge(dq): Transpose back, then Reshape back
    moved = merged.inputs[0] if merged.op == "Reshape" and merged.inputs else None
    if moved is None or moved.op != "Transpose" or not moved.inputs:
        return []
    per_head = moved.inputs[0]
    split = [n for n in g.backward if n.op == "Reshape" and n.shape == moved.shape]
    again = [t for r in split for t in _users(g, r, "Transpose")]
    also = (
        _say(
            lang,
            f" On the way in, backward splits dc = dout @ Wo.T into heads the way forward split Q "
            f"(Reshape {refs(split)}, Transpose {refs(again)}): forward's merge, undone.",
            f"逆伝播の入口では dc = dout @ Wo.T を順伝播の Q と同じようにヘッドに分けます "
            f"(Reshape {refs(split)}、Transpose {refs(again)})。順伝播の merge を戻す操作です。",
        )
        if split and again
        else ""
    )
    others = [n for n in (g.backward.grad("Wk"), g.backward.grad("Wv")) if n is not None]
    return [
        _say(
            lang,
            f"backward undoes the split in reverse: each head's dq ({refs([per_head])} "
            f"{shape_str(per_head.shape)}) is transposed back (Transpose {refs([moved])}) and reshaped "
            f"(Reshape {refs([merged])}: {shape_str(moved.shape)} -> {shape_str(merged.shape)}), so head "
            f"j's gradient lands in its own dk = {dk} columns of dQ ({blocks}) and, through dWq = "
            f"query.T @ dQ ({refs([dWq])}), in its own column block of dWq; the same for dWk and dWv "
            f"({refs(others)}). That is how the gradient splits over heads.{also}",
            f"逆伝播は分割を逆順に戻します: 各ヘッドの dq ({refs([per_head])} {shape_str(per_head.shape)}) "
            f"を Transpose で戻し({refs([moved])})、Reshape します({refs([merged])}: "
            f"{shape_str(moved.shape)} -> {shape_str(merged.shape)})。だからヘッド j の勾配は dQ の自分の "
            f"dk = {dk} 列({blocks_ja})に入り、dWq = query.T @ dQ ({refs([dWq])})を通って dWq の自分の"
            f"列ブロックに入ります。dWk、dWv も同じです({refs(others)})。これが勾配のヘッドへの分かれ方"
            f"です。{also}",
        )
    ]


def _fan_out(ex: Explanation, lang: str) -> list[str]:
    """key_value feeds K and V: its two gradients add; in self-attention dquery adds too."""
    g = ex.graph
    dkv = g.backward.stored("dkey_value")
    if dkv is None or dkv.op != "Add":
        return []
    plus = " + ".join(refs([i]) for i in dkv.inputs)
    dbk = ex.trace.param_grads.get("bk")
    bk = ""
    if dbk is not None:
        size = float(np.abs(dbk).max())
        bk = _say(
            lang,
            f" And dbk is 0 (here |dbk| <= {size:.0e}): bk adds q . bk to every score of a query's "
            "row, the same number along the row, which softmax ignores.",
            f"また dbk は 0 です(ここでは |dbk| <= {size:.0e}): bk はクエリの行のすべてのスコアに同じ数 "
            "q . bk を足すだけで、softmax はそれを無視するからです。",
        )
    return [
        _say(
            lang,
            f"key_value feeds both K and V, so its gradient is the sum of the two: dkey_value = "
            f"{plus} (Add {refs([dkv])}). In self-attention, forward(x, x, mask), x also "
            "feeds Q and dx = dquery + dkey_value: one more Add, because a value used in several "
            f"places gets the sum of its gradients.{bk}",
            f"key_value は K と V の両方に入るので、その勾配は 2 つの和です: dkey_value = "
            f"{plus} (Add {refs([dkv])})。自己注意 forward(x, x, mask)では x が Q にも入るので "
            "dx = dquery + dkey_value と Add がもう 1 つ増えます。何か所でも使われた値の勾配はそれぞれの"
            f"勾配の和だからです。{bk}",
        )
    ]


# -- LayerNorm -------------------------------------------------------------------------------------
def _layer_norm(ex: Explanation, lang: str) -> list[str]:
    g = ex.graph
    dx = g.backward.stored("dx")
    outer = next((i for i in dx.inputs if i.op == "Sub"), None) if dx is not None and dx.op == "Mul" else None
    inner = outer.inputs[0] if outer is not None and len(outer.inputs) == 2 else None
    if dx is None or outer is None or inner is None or inner.op != "Sub" or len(inner.inputs) != 2:
        return []
    dxhat, via_mean = inner.inputs
    via_sigma = outer.inputs[1]
    scale = next(i for i in dx.inputs if i is not outer)
    mean_path, sigma_path = _path(g, via_mean, dxhat), _path(g, via_sigma, dxhat)
    d = dx.shape[-1]
    stats = [n for n in g.forward if n.op in ("Sum", "Mean") and n.shape == (*dx.shape[:-1], 1)]
    tokens = int(np.prod(dx.shape[:-1]))
    lines = [
        _say(
            lang,
            f"backward sends dxhat = dy * gamma (Mul {refs([dxhat])}) back to x along three paths, "
            "because x reaches xhat directly, through the mean and through sigma: (1) directly, "
            f"dxhat itself; (2) through the mean, mean(dxhat) (Sum, Div, Repeat {refs(mean_path)}) "
            f"subtracted by Sub {refs([inner])}; (3) through sigma, xhat * mean(dxhat * xhat) (Mul, "
            f"Mean, Repeat, Mul {refs(sigma_path)}) subtracted by Sub {refs([outer])}. Mul "
            f"{refs([dx])} then multiplies by 1/sigma ({refs([scale])}, from forward): dx = (1/sigma) "
            "(dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).",
            f"逆伝播は dxhat = dy * gamma (Mul {refs([dxhat])})を 3 つの経路で x へ戻します。x は "
            "xhat に直接、平均を通して、sigma を通しての 3 通りで効くからです: (1) 直接: dxhat そのもの。"
            f"(2) 平均を通して: mean(dxhat) (Sum, Div, Repeat {refs(mean_path)})を Sub {refs([inner])} "
            f"で引く。(3) sigma を通して: xhat * mean(dxhat * xhat) (Mul, Mean, Repeat, Mul "
            f"{refs(sigma_path)})を Sub {refs([outer])} で引く。最後に Mul {refs([dx])} が 1/sigma "
            f"(順伝播の {refs([scale])})を掛けます: dx = (1/sigma) (dxhat - mean(dxhat) - xhat * "
            "mean(dxhat * xhat))。",
        )
    ]
    grad = ex.trace.input_grads.get("x")
    if grad is not None:
        worst = float(np.abs(np.sum(grad, axis=-1)).max())
        lines.append(
            _say(
                lang,
                f"the two subtracted paths take out of dxhat what normalising ignores: adding a number "
                f"to a token's {d} features (path 2) or scaling them about their mean (path 3) gives "
                f"the same xhat, so dx has no part along 1 and, but for eps, none along xhat. Each "
                "token's dx sums to 0 "
                f"(here the largest |sum| is {worst:.0e}).",
                "引く 2 つの経路は、正規化が無視するものを dxhat から取り除きます: トークンの "
                f"{d} 個の特徴に同じ数を足しても(経路 2)、平均のまわりで拡大しても(経路 3) xhat は"
                "同じなので、dx には 1 の方向の成分がなく、xhat の方向の成分も(eps の分を除けば)ありま"
                "せん。各トークンの dx の和は "
                f"0 です(ここでは和の絶対値の最大が {worst:.0e})。",
            )
        )
    dgamma, dbeta = g.backward.grad("gamma"), g.backward.grad("beta")
    if stats and dgamma is not None and dbeta is not None:
        lines.append(
            _say(
                lang,
                "it is BatchNorm's formula with the axes swapped: BatchNorm normalises each feature "
                "over the batch (axis 0), LayerNorm each token over its features (the last axis). "
                f"Here the statistics are one mean and one sigma per token (Sum, Mean {refs(stats)}: "
                f"{shape_str(stats[0].shape)}, {tokens} tokens), and the batch axes are where gamma and "
                f"beta were repeated, so dgamma and dbeta sum over them ({refs([dgamma, dbeta])}). No "
                "token depends on another, so LayerNorm is the same in training and eval, for any N.",
                "これは軸を入れ替えた BatchNorm の式です: BatchNorm は各特徴をバッチ(軸 0)で、"
                "LayerNorm は各トークンをその特徴(最後の軸)で正規化します。ここでは統計量がトークン"
                f"ごとに平均 1 つと sigma 1 つ(Sum, Mean {refs(stats)}: {shape_str(stats[0].shape)}、"
                f"{tokens} トークン)で、バッチの軸は gamma と beta が繰り返された軸なので、dgamma と "
                f"dbeta はそれについて合計します({refs([dgamma, dbeta])})。トークンは互いに依存しない"
                "ので、LayerNorm は学習時も評価時も、どんな N でも同じに動きます。",
            )
        )
    return lines
