"""The reader's file: load it, find its layers, and point at lines of it.

Loading turns every way a file can fail to import (a syntax error, a missing module, an
error while it runs) into one message with the file's line. The rest reads the source of
a layer's ``forward`` and ``backward`` (Python's own ``ast``) to find the line a gradient
is written on, and the slips that are plain in the code once the numbers say something
is wrong: a derivative taken from the incoming gradient or from a pre-activation, a
gradient list rebound with ``=``, a product with the weight of another input.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import sys
import textwrap
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from zerokara.check.findings import Finding, Where
from zerokara.check.messages import Msg, Text
from zerokara.errors import ZerokaraError


class FileError(ZerokaraError):
    """The file cannot be read or imported, or has no such layer."""

    def __init__(self, text: Text, where: Where | None = None) -> None:
        super().__init__(text.render("en") + (f" ({where})" if where else ""))
        self.text = text
        self.where = where


NO_FILE = Msg("{path}: no such file", "{path}: ファイルがありません")
SYNTAX = Msg("{path} has a syntax error: {msg}", "{path} に文法エラーがあります: {msg}")
IMPORT = Msg(
    "{path} cannot be imported: {error}{hint}",
    "{path} を読み込めません: {error}{hint}",
)
COMMON_HINT = Msg(
    " (the books' `common` package is not on the path; run from the folder that has it, or "
    "copy the layer into one file)",
    "(本の `common` パッケージがパスにありません。"
    "それがあるフォルダで実行するか、レイヤを一つのファイルにまとめてください)",
)


def load_file(path: str | Path) -> ModuleType:
    """Import a user's ``.py`` file as a module (its folder on ``sys.path`` while it runs, as
    ``python file.py`` would have it)."""
    p = Path(path)
    if not p.is_file():
        raise FileError(NO_FILE(path=str(p)))
    name = f"zerokara_user_{abs(hash(str(p.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise FileError(IMPORT(path=str(p), error="not a Python file", hint=""))
    module = importlib.util.module_from_spec(spec)
    folder = str(p.resolve().parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        line = (e.text or "").rstrip("\n")
        raise FileError(SYNTAX(path=str(p), msg=e.msg), Where(str(p), e.lineno or 0, line)) from None
    except Exception as e:  # noqa: BLE001 -- whatever the user's module raises on import, said in one line
        hint = COMMON_HINT() if isinstance(e, ImportError) and "common" in str(e) else ""
        raise FileError(
            IMPORT(path=str(p), error=f"{type(e).__name__}: {e}", hint=hint), user_line(e, str(p))
        ) from None
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)
    return module


def user_line(error: BaseException, path: str | None = None) -> Where | None:
    """The innermost line of the traceback that is in the user's file (or not in zerokara)."""
    frames = traceback.extract_tb(error.__traceback__)
    best = None
    for fr in frames:
        in_user = (path is not None and Path(fr.filename).resolve() == Path(path).resolve()) or (
            path is None and "zerokara" not in Path(fr.filename).parts and "numpy" not in fr.filename
        )
        if in_user:
            best = Where(_short(fr.filename), fr.lineno or 0, code_only(fr.line or ""))
    return best


def did_you_mean(error: BaseException) -> str:
    """Python's own hint for a misspelt name: `` (did you mean 'dW'?)``, or ""."""
    import difflib

    name = getattr(error, "name", None)
    if not isinstance(name, str):
        return ""
    if isinstance(error, AttributeError) and getattr(error, "obj", None) is not None:
        options = [k for k in dir(error.obj) if not k.startswith("__")]
    elif isinstance(error, NameError):
        tb = error.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        frame = tb.tb_frame if tb is not None else None
        options = list(frame.f_locals) + list(frame.f_globals) if frame is not None else []
    else:
        return ""
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    if not close:
        close = [k for k in options if k.lower() == name.lower() and k != name][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


def classes_in(module: ModuleType) -> list[type]:
    """Classes defined in the module itself (not imported into it), in file order."""
    found = [v for v in vars(module).values() if inspect.isclass(v) and v.__module__ == module.__name__]
    return sorted(found, key=lambda c: _first_line(c))


def functions_in(module: ModuleType) -> list[Any]:
    found = [v for v in vars(module).values() if inspect.isfunction(v) and v.__module__ == module.__name__]
    return sorted(found, key=lambda f: f.__code__.co_firstlineno)


def _first_line(obj: Any) -> int:
    try:
        return inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return 0


def is_layer(cls: Any) -> bool:
    return all(callable(getattr(cls, m, None)) for m in ("forward", "backward"))


# -- reading forward and backward ---------------------------------------------------------------


@dataclass
class Method:
    """A method's syntax tree with the file and line it starts at."""

    tree: ast.FunctionDef
    file: str
    first: int  # line of the file where the def is
    lines: list[str]

    def where(self, node: ast.AST) -> Where:
        lineno = getattr(node, "lineno", 1)
        text = self.lines[lineno - 1] if lineno <= len(self.lines) else ""
        return Where(self.file, self.first + lineno - 1, code_only(text))

    @property
    def args(self) -> list[str]:
        return [a.arg for a in self.tree.args.args[1:]]


def method(cls: Any, name: str) -> Method | None:
    fn = getattr(cls, name, None)
    fn = getattr(fn, "__func__", fn)
    if fn is None:
        return None
    try:
        lines, first = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or "?"
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except SyntaxError:
        return None
    node = tree.body[0] if tree.body else None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    return Method(node, _short(file), first, [ln.rstrip("\n") for ln in lines])  # type: ignore[arg-type]


def code_only(line: str) -> str:
    """A line without its comment (a ``#`` outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i].rstrip()
    return line.rstrip()


def _short(file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(Path.cwd()))
    except ValueError:
        return file


def _name(node: ast.AST) -> str | None:
    """``x`` for a Name, ``x`` for ``self.x`` (an attribute of self), else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr
    return None


def _assignments(m: Method) -> list[tuple[ast.AST, ast.AST, ast.stmt]]:
    """(target, value, statement) of every assignment in the method, tuples unpacked."""
    out: list[tuple[ast.AST, ast.AST, ast.stmt]] = []
    for st in ast.walk(m.tree):
        if isinstance(st, ast.Assign):
            for t in st.targets:
                if (
                    isinstance(t, ast.Tuple)
                    and isinstance(st.value, ast.Tuple)
                    and len(t.elts) == len(st.value.elts)
                ):
                    out += [(a, b, st) for a, b in zip(t.elts, st.value.elts, strict=True)]
                else:
                    out.append((t, st.value, st))
        elif isinstance(st, (ast.AugAssign, ast.AnnAssign)) and st.value is not None:
            out.append((st.target, st.value, st))
    return sorted(out, key=lambda a: getattr(a[2], "lineno", 0))


def grad_line(cls: Any, slot_key: Any, style: str, short: str) -> Where | None:
    """The line of backward that writes the gradient of parameter ``short``."""
    m = method(cls, "backward")
    if m is None:
        return None
    last = None
    aliases: dict[str, Any] = {}  # dW, = self.grads  ->  {"dW": 0}
    for st in ast.walk(m.tree):
        if isinstance(st, ast.Assign) and any(_name(n) == "grads" for n in ast.walk(st.value)):
            for t in st.targets:
                if isinstance(t, (ast.Tuple, ast.List)) and _name(st.value) == "grads":
                    aliases |= {e.id: i for i, e in enumerate(t.elts) if isinstance(e, ast.Name)}
                elif (
                    isinstance(t, ast.Name)
                    and isinstance(st.value, ast.Subscript)
                    and isinstance(st.value.slice, ast.Constant)
                ):
                    aliases[t.id] = st.value.slice.value
    for target, _, st in _assignments(m):
        if _writes_grad(target, slot_key, style, short, aliases):
            last = st
    return m.where(last) if last is not None else None


def _writes_grad(target: ast.AST, key: Any, style: str, short: str, aliases: dict[str, Any]) -> bool:
    if style == "book1" and _name(target) in (f"d{short}", f"grad_{short}", f"{short}_grad", f"d_{short}"):
        return True
    base = target
    while isinstance(base, ast.Subscript):
        base = base.value
    if target is not base and isinstance(base, ast.Name) and aliases.get(base.id, object()) == key:
        return True  # dW[...] = ... or dW[word_id] += ... into the array taken from self.grads
    node = target
    while isinstance(node, ast.Subscript):  # self.grads[2][...] or self.grads["b"]
        inner = node.value
        if _name(inner) == "grads" and isinstance(node.slice, ast.Constant) and node.slice.value == key:
            return True
        node = inner
    return False


def returned_line(cls: Any, position: int) -> Where | None:
    """The line that computes backward's ``position``-th returned gradient."""
    m = method(cls, "backward")
    if m is None:
        return None
    ret = next((n for n in ast.walk(m.tree) if isinstance(n, ast.Return) and n.value is not None), None)
    if ret is None:
        return None
    elts: list[ast.expr] = []
    if isinstance(ret.value, ast.Tuple):
        elts = ret.value.elts
    elif ret.value is not None:
        elts = [ret.value]
    if position >= len(elts):
        return m.where(ret)
    var = _name(elts[position])
    if var is None:
        return m.where(ret)
    last = None
    for target, _, st in _assignments(m):
        if _name(target) == var:
            last = st
    return m.where(last if last is not None else ret)


def left_out_line(cls: Any, fix: str | None) -> tuple[Where | None, str | None]:
    """Where backward first uses its dout without the activation's derivative (``dt = dh_next``),
    and that line with the derivative put in, written with forward's returned name."""
    fwd, bwd = method(cls, "forward"), method(cls, "backward")
    if bwd is None or not bwd.args:
        return None, fix
    dout = bwd.args[0]
    for target, value, st in _assignments(bwd):
        if _name(value) == dout and _name(target):
            where = bwd.where(st)
            y = _returned_name(fwd)
            m = re.search(r"\((1 - y \*\* 2|y \* \(1 - y\))\)", fix or "")
            if y and m:
                return where, f"{_name(target)} = {dout} * ({m.group(1).replace('y', y)})"
            return where, fix
    return None, fix


def _returned_name(fwd: Method | None) -> str | None:
    if fwd is None:
        return None
    ret = next((n for n in ast.walk(fwd.tree) if isinstance(n, ast.Return) and n.value is not None), None)
    return _name(ret.value) if ret is not None and ret.value is not None else None


def line_text(where: Where | None) -> str:
    return where.source.strip() if where else ""


# -- slips that are plain in the code -------------------------------------------------------------


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


def code_findings(cls: Any, failing: set[str], inputs: list[str]) -> list[Finding]:
    """Slips read from the source, only for gradients the numbers found wrong (``failing``
    holds their names): never a false alarm on a layer whose gradients pass."""
    fwd, bwd = method(cls, "forward"), method(cls, "backward")
    if bwd is None or not failing:
        return []
    out: list[Finding] = []
    out += _one_minus(fwd, bwd)
    out += _local_rebound(bwd)
    if fwd is not None:
        out += _wrong_weight(fwd, bwd, failing, inputs)
    return out


def _activation_of(fwd: Method | None, var: str) -> str:
    """What forward computed ``var`` with: 'output' of a sigmoid/tanh, 'pre' (a product or a
    sum), or '' (unknown)."""
    if fwd is None:
        return ""
    value = None
    for target, v, _ in _assignments(fwd):
        if _name(target) == var and _name(v) != var:  # self.v = v keeps what v was
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
    if _is_product(value) or isinstance(value, ast.BinOp):
        return "pre"
    return ""


def _is_product(node: ast.AST) -> bool:
    text = ast.unparse(node)
    return "dot(" in text or "@" in text or "matmul(" in text


def _one_minus(fwd: Method | None, bwd: Method) -> list[Finding]:
    """``v * (1 - v)`` or ``1 - v ** 2`` in backward, with v a gradient or a pre-activation."""
    out: list[Finding] = []
    grads = set(bwd.args)
    aliases: dict[str, str] = {}
    for target, value, _ in _assignments(bwd):
        t = _name(target)
        if t is None:
            continue
        src = _name(value)
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
        act, v = "sigmoid", _name(right)
        if isinstance(right, ast.BinOp) and isinstance(right.op, ast.Pow):
            act, v = "tanh", _name(right.left)
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
        y = _output_name(fwd, aliases.get(v, v), code, v)
        fix = None
        if y is not None:
            line = where.source.strip()
            fix = (
                line.replace(f"(1 - {v})", f"{y} * (1 - {y})", 1)
                if code == "derivative-from-dout" and act == "sigmoid"
                else line.replace(v, y)
                if code == "derivative-at-input"
                else None
            )
        out.append(Finding(code, ONE_MINUS(act=act, expr=expr, v=v, why=en, why_ja=ja), fix, where))
    return out


def _output_name(fwd: Method | None, v: str, code: str, shown: str) -> str | None:
    """What backward should have used: for a gradient dh2, the forward output h2 (as self.h2
    when forward stored it); for a pre-activation z, the variable forward set to f(z)."""
    if fwd is None:
        return None
    stored = {_name(t) for t, _, _ in _assignments(fwd) if isinstance(t, ast.Attribute)}
    if code == "derivative-from-dout":
        y = shown[1:] if shown.startswith("d") else None
        if y and y in stored:
            return f"self.{y}"
        return None
    for target, value, _ in _assignments(fwd):
        t = _name(target)
        if (
            t
            and t != v
            and isinstance(value, (ast.Call, ast.BinOp))
            and _mentions(value, {v})
            and not _is_product(value)
        ):
            return t
    return None


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
            and (_name(n.left) == v or _name(n.right) == v)
        ):
            return True
    return False


def _local_rebound(bwd: Method) -> list[Finding]:
    """``dW, db = self.grads`` then ``dW = ...``: the local is rebound, the array never written."""
    taken: set[str] = set()
    out = []
    for target, value, st in _assignments(bwd):
        from_grads = any(_name(n) == "grads" for n in ast.walk(value))
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
        if a is not None and b is not None and _name(a) and _name(b):
            out.append((str(_name(a)), str(_name(b))))
    return out


def _wrong_weight(fwd: Method, bwd: Method, failing: set[str], inputs: list[str]) -> list[Finding]:
    pairs = [(u, w) for u, w in _products(fwd) if u in inputs]
    weights = {w for _, w in pairs}
    out = []
    for u, p in pairs:
        if u not in failing:
            continue
        for target, value, st in _assignments(bwd):
            if _name(target) != f"d{u}":
                continue
            used = {
                _name(n.value) if isinstance(n, ast.Attribute) and n.attr == "T" else None
                for n in ast.walk(value)
            }
            wrong = sorted(w for w in used if w in weights and w != p)
            if wrong and p not in used:
                where = bwd.where(st)
                fix = where.source.strip().replace(f"{wrong[0]}.T", f"{p}.T")
                out.append(Finding("wrong-weight", WRONG_WEIGHT(u=u, q=wrong[0], p=p), fix, where))
    return out
