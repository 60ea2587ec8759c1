"""zerokara explain on the Transformer layers: the split into heads traced as Reshape then
Transpose (forward and backward), the mask's broadcast as a Repeat with no Sum, and the notes
on multi-head attention, LayerNorm, softmax and scaled dot-product attention, en and ja."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zerokara.check.examples import EXAMPLES, make_example, parse_sizes
from zerokara.explain import explain
from zerokara.explain.notes import notes
from zerokara.explain.render import render_text, visible
from zerokara.explain.rules import pairs, rule

ROOT = Path(__file__).resolve().parents[2]
N, T, D = 3, 3, 4  # the default sizes: MultiHeadAttention has 2 heads of dk = D, d_model = 2D
HEAD = (N, T, 2, D)  # (N, T, h, dk)


def _ids(text: str) -> set[int]:
    return {int(i) for i in re.findall(r"#(\d+)", text)}


def _shown(ex) -> set[int]:
    g = ex.graph
    return {n.id for n in visible(g, "forward") + visible(g, "backward")}


@pytest.fixture(scope="module")
def mha():
    return explain("multi-head-attention")


def test_heads_are_split_by_a_reshape_then_a_transpose_in_forward(mha):
    g = mha.graph
    q = g.forward.find("Add", shape=(N, T, 2 * D))  # query @ Wq + bq
    split = g.forward.find("Reshape", shape=HEAD)
    assert split is not None and split.inputs == [q] and split.attrs["src"] == (N, T, 2 * D)
    heads = [n for n in g.consumers(split) if n.op == "Transpose"]
    assert [(n.attrs["axes"], n.shape) for n in heads] == [((0, 2, 1, 3), (N, 2, T, D))]
    # K and V too (K over T + 1 keys; K's transpose also swaps the last two axes, for q @ k.T)
    for kv in g.forward.find_all("Reshape", shape=(N, T + 1, 2, D)):
        assert kv.inputs[0].op == "Add" and kv.inputs[0].shape == (N, T + 1, 2 * D)
        assert {n.attrs["axes"] for n in g.consumers(kv) if n.op == "Transpose"} <= {
            (0, 2, 1, 3),
            (0, 2, 3, 1),
        }
    text = render_text(mha)
    assert f"Reshape                #{q.id} (3, 3, 8)  ->  (3, 3, 2, 4)" in text
    assert f"Transpose(0, 2, 1, 3)  #{split.id} (3, 3, 2, 4)  ->  (3, 2, 3, 4)" in text


def test_backward_splits_dc_into_heads_and_merges_each_heads_gradient_back(mha):
    g = mha.graph
    split = [n for n in g.backward if n.op == "Reshape" and n.shape == HEAD]
    assert split and split[0].inputs[0].phase == "backward"  # dc = dout @ Wo.T, reshaped
    assert any(n.op == "Transpose" and n.attrs["axes"] == (0, 2, 1, 3) for n in g.consumers(split[0]))
    dQ = g.backward.stored("dquery").inputs[0]  # dquery = dQ @ Wq.T, dQ = merge(dq)
    assert dQ.op == "Reshape" and dQ.shape == (N, T, 2 * D) and dQ.inputs[0].shape == HEAD
    assert dQ.inputs[0].op == "Transpose" and dQ.inputs[0].attrs["axes"] == (0, 2, 1, 3)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_transpose_node_permutes_exactly_its_inputs_axes(name):
    """A reshape is never folded into a Transpose: its axes fit its input, its shape is the
    input's shape permuted (``Transpose(0, 2, 1)`` with a 4-d result was the old text)."""
    s = parse_sizes("N=2,T=2,D=3,H=3,C=3")
    ex = explain(name, s)
    for n in ex.graph.nodes:
        if n.op == "Transpose":
            src = n.inputs[0].shape
            assert sorted(n.attrs["axes"]) == list(range(len(src))), n
            assert n.shape == tuple(src[a] for a in n.attrs["axes"]), n


def test_the_mask_is_repeated_explicitly_and_no_sum_undoes_it(mha):
    g = mha.graph
    rep = next(n for n in g.forward if n.op == "Repeat" and n.inputs[0].label == "mask")
    assert rep.attrs["src"] == (N, 1, 1, T + 1) and rep.shape == (N, 2, T, T + 1)
    assert rep.attrs["axes"] == (1, 2) and rep.attrs["no_grad"]
    where = g.forward.find("Where")
    assert where.inputs[0] is rep and where.attrs["const"] == -np.inf
    assert all(f is not rep for f, _ in pairs(g))  # a bool mask has no gradient: no Sum
    assert "no gradient" in rule(rep)[0] and "no Sum" in rule(rep)[0]
    assert rule(where)[-1] == f"d#{where.inputs[1].id} = where(#{rep.id}, 0, d#{where.id})"
    text = render_text(mha)
    assert "Repeat(over axis (1, 2)) mask (3, 1, 1, 4)  ->  (3, 2, 3, 4)" in text
    assert f"Where                  #{rep.id} (3, 2, 3, 4), -inf, #" in text


@pytest.mark.parametrize(
    "name", ["softmax", "layer-norm", "scaled-dot-product-attention", "multi-head-attention"]
)
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_notes_exist_in_both_languages_and_name_only_shown_nodes(name, lang):
    ex = explain(name)
    lines = notes(ex, lang)
    assert len(lines) >= 2 and len(lines) == len(notes(ex, "ja" if lang == "en" else "en"))
    text = "\n".join(lines)
    assert _ids(text) and _ids(text) <= _shown(ex)
    assert ("What to notice" if lang == "en" else "注目点") in render_text(ex, lang)


def test_mha_notes_say_how_the_gradient_splits_over_heads_and_where_the_mask_goes(mha):
    text = "\n".join(notes(mha))
    g = mha.graph
    split = g.forward.find("Reshape", shape=HEAD)
    assert f"(Reshape #{split.id})" in text and "(3, 3, 2, 4)" in text
    assert "head 0: 0-3, head 1: 4-7" in text and "own column block of dWq" in text
    assert f"#{g.backward.grad('Wq').id}" in text
    rep = next(n for n in g.forward if n.op == "Repeat" and n.inputs[0].label == "mask")
    assert f"Repeat #{rep.id}" in text and "6 of 72" in text  # 1 padding key x 2 heads x 3 queries
    assert "exactly 0 gradient" in text
    assert "1/sqrt(4) = 0.5" in text and "dq = dS @ k" in text and "dk = dS.T @ q" in text
    dkv = g.backward.stored("dkey_value")
    assert f"(Add #{dkv.id})" in text and "dx = dquery + dkey_value" in text
    ja = "\n".join(notes(mha, "ja"))
    assert "ヘッド 0 は 0-3" in ja and "勾配のヘッドへの分かれ方" in ja


def test_what_the_mha_notes_claim_holds_in_the_numbers():
    """Head 1's output read by no row of Wo: head 1 gets no gradient, so dWq's columns 4-7
    (its block) are 0 and columns 0-3 are not; masked scores get exactly 0; dbk = 0."""
    layer, (query, kv, mask) = make_example("multi-head-attention", parse_sizes(None))
    layer.params["Wo"][D:] = 0  # rows 4-7 of Wo read head 1's output
    layer.forward(query, kv, mask)
    dout = np.random.default_rng(0).standard_normal((N, T, 2 * D))
    layer.backward(dout)
    dWq = layer.grads["Wq"]
    assert np.all(dWq[:, D:] == 0) and np.abs(dWq[:, :D]).max() > 1e-3
    assert np.all(layer.weights[np.broadcast_to(mask, layer.weights.shape)] == 0)
    assert np.abs(layer.grads["bk"]).max() < 1e-12


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_layer_norm_notes_name_the_three_backward_paths(lang):
    ex = explain("layer-norm")
    g = ex.graph
    lines = notes(ex, lang)
    first = lines[0]
    for k in ("(1)", "(2)", "(3)"):
        assert k in first
    assert "dx = (1/sigma) (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))" in first
    dx = g.backward.stored("dx")
    outer = dx.inputs[1]  # 1/sigma * (direct - via mean - via sigma)
    inner = outer.inputs[0]
    dxhat = inner.inputs[0]
    assert dxhat.op == "Mul" and dxhat.inputs[0].op == "Dout"
    for n in (dx, outer, inner, dxhat):
        assert f"#{n.id}" in first
    mean_path = [n for n in g.backward if g.depends(inner.inputs[1], n) or n is inner.inputs[1]]
    assert any(n.op == "Sum" and n.attrs["axis"] == (2,) for n in mean_path)
    assert any(n.op == "Mean" for n in g.backward if g.depends(outer.inputs[1], n))
    assert "BatchNorm" in lines[-1] and ("per token" in lines[-1] or "トークンごと" in lines[-1])
    if lang == "en":
        assert "through the mean" in first and "through sigma" in first


def test_softmax_notes_name_the_backward_nodes_and_the_zero_row_sums():
    ex = explain("softmax")
    text = "\n".join(notes(ex))
    dx = ex.graph.backward.stored("dx")
    assert "dx = y * (dy - sum(y * dy))" in text and f"Mul #{dx.id}" in text
    assert "each row of dx sums to 0" in text
    assert f"#{ex.graph.forward.find('Max').id}" in text
    assert np.abs(ex.trace.input_grads["x"].sum(axis=-1)).max() < 1e-12


def test_sdpa_notes_put_the_scale_in_dq_and_dk():
    ex = explain("scaled-dot-product-attention")
    text = "\n".join(notes(ex))
    g = ex.graph
    dq, dk = g.backward.stored("dq"), g.backward.stored("dk")
    assert f"dq = dS @ k (#{dq.id})" in text and f"dk = dS.T @ q (#{dk.id})" in text
    assert "Repeat" in text and "(3, 3)" in text  # the causal mask (T, T), repeated over N and h


def test_cli_explains_multi_head_attention_in_japanese():
    res = subprocess.run(
        [sys.executable, "-m", "zerokara", "explain", "multi-head-attention", "--lang", "ja"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert res.returncode == 0, res.stderr
    assert "注目点" in res.stdout and "Reshape" in res.stdout and "数値微分による確認" in res.stdout
