"""Provenance by memory: which graph node wrote each element of each buffer.

Layers write into preallocated buffers (``out=``, ``hs[t + 1] = ...``, slices
of scratch arrays) and read them back through views (``hs[:-1]``,
``dA.reshape(T * N, -1).T``). A traced array object alone cannot say what a
view of a buffer holds, so the tracer keeps, for every root buffer (the array
that owns the memory), an *owner* table: element -> the write that last stored
it, and the element's position within that write. Reading any array then means
looking up its elements:

* all from one write, in the same order      -> that write's node
* a part or a reordering of one write        -> a Slice / Reshape / Transpose node
* elements from several writes               -> a Concat (or Merge) node of them
* never written (a parameter, an input)      -> the leaf registered for the buffer

Positions are element indices, computed from the view's byte offset and
strides relative to its root, so any numpy view works (negative strides too).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from zerokara.explain.graph import Node


def root_of(a: np.ndarray) -> np.ndarray:
    """The ndarray that owns ``a``'s memory (numpy collapses view chains, but not always)."""
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


@dataclass
class _Root:
    array: np.ndarray  # kept alive so that its id is never reused while tracing
    owner: np.ndarray  # (size,) write id per element, -1 = never written
    pos: np.ndarray  # (size,) position of the element inside that write
    leaf: Callable[[], Node] | None  # makes the node for elements never written


class Memory:
    """Owner tables of every buffer seen while tracing."""

    def __init__(self, make_view: Callable[..., Node], make_concat: Callable[..., Node]) -> None:
        self.roots: dict[int, _Root] = {}
        self.writes: list[tuple[Node, tuple[int, ...]]] = []  # write id -> (node, write shape)
        self.make_view, self.make_concat = make_view, make_concat
        self.memo: dict[tuple, Node] = {}
        self.prints: dict[tuple, Node] = {}  # values -> the node that produced them (see find)

    # -- element positions -----------------------------------------------------------
    def _root(self, a: np.ndarray) -> _Root:
        r = root_of(a)
        info = self.roots.get(id(r))
        if info is None:
            info = self.roots[id(r)] = _Root(
                r, np.full(r.size, -1, dtype=np.intp), np.zeros(r.size, dtype=np.intp), None
            )
        return info

    def elements(self, a: np.ndarray, info: _Root | None = None) -> np.ndarray:
        """Flat element index (into the root) of every element of ``a``, shaped like ``a``."""
        info = info or self._root(a)
        r = info.array
        item = r.itemsize
        off = a.__array_interface__["data"][0] - r.__array_interface__["data"][0]
        if off % item or any(s % item for s in a.strides) or r.size == 0:
            return np.zeros(a.shape, dtype=np.intp)  # a dtype view: positions are not elements
        flat = np.arange(r.size, dtype=np.intp)
        step = flat.itemsize
        return as_strided(
            flat[off // item :], shape=a.shape, strides=tuple(s // item * step for s in a.strides)
        ).copy()

    # -- writes and reads ------------------------------------------------------------------
    def register(self, a: np.ndarray, leaf: Callable[[], Node]) -> None:
        """Say what a buffer holds before anything writes it (parameter, input, zeros)."""
        self._root(a).leaf = leaf

    def write(self, target: np.ndarray, node: Node, key: Any = None) -> None:
        """``target`` (or ``target[key]``) now holds ``node``'s value."""
        info = self._root(target)
        el = self.elements(target, info)
        if key is not None:
            el = el[key]
        self.writes.append((node, el.shape))
        info.owner[el] = len(self.writes) - 1
        info.pos[el] = np.arange(el.size, dtype=np.intp).reshape(el.shape)
        values = target.view(np.ndarray)  # plain: looking must not be traced
        self.remember(values if key is None else values[key], node)

    def remember(self, values: np.ndarray, node: Node) -> None:
        """Keep a fingerprint of ``node``'s values, to recognise a plain copy of them later."""
        key = _fingerprint(values)
        if key is not None:
            self.prints[key] = node

    def find(self, a: np.ndarray) -> Node | None:
        """The node whose values ``a`` holds, for an array no traced operation wrote: a copy
        made where the tracer could not see it (a buffer from ``from numpy import zeros``
        filled by plain assignment). Constant arrays are never matched."""
        key = _fingerprint(a)
        return None if key is None else self.prints.get(key)

    def read(self, a: np.ndarray) -> Node:
        """The node holding ``a``'s current value (see the module docstring)."""
        info = self._root(a)
        el = self.elements(a, info)
        owner = info.owner[el]
        if (owner < 0).any():
            self._fill_leaf(info)
            owner = info.owner[el]
        pos = info.pos[el]
        ids = list(dict.fromkeys(owner.ravel().tolist()))
        if len(ids) == 1:
            node, wshape = self.writes[ids[0]]
            in_order = pos.size == int(np.prod(wshape)) and bool((pos.ravel() == np.arange(pos.size)).all())
            if in_order and a.shape in (tuple(wshape), node.shape):
                return node
            key = ("view", ids[0], a.shape, pos.tobytes())
            if key not in self.memo:
                self.memo[key] = self.make_view(node, tuple(wshape), pos)
            return self.memo[key]
        key = ("concat", a.shape, owner.tobytes(), pos.tobytes())
        if key not in self.memo:
            parts = [self.writes[i][0] for i in ids]
            self.memo[key] = self.make_concat(parts, a.shape, _concat_axis(owner))
        return self.memo[key]

    def peek(self, a: np.ndarray) -> Node | None:
        """The node holding exactly ``a`` (all of one write, in order), without making nodes."""
        info = self.roots.get(id(root_of(a)))
        if info is None:
            return None
        el = self.elements(a, info)
        owner, pos = info.owner[el], info.pos[el]
        if owner.size == 0 or (owner != owner.flat[0]).any() or owner.flat[0] < 0:
            return None
        node, wshape = self.writes[int(owner.flat[0])]
        if pos.size == int(np.prod(wshape)) and (pos.ravel() == np.arange(pos.size)).all():
            return node
        return None

    def _fill_leaf(self, info: _Root) -> None:
        """Elements never written belong to the buffer's leaf (created now, once)."""
        node = info.leaf() if info.leaf else None
        if node is None:
            raise RuntimeError("tracer: no leaf for an unknown buffer")
        info.leaf = lambda: node
        free = info.owner < 0
        self.writes.append((node, info.array.shape))
        info.owner[free] = len(self.writes) - 1
        info.pos[free] = np.arange(info.array.size, dtype=np.intp)[free]
        if free.all():
            self.remember(info.array, node)


def _fingerprint(a: np.ndarray) -> tuple | None:
    a = a.view(np.ndarray)  # plain: looking must not be traced
    if a.dtype.kind != "f" or a.size < 2 or bool((a == a.flat[0]).all()):
        return None  # zeros, ones, scalars: too common to say where they came from
    return (a.dtype.str, a.shape, a.tobytes())


def _concat_axis(owner: np.ndarray) -> int | None:
    """The axis along which ``owner`` changes in blocks (each block one write), if any."""
    for ax in range(owner.ndim):
        moved = np.moveaxis(owner, ax, 0).reshape(owner.shape[ax], -1)
        if (moved == moved[:, :1]).all():
            return ax
    return None


def describe_view(pos: np.ndarray, wshape: tuple[int, ...]) -> tuple[str, dict]:
    """Name the view that takes elements ``pos`` of an array of shape ``wshape``.

    Returns (op, attrs): ``Reshape``, ``Transpose`` (attrs ``axes``, and ``grid``: the
    shape the source is reshaped to first, see :func:`_transpose`), ``Repeat``
    (a broadcast view, attrs ``src``), ``Slice`` (attrs ``index`` like
    ``"[:, 2]"`` and ``coords``: per axis the range taken) or ``View``.
    """
    size = int(np.prod(wshape))
    flat = pos.ravel()
    if flat.size == size and len(set(flat.tolist())) == size:
        if (flat == np.arange(size)).all():
            return "Reshape", {"src": tuple(wshape)}
        found = _transpose(flat, pos.shape, tuple(wshape))
        if found is not None:
            return "Transpose", {"axes": found[1], "src": tuple(wshape), "grid": found[0]}
        for shape in dict.fromkeys([tuple(wshape), None]):
            if len(shape or pos.shape) > 3 or size > 20000:
                continue
            for perm in itertools.permutations(range(len(shape) if shape else pos.ndim)):
                src = shape or tuple(pos.shape[perm.index(i)] for i in range(pos.ndim))
                moved = np.arange(size).reshape(src).transpose(perm)
                for flips in itertools.product((False, True), repeat=moved.ndim):
                    axes = tuple(i for i, f in enumerate(flips) if f)  # xs[:, ::-1]: time reversed
                    if axes and (np.flip(moved, axes).ravel() == flat).all():
                        index = "[" + ", ".join("::-1" if f else ":" for f in flips) + "]"
                        if perm != tuple(range(len(perm))):
                            index = f".transpose{perm}{index}"
                        return "Reverse", {"axes": axes, "index": index, "perm": perm, "src": tuple(wshape)}
        return "View", {"src": tuple(wshape)}
    if len(set(flat.tolist())) < flat.size:  # a broadcast view: numpy's broadcast axes
        lead = pos.ndim - len(wshape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(wshape) if lead >= 0 and s == 1 and pos.shape[lead + i] != 1
        )
        return "Repeat", {"src": tuple(wshape), "axes": axes}
    # the layer may have reshaped the buffer before slicing it ((N*T, H) -> (N, T, H), then
    # [:, t]): also try the write's shape with one axis split by a size of the read
    shapes = [
        tuple(wshape),
        *(
            (*wshape[:i], f, L // f, *wshape[i + 1 :])
            for i, L in enumerate(wshape)
            for f in dict.fromkeys(pos.shape)
            if 1 < f < L and L % f == 0
        ),
    ]
    for shape in shapes:
        parts, ranges = _index(flat, shape)
        if "[...]" not in parts:
            break
    else:
        parts, ranges = _index(flat, tuple(wshape))
        shape = tuple(wshape)
    taken = _taken(parts, ranges, shape)
    transposed = (
        taken is not None
        and taken.ndim == 2
        and taken.T.shape == pos.shape
        and not (taken.shape == pos.shape and (taken == pos).all())
        and bool((pos == taken.T).all())
    )
    while parts and parts[-1] == ":":
        parts.pop()
    index = "[" + ", ".join(parts or [":"]) + "]" + (".T" if transposed else "")  # x.T of x = xs[:, t]
    return "Slice", {"index": index, "coords": tuple(ranges), "src": tuple(wshape), "grid": shape}


def _transpose(
    flat: np.ndarray, read: tuple[int, ...], wshape: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """``(grid, axes)`` such that the read is ``src.reshape(grid).transpose(axes)``, reshaped
    to the read's shape if that is not already the transposed shape; or None.

    Tried in order: the source's own shape (a plain transpose, ``x.T``); then the grid the
    read implies, as layers write it: ``x.reshape(N, T, h, dk).transpose(0, 2, 1, 3)``
    (heads), ``x.reshape(N * T, -1).T``; last, the source's shape transposed and then
    reshaped, for a read no grid of the read's rank describes.
    """
    size = flat.size
    for axes in itertools.permutations(range(len(wshape))):
        if (
            tuple(wshape[a] for a in axes) == read
            and (np.arange(size).reshape(wshape).transpose(axes).ravel() == flat).all()
        ):
            return wshape, axes
    for axes in itertools.permutations(range(len(read))):
        grid = tuple(read[axes.index(i)] for i in range(len(read)))
        if (np.arange(size).reshape(grid).transpose(axes).ravel() == flat).all():
            return grid, axes
    for axes in itertools.permutations(range(len(wshape))):
        if (np.arange(size).reshape(wshape).transpose(axes).ravel() == flat).all():
            return wshape, axes  # a transpose, then a reshape
    return None


def _taken(parts: list[str], ranges: list[tuple[int, int]], shape: tuple[int, ...]) -> np.ndarray | None:
    """The flat positions ``arange(size).reshape(shape)[index]`` takes, in order (None: no
    plain index)."""
    if "[...]" in parts:
        return None
    key = tuple(
        lo if p.lstrip("-").isdigit() else slice(lo, hi) for p, (lo, hi) in zip(parts, ranges, strict=True)
    )
    return np.arange(int(np.prod(shape)), dtype=np.intp).reshape(shape)[key]


def _index(flat: np.ndarray, shape: tuple[int, ...]) -> tuple[list[str], list[tuple[int, int]]]:
    """Per axis of ``shape``: the index text (``2``, ``:``, ``3:6``, ``[...]``) and range taken."""
    parts, ranges = [], []
    for ax, c in enumerate(np.unravel_index(flat, shape)):
        vals = sorted(set(c.tolist()))
        lo, hi = vals[0], vals[-1] + 1
        ranges.append((lo, hi))
        if len(vals) == 1 and shape[ax] > 1:
            parts.append(str(lo))
        elif len(vals) == hi - lo:
            parts.append(":" if (lo, hi) == (0, shape[ax]) else f"{lo or ''}:{hi if hi < shape[ax] else ''}")
        else:
            parts.append("[...]")
    return parts, ranges


def step_of(coords: tuple[tuple[int, int], ...], wshape: tuple[int, ...], T: int | None) -> int | None:
    """The 1-based time step a slice selects, when one axis is a time axis of length T
    (or T + 1 with the initial state at 0), possibly merged with the batch (T * N)."""
    if not T:
        return None
    # a read without coordinates (coords == ()) selects no step: the empty zip is meant
    for ax, ((lo, hi), L) in enumerate(zip(coords, wshape, strict=False)):
        k = hi - lo
        if k == L or ax > 1 or ax == len(wshape) - 1:  # time is axis 0 or 1, never features
            continue
        for steps, first in ((T, 1), (T + 1, 0)):
            if steps * k == L and lo % k == 0:
                return lo // k + first
    return None
