"""Reference convolution and pooling: the definitions, written to be read, not to be fast.

The fast layers in :mod:`zerokara.layers.conv` rearrange the images with im2col
so that one matrix product does all the work (book 1, section 7.4); here the
same functions are a Python loop over the output positions (i, j), each step
reading one window of the padded input, the way book 1 draws a convolution
(figures 7-3 to 7-5) and a pooling (figure 7-14) before it reaches im2col.
The batch and the filters are still vectorised: only the positions are looped.

Im2colConvolution is the fast Convolution with backward's dx made as book 1 makes it
(the whole dcol, then col2im), where the fast one goes kernel offset by offset.

Each Simple* layer is its fast twin with ``forward`` and ``backward`` rewritten:
the same constructor, ``create``, parameter names and return values, so any model
can use either (tests/layers/test_conv.py holds each pair equal to 1e-10 in float64).
"""

from __future__ import annotations

import numpy as np

from zerokara.errors import check_dtype
from zerokara.layers.base import Array
from zerokara.layers.conv import Convolution, check_image, col2im, output_size
from zerokara.layers.pooling import Pooling


def pad_image(x: Array, pad: int, fill: float = 0.0) -> Array:
    """x (N, C, H, W) -> (N, C, H + 2*pad, W + 2*pad), the border filled with ``fill``."""
    return np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], constant_values=fill)


class SimpleConvolution(Convolution):
    """Convolution as its definition: each output pixel is the window times the filter, plus b.

        out[n, f, i, j] = sum over c, y, x of  x_pad[n, c, i*s + y, j*s + x] * W[f, c, y, x]  + b[f]

    Shapes: as :class:`~zerokara.layers.conv.Convolution` (W (FN, C, FH, FW), b (FN,);
    x (N, C, H, W) -> out (N, FN, OH, OW)).
    """

    x_pad: Array | None = None  # forward's cache: the padded input (im2col's col is not made)

    def forward(self, x: Array) -> Array:
        W, b = self.params["W"], self.params["b"]
        FN, C, FH, FW = W.shape
        name, s = type(self).__name__, self.stride
        check_image(name, x, C)
        check_dtype(name, "x", x, W.dtype)
        OH, OW = output_size(name, x.shape, FH, FW, s, self.pad)
        x_pad = pad_image(x, self.pad)
        out = np.empty((x.shape[0], FN, OH, OW), dtype=x.dtype)
        for i in range(OH):
            for j in range(OW):
                window = x_pad[:, :, i * s : i * s + FH, j * s : j * s + FW]  # (N, C, FH, FW)
                # every filter times every window, summed over (C, FH, FW): (N, FN)
                out[:, :, i, j] = np.tensordot(window, W, axes=([1, 2, 3], [1, 2, 3])) + b
        self.x_shape, self.x_pad = x.shape, x_pad
        return out

    def backward(self, dout: Array) -> Array | None:
        W, x_pad, x_shape = self.params["W"], self.x_pad, self.x_shape
        assert x_pad is not None and x_shape is not None
        FN, C, FH, FW = W.shape
        N, _, OH, OW = dout.shape
        s, p = self.stride, self.pad
        dW = np.zeros_like(W)
        dx_pad = np.zeros_like(x_pad)
        for i in range(OH):
            for j in range(OW):
                rows, cols = slice(i * s, i * s + FH), slice(j * s, j * s + FW)
                d = dout[:, :, i, j]  # (N, FN): the gradient of this output pixel
                # the filter met this window: each gets the other times d
                dW += np.tensordot(d, x_pad[:, :, rows, cols], axes=(0, 0))  # (FN, C, FH, FW)
                # windows overlap: a pixel in several windows adds up their gradients
                dx_pad[:, :, rows, cols] += np.tensordot(d, W, axes=(1, 0))  # (N, C, FH, FW)
        self.grads["W"][...] = dW
        self.grads["b"][...] = dout.sum(axis=(0, 2, 3))  # b was added at every (n, i, j)
        if not self.input_grad:
            return None
        return dx_pad[:, :, p : p + x_shape[2], p : p + x_shape[3]]


class Im2colConvolution(Convolution):
    """Convolution's backward as book 1 writes it (section 7.4.3): dcol = dout2 @ W, then
    col2im adds dcol's rows back into the image, where the windows overlap too.

    :class:`~zerokara.layers.conv.Convolution` computes the same dx one kernel offset at a
    time (:func:`~zerokara.layers.conv.input_grad`), never writing the whole dcol, which is
    FH*FW times the size of the image; ``zerokara explain convolution`` traces this one.
    Shapes: as Convolution.
    """

    def _input_grad(self, W: Array, dout_t: Array, x_shape: tuple[int, ...]) -> Array:
        FN, C, FH, FW = W.shape
        # dcol (N*OH*OW, C*FH*FW) = dout2 @ W: one row of gradients per window
        dcol = (W.reshape(FN, -1).T @ dout_t).T
        return col2im(dcol, x_shape, FH, FW, self.stride, self.pad)


class SimplePooling(Pooling):
    """Pooling as its definition: each output pixel is the max (or mean) of its window.

        max: out[n, c, i, j] = max over y, x of x_pad[n, c, i*s + y, j*s + x]
        avg: out[n, c, i, j] = mean over y, x of the same window

    Shapes and options: as :class:`~zerokara.layers.pooling.Pooling` (padding counts as
    -inf for max, 0 for avg; a tie goes to the first maximum in the window).
    """

    def forward(self, x: Array) -> Array:
        name, ph, pw, s = type(self).__name__, self.pool_h, self.pool_w, self.stride
        check_image(name, x)
        N, C, _, _ = x.shape
        OH, OW = output_size(name, x.shape, ph, pw, s, self.pad, ("pool_h", "pool_w"))
        x_pad = pad_image(x, self.pad, -np.inf if self.mode == "max" else 0.0)
        out = np.empty((N, C, OH, OW), dtype=x.dtype)
        arg_max = np.empty((N, C, OH, OW), dtype=np.intp) if self.mode == "max" else None
        for i in range(OH):
            for j in range(OW):
                window = x_pad[:, :, i * s : i * s + ph, j * s : j * s + pw].reshape(N, C, ph * pw)
                if arg_max is not None:
                    arg_max[:, :, i, j] = window.argmax(axis=2)  # which pixel won, for backward
                    out[:, :, i, j] = window.max(axis=2)
                else:
                    out[:, :, i, j] = window.mean(axis=2)
        self.x_shape, self.arg_max = x.shape, arg_max
        return out

    def backward(self, dout: Array) -> Array:
        x_shape, arg_max = self.x_shape, self.arg_max
        assert x_shape is not None
        N, C, H, W = x_shape
        ph, pw, s, p = self.pool_h, self.pool_w, self.stride, self.pad
        dx_pad = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=dout.dtype)
        for i in range(dout.shape[2]):
            for j in range(dout.shape[3]):
                d = dout[:, :, i, j]  # (N, C)
                if self.mode == "max":
                    assert arg_max is not None
                    # the whole gradient goes to the pixel that was the max
                    dwindow = np.zeros((N, C, ph * pw), dtype=dout.dtype)
                    np.put_along_axis(dwindow, arg_max[:, :, i, j, None], d[:, :, None], axis=2)
                else:
                    # each of the ph*pw pixels counted 1 / (ph*pw) in the mean
                    dwindow = np.repeat(d[:, :, None] / (ph * pw), ph * pw, axis=2)
                # windows may overlap (stride < pool): their gradients add up
                dx_pad[:, :, i * s : i * s + ph, j * s : j * s + pw] += dwindow.reshape(N, C, ph, pw)
        return dx_pad[:, :, p : p + H, p : p + W]
