"""Slips that are plain in a layer's code once the numbers say a gradient is wrong.

Read from the source of ``forward`` and ``backward`` (Python's own ``ast``): an activation's
derivative taken from the incoming gradient or from a pre-activation (``dz2 = dh2 * (1 - dh2)``,
``(1 - out_l1) * out_l1``), a local taken from ``self.grads`` and rebound with ``=``, a product
with the weight of another input (``dh_prev = np.dot(dt, Wx.T)``), a col2im that copies the
overlapping windows back with ``=`` instead of adding them. Each rule only speaks about
a gradient the numbers already found wrong: never a false alarm on a passing layer.
"""

from __future__ import annotations

import ast
import inspect
import re
from types import SimpleNamespace
from typing import Any

from zerokara.check.findings import Finding
from zerokara.check.messages import Msg
from zerokara.check.source import Method, assignments, method, name_of

ONE_MINUS = Msg(
    "the {act} derivative {expr} is taken at {v}, {why}",
    "{act} の微分 {expr} を {v} で計算しています。{why_ja}",
)
FROM_GRADIENT_EN = "a gradient flowing back, not the forward output y = {act}(...)"
FROM_GRADIENT_JA = "{v} は逆向きに流れる勾配で、順伝播の出力 y = {act}(...) ではありません"
AT_PRE_EN = "the pre-activation (the input of {act}), not its output"
AT_PRE_JA = "{v} は {act} の入力(活性化の前の値)で、出力ではありません"
LOCAL_REBOUND = Msg(
    "{v} is rebound with =, so the array taken from self.grads is never written; "
    "write into it: {v}[...] = ...",
    "{v} を = で付け替えているので、self.grads から取り出した配列には何も書き込まれません。"
    "{v}[...] = ... と中身に書き込みます",
)
WRONG_WEIGHT = Msg(
    "d{u} uses {q}, but forward multiplied {u} by {p}: the gradient of {u} flows back through {p}",
    "d{u} の計算に {q} を使っていますが、順伝播で {u} に掛けたのは {p} です。"
    "{u} の勾配は {p} を通って戻ります",
)
COPIED_BACK = Msg(
    "{fn} writes each window back with = : where windows overlap, a pixel keeps only the "
    "last window's gradient; add them (+=): a pixel copied into several windows by im2col "
    "gets the sum of their gradients",
    "{fn} は窓を = で書き戻しています。窓が重なる画素には最後の窓の勾配しか残りません。"
    "+= で足します: im2col で複数の窓にコピーされた画素の勾配は、それらの勾配の和です",
)


def code_findings(cls: Any, failing: set[str], inputs: list[str], layer: Any = None) -> list[Finding]:
    """Slips read from the source, only for gradients the numbers found wrong (``failing``
    holds their names): never a false alarm on a layer whose gradients pass. A model's
    layers (``layer``'s attributes and lists of layers) are read for the derivative slips too."""
    fwd, bwd = method(cls, "forward"), method(cls, "backward")
    if bwd is None or not failing:
        return []
    out: list[Finding] = []
    out += _one_minus(fwd, bwd)
    out += _local_rebound(bwd)
    if fwd is not None:
        out += _wrong_weight(fwd, bwd, failing, inputs)
    if failing & set(inputs):
        out += _copied_back(cls, bwd)
    for sub in _sub_layer_classes(layer, cls):
        sub_bwd = method(sub, "backward")
        if sub_bwd is not None:
            out += _one_minus(method(sub, "forward"), sub_bwd)
    return out


def _sub_layer_classes(layer: Any, cls: Any) -> list[type]:
    """The classes of the layers a model holds (as attributes or in lists), its own excluded."""
    found: dict[type, None] = {}
    for value in vars(layer).values() if layer is not None and hasattr(layer, "__dict__") else []:
        for item in value if isinstance(value, (list, tuple)) else [value]:
            kind = type(item)
            if kind is not cls and callable(getattr(kind, "backward", None)) and hasattr(item, "__dict__"):
                found[kind] = None
    return list(found)


def _activation_of(fwd: Method | None, var: str) -> str:
    """What forward computed ``var`` with: 'output' of a sigmoid/tanh, 'pre' (a product or a
    sum), or '' (unknown)."""
    if fwd is None:
        return ""
    value = None
    for target, v, _ in assignments(fwd):
        if name_of(target) == var and name_of(v) != var:  # self.v = v keeps what v was
            value = v
    if isinstance(value, ast.Name) and value.id != var:
        return _activation_of(fwd, value.id)
    if value is None:
        return "pre" if var in fwd.args else ""
    text = ast.unparse(value)
    if isinstance(value, ast.Name) and value.id in fwd.args:
        return "pre"  # forward's own input: what the activation was applied to
    if any(k in text for k in ("exp(", "tanh(", "sigmoid(")) or (
        isinstance(value, ast.Call) and not _is_product(value)
    ):
        return "output"
    one_over = isinstance(value, ast.BinOp) and isinstance(value.op, ast.Div)
    if one_over and isinstance(value.left, ast.Constant):  # type: ignore[attr-defined]
        return "output"  # 1 / (1 + e): a sigmoid written in two steps
    if _is_product(value):
        return "pre"  # x @ W + b: what an activation is applied to
    return ""


def _is_product(node: ast.AST) -> bool:
    text = ast.unparse(node)
    return "dot(" in text or "@" in text or "matmul(" in text


def _one_minus(fwd: Method | None, bwd: Method) -> list[Finding]:
    """``v * (1 - v)`` or ``1 - v ** 2`` in backward, with v a gradient or a pre-activation."""
    out: list[Finding] = []
    grads = set(bwd.args)
    aliases: dict[str, str] = {}
    for target, value, _ in assignments(bwd):
        t = name_of(target)
        if t is None:
            continue
        src = name_of(value)
        if src is not None and isinstance(value, ast.Attribute):
            aliases[t] = src  # out_l1 = self.out_l1
        elif _mentions(value, grads) and not isinstance(value, ast.Attribute):
            grads.add(t)  # a value computed from the incoming gradient is a gradient
    for node in ast.walk(bwd.tree):
        if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub)):
            continue
        if not (isinstance(node.left, ast.Constant) and node.left.value == 1):
            continue
        right = node.right
        act, v = "sigmoid", name_of(right)
        if isinstance(right, ast.BinOp) and isinstance(right.op, ast.Pow):
            act, v = "tanh", name_of(right.left)
        if v is None:
            continue
        stmt = _statement(bwd, node)
        if act == "sigmoid" and not _multiplied_by(stmt, v):
            continue
        if v in grads:
            en, ja, code = (
                FROM_GRADIENT_EN.format(act=act),
                FROM_GRADIENT_JA.format(act=act, v=v),
                "derivative-from-dout",
            )
        elif _activation_of(fwd, aliases.get(v, v)) == "pre":
            en, ja, code = AT_PRE_EN.format(act=act), AT_PRE_JA.format(act=act, v=v), "derivative-at-input"
        else:
            continue
        where = bwd.where(stmt)
        expr = f"{v} * (1 - {v})" if act == "sigmoid" else f"1 - {v} ** 2"
        y = _output_of(fwd, aliases.get(v, v), code, v, set(aliases) | _unpacked(bwd))
        keep = ""
        if y is None and code == "derivative-at-input":  # forward returned f(x) without keeping it
            y, keep = "self.out", f"; and in forward: self.out = {act}(...)"
        fix = None
        if y is not None:
            line = where.source.strip()
            if code == "derivative-at-input":  # self.x * (1 - self.x) -> self.out * (1 - self.out)
                if f"self.{v}" in line and not y.startswith("self.") and y in _stored(fwd):
                    y = f"self.{y}"
                fix = re.sub(rf"(?<![\w.])(?:self\.)?{re.escape(v)}\b", y, line) + keep
            elif act == "sigmoid":  # dh2 * (1 - dh2) -> dh2 * (1 - self.h2) * self.h2
                fix = re.sub(rf"\((1(?:\.0*)?) - {re.escape(v)}\)", rf"(\1 - {y}) * {y}", line, count=1)
            else:  # tanh: 1 - dout ** 2 -> 1 - self.out ** 2
                fix = line.replace(f"{v} ** 2", f"{y} ** 2", 1)
        out.append(Finding(code, ONE_MINUS(act=act, expr=expr, v=v, why=en, why_ja=ja), fix, where))
    return out


def _unpacked(bwd: Method) -> set[str]:
    """Names backward takes from what forward kept: ``x, h_prev, h_next = self.cache``."""
    return {
        e.id
        for t, v, _ in assignments(bwd)
        if isinstance(t, (ast.Tuple, ast.List)) and name_of(v)
        for e in t.elts
        if isinstance(e, ast.Name)
    }


def _output_of(
    fwd: Method | None, v: str, code: str, shown: str, unpacked: set[str] | None = None
) -> str | None:
    """What backward should have used: for a gradient dh2, the forward output h2 (as self.h2
    when forward stored it, as h_next when backward took it from its cache); for a
    pre-activation z, the variable forward set to f(z)."""
    if fwd is None:
        return None
    stored = _stored(fwd)
    if code == "derivative-from-dout":
        y = shown[1:] if shown.startswith("d") else None
        if y and y in (unpacked or set()):
            return y  # x, h_prev, h_next = self.cache
        if y and y in stored:
            return f"self.{y}"
        return None
    for target, value, _ in assignments(fwd):
        t = name_of(target)
        if (
            t
            and t != v
            and isinstance(value, (ast.Call, ast.BinOp))
            and _mentions(value, {v})
            and not _is_product(value)
        ):
            return t
    return None


def _stored(fwd: Method | None) -> set[str | None]:
    """Names forward keeps on self (``self.out = out``)."""
    return {name_of(t) for t, _, _ in assignments(fwd) if isinstance(t, ast.Attribute)} if fwd else set()


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _statement(m: Method, target: ast.AST) -> ast.stmt:
    for st in ast.walk(m.tree):
        if (
            isinstance(st, ast.stmt)
            and not isinstance(st, ast.FunctionDef)
            and any(n is target for n in ast.walk(st))
        ):
            best = st
    return best


def _multiplied_by(stmt: ast.AST, v: str) -> bool:
    """The statement multiplies by v besides (1 - v): v * (1 - v)."""
    for n in ast.walk(stmt):
        if (
            isinstance(n, ast.BinOp)
            and isinstance(n.op, ast.Mult)
            and (name_of(n.left) == v or name_of(n.right) == v)
        ):
            return True
    return False


def _local_rebound(bwd: Method) -> list[Finding]:
    """``dW, db = self.grads`` then ``dW = ...``: the local is rebound, the array never written."""
    taken: set[str] = set()
    out = []
    for target, value, st in assignments(bwd):
        from_grads = any(name_of(n) == "grads" for n in ast.walk(value))
        if from_grads and isinstance(target, (ast.Tuple, ast.List)):
            taken |= {e.id for e in target.elts if isinstance(e, ast.Name)}
        elif from_grads and isinstance(target, ast.Name):
            taken.add(target.id)
        elif isinstance(target, ast.Name) and target.id in taken:
            where = bwd.where(st)
            out.append(
                Finding(
                    "grads-rebound",
                    LOCAL_REBOUND(v=target.id),
                    f"{target.id}[...] = {ast.unparse(value)}",
                    where,
                )
            )
    return out


def _products(m: Method) -> list[tuple[str, str]]:
    """(input, weight) pairs of forward's products: np.dot(h_prev, Wh), h_prev @ Wh, h_prev.dot(Wh)."""
    out = []
    for n in ast.walk(m.tree):
        a = b = None
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("dot", "matmul"):
            if len(n.args) == 2:
                a, b = n.args
            elif len(n.args) == 1:
                a, b = n.func.value, n.args[0]
        elif isinstance(n, ast.BinOp) and isinstance(n.op, ast.MatMult):
            a, b = n.left, n.right
        if a is not None and b is not None and name_of(a) and name_of(b):
            out.append((str(name_of(a)), str(name_of(b))))
    return out


def _wrong_weight(fwd: Method, bwd: Method, failing: set[str], inputs: list[str]) -> list[Finding]:
    pairs = [(u, w) for u, w in _products(fwd) if u in inputs]
    weights = {w for _, w in pairs}
    out = []
    for u, p in pairs:
        if u not in failing:
            continue
        for target, value, st in assignments(bwd):
            if name_of(target) != f"d{u}":
                continue
            used = {
                name_of(n.value) if isinstance(n, ast.Attribute) and n.attr == "T" else None
                for n in ast.walk(value)
            }
            wrong = sorted(w for w in used if w in weights and w != p)
            if wrong and p not in used:
                where = bwd.where(st)
                fix = where.source.strip().replace(f"{wrong[0]}.T", f"{p}.T")
                out.append(Finding("wrong-weight", WRONG_WEIGHT(u=u, q=wrong[0], p=p), fix, where))
    return out


def _copied_back(cls: Any, bwd: Method) -> list[Finding]:
    """A col2im that copies (``img[:, :, y:y_max:s, x:x_max:s] = col[...]`` in a loop over the
    kernel offsets) instead of adding: in backward itself or in a function of the layer's
    module that backward calls. A window written at a slice starting at the loop's offset
    overlaps the next one's; im2col's own ``col[:, :, y, x] = img[...]`` indexes the target
    by the offset and is not flagged."""
    fn = getattr(cls, "backward", None)
    scope = getattr(getattr(fn, "__func__", fn), "__globals__", {})  # backward's module
    called = {
        n.func.id for n in ast.walk(bwd.tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    methods = [(bwd, "backward")]
    for fname in sorted(called):
        helper = scope.get(fname)
        m = method(SimpleNamespace(f=helper), "f") if inspect.isfunction(helper) else None
        if m is not None:
            methods.append((m, fname))
    out: dict[tuple[str, int], Finding] = {}  # nested loops see a statement twice: once
    for m, fname in methods:
        for loop in (n for n in ast.walk(m.tree) if isinstance(n, ast.For)):
            offsets = {n.id for n in ast.walk(loop.target) if isinstance(n, ast.Name)}
            windows: set[str] = set()  # rows = slice(y, y + h): names of slices at an offset
            for target, value, _ in assignments_in(loop):
                is_slice = isinstance(value, ast.Call) and name_of(value.func) == "slice"
                if isinstance(target, ast.Name) and is_slice and _mentions_any(value, offsets):
                    windows.add(target.id)
            for st in ast.walk(loop):
                if not (isinstance(st, ast.Assign) and len(st.targets) == 1):
                    continue
                target = st.targets[0]
                if isinstance(target, ast.Subscript) and _window_at(target, offsets, windows):
                    code = f"{ast.unparse(target)} += {ast.unparse(st.value)}"
                    where = m.where(st)
                    out[where.file, where.line] = Finding("col2im-copies", COPIED_BACK(fn=fname), code, where)
    return list(out.values())


def _mentions_any(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def assignments_in(loop: ast.For) -> list[tuple[ast.AST, ast.AST, ast.stmt]]:
    """(target, value, statement) of the assignments in a loop's body, tuples unpacked."""
    out: list[tuple[ast.AST, ast.AST, ast.stmt]] = []
    for st in ast.walk(loop):
        if isinstance(st, ast.Assign):
            for t in st.targets:
                pairs = (
                    zip(t.elts, st.value.elts, strict=True)
                    if isinstance(t, ast.Tuple)
                    and isinstance(st.value, ast.Tuple)
                    and len(t.elts) == len(st.value.elts)
                    else [(t, st.value)]
                )
                out += [(a, b, st) for a, b in pairs]
    return out


def _window_at(target: ast.Subscript, offsets: set[str], windows: set[str]) -> bool:
    """The subscript holds a slice whose start depends on a loop variable (``y:y + h``), or a
    name bound to one (``rows = slice(y, y + h)``)."""
    return any(
        (isinstance(s, ast.Slice) and s.lower is not None and _mentions_any(s.lower, offsets))
        or (isinstance(s, ast.Name) and s.id in windows)
        for s in ast.walk(target.slice)
    )
