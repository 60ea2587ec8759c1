"""zerokara explain's notes on a convolution and a pooling: each names nodes that are in
the graph it printed, with the right numbers (copies per pixel, N*OH*OW, the pool size)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from zerokara.check.examples import parse_sizes
from zerokara.explain import explain
from zerokara.explain.notes import coverage, notes
from zerokara.explain.render import render_text, visible


def _ids(text: str) -> set[int]:
    return {int(i) for i in re.findall(r"#(\d+)", text)}


def _shown(ex) -> set[int]:
    g = ex.graph
    return {n.id for n in visible(g, "forward") + visible(g, "backward")}


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_convolution_notes_name_im2col_the_weight_reshape_the_bias_repeat_and_col2im(lang):
    ex = explain("convolution", parse_sizes("N=2,C=3,D=4,H=5"))
    lines = notes(ex, lang)
    assert len(lines) == 4
    text = "\n".join(lines)
    # every node a note points at is one the text printed
    assert _ids(text) and _ids(text) <= _shown(ex)
    assert "(27, 40)" in text  # col: C*FH*FW = 3*3*3 rows, N*OH*OW = 2*4*5 columns
    assert "N*OH*OW = 2*4*5 = 40" in text
    assert "4-9" in text  # a corner pixel is in 4 windows of a 3x3 kernel, an inner one in 9
    assert ("scatter-add" in text) and ("im2col" in text)
    rendered = render_text(ex, lang)
    assert ("What to notice" if lang == "en" else "注目点") in rendered


def test_max_pooling_notes_point_at_the_maxima_and_the_argmax_masks():
    ex = explain("pooling", parse_sizes("N=1,C=1,D=2"))
    text = "\n".join(notes(ex))
    assert "Maximum" in text and "arg_max" in text and "other 3 get 0" in text
    assert _ids(text) <= _shown(ex)
    maxima = [n.id for n in ex.graph.forward.find_all("Maximum")]
    assert maxima and set(maxima) <= _ids(text)


def test_avg_pooling_notes_spread_a_quarter_and_other_layers_have_none():
    ex = explain("avg-pooling", parse_sizes("N=1,C=1,D=2"))
    text = "\n".join(notes(ex, "ja"))
    assert "dout / 4" in text and _ids(text) <= _shown(ex)
    assert notes(explain("affine")) == []
    assert "What to notice" not in render_text(explain("affine"))


@pytest.mark.parametrize("shape,k,stride,pad", [((1, 1, 4, 5), 3, 1, 1), ((2, 1, 6, 6), 2, 2, 0),
                                                ((1, 2, 7, 9), 3, 2, 1)])
def test_coverage_counts_the_windows_over_each_pixel(shape, k, stride, pad):
    got = coverage(shape, k, k, stride, pad)
    H, W = shape[2:]
    OH, OW = (H + 2 * pad - k) // stride + 1, (W + 2 * pad - k) // stride + 1
    want = np.zeros((H + 2 * pad, W + 2 * pad))
    for i in range(OH):
        for j in range(OW):
            want[i * stride : i * stride + k, j * stride : j * stride + k] += 1
    want = want[pad : pad + H, pad : pad + W]
    assert np.array_equal(got, np.broadcast_to(want, shape))

