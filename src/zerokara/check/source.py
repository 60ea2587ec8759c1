"""The reader's file: load it, find its layers, and point at lines of it.

Loading turns every way a file can fail to import (a syntax error, a missing module, an
error while it runs) into one message with the file's line. The rest reads the source of
a layer's ``forward`` and ``backward`` (Python's own ``ast``) to find the line a gradient
is written on (:mod:`zerokara.check.code_rules` reads the slips themselves).
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

from zerokara.check import adapt
from zerokara.check.findings import Where
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
    sys.modules[name] = module  # inspect finds a class's file through its module, as for any import
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        del sys.modules[name]
        line = (e.text or "").rstrip("\n")
        raise FileError(SYNTAX(path=str(p), msg=e.msg), Where(str(p), e.lineno or 0, line)) from None
    except Exception as e:  # noqa: BLE001 -- whatever the user's module raises on import, said in one line
        sys.modules.pop(name, None)
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
    """The name a misspelt one was likely meant to be (``dW`` for ``dw``), or ""."""
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
    return close[0] if close else ""


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


def is_abstract(cls: Any) -> bool:
    """A base class whose forward only raises NotImplementedError (or is ``pass`` / ``...``)."""
    m = method(cls, "forward")
    if m is None:
        return False
    body = [st for st in m.tree.body if not (isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant))]
    if not body:
        return True  # only a docstring or ...
    only = body[0] if len(body) == 1 else None
    raises = isinstance(only, ast.Raise) and "NotImplementedError" in ast.unparse(only)
    return raises or isinstance(only, ast.Pass)


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


def name_of(node: ast.AST) -> str | None:
    """``x`` for a Name, ``x`` for ``self.x`` (an attribute of self), else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr
    return None


def assignments(m: Method) -> list[tuple[ast.AST, ast.AST, ast.stmt]]:
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
        if isinstance(st, ast.Assign) and any(name_of(n) == "grads" for n in ast.walk(st.value)):
            for t in st.targets:
                if isinstance(t, (ast.Tuple, ast.List)) and name_of(st.value) == "grads":
                    aliases |= {e.id: i for i, e in enumerate(t.elts) if isinstance(e, ast.Name)}
                elif (
                    isinstance(t, ast.Name)
                    and isinstance(st.value, ast.Subscript)
                    and isinstance(st.value.slice, ast.Constant)
                ):
                    aliases[t.id] = st.value.slice.value
    for target, _, st in assignments(m):
        if _writes_grad(target, slot_key, style, short, aliases):
            last = st
    return m.where(last) if last is not None else None


def _writes_grad(target: ast.AST, key: Any, style: str, short: str, aliases: dict[str, Any]) -> bool:
    if style == "book1" and name_of(target) in adapt.grad_names(short):
        return True
    base = target
    while isinstance(base, ast.Subscript):
        base = base.value
    if target is not base and isinstance(base, ast.Name) and aliases.get(base.id, object()) == key:
        return True  # dW[...] = ... or dW[word_id] += ... into the array taken from self.grads
    node = target
    while isinstance(node, ast.Subscript):  # self.grads[2][...] or self.grads["b"]
        inner = node.value
        if name_of(inner) == "grads" and isinstance(node.slice, ast.Constant) and node.slice.value == key:
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
    var = name_of(elts[position])
    if var is None:
        return m.where(ret)
    last = None
    for target, _, st in assignments(m):
        if name_of(target) == var:
            last = st
    return m.where(last if last is not None else ret)


def left_out_line(cls: Any, fix: str | None) -> tuple[Where | None, str | None]:
    """Where backward first uses its dout without the activation's derivative (``dt = dh_next``),
    and that line with the derivative put in, written with forward's returned name."""
    fwd, bwd = method(cls, "forward"), method(cls, "backward")
    if bwd is None or not bwd.args:
        return None, fix
    dout = bwd.args[0]
    for target, value, st in assignments(bwd):
        if name_of(value) == dout and name_of(target):
            where = bwd.where(st)
            y = _returned_of(fwd)
            m = re.search(r"dout \* (.+)$", fix or "")
            if y and m:
                local = re.sub(r"\by\b", y, m.group(1))
                return where, f"{name_of(target)} = {dout} * {local}"
            return where, fix
    return None, fix


def _returned_of(fwd: Method | None) -> str | None:
    if fwd is None:
        return None
    ret = next((n for n in ast.walk(fwd.tree) if isinstance(n, ast.Return) and n.value is not None), None)
    return name_of(ret.value) if ret is not None and ret.value is not None else None


def added_line(cls: Any) -> Where | None:
    """The first line of backward that adds into a gradient (``self.grads[0] += dW``,
    ``dW[word_id] += dout[i]``, ``self.dW += ...``)."""
    m = method(cls, "backward")
    if m is None:
        return None
    taken = {name_of(t) for t, v, _ in assignments(m) if any(name_of(n) == "grads" for n in ast.walk(v))}
    for st in ast.walk(m.tree):
        if isinstance(st, ast.AugAssign) and isinstance(st.op, ast.Add):
            base: ast.expr = st.target
            while isinstance(base, ast.Subscript):
                base = base.value
            name = name_of(base)
            if name == "grads" or name in taken or (name or "").startswith("d"):
                return m.where(st)
        if isinstance(st, ast.Call) and ast.unparse(st.func) in ("np.add.at", "numpy.add.at"):
            return m.where(_statement_of(m, st))  # np.add.at(dW, idx, dout) with nothing zeroing dW
    return None


def _statement_of(m: Method, node: ast.AST) -> ast.stmt:
    return next(
        st
        for st in ast.walk(m.tree)
        if isinstance(st, ast.stmt) and not isinstance(st, ast.FunctionDef) and node in list(ast.walk(st))
    )


def written_line(cls: Any, method_name: str, position: int = 0) -> Where | None:
    """The first line of ``method_name`` that writes into its argument at ``position``
    (``dout[self.mask] = 0``, ``dout *= 2``, ``x[x < 0] = 0``)."""
    m = method(cls, method_name)
    if m is None or position >= len(m.args):
        return None
    arg = m.args[position]
    for st in ast.walk(m.tree):
        targets: list[ast.expr] = []
        if isinstance(st, ast.Assign):
            targets = st.targets
        elif isinstance(st, ast.AugAssign):
            targets = [st.target]
        for t in targets:
            base, sliced = t, False
            while isinstance(base, ast.Subscript):
                base, sliced = base.value, True
            if isinstance(base, ast.Name) and base.id == arg and (sliced or isinstance(st, ast.AugAssign)):
                return m.where(st)
    return None
