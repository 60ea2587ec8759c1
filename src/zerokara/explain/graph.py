"""The traced computation graph: nodes with an op name, attributes and shapes.

A :class:`Graph` holds every node of one traced forward and backward pass;
``graph.forward`` and ``graph.backward`` are the two phases as
:class:`Phase` views that tests and renderers query::

    g.forward.find("Repeat", src=(5,), shape=(3, 5))   # b broadcast over the batch
    g.backward.grad("b")                               # the node whose value became db

Shapes are tuples; ``node.shape`` is the shape of the node's output (the
shape on each outgoing edge).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

#: node kinds that are values coming in rather than operations
LEAVES = ("Input", "Param", "Dout", "Const", "Zeros", "State")


@dataclass(eq=False)
class Node:
    """One value in the graph and the operation that made it.

    Attributes:
        id: position in ``Graph.nodes``.
        op: ``MatMul``, ``Add``, ``Repeat``, ``Sum``, ``Gather``, ... or a leaf
            kind (``Input``, ``Param``, ``Dout``, ``Const``).
        phase: ``"forward"`` or ``"backward"``.
        inputs: the nodes this one reads, in argument order.
        shape: output shape.
        attrs: op details, e.g. ``axis=(0,)`` for Sum, ``src``/``axes`` for Repeat,
            ``const=1.0`` for ``1 - y``, ``index="[:, 2]"`` for a slice.
        label: the array's name where known (``x``, ``W``, ``out``, ``mask``).
        step: the time step (1-based) a recurrent layer's node belongs to, if inferred.
        stores: names of results this value was stored as (``db``, ``dx``, ``out``).
    """

    id: int
    op: str
    phase: str
    inputs: list[Node] = field(default_factory=list)
    shape: tuple[int, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    step: int | None = None
    stores: list[str] = field(default_factory=list)

    @property
    def is_leaf(self) -> bool:
        return self.op in LEAVES

    @property
    def name(self) -> str:
        """The best short name: a stored result, a label, or ``#id``."""
        if self.stores and not (self.is_leaf and self.label):  # dout stays dout when stored as dx
            return self.stores[0]
        return self.label or ("const" if self.op == "Const" else f"#{self.id}")

    def __repr__(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in self.attrs.items())
        step = f" t={self.step}" if self.step is not None else ""
        return (
            f"<#{self.id} {self.op}{extra} {self.name} {self.shape}{step} <- {[n.id for n in self.inputs]}>"
        )


class Phase:
    """The nodes of one phase (forward or backward), plus the nodes they read from outside."""

    def __init__(self, graph: Graph, phase: str) -> None:
        self.graph, self.phase = graph, phase

    @property
    def nodes(self) -> list[Node]:
        return [n for n in self.graph.nodes if n.phase == self.phase]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def find_all(self, op: str | None = None, **attrs: Any) -> list[Node]:
        """Nodes with this op whose attributes (or ``shape``, ``label``, ``step``) equal ``attrs``."""
        out = []
        for n in self.nodes:
            if op is not None and n.op != op:
                continue
            if all(_get(n, k) == v for k, v in attrs.items()):
                out.append(n)
        return out

    def find(self, op: str | None = None, **attrs: Any) -> Node | None:
        found = self.find_all(op, **attrs)
        return found[0] if found else None

    def stored(self, name: str) -> Node | None:
        """The node whose value was stored as ``name`` (``db``, ``dx``, ``out``)."""
        return next((n for n in self.nodes if name in n.stores), None)

    def grad(self, param: str) -> Node | None:
        """The node whose value became the gradient of parameter ``param`` (``"b"`` -> db)."""
        return next((n for n in self.nodes if param in n.attrs.get("grad_of", ())), None)

    def external(self) -> list[Node]:
        """Nodes of other phases this phase reads (forward values cached for backward)."""
        own = {id(n) for n in self.nodes}
        seen: dict[int, Node] = {}
        for n in self.nodes:
            for i in n.inputs:
                if id(i) not in own:
                    seen.setdefault(i.id, i)
        return [seen[k] for k in sorted(seen)]


def _get(n: Node, key: str) -> Any:
    if key in ("shape", "label", "step", "op", "phase"):
        return getattr(n, key)
    return n.attrs.get(key)


class Graph:
    """All nodes of a traced forward and backward pass, in execution order."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.forward = Phase(self, "forward")
        self.backward = Phase(self, "backward")

    def add(
        self,
        op: str,
        phase: str,
        inputs: list[Node],
        shape: tuple[int, ...],
        *,
        label: str = "",
        step: int | None = None,
        **attrs: Any,
    ) -> Node:
        node = Node(
            len(self.nodes), op, phase, list(inputs), tuple(int(s) for s in shape), attrs, label, step
        )
        self.nodes.append(node)
        return node

    def consumers(self, node: Node) -> list[Node]:
        return [n for n in self.nodes if any(i is node for i in n.inputs)]

    def ancestors(self, node: Node) -> set[int]:
        """Ids of every node ``node`` depends on (not including itself)."""
        seen: set[int] = set()
        stack = list(node.inputs)
        while stack:
            n = stack.pop()
            if n.id not in seen:
                seen.add(n.id)
                stack.extend(n.inputs)
        return seen

    def depends(self, node: Node, on: Node) -> bool:
        """Whether there is a path of edges from ``on`` to ``node``."""
        return on.id in self.ancestors(node)


def refs(nodes: list[Node]) -> str:
    """How text points at nodes: ``#13-#21`` for consecutive ids, else ``#13, #15``."""
    ids = sorted(n.id for n in nodes)
    if len(ids) > 2 and ids == list(range(ids[0], ids[-1] + 1)):
        return f"#{ids[0]}-#{ids[-1]}"
    if len(ids) > 4:
        return f"#{ids[0]}, #{ids[1]}, ..., #{ids[-1]}"
    return ", ".join(f"#{i}" for i in ids)
