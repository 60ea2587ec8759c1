"""Pooling and Flatten, the layers after a convolution (book 1, chapter 7).

Pooling takes each channel's windows apart with the same ``im2col`` the convolution uses
(:mod:`zerokara.layers.conv`); the windows of book 1's networks (2x2, stride 2, no padding)
do not overlap, and those are reduced offset by offset over strided slices instead, with no
matrix of the windows.

Each ``backward`` returns a new array and never writes into ``dout`` or into what
``forward`` cached, so calling it twice gives the same answer.
"""

from __future__ import annotations

import numpy as np

from zerokara.errors import InputError, check_input, shape_str
from zerokara.layers.base import Array, Module
from zerokara.layers.conv import check_geometry, check_image, col2im, im2col, output_size


class Pooling(Module):
    """Max or average pooling over (pool_h, pool_w) windows, channel by channel, via im2col.

    Shapes: x (N, C, H, W) -> out (N, C, OH, OW), OH = (H + 2*pad - pool_h) // stride + 1.

    ``stride`` defaults to the pool size (as torch's max_pool2d; book 1's Pooling
    defaults to 1, but its SimpleConvNet passes stride 2 with a 2x2 pool); a
    non-square pool needs it given. ``pad`` is at most half the pool (torch's rule),
    so every window holds at least one pixel of x.

    max: out is each window's largest value; backward routes the whole gradient
    to that one pixel (on a tie, the first in the window, as np.argmax; padding
    counts as -inf, so it never wins).
    avg: out is each window's mean, padding counting as 0 (torch's
    count_include_pad); backward spreads dout / (pool_h * pool_w) over the window.
    """

    def __init__(
        self, pool_h: int, pool_w: int, stride: int | None = None, pad: int = 0, mode: str = "max"
    ) -> None:
        super().__init__()
        name = type(self).__name__
        check_geometry(name, pool_h=pool_h, pool_w=pool_w, pad=pad)
        if stride is None:
            if pool_h != pool_w:
                raise InputError(
                    f"{name}: stride must be given for a non-square pool ({pool_h}, {pool_w}); "
                    "it defaults to the pool size only when pool_h == pool_w"
                )
            stride = pool_h
        check_geometry(name, stride=stride)
        if pad > pool_h // 2 or pad > pool_w // 2:
            raise InputError(
                f"{name}: pad expected at most half the pool (pool_h // 2, pool_w // 2) = "
                f"({pool_h // 2}, {pool_w // 2}), got {pad}"
            )
        if mode not in ("max", "avg"):
            raise InputError(f"{name}: mode expected 'max' or 'avg', got {mode!r}")
        self.pool_h, self.pool_w, self.stride, self.pad = int(pool_h), int(pool_w), int(stride), int(pad)
        self.mode = mode
        self.x_shape: tuple[int, ...] | None = None
        self.arg_max: np.ndarray | None = None

    def extra_repr(self) -> str:
        return f"{self.mode}, pool=({self.pool_h}, {self.pool_w}), stride={self.stride}, pad={self.pad}"

    def _tiles(self) -> bool:
        """True when the windows tile the image (stride == pool, no padding): then each
        window is a (pool_h, pool_w) block of a reshaped view, and no im2col is needed."""
        return self.stride == self.pool_h == self.pool_w and self.pad == 0

    def forward(self, x: Array) -> Array:
        name, ph, pw = type(self).__name__, self.pool_h, self.pool_w
        check_image(name, x)
        N, C, _, _ = x.shape
        OH, OW = output_size(name, x.shape, ph, pw, self.stride, self.pad, ("pool_h", "pool_w"))
        self.x_shape = x.shape
        if self._tiles():
            return self._forward_tiles(x, OH, OW)
        fill = -np.inf if self.mode == "max" else 0.0
        # one row per (n, i, j, c) window: channels are pooled separately
        col = im2col(x, ph, pw, self.stride, self.pad, fill=fill).reshape(-1, ph * pw)
        if self.mode == "max":
            self.arg_max = col.argmax(axis=1)
            out = col[np.arange(col.shape[0]), self.arg_max]
        else:
            out = col.mean(axis=1)
        return out.reshape(N, OH, OW, C).transpose(0, 3, 1, 2)

    def _forward_tiles(self, x: Array, OH: int, OW: int) -> Array:
        """Pooling over non-overlapping windows, one NumPy call per window offset (a, b).

        ``tiles[:, :, :, a, :, b]`` is pixel (a, b) of every window, (C, N, OH, OW), so
        the max is an element-wise maximum over the pool_h*pool_w offsets. arg_max is
        what ``argmax`` over each window gives (the first maximum; NaN counts as the
        maximum, as in np.argmax), as the offsets missed before the first hit.
        Out (and dx in backward) are channel-major, as Convolution's out.
        """
        ph, pw = self.pool_h, self.pool_w
        C, N = x.shape[1], x.shape[0]
        tiles = x.transpose(1, 0, 2, 3).reshape(C, N, OH, ph, OW, pw)  # a view, whatever x's order
        offsets = [tiles[:, :, :, a, :, b] for a in range(ph) for b in range(pw)]
        if self.mode == "avg":
            out = offsets[0].copy()
            for xk in offsets[1:]:
                out += xk
            out /= ph * pw
            return out.transpose(1, 0, 2, 3)
        out = offsets[0].copy()
        for xk in offsets[1:]:
            np.maximum(out, xk, out=out)
        # arg_max = number of offsets before the first that holds the max
        arg_max = np.zeros(out.shape, dtype=np.min_scalar_type(ph * pw - 1))
        missed = np.ones(out.shape, dtype=bool)
        for xk in offsets[:-1]:
            missed &= xk != out  # NaN != NaN: a NaN is missed ...
            missed &= ~np.isnan(xk)  # ... unless it is the max (np.argmax's rule)
            arg_max += missed
        self.arg_max = arg_max
        return out.transpose(1, 0, 2, 3)

    def backward(self, dout: Array) -> Array:
        x_shape, ph, pw = self.x_shape, self.pool_h, self.pool_w
        assert x_shape is not None
        if self._tiles():
            return self._backward_tiles(dout)
        flat = dout.transpose(0, 2, 3, 1).ravel()  # one value per window row, in col's order
        if self.mode == "max":
            assert self.arg_max is not None
            dcol = np.zeros((flat.size, ph * pw), dtype=dout.dtype)
            dcol[np.arange(flat.size), self.arg_max] = flat  # only the max received the gradient
        else:
            # every pixel of the window weighs 1 / (ph*pw) in the mean
            dcol = np.repeat(flat[:, None] / (ph * pw), ph * pw, axis=1)
        dcol = dcol.reshape(-1, x_shape[1] * ph * pw)
        return col2im(dcol, x_shape, ph, pw, self.stride, self.pad)

    def _backward_tiles(self, dout: Array) -> Array:
        """dx for non-overlapping windows: each offset (a, b) of the windows gets dout
        where it was the max (or dout / (pool_h*pool_w) for avg); one call per offset."""
        x_shape, ph, pw = self.x_shape, self.pool_h, self.pool_w
        assert x_shape is not None
        N, C, H, W = x_shape
        d = dout.transpose(1, 0, 2, 3)  # (C, N, OH, OW)
        dx = np.empty((C, N, H // ph, ph, W // pw, pw), dtype=dout.dtype)
        if self.mode == "avg":
            dx[...] = (d / (ph * pw))[:, :, :, None, :, None]
        else:
            assert self.arg_max is not None
            # d * hit is d where hit, else 0: a masked copy, 5-10x faster than np.where,
            # but only for a finite d (inf * 0 is NaN)
            finite = bool(np.isfinite(d).all())
            for k in range(ph * pw):
                a, b = divmod(k, pw)
                hit = self.arg_max == k
                if finite:
                    np.multiply(d, hit, out=dx[:, :, :, a, :, b])
                else:
                    dx[:, :, :, a, :, b] = np.where(hit, d, 0)
        return dx.reshape(C, N, H, W).transpose(1, 0, 2, 3)


class Flatten(Module):
    """Images to rows for the Affine layers after the convolutions, and back.

    Shapes: forward x (N, C, H, W) (any (N, ...)) -> out (N, C*H*W); backward dout -> dx (N, C, H, W).
    """

    def __init__(self) -> None:
        super().__init__()
        self.x_shape: tuple[int, ...] | None = None

    def forward(self, x: Array) -> Array:
        check_input("Flatten", "x", x, expected="(N, C, H, W)")
        if x.ndim < 2:
            raise InputError(f"Flatten: x expected shape (N, C, H, W), got {shape_str(x.shape)}")
        self.x_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: Array) -> Array:
        assert self.x_shape is not None
        return dout.reshape(self.x_shape)
