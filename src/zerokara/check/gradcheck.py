"""Numerical gradient check for any layer or model, in any of the three styles readers write
(zerokara's Module, book 2's params/grads lists, book 1's ``self.W``/``self.dW``), with a
diagnosis of the classic mistakes.

The check runs on a float64 copy of the layer (the user's layer and arrays are not
touched). For a non-scalar output it contracts the output with a fixed random ``dout``,
so the scalar checked is ``L = sum(out * dout)`` and the analytic gradients are exactly
what ``backward(dout)`` returns. Every element of every float input and every parameter
is nudged by +-eps (central differences, error O(eps**2)).

Every forward starts from the same state: each one runs on a fresh copy of the untouched
float64 layer (Dropout's generator draws the same mask, a stateful TimeLSTM starts from
the same carried h) with NumPy's global random state reset (book 1's Dropout draws with
``np.random.rand``).

A layer with several outputs (LSTM: h and c) returns a tuple; each output gets its own
``dout`` and ``backward`` is called with them in the same order.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from zerokara.check import adapt
from zerokara.check.diagnose import NO_GRADIENT, shape_findings, value_findings
from zerokara.check.findings import Finding
from zerokara.check.messages import Msg, Text
from zerokara.check.report import GradEntry, GradReport
from zerokara.check.seen import Seen
from zerokara.errors import ZerokaraError
from zerokara.introspect import arg_names, modules_of


class LayerCodeError(ZerokaraError):
    """The layer's own code failed (raised, returned None, gave NaN) during the check."""

    def __init__(self, phase: str, text: Text, error: BaseException | None = None) -> None:
        super().__init__(text.render("en"))
        self.phase = phase  # "forward" or "backward"
        self.text = text
        self.error = error
        #: (file, line, function, source) of each frame of the user's error, innermost last
        self.frames = traceback.extract_tb(error.__traceback__) if error is not None else []


RAISED = Msg("{phase} raised {error}", "{phase} で {error} が発生しました")
NOT_ARRAY = Msg(
    "forward returned a {got}: it must return its output, an array (or a float loss), or a tuple of "
    "arrays that backward takes the gradients of in the same order",
    "順伝播が {got} を返しました。出力(配列か損失の float)か、backward がその順に勾配を受け取る"
    "配列のタプルを返す必要があります",
)
RETURNED_NONE = Msg(
    "forward returned None: it must return its output (did it forget `return out`?)",
    "順伝播が None を返しました。出力を返す必要があります(`return out` を忘れていませんか?)",
)
NOT_FINITE = Msg(
    "{what} holds NaN or inf: {where}",
    "{what}に NaN か inf が含まれています: {where}",
)
DOUT_MODIFIED = Msg(
    "backward writes into the dout it was given (dout[self.mask] = 0, dout *= ...): the values are "
    "right, but the caller's array is destroyed; change a copy (dx = dout.copy(), then dx[...])",
    "逆伝播が受け取った dout を書き換えています(dout[self.mask] = 0、dout *= ... など)。値は正しい"
    "ですが、呼び出し側の配列が壊れます。コピーを変更します(dx = dout.copy() のあと dx[...])",
)
INPUT_MODIFIED = Msg(
    "forward writes into its input {x}: the caller's array is changed; work on a copy",
    "順伝播が入力 {x} を書き換えています。呼び出し側の配列が変わってしまいます。コピーに対して計算します",
)
NOT_REPEATABLE = Msg(
    "a second backward with the same dout gives other gradients: backward changes what forward "
    "cached (or accumulates into it)",
    "同じ dout で二度目の逆伝播をすると勾配が変わります。逆伝播が順伝播のキャッシュを書き換えています",
)
FLOAT32 = Msg(
    "the layer computes in float32 inside (np.empty(..., dtype='f') as book 2 writes, or "
    "float32 arrays it makes) although its weights and inputs are float64: the check nudged "
    "by eps={eps:g} and compares to 1e-2",
    "重みと入力は float64 ですが、レイヤ内部が float32 で計算しています(2 巻の "
    "np.empty(..., dtype='f') など)。eps={eps:g} でずらし、1e-2 の精度で比べました",
)
REBOUND = Msg(
    "backward replaced the gradient array of {p} instead of filling it: "
    "the list the optimizer holds keeps the old array, which never sees the gradient",
    "逆伝播が {p} の勾配配列を置き換えています(中身を書き込んでいません)。"
    "オプティマイザが持っているリストは古い配列のままで、勾配が届きません",
)
MISSING = Msg(
    "backward left no gradient for parameter {p} (expected {where})",
    "逆伝播がパラメータ {p} の勾配を残していません({where} が必要です)",
)
HOW_MANY = Msg("{n} of {m} values, first at {first}", "{m} 個中 {n} 個、最初は {first}")
ACCUMULATES = Msg(
    "backward adds into a gradient (+=) that nothing sets first: a second backward doubles it, and "
    "book 2's optimizer never zeroes grads, so every step adds all the earlier ones again; set it "
    "(grads[i][...] = ...) or zero it first (dW[...] = 0)",
    "逆伝播が、先に値を設定していない勾配に += で足し込んでいます。二度目の逆伝播で 2 倍になり、"
    "2 巻のオプティマイザは grads を 0 にしないので、毎回それまでの勾配が足されていきます。"
    "grads[i][...] = ... で設定するか、先に 0 にします(dW[...] = 0)",
)
OUTPUTS = Msg("the output", "出力")
GRADIENTS = Msg("the gradient d{p}", "勾配 d{p}")


def global_random_state() -> Any:
    """NumPy's global generator's state: book 1 and 2's Dropout and negative sampler draw from
    it, so the check replays it before each forward and gives it back afterwards."""
    return np.random.get_state()  # noqa: NPY002 -- the readers' layers use the legacy generator


def set_global_random_state(state: Any) -> None:
    np.random.set_state(state)  # noqa: NPY002 -- see global_random_state


def _call(phase: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except ZerokaraError:
        raise
    except Exception as e:
        raise LayerCodeError(phase, RAISED(phase=phase, error=f"{type(e).__name__}: {e}"), e) from e


def gradcheck(
    module: Any,
    *inputs: Any,
    dout: np.ndarray | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    seed: int = 0,
    max_elements: int | None = None,
    names: dict[int, str] | None = None,
    letters: dict[int, str] | None = None,
) -> GradReport:
    """Compare ``module``'s backward with central differences, in float64.

    Args:
        module: a layer or model in any style: zerokara's Module, book 2's (``params`` and
            ``grads`` lists) or book 1's (``self.W`` with ``self.dW`` set by backward).
            ``forward(*inputs)``; ``backward(dout)`` returns the input gradient(s).
        inputs: the forward arguments. Float arrays are differentiated; integer
            arrays (labels, token ids) are passed through unchanged.
        dout: the upstream gradient for a non-scalar output (default: standard
            normal drawn from the stream ``(seed, 2)``). A scalar output uses dout = 1.
        eps: the finite-difference step.
        rtol, atol: an entry passes when ``max|a - n| <= atol`` or
            ``max|a - n| / max(|a|, |n|) <= rtol``.
        max_elements: check at most this many randomly chosen elements of
            each array (None: all of them).
        names: ``id(array) -> name`` for book 2's unnamed list entries (the constructor's
            argument names, as :mod:`zerokara.check.build` knows them).
        letters: ``size -> letter`` (3 -> "N") so messages read ``(N, H) = (3, 5)``.

    Returns:
        A :class:`GradReport` with one entry per float input and per parameter.

    Raises:
        LayerCodeError: the layer's forward or backward raised, forward returned None, or
            the output or a gradient holds NaN.
    """
    template = adapt.float64_copy(module)
    style = adapt.style_of(template)
    for _, sub in modules_of(template):
        if hasattr(sub, "input_grad"):
            sub.input_grad = True  # every input's gradient is checked
    xs = [x.astype(np.float64) if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x for x in inputs]
    in_names = arg_names(module.forward, len(xs))
    np_state = global_random_state()
    # dout's own stream: inputs drawn with default_rng(seed) (every built-in example) and
    # build's (seed, 1) must never equal dout, or a slip that confuses the two would hide
    rng = np.random.default_rng((seed, 2))

    def fresh() -> Any:
        set_global_random_state(np_state)  # book-style Dropout draws from NumPy's global generator
        return copy.deepcopy(template)

    try:
        m = fresh()
        given = [x.copy() if isinstance(x, np.ndarray) else x for x in xs]
        out = _call("forward", m.forward, *given)
        report = GradReport(type(module).__name__, style=style, eps=eps)
        for x, g, n in zip(xs, given, in_names, strict=True):
            if isinstance(x, np.ndarray) and not np.array_equal(x, g):
                report.notes.append(Finding("input-modified", INPUT_MODIFIED(x=n)))
        if out is None:
            raise LayerCodeError("forward", RETURNED_NONE())
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        odd = [o for o in outs if not isinstance(o, (np.ndarray, float, int, np.floating, np.integer))]
        if odd:  # a dict, a list, a (out, cache) pair of the cs231n kind: not an output to check
            raise LayerCodeError("forward", NOT_ARRAY(got=type(odd[0]).__name__))
        _finite(outs, OUTPUTS(), "forward")
        scalar = not multi and np.ndim(out) == 0
        if scalar:
            ups: tuple = (1.0,)
            # the books' cross_entropy_error takes log(y + 1e-7): the loss the numbers
            # differentiate is off from the one (y - t) / N is the gradient of by 1e-7 / y
            rtol = max(rtol, 1e-4)
        elif dout is None:
            ups = tuple(rng.standard_normal(np.shape(o)) for o in outs)
        else:
            ups = tuple(np.asarray(d, dtype=np.float64) for d in (dout if multi else (dout,)))
        loose = any(isinstance(o, np.ndarray) and o.dtype == np.float32 for o in outs)
        if loose:
            eps, rtol = max(eps, 1e-2), max(rtol, 2e-2)
            report.eps = eps
            report.notes.append(Finding("float32-inside", FLOAT32(eps=eps)))
        held = adapt.held_grads(m)
        sent = tuple(u.copy() if isinstance(u, np.ndarray) else u for u in ups)
        after_forward = copy.deepcopy(m)
        back = _call("backward", m.backward, *sent)
        if any(
            isinstance(u, np.ndarray) and not np.array_equal(u, s) for u, s in zip(ups, sent, strict=True)
        ):
            report.notes.append(Finding("dout-modified", DOUT_MODIFIED()))
        in_grads = list(back) if isinstance(back, (tuple, list)) else [back]
        # the copy's slots under the names the original's arrays have (book 2's from the
        # constructor); book 1's dW may first appear in backward, so ask the layer that ran it
        slot_list = [
            adapt.Slot(o.name, t.style, t.key)
            for o, t in zip(adapt.slots(module, names, after=m), adapt.slots(template, after=m), strict=True)
        ]
        p_grads = {s.name: adapt.gradient(m, s, held) for s in slot_list}
        for s in slot_list:
            g, how = p_grads[s.name]
            if g is not None:
                _finite((np.asarray(g, dtype=np.float64),), GRADIENTS(p=s.name), "backward")
        for i, x in enumerate(xs):
            if (
                isinstance(x, np.ndarray)
                and x.dtype.kind == "f"
                and i < len(in_grads)
                and in_grads[i] is not None
            ):
                _finite((np.asarray(in_grads[i], dtype=np.float64),), GRADIENTS(p=in_names[i]), "backward")
        again = _repeated(after_forward, ups, in_grads, slot_list, p_grads)
        if again == "accumulates":  # book 2's optimizer never zeroes grads: every step adds the last
            report.notes.append(Finding("grads-accumulate", ACCUMULATES()))
        elif again:
            report.notes.append(Finding("backward-not-repeatable", NOT_REPEATABLE()))
    finally:
        set_global_random_state(np_state)

    def loss() -> float:
        try:
            o = fresh().forward(*[x.copy() if isinstance(x, np.ndarray) else x for x in xs])
        finally:
            set_global_random_state(np_state)
        if scalar:
            return float(o)
        return float(sum(np.sum(a * u) for a, u in zip(o if multi else (o,), ups, strict=True)))

    shapes = {s.name: tuple(s.value(template).shape) for s in slot_list}
    seen = Seen(xs, in_names, tuple(outs), ups, dict(letters or {}), loose, shapes)

    def numeric(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Central differences at (a sample of) the elements of arr, in place."""
        flat_idx = np.arange(arr.size)
        if max_elements is not None and arr.size > max_elements:
            flat_idx = np.sort(rng.choice(arr.size, max_elements, replace=False))
        g = np.zeros(len(flat_idx))
        view = arr.flat  # writes go into arr whatever its memory order (a transposed weight)
        for j, i in enumerate(flat_idx):
            v = view[i]
            view[i] = v + eps
            fp = loss()
            view[i] = v - eps
            fm = loss()
            view[i] = v
            g[j] = (fp - fm) / (2 * eps)
        return flat_idx, g

    def add(name: str, kind: str, arr: np.ndarray, analytic: Any, missing: Finding | None = None) -> None:
        idx, num = numeric(arr)
        full = len(idx) == arr.size
        num_full = num.reshape(arr.shape) if full else None
        if analytic is None:
            f = missing or Finding("no-gradient", NO_GRADIENT(p=name))
            report.entries.append(GradEntry(name, kind, arr.shape, np.inf, np.inf, False, [f]))
            return
        a = np.asarray(analytic, dtype=np.float64)
        findings: list[Finding] = []
        if a.shape != arr.shape:
            findings, fixed = shape_findings(
                name, kind, arr.shape, a, num_full if num_full is not None else np.zeros(arr.shape), seen
            )
            if fixed is not None and not _passes(fixed.reshape(-1)[idx], num, atol, rtol) and full:
                assert num_full is not None
                findings += value_findings(name, kind, fixed, num_full, seen, full=full)
            report.entries.append(GradEntry(name, kind, arr.shape, np.inf, np.inf, False, findings))
            return
        a_s = a.reshape(-1)[idx]
        abs_err, rel = _compare(a_s, num)
        ok = abs_err <= atol or rel <= rtol
        if not ok:
            if full:
                assert num_full is not None
                findings = value_findings(name, kind, a, num_full, seen, full=True)
            else:
                findings = value_findings(name, kind, a_s, num, seen, full=False)
        report.entries.append(GradEntry(name, kind, arr.shape, abs_err, rel, ok, findings))

    for i, x in enumerate(xs):
        if isinstance(x, np.ndarray) and x.dtype.kind == "f" and i < len(in_grads):
            add(in_names[i], "input", x, in_grads[i])
    for s in slot_list:
        g, how = p_grads[s.name]
        missing = None
        if how == "missing":
            missing = Finding("no-gradient", MISSING(p=s.name, where=" or ".join(s.grad_names()[:1])))
        add(s.name, "param", s.value(template), g, missing)
        if how == "rebound":
            entry = report.entries[-1]
            entry.ok = False
            # the zeros the optimizer's array kept are this slip's doing, not a second one
            entry.findings = [f for f in entry.findings if f.code != "grad-not-stored"]
            entry.findings.insert(
                0, Finding("grads-rebound", REBOUND(p=s.name), f"grads[{s.key}][...] = d{s.name}")
            )
    return report


def _passes(a: np.ndarray, n: np.ndarray, atol: float, rtol: float) -> bool:
    abs_err, rel = _compare(a, n)
    return abs_err <= atol or rel <= rtol


def _finite(arrays: Sequence[Any], what: Text, phase: str) -> None:
    for a in arrays:
        arr = np.asarray(a, dtype=np.float64) if not isinstance(a, np.ndarray) else a
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr))
            first = tuple(int(i) for i in bad[0])
            where = HOW_MANY(n=int((~np.isfinite(arr)).sum()), m=arr.size, first=first)
            raise LayerCodeError(phase, NOT_FINITE(what=what, where=where))


def _repeated(after_forward: Any, ups: tuple, in_grads: list, slot_list: list, p_grads: dict) -> str:
    """What a second backward (on a copy of the layer as forward left it) gives: "" the same,
    "accumulates" a parameter's gradient doubled (``+=`` with nothing setting it first),
    "differs" anything else."""
    m2 = copy.deepcopy(after_forward)
    held = adapt.held_grads(m2)
    try:
        back2 = m2.backward(*[u.copy() if isinstance(u, np.ndarray) else u for u in ups])
        back2 = m2.backward(*[u.copy() if isinstance(u, np.ndarray) else u for u in ups])
    except Exception:  # noqa: BLE001 -- a layer that cannot run backward twice is no finding of ours
        return ""
    g2 = list(back2) if isinstance(back2, (tuple, list)) else [back2]
    params = [(p_grads[s.name][0], adapt.gradient(m2, s, held)[0]) for s in slot_list]
    pairs = list(zip(in_grads, g2, strict=False)) + params

    def arrays(ps: list) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (a, b)
            for a, b in ps
            if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
        ]

    def doubled(a: np.ndarray, b: np.ndarray) -> bool:
        # relative only: gradients of 1e-9 are "close" to anything under an absolute tolerance
        twice = np.allclose(b, 2 * a, rtol=1e-6, atol=0)
        return bool(np.any(a)) and twice and not np.allclose(b, a, rtol=1e-6, atol=0)

    if any(doubled(a, b) for a, b in arrays(params)):
        return "accumulates"
    return "" if all(np.allclose(a, b) for a, b in arrays(pairs)) else "differs"


def _compare(a: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    diff = float(np.max(np.abs(a - n))) if a.size else 0.0
    scale = max(
        float(np.max(np.abs(a))) if a.size else 0.0, float(np.max(np.abs(n))) if n.size else 0.0, 1e-300
    )
    return diff, diff / scale


def check_all(cases: Sequence[tuple[str, Callable[[], tuple[Any, tuple]]]], **kw: Any) -> list[GradReport]:
    """Run :func:`gradcheck` over named (module, inputs) factories."""
    out = []
    for name, make in cases:
        mod, ins = make()
        rep = gradcheck(mod, *ins, **kw)
        rep.layer = name
        out.append(rep)
    return out
