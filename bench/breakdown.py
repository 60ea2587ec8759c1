"""``python -m bench.breakdown [SHAPE ...] [--repeats R] [--passes P]``: where
one TimeLSTM forward + backward spends its time, next to torch.nn.LSTM.

For each shape it times, in one process, alternating, with the harness's pause
before each run:

* ``zerokara``: TimeLSTM forward + backward (as ``python -m bench lstm``);
* ``products``: only the matrix products that forward + backward make, with
  the same shapes, layouts and output arrays, and nothing else. That is the
  part BLAS does, and the least any NumPy LSTM written this way can take;
* ``torch``: nn.LSTM forward + backward (oneDNN's fused RNN kernels).

``rest = zerokara - products`` is the element-wise NumPy calls and Python.
Shapes: ``lstm-h100`` (N=20 T=35 D=H=100), ``lstm-h650`` (D=H=650), and
``encoder`` (N=128 T=29 D=16 H=256: the seq2seq benchmark's encoder), or
``N,T,D,H``. Prints a table and one JSON line per shape (milliseconds per pass).

``cnn-simple`` and ``cnn-deep`` (or ``cnn`` for both) instead break down one
training step of the ``python -m bench cnn-*`` networks: im2col, GEMM, dx,
pooling and the rest, next to torch's step (see :func:`bench.cnn.breakdown`);
``--passes`` is then the number of steps per run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

import numpy as np

from bench.harness import _timed, configure_threads

SHAPES = {"lstm-h100": (20, 35, 100, 100), "lstm-h650": (20, 35, 650, 650),
          "encoder": (128, 29, 16, 256)}


def sides(N: int, T: int, D: int, H: int, passes: int = 10, seed: int = 0):
    """The three runs for one shape, each ``passes`` passes: ({name: run}, the layer)."""
    from bench import lstm

    layer, zerokara, torch_run = lstm.sides(N, T, D, H, passes, seed)
    # The products, on the layer's own arrays after one real pass (so the
    # layouts are the ones TimeLSTM.forward/backward use).
    zerokara()
    Z, _, _, _, G = layer.cache
    ws, p = layer._workspace, layer.params
    W, Whs, Gh, dA = ws["W"], ws["Whs"][:, :4 * H], ws["Gh"], ws["dA"]  # Whs: rows maybe padded
    _, send_back = layer._backprop_h(N, H, np.dtype(np.float32))
    dW = layer.grads["b"].base
    X, hs, dA2 = Z[:T, :, :1 + D].reshape(T * N, 1 + D), Z[:, :, 1 + D:], dA.reshape(T * N, -1)
    h_steps = hs[1:-1] if not hs[0].any() else hs[:-1]  # forward skips h_0 @ Wh for h_0 = 0

    def products() -> None:
        for _ in range(passes):
            np.matmul(X, W, out=G.reshape(T * N, 4 * H))  # forward: the input side, all steps
            for h_prev in h_steps:
                np.matmul(h_prev, Whs, out=Gh)  # forward: each step's h @ Wh
            for dAt in dA[::-1]:
                send_back(dAt)  # backward: each step's dA @ Wh.T
            np.matmul(Z[:T].reshape(T * N, -1).T, dA2, out=dW)  # db, dWx, dWh
            dA2 @ p["Wx"].T  # dxs

    return {"zerokara": zerokara, "products": products, "torch": torch_run}, layer


def breakdown(shape: tuple[int, int, int, int], *, repeats: int = 5, passes: int = 10) -> dict:
    """Median milliseconds per pass of each side, and the derived figures."""
    runs, _ = sides(*shape, passes=passes)
    for run in runs.values():
        run()  # warm-up
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            times[name].append(_timed(run) * 1e3 / passes)
    ms = {k: statistics.median(v) for k, v in times.items()}
    N, T, D, H = shape
    return {"shape": f"N={N} T={T} D={D} H={H}", "zerokara_ms": ms["zerokara"],
            "products_ms": ms["products"], "rest_ms": ms["zerokara"] - ms["products"],
            "torch_ms": ms["torch"], "ratio": ms["zerokara"] / ms["torch"],
            "products_over_torch": ms["products"] / ms["torch"], "repeats": repeats,
            "passes": passes}


def parse_shape(text: str) -> tuple[int, int, int, int]:
    if text in SHAPES:
        return SHAPES[text]
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 4 or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"expected one of {', '.join(SHAPES)} or N,T,D,H (four positive integers), got {text!r}")
    return shape  # type: ignore[return-value]


CNN_MODELS = {"cnn-simple": ("simple",), "cnn-deep": ("deep",), "cnn": ("simple", "deep")}


def parse_target(text: str) -> tuple[int, int, int, int] | str:
    """A CNN model name (``cnn-simple``, ``cnn-deep``, ``cnn``), else an LSTM shape."""
    return text if text in CNN_MODELS else parse_shape(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.breakdown",
        description="Where one TimeLSTM forward + backward spends its time: the whole pass, its "
                    "matrix products alone, and torch.nn.LSTM's whole pass, timed alternating; "
                    "rest = zerokara - products.")
    parser.add_argument("shapes", nargs="*", type=parse_target, metavar="SHAPE",
                        help=f"{', '.join(SHAPES)} or N,T,D,H (default: all three named ones); "
                             f"or {', '.join(CNN_MODELS)}: one CNN training step")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each side (default 5)")
    parser.add_argument("--passes", type=int, default=10, help="forward+backward passes per run (default 10)")
    parser.add_argument("--threads", type=int, default=None, help="BLAS / torch threads (default: numpy's)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.passes < 1:
        parser.error("--repeats and --passes expected >= 1")
    info = configure_threads(args.threads)
    cnn_models = [m for s in args.shapes if isinstance(s, str) for m in CNN_MODELS[s]]
    shapes = [s for s in args.shapes if not isinstance(s, str)]
    if cnn_models:
        from bench import cnn

        cnn_rows = [cnn.breakdown(m, repeats=args.repeats, steps=args.passes)
                    for m in dict.fromkeys(cnn_models)]
        cnn.print_breakdown(cnn_rows, args.repeats, info)
        if not shapes:
            return 0
    rows = [breakdown(s, repeats=args.repeats, passes=args.passes) for s in (shapes or SHAPES.values())]
    print(f"ms per forward+backward pass, medians of {args.repeats}; threads {info.threads}; {info.blas}")
    print(f"{'shape':26s} {'zerokara':>9s} {'products':>9s} {'rest':>7s} {'torch':>7s} "
          f"{'ratio':>6s} {'products/torch':>15s}")
    for r in rows:
        print(f"{r['shape']:26s} {r['zerokara_ms']:9.2f} {r['products_ms']:9.2f} {r['rest_ms']:7.2f} "
              f"{r['torch_ms']:7.2f} {r['ratio']:6.2f} {r['products_over_torch']:15.2f}")
    for r in rows:
        print(json.dumps(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
