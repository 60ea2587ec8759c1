"""The text of ``zerokara explain``, in English or Japanese.

Sections: the forward graph with each node's local gradient rule, the backward
graph as the layer ran it (with the Repeat/Sum pairs pointed out), for a
convolution, a pooling or a Transformer layer what to notice in them
(:mod:`zerokara.explain.notes`), the shape of every gradient next to the shape
of what it is the gradient of, and the numerical gradient check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from zerokara.check.examples import sizes_text
from zerokara.errors import shape_str
from zerokara.explain.graph import Graph, Node
from zerokara.explain.notes import TITLE, notes
from zerokara.explain.readable import traced_line
from zerokara.explain.rules import formula, pairs, rule

if TYPE_CHECKING:
    from zerokara.explain.explanation import Explanation

#: every phrase of the text as (English, Japanese)
PHRASES = {
    "sizes": ("sizes", "サイズ"),
    "built": ("built from the argument names", "引数の名前から組み立て"),
    "created": (
        "built with {create}; inputs from the argument names",
        "{create} で作成、入力は引数の名前から",
    ),
    "forward": ("Forward graph", "順伝播グラフ"),
    "backward": ("Backward graph (as backward() ran)", "逆伝播グラフ(backward() の実行どおり)"),
    "shapes": ("Gradient shapes", "勾配の形状"),
    "check": (
        "Numerical gradient check (central differences, float64)",
        "数値微分による確認(中心差分, float64)",
    ),
    "inputs": ("inputs", "入力"),
    "params": ("parameters", "パラメータ"),
    "comes_in": ("comes in", "上流から"),
    "from_fwd": ("from forward", "順伝播から"),
    "local": ("local gradient", "局所的な勾配"),
    "undoes": ("the backward of forward", "対応する順伝播:"),
    "undone": ("its backward counterpart:", "逆伝播で対になるのは"),
    "pair": ("(Repeat and Sum are each other's backward)", "(Repeat と Sum は互いの逆伝播)"),
    "same": ("shape of", "元の形状"),
    "pass": ("PASS", "合格"),
    "fail": ("FAIL", "不合格"),
    "nodes": ("nodes", "ノード"),
    "changed": (
        "warning: the traced run gave different numbers from a plain run",
        "警告: トレースした実行と通常の実行で数値が異なります",
    ),
    "wrong_shape": ("WRONG SHAPE", "形状が違う"),
    "missing": ("not computed", "計算されていない"),
    "steps": ("time steps: t=1..{T} (t=0 is the initial state)", "時刻: t=1..{T} (t=0 は初期状態)"),
    "computes": ("computes", "計算"),
    "unchanged": ("(passed on unchanged)", "(そのまま渡す)"),
    "disagree": (
        "warning: the fast layer and its readable reference gave different numbers",
        "警告: 速い実装と読みやすい参照実装で数値が異なります",
    ),
}
TEXT = {lang: {k: v[i] for k, v in PHRASES.items()} for i, lang in enumerate(("en", "ja"))}


VIEWS = ("Reshape", "Transpose", "Slice", "Repeat", "Reverse")


def visible(graph: Graph, phase: str) -> list[Node]:
    """Nodes worth showing: drop leaves and views nobody reads (zeros that were added and
    skipped, the reshaped index of an np.unique)."""
    used = {i.id for n in graph.nodes for i in n.inputs}
    return [
        n
        for n in graph.nodes
        if n.phase == phase and (n.id in used or n.stores or not (n.is_leaf or n.op in VIEWS))
    ]


def op_text(n: Node) -> str:
    """``Sum(axis=0)``, ``Repeat(over axis 0)``, ``Slice[:, 2]``, ``Gather[ids]``."""
    a = n.attrs
    if n.op in ("Sum", "Mean", "Max", "Min") and "axis" in a:
        ax = a["axis"]
        return f"{n.op}(axis={ax[0] if len(ax) == 1 else ax})"
    if n.op == "Repeat":
        ax = a.get("axes", ())
        return f"Repeat(over axis {ax[0] if len(ax) == 1 else tuple(ax)})" if ax else "Repeat"
    if n.op == "Slice" and a.get("grid") not in (None, a.get("src")):
        return f"Slice{a['index']} of {shape_str(a['grid'])}"  # of the buffer reshaped that way
    if n.op in ("Slice", "Gather", "ScatterAdd", "Reverse"):
        return f"{n.op}{a.get('index', '')}"
    if n.op == "Transpose":
        axes = tuple(a.get("axes", ()))
        return "Transpose (.T)" if axes == (1, 0) else f"Transpose{axes}"
    if n.op == "Concat":
        return f"Concat(axis={a.get('axis')})"
    if n.op == "Where":
        return n.op  # where(cond, a, b): the operands, a number among them, say the rest
    if "const" in a and np.isscalar(a["const"]):
        c = format(a["const"], ".4g")
        return f"{n.op}({c}, ·)" if a["const_pos"] == 0 else f"{n.op}(·, {c})"
    return n.op


def operands(n: Node) -> str:
    parts = [f"{i.name} {shape_str(i.shape)}" for i in n.inputs]
    if "const" in n.attrs:
        c = n.attrs["const"]
        parts.insert(n.attrs["const_pos"], format(c, "g") if np.isscalar(c) else "const")
    return ", ".join(parts)


def node_line(n: Node) -> str:
    step = f"  [t={n.step}]" if n.step is not None else ""
    out = f"{', '.join(n.stores)} " if n.stores else (f"{n.label} " if n.label else "")
    return f"  #{n.id:<3} {op_text(n):<22} {operands(n)}  ->  {out}{shape_str(n.shape)}{step}"


def _leaves(nodes: list[Node], kinds: tuple[str, ...]) -> str:
    return ", ".join(f"{n.name} {shape_str(n.shape)}" for n in nodes if n.op in kinds) or "-"


def render_text(ex: Explanation, lang: str = "en") -> str:
    """The whole text output of ``zerokara explain`` (``lang`` "en" or "ja")."""
    t = TEXT[lang]
    g, undo = ex.graph, pairs(ex.graph)
    lines = [f"zerokara explain {ex.name}: {ex.description}", f"{t['sizes']}: {sizes_text(ex.sizes)}"]
    if ex.built:
        how = t["created"].format(create=ex.created) if ex.created else t["built"]
        lines.append(f"{how}: {ex.built}")
    if ex.replaced:
        lines.append(traced_line(ex.module, ex.replaced, lang))
        if not ex.fast_agrees:
            lines.append(t["disagree"])
    if ex.steps and any(n.step for n in g.nodes):
        lines.append(t["steps"].format(T=ex.steps))
    if not ex.same_as_untraced:
        lines.append(t["changed"])
    lines += ["", *_forward(g, undo, t), "", *_backward(g, undo, t)]
    notice = notes(ex, lang)
    if notice:
        lines += ["", TITLE[lang], *(f"  - {n}" for n in notice)]
    lines += ["", t["shapes"], *shape_lines(ex, t)]
    lines += ["", f"{t['check']}: {t['pass'] if ex.report.ok else t['fail']}"]
    return "\n".join(lines + ["  " + e.line(lang) for e in ex.report.entries])


def _forward(g: Graph, undo: list[tuple[Node, Node]], t: dict) -> list[str]:
    """Each forward node with its local gradient rule (and the Sum that undoes a Repeat)."""
    fwd = visible(g, "forward")
    lines = [
        f"{t['forward']} ({len(fwd)} {t['nodes']})",
        f"  {t['inputs']}: {_leaves(fwd, ('Input',))}",
        f"  {t['params']}: {_leaves(fwd, ('Param',))}",
    ]
    for n in fwd:
        if n.op in ("Input", "Param"):
            continue
        lines.append(node_line(n))
        lines += [f"        {t['local']}: {r}" for r in rule(n)]
        lines += [
            f"        {t['undone']} #{b.id} {op_text(b)} -> {b.name}"
            + (f"  [t={b.step}]" if b.step and b.name.startswith("#") else "")
            for f, b in undo
            if f is n
        ]
    return lines


def _backward(g: Graph, undo: list[tuple[Node, Node]], t: dict) -> list[str]:
    """Each backward node with what it computes, in the order backward() ran."""
    bwd = visible(g, "backward")
    cached = ", ".join(f"{n.name} {shape_str(n.shape)}" for n in g.backward.external()) or "-"
    douts = _leaves(bwd, ("Dout",))
    lines = [
        f"{t['backward']} ({len(bwd)} {t['nodes']})",
        f"  {t['comes_in']}: {'1.0 (dL/dL)' if douts == '-' else douts}",
        f"  {t['from_fwd']}: {cached}",
    ]
    for n in bwd:
        if n.op == "Dout":
            if n.stores:  # dout itself returned or stored as a gradient
                lines.append(f"  {n.name} -> {', '.join(n.stores)}  {t['unchanged']}")
            continue
        lines.append(node_line(n))
        if not n.is_leaf:
            lines.append(f"        {t['computes']}: {n.name} = {formula(n)}")
        for f, b in undo:
            if b is n:
                src = f.inputs[0] if f.inputs else f
                lines.append(
                    f"        {t['undoes']} #{f.id} {op_text(f)}: {src.name} "
                    f"{shape_str(src.shape)} -> {shape_str(f.shape)}  {t['pair']}"
                )
    return lines


def shape_lines(ex: Explanation, t: dict) -> list[str]:
    """``dW (4, 5)  = shape of W (4, 5)`` per input and parameter; a mismatch is flagged."""
    out = []
    tr = ex.trace
    shapes = {n: getattr(x, "shape", None) for n, x in zip(tr.input_names, ex.inputs, strict=True)}
    for name, g in tr.input_grads.items():
        out.append(_shape_line(f"d{name}", g, name, shapes.get(name), t))
    params = tr.param_shapes
    for name, g in tr.param_grads.items():
        head, _, short = name.rpartition(".")
        out.append(_shape_line(f"{head}.d{short}" if head else f"d{short}", g, name, params.get(name), t))
    return out


def _shape_line(gname: str, g: np.ndarray | None, of: str, want: tuple | None, t: dict) -> str:
    if g is None:
        return f"  {gname:<14} {t['missing']}"
    ok = want is None or tuple(g.shape) == tuple(want)
    mark = "" if ok else f"   <- {t['wrong_shape']}"
    return f"  {gname:<14} {shape_str(g.shape):<14} = {t['same']} {of} {shape_str(want or g.shape)}{mark}"
