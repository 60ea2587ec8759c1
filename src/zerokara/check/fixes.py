"""The line to write, in the reader's own names: the line a finding points at, with the slip
undone (``db = dt`` -> ``db = np.sum(dt, axis=0)``, ``dW[self.idx] = dout`` ->
``np.add.at(dW, self.idx, dout)``). Where a bias's own ``db`` was made a few lines above
the line that stores it, the fix goes there."""

from __future__ import annotations

import ast
import linecache
import re
from typing import Any

from zerokara.check import adapt
from zerokara.check.findings import Finding, Where
from zerokara.check.source import code_only


def _assigned_above(where: Where, name: str) -> tuple[Where, str] | None:
    """The nearest line above ``where`` in the same file that sets ``name = ...``."""
    for line in range(where.line - 1, max(where.line - 40, 0), -1):
        text = code_only(linecache.getline(where.file, line)).strip()
        m = re.match(rf"^{re.escape(name)}\s*=(?!=)\s*(.+)$", text)
        if m:
            return Where(where.file, line, text), m.group(1)
        if text.startswith("def "):
            return None
    return None


def _summed(value: str) -> str:
    """What a sum was taken of: ``dout`` in ``np.sum(dout, 0, keepdims=True)`` or ``dout.sum(1)``."""
    try:
        node = ast.parse(value, mode="eval").body
    except SyntaxError:
        return value
    if isinstance(node, ast.Call):
        func = ast.unparse(node.func)
        if func in ("np.sum", "numpy.sum", "sum", "np.mean", "numpy.mean") and node.args:
            return ast.unparse(node.args[0])
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("sum", "mean"):
            return ast.unparse(node.func.value)
    return value


def _tuple_pair(target: str, value: str, name: Any) -> tuple[str, str] | None:
    """The (target, value) of a tuple assignment whose target stores the gradient of ``name``."""
    targets, values = [t.strip() for t in target.split(",")], [v.strip() for v in value.split(",")]
    if not isinstance(name, str) or len(targets) < 2 or len(targets) != len(values):
        return None
    names = adapt.grad_names(name.rsplit(".", 1)[-1])
    for t, v in zip(targets, values, strict=True):
        if t.rsplit(".", 1)[-1] in names:
            return t, v
    return None


def fix_at(f: Finding, where: Where | None, follow: bool = True) -> str | None:
    """The line to write, in the reader's own names: their line with the slip undone."""
    if where is None:
        return None
    line = where.source.strip()
    target, eq, value = line.partition("=")
    if not eq or not value.strip() or target.strip().endswith(("<", ">", "!")):
        return None
    value = value.strip()
    pair = _tuple_pair(target, value, f.extra.get("name"))
    if pair is not None:  # self.dW_1, self.db_1 = d_W1, d_b1: the one that belongs to this gradient
        target, value = pair
    short = str(f.extra.get("name", "")).rsplit(".", 1)[-1]
    own = value in adapt.grad_names(short)  # db, not a dt other gradients share
    if follow and own and f.code.startswith("bias-"):
        origin = _assigned_above(where, value)  # db stored here was made a few lines above
        if origin is not None:
            where, (target, value) = origin[0], (value, origin[1])
            fixed = fix_at(f, Where(where.file, where.line, f"{target} = {value}"), follow=False)
            if fixed:
                f.extra["fix_line"] = where.line
            return fixed
    axis = re.search(r"axis=(\(\d[\d, ]*\)|\d+)", f.fix or "")
    if f.code in ("bias-not-summed", "bias-keepdims", "bias-wrong-axis") and axis:
        return f"{target.strip()} = np.sum({_summed(value)}, axis={axis.group(1).strip()})"
    if f.code == "assign-not-add":
        m = re.match(r"^(\w+)\[(.+)\]$", target.strip())
        if m and "[" in value:  # dW[word_id] = dout[i] in a loop: add instead
            return f"{target.strip()} += {value}"
        if m:  # dW[self.idx] = dout: a repeated id is written once; np.add.at adds each
            return f"np.add.at({m.group(1)}, {m.group(2)}, {value})"
    if f.code == "grads-rebound" and target.strip().endswith("]"):
        return f"{target.strip()}[...] = {value}"  # fill the array the optimizer holds
    if f.code == "transposed":
        m = re.match(r"^np\.dot\((\w[\w.]*)\.T,\s*(\w[\w.]*)\)$", value)
        return (
            f"{target.strip()} = np.dot({m.group(2)}.T, {m.group(1)})"
            if m
            else f"{target.strip()} = ({value}).T"
        )
    return None
