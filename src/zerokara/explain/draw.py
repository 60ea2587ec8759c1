"""Draw a traced graph with Graphviz: forward and backward side by side.

Needs the ``graphviz`` Python package (``pip install 'zerokara[explain]'``) and
Graphviz's ``dot`` program. ``.gv``/``.dot`` files are written without ``dot``.
Labels stay in English in the picture (the fonts ``dot`` finds may have no
Japanese glyphs).
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from zerokara.errors import ZerokaraError, shape_str
from zerokara.explain.graph import Graph, Node
from zerokara.explain.render import op_text, visible
from zerokara.explain.rules import pairs

FORMATS = ("png", "svg", "pdf", "gv", "dot")
FILL = {
    "Input": "#dae8fc",
    "Param": "#fff2cc",
    "Dout": "#f8cecc",
    "Const": "#eeeeee",
    "Zeros": "#eeeeee",
    "State": "#eeeeee",
}
PAIR, STORED, FAILED = "#ffd8a8", "#d5e8d4", "#f4a6a6"
LEGEND = (
    "orange: a broadcast (Repeat) and the Sum that undoes it · green: results (out, dx, dW) · "
    "red: fails the gradient check · dashed: forward values backward reads · edges: shapes"
)


class DrawError(ZerokaraError):
    """Graphviz (the Python package or the ``dot`` program) is missing or failed."""


INSTALL_DOT = (
    "--out needs Graphviz's `dot` program, which was not found: install it with "
    "`sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS) or "
    "`conda install graphviz`; the text output above is complete without it"
)
INSTALL_PY = (
    "--out needs the graphviz Python package: pip install 'zerokara[explain]' "
    "(or pip install graphviz); the text output above is complete without it"
)


def _label(n: Node) -> str:
    lines = [n.name if n.is_leaf else op_text(n)]
    if n.stores and (not n.is_leaf or n.name not in n.stores):
        lines.append("→ " + ", ".join(n.stores))
    elif n.label and not n.is_leaf:
        lines.append(n.label)
    lines.append(shape_str(n.shape))
    if n.step is not None:
        lines.append(f"t={n.step}")
    return "\n".join(lines)


def _failed(n: Node, failed: AbstractSet[str]) -> list[str]:
    """The names this node's value was stored as that the numerical check rejected (dx, db)."""
    return [
        s for s in n.stores if s.startswith("d") and (s[1:] in failed or s[1:].split(" ")[0] in failed)
    ] + [g for g in n.attrs.get("grad_of", ()) if g in failed and "." in g]


def _add_nodes(target: Any, nodes: list[Node], phase: str, undo: set[int], failed: AbstractSet[str]) -> None:
    for n in nodes:
        fill = FILL.get(n.op, "white")
        label = _label(n)
        if n.stores and (phase == "backward" or n.op not in FILL):
            fill = STORED
        if n.id in undo:
            fill = PAIR  # a broadcast and the sum that undoes it
        bad = _failed(n, failed) if phase == "backward" else []
        if bad:
            fill, label = FAILED, label + f"\n{', '.join(bad)} FAILS the gradient check"
        target.node(
            f"n{n.id}",
            label,
            fillcolor=fill,
            shape="ellipse" if n.is_leaf else "box",
            penwidth="2" if n.id in undo else "1",
        )


def build_dot(graph: Graph, title: str = "", failed: AbstractSet[str] = frozenset()):
    try:
        import graphviz
    except ImportError:
        raise DrawError(INSTALL_PY) from None
    undo = {n.id for pair in pairs(graph) for n in pair}
    label = f'<{html.escape(title)}<BR/><FONT POINT-SIZE="11">{LEGEND}</FONT>>'
    dot = graphviz.Digraph(
        "explain",
        graph_attr={
            "rankdir": "TB",
            "fontname": "DejaVu Sans",
            "fontsize": "16",
            "label": label,
            "labelloc": "t",
            "nodesep": "0.25",
            "ranksep": "0.35",
            "dpi": "110",
            "newrank": "true",
        },
        node_attr={
            "fontname": "DejaVu Sans",
            "fontsize": "12",
            "shape": "box",
            "style": "rounded,filled",
            "fillcolor": "white",
            "margin": "0.12,0.05",
        },
        edge_attr={"fontname": "DejaVu Sans", "fontsize": "10", "color": "#555555"},
    )
    for phase in ("forward", "backward"):
        nodes = visible(graph, phase)
        own = {n.id for n in nodes}
        with dot.subgraph(name=f"cluster_{phase}") as c:
            c.attr(label=phase, fontsize="18", style="rounded", color="#888888")
            steps = sorted({n.step for n in nodes if n.step is not None})
            groups: dict[int | None, list[Node]] = {s: [n for n in nodes if n.step == s] for s in steps}
            groups[None] = [n for n in nodes if n.step is None]
            for s, group in groups.items():
                if s is None:
                    _add_nodes(c, group, phase, undo, failed)
                    continue
                with c.subgraph(name=f"cluster_{phase}_t{s}") as sub:  # one box per time step
                    sub.attr(label=f"t = {s}", style="dashed", color="#aaaaaa", fontsize="13")
                    _add_nodes(sub, group, phase, undo, failed)
            for n in nodes:
                for i in n.inputs:
                    src = f"n{i.id}"
                    if i.id not in own:  # a forward value cached for backward: a small copy here
                        src = f"ref{phase}{i.id}"
                        c.node(
                            src,
                            f"{i.name}\n{shape_str(i.shape)}" + (f"\nt={i.step}" if i.step else ""),
                            style="rounded,dashed",
                            shape="box",
                            fontcolor="#444444",
                        )
                    c.edge(src, f"n{n.id}", label=" " + shape_str(i.shape))
    return dot


def draw(graph: Graph, out: str | Path, title: str = "", failed: AbstractSet[str] = frozenset()) -> Path:
    """Write the picture to ``out`` (format from the suffix: png, svg, pdf, or gv/dot source);
    gradients named in ``failed`` (inputs ``x``, parameters ``affine1.W``) are drawn in red."""
    out = Path(out)
    fmt = out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise DrawError(
            f"--out: expected a file ending in {', '.join('.' + f for f in FORMATS)}, got {out.name!r}"
        )
    dot = build_dot(graph, title, failed)
    if fmt in ("gv", "dot"):
        try:
            out.write_text(dot.source)
        except OSError as e:
            raise DrawError(f"--out: cannot write {out}: {e.strerror or e}") from None
        return out
    if shutil.which("dot") is None:
        raise DrawError(INSTALL_DOT)
    import graphviz

    try:
        data = dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise DrawError(INSTALL_DOT) from None
    except graphviz.CalledProcessError as e:
        raise DrawError(f"--out: dot failed: {e}") from None
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(out)  # never a half-written picture
    except OSError as e:
        raise DrawError(f"--out: cannot write {out}: {e.strerror or e}") from None
    return out
