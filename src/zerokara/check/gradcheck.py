"""Numerical gradient check for any layer or model, with a diagnosis of the
classic mistakes.

The check runs on a float64 copy of the module (the user's module and arrays
are not touched). For a non-scalar output it contracts the output with a fixed
random ``dout``, so the scalar checked is ``L = sum(out * dout)`` and the
analytic gradients are exactly what ``backward(dout)`` returns. Every element
of every float input and every parameter is nudged by +-eps (central
differences, error O(eps**2)).

Randomness and state are replayed: before each forward every
``numpy.random.Generator`` in the module is reset to the state it had before
the first forward (Dropout draws the same mask each time), and so is every
other array attribute (a stateful TimeLSTM starts from the same carried h).

A layer with several outputs (LSTM: h and c) returns a tuple; each output gets
its own ``dout`` and ``backward`` is called with them in the same order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zerokara.errors import shape_str
from zerokara.introspect import arg_names
from zerokara.layers.base import Module


@dataclass
class GradEntry:
    """The check of one gradient: an input (``x``) or a parameter (``affine1.W``)."""

    name: str
    kind: str  # "input" or "param"
    shape: tuple[int, ...]
    max_abs_err: float
    rel_err: float  # max |analytic - numerical| / max(|analytic|, |numerical|)
    ok: bool
    diagnosis: str = ""

    def line(self) -> str:
        status = "ok  " if self.ok else "FAIL"
        errs = (
            f"abs {self.max_abs_err:9.2e}  rel {self.rel_err:9.2e}"
            if np.isfinite(self.max_abs_err)
            else "(gradient of the wrong shape)"
        )
        text = f"{status} {self.kind:5} {self.name:<24} {shape_str(self.shape):<14} {errs}"
        return text + (f"\n       -> {self.diagnosis}" if self.diagnosis else "")


@dataclass
class GradReport:
    """Per-name results of :func:`gradcheck`; ``ok`` is true when all pass."""

    layer: str
    entries: list[GradEntry] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.entries)

    def __getitem__(self, name: str) -> GradEntry:
        for e in self.entries:
            if e.name == name:
                return e
        raise KeyError(f"no gradient named {name!r}; have {[e.name for e in self.entries]}")

    def failures(self) -> list[GradEntry]:
        return [e for e in self.entries if not e.ok]

    def __str__(self) -> str:
        head = f"gradient check of {self.layer}: {'PASS' if self.ok else 'FAIL'}"
        return "\n".join([head] + ["  " + e.line() for e in self.entries])


def _broadcast_axes(param_shape: tuple[int, ...], grad_shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """Axes of grad_shape over which an array of param_shape was broadcast, or
    None if param_shape does not broadcast to grad_shape."""
    lead = len(grad_shape) - len(param_shape)
    if lead < 0:
        return None
    axes = list(range(lead))
    for i, (p, g) in enumerate(zip(param_shape, grad_shape[lead:], strict=True)):
        if p == g:
            continue
        if p != 1:
            return None
        axes.append(lead + i)
    return tuple(axes)


def _axes_text(axes: tuple[int, ...]) -> str:
    return str(axes[0]) if len(axes) == 1 else str(axes)


def _compare(a: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    diff = float(np.max(np.abs(a - n))) if a.size else 0.0
    scale = max(
        float(np.max(np.abs(a))) if a.size else 0.0, float(np.max(np.abs(n))) if n.size else 0.0, 1e-300
    )
    return diff, diff / scale


def _diagnose(name: str, analytic: np.ndarray, numeric: np.ndarray, batch: int | None) -> str:
    """Name the likely mistake when shapes agree but values do not."""
    a, n = analytic.ravel(), numeric.ravel()
    nn = float(n @ n)
    if nn == 0.0:
        return "the numerical gradient is zero: does the output depend on this value?"
    if not np.any(a):
        return "the analytic gradient is all zeros: did backward store it (grads[...] = ...)?"
    c = float(a @ n) / nn
    if np.linalg.norm(a - c * n) > 1e-3 * np.linalg.norm(a):
        return "the values differ (not by a constant factor): check backward's formula"
    if batch and batch > 1 and abs(c - batch) < 1e-3 * batch:
        return (
            f"off by exactly the batch size: {batch} times too large; the loss is a mean "
            f"over the batch, so the gradient needs the factor 1/N (N={batch})"
        )
    if batch and batch > 1 and abs(c * batch - 1) < 1e-3:
        return f"off by exactly the batch size: {batch} times too small; 1/N (N={batch}) was applied twice"
    if abs(c + 1) < 1e-3:
        return "the sign is flipped"
    return f"off by a constant factor {c:.6g}"


def gradcheck(
    module: Module,
    *inputs: Any,
    dout: np.ndarray | None = None,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    seed: int = 0,
    max_elements: int | None = None,
) -> GradReport:
    """Compare ``module``'s backward with central differences, in float64.

    Args:
        module: a layer or model following the protocol (``forward(*inputs)``,
            ``backward(dout)`` returning the input gradient(s), ``grads`` filled).
        inputs: the forward arguments. Float arrays are differentiated; integer
            arrays (labels, token ids) are passed through unchanged.
        dout: the upstream gradient for a non-scalar output (default: standard
            normal drawn with ``seed``). A scalar output uses dout = 1.
        eps: the finite-difference step.
        rtol, atol: an entry passes when ``max|a - n| <= atol`` or
            ``max|a - n| / max(|a|, |n|) <= rtol``.
        max_elements: check at most this many randomly chosen elements of
            each array (None: all of them).

    Returns:
        A :class:`GradReport` with one entry per float input and per parameter.
    """
    m = copy.deepcopy(module).astype(np.float64)
    for _, sub in m.named_modules():
        sub.input_grad = True  # every input's gradient is checked
    xs = [x.astype(np.float64) if isinstance(x, np.ndarray) and x.dtype.kind == "f" else x for x in inputs]
    names = arg_names(module.forward, len(xs))
    gens = m.generators()
    states = {k: copy.deepcopy(g.bit_generator.state) for k, g in gens.items()}
    saved = _snapshot(m)
    rng = np.random.default_rng(seed)

    def run() -> Any:
        for k, g in gens.items():
            g.bit_generator.state = copy.deepcopy(states[k])
        _restore(saved)
        return m.forward(*xs)

    out = run()
    multi = isinstance(out, tuple)
    outs = out if multi else (out,)
    scalar = not multi and np.ndim(out) == 0
    if scalar:
        ups: tuple = (1.0,)
    elif dout is None:
        ups = tuple(rng.standard_normal(np.shape(o)) for o in outs)
    else:
        ups = tuple(np.asarray(d, dtype=np.float64) for d in (dout if multi else (dout,)))

    def loss() -> float:
        o = run()
        if scalar:
            return float(o)
        return float(sum(np.sum(a * u) for a, u in zip(o if multi else (o,), ups, strict=True)))

    back = m.backward(*ups)
    in_grads = list(back) if isinstance(back, (tuple, list)) else [back]
    p_grads = {k: np.array(v, dtype=np.float64) for k, v in m.gradients().items()}
    batch = next((x.shape[0] for x in xs if isinstance(x, np.ndarray) and x.ndim >= 1), None)
    report = GradReport(type(module).__name__)

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

    def add(name: str, kind: str, arr: np.ndarray, analytic: Any) -> None:
        idx, num = numeric(arr)
        if analytic is None:
            report.entries.append(
                GradEntry(
                    name, kind, arr.shape, np.inf, np.inf, False, f"backward returned no gradient for {name}"
                )
            )
            return
        a = np.asarray(analytic, dtype=np.float64)
        if a.shape != arr.shape:
            report.entries.append(_shape_entry(name, kind, arr, a, idx, num))
            return
        a_s = a.reshape(-1)[idx]
        abs_err, rel = _compare(a_s, num)
        ok = abs_err <= atol or rel <= rtol
        diag = "" if ok else _diagnose(name, a_s, num, batch)
        report.entries.append(GradEntry(name, kind, arr.shape, abs_err, rel, ok, diag))

    for i, x in enumerate(xs):
        if isinstance(x, np.ndarray) and x.dtype.kind == "f" and i < len(in_grads):
            add(names[i], "input", x, in_grads[i])
    for name, p in m.parameters().items():
        add(name, "param", p, p_grads.get(name))
    return report


def _snapshot(m: Module) -> list[tuple[Module, str, Any]]:
    """Every non-parameter array (or unset) attribute in the tree, copied."""
    out = []
    for _, mod in m.named_modules():
        for k, v in vars(mod).items():
            if k not in ("params", "grads") and (v is None or isinstance(v, np.ndarray)):
                out.append((mod, k, None if v is None else v.copy()))
    return out


def _restore(saved: list[tuple[Module, str, Any]]) -> None:
    for mod, k, v in saved:
        setattr(mod, k, None if v is None else v.copy())


def _shape_entry(
    name: str, kind: str, arr: np.ndarray, a: np.ndarray, idx: np.ndarray, num: np.ndarray
) -> GradEntry:
    """A gradient whose shape is not its parameter's: usually an un-summed broadcast."""
    short = name.rsplit(".", 1)[-1]
    axes = _broadcast_axes(arr.shape, a.shape)
    if axes is None:
        return GradEntry(
            name,
            kind,
            arr.shape,
            np.inf,
            np.inf,
            False,
            f"gradient has shape {shape_str(a.shape)}, expected {shape_str(arr.shape)}",
        )
    ax = _axes_text(axes)
    msg = (
        f"gradient has shape {shape_str(a.shape)} but {short} has shape {shape_str(arr.shape)}: "
        f"forward broadcast {short} over axis {ax}; backward must sum over axis {ax} "
        f"(d{short} = np.sum(dout, axis={ax}))"
    )
    summed = a.sum(axis=axes).reshape(arr.shape).reshape(-1)[idx]
    abs_err, rel = _compare(summed, num)
    if abs_err <= 1e-6 or rel <= 1e-5:
        msg += f"; summed that way it matches the numerical gradient (rel {rel:.1e})"
    # the errors are of the wrong-shaped gradient itself: none can be given
    return GradEntry(name, kind, arr.shape, np.inf, np.inf, False, msg)


def check_all(cases: Sequence[tuple[str, Callable[[], tuple[Module, tuple]]]], **kw: Any) -> list[GradReport]:
    """Run :func:`gradcheck` over named (module, inputs) factories."""
    out = []
    for name, make in cases:
        mod, ins = make()
        rep = gradcheck(mod, *ins, **kw)
        rep.layer = name
        out.append(rep)
    return out
