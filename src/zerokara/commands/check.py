"""``zerokara check FILE.py[:NAME]``: the gradient check and its doctor, on the reader's own code."""

from __future__ import annotations

import argparse
import sys

from zerokara.options import SEED

USAGE = """examples:
  zerokara check my_layers.py                 every layer class (and d_* function) in the file
  zerokara check my_layers.py:RNN --lang ja   one class, in Japanese
  zerokara check my_layers.py:Affine --init "W=(4,3),b=(3,)"
  zerokara check my_functions.py:d_tanh --of tanh

A layer is any class with forward and backward, written as book 1 writes them (self.W,
self.dW), as book 2 does (self.params / self.grads lists, tuples in and out) or as a
zerokara Module; a book 1 model with loss(x, t) and gradient(x, t) (TwoLayerNet) is
checked as book 1's gradient_check.py does. The file is not changed. Constructors and
inputs are made from the books' names (W (D, H), b (H,), Wx (D, 4H), x (N, D),
h_prev (N, H), t labels, idx ids ...) at small distinct sizes N=3, T=2, D=4, H=5, C=6, V=7.

exit status: 0 every gradient right, 1 a gradient wrong, 2 something could not be checked
(the file does not import, a class has no forward, forward raised or returned None, NaN)."""


def register(commands: argparse._SubParsersAction, train_tasks: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "check",
        help="check the gradients of your own layers (book 1 or book 2 style) and name the mistakes",
        description="Build each layer class of a Python file from the books' argument names, run a "
        "float64 numerical gradient check, and name each mistake (a bias not summed over the batch, "
        "a sigmoid derivative taken from dout, a transposed weight gradient, ...) at its line of your "
        "file. Functions named like derivatives (d_tanh, sigmoid_grad) are checked against the "
        "numerical derivative of their function.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=USAGE,
    )
    p.add_argument("target", help="FILE.py, or FILE.py:NAME for one class or function")
    p.add_argument("--lang", choices=["en", "ja"], default="en", help="language of the output (default en)")
    p.add_argument("--sizes", help="the sizes to build with, e.g. N=2,D=3,H=4 (keys N, T, D, H, C, V)")
    p.add_argument(
        "--init", help='shapes (or values) of arguments the names do not give, e.g. "W=(4,3),b=(3,)"'
    )
    p.add_argument("--of", help="the function a derivative belongs to: a name (tanh) or FILE.py:NAME")
    p.add_argument("--seed", type=SEED, default=0, help="seed of the weights, inputs and dout (default 0)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from zerokara.check.build import parse_init, parse_sizes
    from zerokara.check.files import check_file, table
    from zerokara.check.source import FileError

    path, sep, name = (
        args.target.rpartition(":") if args.target.count(":") and not _is_drive(args.target) else ("", "", "")
    )
    if not sep:
        path, name = args.target, ""
    lang = args.lang
    sizes = parse_sizes(args.sizes) if args.sizes else None
    init = parse_init(args.init) if args.init else None
    try:
        result = check_file(path, name or None, sizes=sizes, init=init, of=args.of, seed=args.seed)
    except FileError as e:
        print(f"zerokara check: {e.text.render(lang)}", file=sys.stderr)
        if e.where is not None:
            print(f"  {e.where}", file=sys.stderr)
        return 2
    blocks = [r.render(lang) for r in result.layers] + [f.render(lang) for f in result.functions]
    print("\n\n".join(blocks))
    if not name:
        print("\n" + table(result, lang))
    return result.status


def _is_drive(text: str) -> bool:
    """A Windows path's drive letter (C:\\...) is not FILE:NAME."""
    return len(text) > 2 and text[1] == ":" and text[2] in "\\/"
