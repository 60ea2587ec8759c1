"""The layer protocol: named parameters, named gradients, forward and backward.

A layer is one small class. ``forward`` caches what ``backward`` needs (the
cache is None until then: ``assert self.x is not None`` in backward tells the
type checker so); ``backward`` returns the gradient for each input and *sets*
(``[...] =``, as in book 2) the gradient of each parameter in ``self.grads``
under the same name as in ``self.params``.

Misuse is refused before a layer's own code runs (:mod:`zerokara.layers.guard`,
put around the forward and backward of every zerokara class by
:meth:`Module.__init_subclass__`): forward keeps the shapes of what it
returned, and backward raises :class:`~zerokara.errors.InputError` when no
forward has returned yet, or when a dout's shape is not that of the output it
is the gradient of (NumPy would broadcast it silently, or fail deep inside).

Containers give dotted names: a ``Sequential`` holding ``affine1`` exposes its
weight as ``affine1.W``. A parameter shared by two layers (weight tying) is one
array; :meth:`Module.gradients` adds up the gradients every user of that array
computed, because the loss depends on the array through each of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from zerokara.errors import CheckpointError, InputError
from zerokara.layers.guard import guard_backward, guard_forward

Array = NDArray[np.floating]


class Module:
    """Base class of layers and models.

    Attributes:
        params: parameter arrays keyed by name (``"W"``, ``"b"``).
        grads: gradient arrays keyed by the same names, same shapes.
        training: train mode (Dropout drops, BatchNorm uses batch statistics)
            or eval mode.
    """

    #: shapes of what the last forward returned (one per output), which backward's douts
    #: must have; None before any forward, False while one runs or after one raised
    _forward_shapes: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Guard the forward and backward of zerokara's own layers and models (see
        :func:`guard_backward`). A reader's subclass runs as written: ``zerokara check``
        must see its mistakes, not ours; where it writes its own forward but inherits
        one of ours, it inherits that backward unguarded."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if cls.__module__.partition(".")[0] == "zerokara":
            if "forward" in own:
                cls.forward = guard_forward(own["forward"])  # type: ignore[method-assign]
            if "backward" in own:
                cls.backward = guard_backward(own["backward"])  # type: ignore[method-assign]
        elif "forward" in own and "backward" not in own:
            unguarded = getattr(cls.backward, "__zerokara_unguarded__", None)
            if unguarded is not None:
                cls.backward = unguarded  # type: ignore[method-assign]

    #: whether backward computes the gradient with respect to the input. A
    #: model turns it off on the layer that reads the data, whose gradient
    #: nobody uses (and which is the largest matrix product of an MLP's step).
    input_grad = True

    def __init__(self) -> None:
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.training = True

    # -- the protocol ------------------------------------------------------
    # Each layer has its own arguments (Affine's x; TimeLSTM's xs, h0, c0; a loss's
    # dout=1), so the base takes anything: to a type checker `*args: Any, **kwargs: Any`
    # is a signature every override may narrow.
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, *douts: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def __call__(self, *inputs: Any) -> Any:
        return self.forward(*inputs)

    # -- structure -----------------------------------------------------------
    def children(self) -> dict[str, Module]:
        """Direct sub-modules by name: every attribute that is a Module.

        Containers with their own naming (Sequential) override this.
        """
        return {k: v for k, v in vars(self).items() if isinstance(v, Module)}

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, child in self.children().items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def _named_slots(self) -> Iterator[tuple[str, Module, str]]:
        """(dotted name, owning module, key) for every parameter slot, shared or not."""
        for prefix, mod in self.named_modules():
            for key in mod.params:
                yield (f"{prefix}.{key}" if prefix else key), mod, key

    def parameters(self) -> dict[str, Array]:
        """Unique parameter arrays by dotted name; a shared array appears once,
        under the first name that reaches it."""
        out: dict[str, Array] = {}
        seen: set[int] = set()
        for name, mod, key in self._named_slots():
            arr = mod.params[key]
            if id(arr) not in seen:
                seen.add(id(arr))
                out[name] = arr
        return out

    def gradients(self) -> dict[str, Array]:
        """Gradients keyed like :meth:`parameters`.

        A parameter used by several layers gets the sum of their gradients
        (a value that fans out in forward collects the gradients of every
        branch in backward). An unshared parameter's gradient is returned
        without a copy, so clipping it in place clips what the optimizer sees.
        """
        first: dict[int, str] = {}
        out: dict[str, Array] = {}
        for name, mod, key in self._named_slots():
            arr_id = id(mod.params[key])
            if key not in mod.grads:
                raise RuntimeError(
                    f"{type(mod).__name__}: no gradient for parameter {name!r}; "
                    "call backward() after forward() before reading gradients"
                )
            g = mod.grads[key]
            if arr_id not in first:
                first[arr_id] = name
                out[name] = g
            else:
                owner = first[arr_id]
                out[owner] = out[owner] + g  # new array: never edits a layer's own grad
        return out

    def state_dict(self) -> dict[str, Array]:
        """Parameters by dotted name, as saved in checkpoints (views, not copies)."""
        return self.parameters()

    def load_state_dict(self, state: dict[str, np.ndarray], *, source: str = "state") -> None:
        """Copy arrays into the parameters in place (so shared arrays stay shared).

        Names and shapes must match exactly; nothing is changed if they do not.
        """
        params = self.parameters()
        missing = sorted(set(params) - set(state))
        extra = sorted(set(state) - set(params))
        if missing or extra:
            raise CheckpointError(
                f"{source}: parameter names do not match {type(self).__name__}: "
                f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                f"unexpected {extra[:5]}{'...' if len(extra) > 5 else ''}"
            )
        for name, arr in params.items():
            if state[name].shape != arr.shape:
                raise CheckpointError(
                    f"{source}: parameter {name} expected shape {arr.shape}, got {state[name].shape}"
                )
        for name, arr in params.items():
            arr[...] = state[name]

    def astype(self, dtype: np.dtype | type) -> Module:
        """Convert every parameter (and gradient) to ``dtype`` in place on this
        module tree, keeping shared arrays shared. Returns self."""
        new: dict[int, Array] = {}
        for _, mod in self.named_modules():
            for key, arr in list(mod.params.items()):
                if id(arr) not in new:
                    new[id(arr)] = arr.astype(dtype)
                mod.params[key] = new[id(arr)]
            for key, g in list(mod.grads.items()):
                mod.grads[key] = g.astype(dtype)
            mod._astype_extra(dtype)
        return self

    def _astype_extra(self, dtype: np.dtype | type) -> None:
        """Hook for non-parameter float state (BatchNorm's running statistics)."""

    #: attributes holding state that is not a parameter but must be saved with one:
    #: what forward updates and eval mode reads (BatchNorm's running statistics)
    buffer_names: tuple[str, ...] = ()

    def buffers(self) -> dict[str, np.ndarray]:
        """Every buffer in the tree by dotted name (``batchnorm1.running_mean``), as the
        arrays themselves: what a checkpoint saves beside the parameters."""
        out = {}
        for prefix, mod in self.named_modules():
            for k in mod.buffer_names:
                out[f"{prefix}.{k}" if prefix else k] = getattr(mod, k)
        return out

    def load_buffers(self, state: dict[str, np.ndarray], *, source: str = "state") -> None:
        """Set every buffer from ``state`` (names as :meth:`buffers`); names, shapes and
        dtypes must match exactly, and nothing is changed if they do not."""
        slots = {}
        for prefix, mod in self.named_modules():
            for k in mod.buffer_names:
                slots[f"{prefix}.{k}" if prefix else k] = (mod, k)
        if set(slots) != set(state):
            missing, extra = sorted(set(slots) - set(state)), sorted(set(state) - set(slots))
            raise CheckpointError(
                f"{source}: buffers do not match the model: missing {missing}, unexpected {extra}"
            )
        for name, (mod, k) in slots.items():
            old, new = getattr(mod, k), np.asarray(state[name])
            if new.shape != old.shape or new.dtype != old.dtype:
                raise CheckpointError(
                    f"{source}: buffer {name!r} expected {old.dtype}{list(old.shape)}, "
                    f"got {new.dtype}{list(new.shape)}"
                )
        for name, (mod, k) in slots.items():
            setattr(mod, k, np.array(state[name], copy=True))

    def generators(self) -> dict[str, np.random.Generator]:
        """Every random generator in the tree by dotted name (for checkpoints
        and for replaying the same randomness in a gradient check)."""
        out = {}
        for prefix, mod in self.named_modules():
            for k, v in vars(mod).items():
                if isinstance(v, np.random.Generator):
                    out[f"{prefix}.{k}" if prefix else k] = v
        return out

    def train(self, mode: bool = True) -> Module:
        for _, mod in self.named_modules():
            mod.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    # -- display ---------------------------------------------------------------
    def extra_repr(self) -> str:
        return ", ".join(f"{k}: {tuple(v.shape)}" for k, v in self.params.items())

    def __repr__(self) -> str:
        kids = self.children()
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not kids:
            return head + ")"
        lines = [head]
        for name, child in kids.items():
            lines.append("  " + f"({name}): {child!r}".replace("\n", "\n  "))
        return "\n".join(lines) + "\n)"


class Sequential(Module):
    """Layers applied in order; backward runs them in reverse.

    Names come from the class name and a counter (``affine1``, ``relu1``,
    ``affine2``), as book 1 names its layers, unless given as keywords.

    forward: x -> layers[-1](...layers[0](x))
    backward: dout -> dx
    """

    def __init__(self, *layers: Module, **named: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise InputError(
                    f"Sequential: layer {i + 1} expected a Module (a layer), got {type(layer).__name__}"
                )
        for key, layer in named.items():
            if not isinstance(layer, Module):
                raise InputError(f"Sequential: {key} expected a Module (a layer), got {type(layer).__name__}")
        self.layers: dict[str, Module] = {}
        counts: dict[str, int] = {}
        for layer in layers:
            base = type(layer).__name__.lower()
            counts[base] = counts.get(base, 0) + 1
            self.layers[f"{base}{counts[base]}"] = layer
        self.layers.update(named)

    def children(self) -> dict[str, Module]:
        return self.layers

    def forward(self, x: Array) -> Array:
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def backward(self, dout: Array) -> Array:
        for layer in reversed(self.layers.values()):
            dout = layer.backward(dout)
        return dout

    def __getitem__(self, name: str) -> Module:
        return self.layers[name]

    def __len__(self) -> int:
        return len(self.layers)
