"""Convolution of book 1, chapter 7: im2col/col2im and Convolution (Pooling and Flatten, which
follow it, are in :mod:`zerokara.layers.pooling`).

A convolution slides a (C, FH, FW) filter over the image; ``im2col`` copies every
window into one row of a matrix, so that all the windows of all the images meet
all the filters in one matrix product (book 1, section 7.4). ``col2im`` is its
adjoint: it takes a gradient per window element back to the pixels, adding where
windows overlap. The readable versions with a loop over output positions are in
:mod:`zerokara.layers.reference_conv`.

Output size, per spatial axis: ``OH = (H + 2*pad - FH) // stride + 1``. Where the
division is not exact the last rows of the input would be silently dropped (as
book 1 and torch do); here it is an :class:`~zerokara.errors.InputError` instead.

Each ``backward`` returns a new array and never writes into ``dout`` or into what
``forward`` cached, so calling it twice gives the same answer.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from zerokara import init as initlib
from zerokara.errors import InputError, check_array, check_dtype, check_input, shape_str
from zerokara.layers.base import Array, Module


def output_size(
    layer: str,
    shape: tuple[int, ...],
    FH: int,
    FW: int,
    stride: int,
    pad: int,
    kernel: tuple[str, str] = ("FH", "FW"),
) -> tuple[int, int]:
    """(OH, OW) of a window (FH, FW) slid with ``stride`` over x (N, C, H, W) padded by ``pad``.

    Raises InputError, naming ``layer`` and the formula with its numbers, when the
    window is larger than the padded input or (H + 2*pad - FH) is not a multiple of
    the stride. ``kernel`` names FH and FW in the message (Pooling says pool_h, pool_w).
    """
    out = []
    for axis, size, k, k_name in (("H", shape[2], FH, kernel[0]), ("W", shape[3], FW, kernel[1])):
        span = size + 2 * pad - k
        numbers = f"({size} + {2 * pad} - {k}) = {span}"
        if span < 0:
            raise InputError(
                f"{layer}: kernel {k_name} = {k} is larger than the padded input: "
                f"({axis} + 2*pad - {k_name}) = {numbers} < 0 for x of shape {shape_str(shape)}"
            )
        if span % stride:
            raise InputError(
                f"{layer}: ({axis} + 2*pad - {k_name}) = {numbers} is not divisible by stride {stride} "
                f"(O{axis} = ({axis} + 2*pad - {k_name}) // stride + 1 would drop the last {span % stride} "
                f"{'rows' if axis == 'H' else 'columns'} of the input)"
            )
        out.append(span // stride + 1)
    return out[0], out[1]


def im2col(
    input_data: Array, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0, *, fill: float = 0.0
) -> Array:
    """Every (C, filter_h, filter_w) window of the images as one row (book 1's layout).

    Shapes: input_data (N, C, H, W) -> col (N*OH*OW, C*FH*FW), row ``(n*OH + i)*OW + j``
    holding the window at output position (i, j) of image n, flattened as (C, FH, FW).

    The result is a copy of N*OH*OW*C*FH*FW elements: each pixel appears in up to
    FH*FW rows (about FH*FW/stride**2 times the input's size, 9x for a 3x3 filter).
    ``fill`` is the padding's value (0, as book 1; max pooling pads with -inf).

    Memory order (for speed; the values are book 1's): col is the transpose of a
    contiguous (C*FH*FW, N*OH*OW) array, channel-major as the layers here keep
    their images (see :class:`Convolution`). So it is built with one strided copy
    per kernel offset (y, x), each a whole contiguous block, and no second
    transposing copy; and ``W @ col.T``, ``dout @ col`` read it as it lies.
    """
    check_input("im2col", "input_data", input_data, ndim=4, expected="(N, C, H, W)", floating=False)
    N, C, H, W = input_data.shape
    OH, OW = output_size("im2col", input_data.shape, filter_h, filter_w, stride, pad)
    img = input_data.transpose(1, 0, 2, 3)  # (C, N, H, W): a view
    if pad:
        img = np.pad(img, [(0, 0), (0, 0), (pad, pad), (pad, pad)], constant_values=fill)
    col_t = np.empty((C, filter_h, filter_w, N, OH, OW), dtype=input_data.dtype)
    # one strided copy per kernel offset (y, x): the pixels that offset sees in every window
    for y in range(filter_h):
        for x in range(filter_w):
            col_t[:, y, x] = img[:, :, y : y + stride * OH : stride, x : x + stride * OW : stride]
    return col_t.reshape(C * filter_h * filter_w, N * OH * OW).T


def col2im(
    col: Array, input_shape: tuple[int, ...], filter_h: int, filter_w: int, stride: int = 1, pad: int = 0
) -> Array:
    """The adjoint of :func:`im2col`: window rows back to images, overlapping windows added.

    Shapes: col (N*OH*OW, C*FH*FW) -> (N, C, H, W) = input_shape.

    Why add: im2col copies a pixel into every window that covers it, so in backward
    that pixel receives the sum of the gradients of all those copies (a value used
    several times gets the sum of its gradients). Gradients that land in the
    padding are dropped: the padding is a constant.

    The result is a view of a channel-major (C, N, H, W) array, as im2col's input
    is read (see :class:`Convolution`).
    """
    N, C, H, W = input_shape
    OH, OW = output_size("col2im", tuple(input_shape), filter_h, filter_w, stride, pad)
    if col.shape != (N * OH * OW, C * filter_h * filter_w):
        raise InputError(
            f"col2im: col expected shape (N*OH*OW, C*FH*FW) = ({N * OH * OW}, {C * filter_h * filter_w}) "
            f"for input_shape {shape_str(input_shape)}, got {shape_str(col.shape)}"
        )
    # (C, FH, FW, N, OH, OW): each kernel offset's (C, N, OH, OW) block contiguous, so the
    # strided adds below read whole blocks. Free for a col laid out as im2col makes it
    # (Convolution.backward's is); a row-major col is copied once (faster than adding
    # from the transposed view, as book 1 does).
    cols = np.ascontiguousarray(col.reshape(N, OH, OW, C, filter_h, filter_w).transpose(3, 4, 5, 0, 1, 2))
    img = np.zeros((C, N, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
    for y in range(filter_h):
        for x in range(filter_w):
            img[:, :, y : y + stride * OH : stride, x : x + stride * OW : stride] += cols[:, y, x]
    return img[:, :, pad : pad + H, pad : pad + W].transpose(1, 0, 2, 3)


def input_grad(W: Array, dout_t: Array, x_shape: tuple[int, ...], stride: int = 1, pad: int = 0) -> Array:
    """A convolution's dx: ``col2im(dcol)`` with ``dcol = dout2 @ W.reshape(FN, -1)``, one
    kernel offset at a time.

    Shapes: W (FN, C, FH, FW), dout_t (FN, N*OH*OW) (dout as (FN, N, OH, OW) flattened),
    x_shape (N, C, H, W) -> dx (N, C, H, W), a view of a channel-major (C, N, H, W) array.

    Offset (y, x)'s block of dcol is ``W[:, :, y, x].T @ dout_t``, (C, N*OH*OW): the
    gradient of every pixel that offset copied. Each block is added into the image
    while it is still in cache, so the whole dcol (FH*FW times the image) is never
    written; the sums are col2im's, offset by offset, in the same order.
    """
    FN, C, FH, FW = W.shape
    N, _, H, Wd = x_shape
    OH, OW = output_size("col2im", tuple(x_shape), FH, FW, stride, pad)
    w_t = np.ascontiguousarray(W.transpose(2, 3, 1, 0))  # (FH, FW, C, FN): each W[:, :, y, x].T
    img = np.zeros((C, N, H + 2 * pad, Wd + 2 * pad), dtype=dout_t.dtype)
    for y in range(FH):
        for x in range(FW):
            block = (w_t[y, x] @ dout_t).reshape(C, N, OH, OW)
            img[:, :, y : y + stride * OH : stride, x : x + stride * OW : stride] += block
    return img[:, :, pad : pad + H, pad : pad + Wd].transpose(1, 0, 2, 3)


def check_image(layer: str, x: Array, C: int | None = None) -> None:
    """x must be a float (N, C, H, W) array with a non-empty batch (and C channels if given)."""
    expected = f"(N, {'C' if C is None else C}, H, W)"
    check_input(layer, "x", x, ndim=4, expected=expected)
    if C is not None and x.shape[1] != C:
        raise InputError(
            f"{layer}: x expected shape {expected} ({C} channels), got {shape_str(x.shape)} "
            f"({x.shape[1]} channels)"
        )


def check_geometry(layer: str, **sizes: int) -> None:
    """Strides are at least 1, paddings at least 0, all integers."""
    for name, v in sizes.items():
        least = 0 if name == "pad" else 1
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < least:
            raise InputError(f"{layer}: {name} expected an integer >= {least}, got {v!r}")


def conv_weights(
    C: int,
    FN: int,
    FH: int,
    FW: int,
    rng: np.random.Generator,
    init: str | float = "std",
    std: float = 0.01,
    dtype: DTypeLike = np.float32,
) -> tuple[Array, Array]:
    """W (FN, C, FH, FW) drawn with the std of ``init`` and b (FN,) = 0.

    The fan-in is C*FH*FW, not W.shape[0]: each output value sums that many
    inputs, so Xavier's std is sqrt(1 / (C*FH*FW)) and He's sqrt(2 / (C*FH*FW)).
    """
    check_geometry("Convolution.create", C=C, FN=FN, FH=FH, FW=FW)
    s = initlib.init_std(init, C * FH * FW, std)
    W = (s * rng.standard_normal((FN, C, FH, FW))).astype(dtype)
    return W, np.zeros(FN, dtype=dtype)


class Convolution(Module):
    """2-D convolution (cross-correlation, as book 1 and torch compute it) via im2col.

    Shapes:
        W: (FN, C, FH, FW), b: (FN,)
        forward:  x (N, C, H, W) -> out (N, FN, OH, OW), OH = (H + 2*pad - FH) // stride + 1
        backward: dout (N, FN, OH, OW) -> dx (N, C, H, W) (None if ``input_grad`` is off);
                  dW (FN, C, FH, FW); db (FN,)

    Forward is one matrix product: col (N*OH*OW, C*FH*FW) @ W as (C*FH*FW, FN).
    Backward is Affine's backward on that product, then col2im for dx, computed
    one kernel offset at a time (:func:`input_grad`) so that dcol, as large as col,
    is never made; :class:`~zerokara.layers.reference_conv.Im2colConvolution` makes
    it, as book 1 does. col (N*OH*OW*C*FH*FW elements) is the one large temporary,
    kept from forward for dW.

    Memory order (for speed; shapes and values are as above): the products are
    written the other way round, ``W (FN, C*FH*FW) @ col.T`` giving (FN, N*OH*OW),
    so ``out`` is a (N, FN, OH, OW) view of a channel-major (FN, N, OH, OW)
    array, and dx one of a (C, N, H, W) array. ReLU and Pooling keep that order,
    and the next im2col reads it as it lies; every product's operands are then
    contiguous (or a transposed contiguous array, which BLAS reads as it lies),
    with no transposing copy of col or dout on the way.
    """

    def __init__(self, W: Array, b: Array, stride: int = 1, pad: int = 0) -> None:
        super().__init__()
        name = type(self).__name__
        check_array(name, "W", W, expected="(FN, C, FH, FW)")
        check_array(name, "b", b, expected="(FN,)")
        if W.ndim != 4 or b.shape != (W.shape[0],):
            raise InputError(
                f"{name}: expected W (FN, C, FH, FW) and b (FN,), "
                f"got W {shape_str(W.shape)}, b {shape_str(b.shape)}"
            )
        check_geometry(name, stride=stride, pad=pad)
        self.params = {"W": W, "b": b}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
        self.stride, self.pad = int(stride), int(pad)
        self.x_shape: tuple[int, ...] | None = None
        self.col: Array | None = None

    @classmethod
    def create(
        cls,
        C: int,
        FN: int,
        FH: int,
        FW: int,
        rng: np.random.Generator,
        *,
        stride: int = 1,
        pad: int = 0,
        init: str | float = "std",
        std: float = 0.01,
        dtype: DTypeLike = np.float32,
    ) -> Convolution:
        """A new layer taking C channels to FN, W (FN, C, FH, FW) drawn by ``init`` and b = 0.

        Sizes go input first, as ``Affine.create(D, H)`` and ``torch.nn.Conv2d(in, out, k)``.
        ``init``: "std" (normal * ``std``, book 1's weight_init_std=0.01), "xavier",
        "he" (with fan-in C*FH*FW) or a float std.
        """
        W, b = conv_weights(C, FN, FH, FW, rng, init, std, dtype)
        return cls(W, b, stride=stride, pad=pad)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", stride={self.stride}, pad={self.pad}"

    def forward(self, x: Array) -> Array:
        W, b = self.params["W"], self.params["b"]
        FN, C, FH, FW = W.shape
        name = type(self).__name__
        check_image(name, x, C)
        check_dtype(name, "x", x, W.dtype)
        OH, OW = output_size(name, x.shape, FH, FW, self.stride, self.pad)
        self.x_shape = x.shape
        self.col = im2col(x, FH, FW, self.stride, self.pad)  # col.T is contiguous
        out = W.reshape(FN, -1) @ self.col.T  # (FN, N*OH*OW): (col @ W.T).T
        out += b[:, None]  # broadcast (FN, 1) -> every image and output position
        return out.reshape(FN, x.shape[0], OH, OW).transpose(1, 0, 2, 3)

    def backward(self, dout: Array) -> Array | None:
        W, col, x_shape = self.params["W"], self.col, self.x_shape
        assert col is not None and x_shape is not None
        FN, C, FH, FW = W.shape
        # (FN, N*OH*OW), columns in col's row order: a free view of a dout laid out as
        # forward's out (channel-major); one copy of any other
        dout_t = dout.transpose(1, 0, 2, 3).reshape(FN, -1)
        # the bias was repeated over the batch and every output position (N, OH, OW):
        # its gradient sums over those axes
        self.grads["b"][...] = dout_t.sum(axis=1)
        self.grads["W"][...] = (dout_t @ col).reshape(FN, C, FH, FW)  # (dout2.T @ col)
        if not self.input_grad:
            return None
        return self._input_grad(W, dout_t, x_shape)

    def _input_grad(self, W: Array, dout_t: Array, x_shape: tuple[int, ...]) -> Array:
        # col2im(dcol) with dcol = dout2 @ W, one kernel offset at a time (see input_grad);
        # reference_conv.Im2colConvolution makes the whole dcol first, as book 1 does
        return input_grad(W, dout_t, x_shape, self.stride, self.pad)
