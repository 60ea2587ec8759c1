"""``zerokara explain LAYER``: the forward and backward graph of a layer, each local
gradient rule, the gradient shapes and a numerical gradient check."""

from __future__ import annotations

import argparse
import sys
import textwrap

from zerokara.options import SEED

USAGE = """examples:
  zerokara explain affine --sizes N=3,D=2,H=4 --out affine.png
  zerokara explain time-rnn --sizes N=2,T=3,D=2,H=3 --lang ja
  zerokara explain my_layers.py:RNN          (your own class; also module:Class)
  zerokara explain my_layers.py:Affine --init "W=(4,3),b=(3,)"

your own layer is any class with forward and backward, written as book 1 writes
them (self.W, with backward setting self.dW), as book 2 does (self.params /
self.grads lists, tuples in and out) or as a zerokara Module; your file is not
changed. As zerokara check does, it is built from the books' argument names:
RNN(Wx, Wh, b) gets Wx (D, H), Wh (H, H), b (H,), and forward(x, h_prev) gets
x (N, D), h_prev (N, H) (t labels, idx ids, xs (N, T, D) ...); --init gives the
shapes the names do not. A classmethod example(sizes, rng) -> (layer, inputs)
wins when the class has one, then create(D, H, rng, dtype=np.float64).

lstm, time-lstm, gru, time-gru and bidirectional are traced as their readable
references (zerokara.layers.reference, book 2's plain cells and loop), and
convolution and simple-conv-net with Im2colConvolution (book 1's dcol + col2im
backward); they compute the same function as the fast layers, and the output's
third line says so."""


class _Help(argparse.RawDescriptionHelpFormatter):
    """The help ends with the built-in layer names (the registry is imported only then)."""

    def format_help(self) -> str:
        from zerokara.check.examples import EXAMPLES

        names = ", ".join(EXAMPLES)
        self.add_text(
            "built-in layers (zerokara explain --list describes each):\n"
            + textwrap.fill(names, 78, initial_indent="  ", subsequent_indent="  ", break_on_hyphens=False)
        )
        return super().format_help()


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "explain",
        help="show a layer's forward/backward graph, gradient rules and gradient check",
        description="Trace a layer's forward and backward on small example inputs: every array "
        "operation with its shapes, broadcasts as explicit Repeat nodes and the Sum that undoes "
        "them in backward, each local gradient rule, the shape of every gradient, and a float64 "
        "numerical gradient check. Exit status 1 when a gradient is wrong.",
        formatter_class=_Help,
        epilog=USAGE,
    )
    p.add_argument(
        "layer",
        nargs="?",
        help="a built-in layer name (see --list) or path/to/file.py:Class of "
        "your own layer (also module:Class)",
    )
    p.add_argument(
        "--sizes", help="sizes, e.g. N=3,D=2,H=4 (N batch, D input, H hidden, C classes, T time steps)"
    )
    p.add_argument(
        "--init",
        help='your own layer: shapes (or values) of arguments the names do not give, e.g. "W=(4,3),b=(3,)"',
    )
    p.add_argument(
        "--out", help="also draw both graphs to this file (.png, .svg, .pdf, or .gv source); needs Graphviz"
    )
    p.add_argument("--lang", choices=["en", "ja"], default="en", help="language of the text (default en)")
    p.add_argument("--seed", type=SEED, default=0)
    p.add_argument("--list", action="store_true", help="list the built-in layer names and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from zerokara.check.examples import EXAMPLES, parse_sizes

    if args.list:
        for name, (desc, _) in EXAMPLES.items():
            print(f"{name:24} {desc}")
        return 0
    if not args.layer:
        from zerokara.errors import InputError

        raise InputError(f"explain: give a layer: one of {', '.join(EXAMPLES)}, or FILE.py:Class")
    from zerokara.check.build import parse_init
    from zerokara.explain import explain
    from zerokara.explain.render import render_text

    init = parse_init(args.init) if args.init else None
    ex = explain(args.layer, parse_sizes(args.sizes), args.seed, init)
    print(render_text(ex, args.lang), flush=True)
    if args.out:
        from zerokara.explain.draw import DrawError, draw

        title = f"zerokara explain {args.layer}: {ex.description}"
        if ex.replaced:  # the picture says what it shows, as the text does
            title += f" (traced: {type(ex.module).__name__}, the readable reference)"
        try:
            path = draw(ex.graph, args.out, title, {e.name for e in ex.report.failures()})
        except DrawError as e:
            print(f"zerokara: {e}", file=sys.stderr)
            return 1
        print(f"\nwrote {path}")
    return 0 if ex.report.ok else 1
