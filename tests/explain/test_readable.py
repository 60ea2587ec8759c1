"""zerokara explain traces TimeLSTM (and LSTM, GRU, TimeGRU) as their readable references:
the book's operations, step by step, no workspace of the fast layout; it says so, and it
checks that the fast layer computes the same numbers."""

from __future__ import annotations

import pytest

from zerokara.check.examples import make_example, parse_sizes
from zerokara.cli import main
from zerokara.explain import explain
from zerokara.explain.readable import READABLE
from zerokara.explain.render import render_text, visible
from zerokara.explain.rules import pairs
from zerokara.layers import TimeLSTM, TimeRNN
from zerokara.layers.reference import SimpleTimeLSTM

LINE = ("traced: SimpleTimeLSTM, the readable reference; TimeLSTM computes the same function "
        "arranged for speed (docs/speed.md)")
N, T, D, H = 2, 3, 3, 4
#: every operation book 2's LSTM and its loop write (sigmoid as 1 / (1 + exp(-x)))
BOOK_OPS = {"Input", "Param", "Dout", "Slice", "MatMul", "Add", "Sub", "Mul", "Div", "Neg", "Exp",
            "Tanh", "Square", "Repeat", "Sum", "Transpose", "Concat"}


@pytest.fixture(scope="module")
def ex():
    return explain("time-lstm", parse_sizes(f"N={N},T={T},D={D},H={H}"))


def test_time_lstm_is_traced_as_simple_time_lstm_and_the_text_says_so(ex, capsys):
    assert type(ex.module) is SimpleTimeLSTM and ex.replaced == [("TimeLSTM", "SimpleTimeLSTM")]
    assert ex.fast_agrees and ex.same_as_untraced and ex.report.ok
    assert render_text(ex).splitlines()[2] == LINE
    assert "トレース対象: SimpleTimeLSTM(読みやすい参照実装)" in render_text(ex, "ja")
    assert main(["explain", "time-lstm"]) == 0 and LINE in capsys.readouterr().out


def test_gradcheck_still_checks_the_fast_layer():
    layer, _ = make_example("time-lstm", parse_sizes(None))
    assert type(layer) is TimeLSTM  # only explain swaps; zerokara gradcheck time-lstm is TimeLSTM


def test_time_lstm_graph_has_only_the_books_operations_and_no_workspace(ex):
    g = ex.graph
    nodes = visible(g, "forward") + visible(g, "backward")
    assert {n.op for n in nodes} <= BOOK_OPS, {n.op for n in nodes} - BOOK_OPS
    # the fast layout's artefacts: [1, x] against [b; Wx], gates scaled in place, a padded Wh
    assert not [n for n in nodes if n.op == "Concat" and any(i.op == "Param" for i in n.inputs)]
    assert not [n for n in nodes if n.op == "Mul" and "const" in n.attrs and n.inputs[0].op == "Param"]
    for n in g.forward.find_all("MatMul"):
        w = n.inputs[1]
        assert w.op == "Param" and w.label in ("Wx", "Wh")  # x @ Wx, h_prev @ Wh: the arrays themselves


def _gate(g, step: int, block: int):
    """The forward Slice of A's gate block (0 i, 1 f, 2 g, 3 o) at ``step``, and the gate:
    ``tanh`` of it for g, ``1 / (1 + exp(-.))`` (its Div) for the others."""
    index = f"[:, {block * H or ''}:{(block + 1) * H if block < 3 else ''}]"
    sl = g.forward.find("Slice", step=step, index=index)
    if block == 2:
        return sl, next(n for n in g.consumers(sl) if n.phase == "forward")
    return sl, next(n for n in g.forward.find_all("Div", step=step) if g.depends(n, sl))


def test_each_step_computes_the_gates_and_the_cell_as_the_book_writes_them(ex):
    g = ex.graph
    for t in range(1, T + 1):
        _, gt = _gate(g, t, 2)
        assert gt.op == "Tanh"  # g = tanh(A[:, 2H:3H])
        _, i = _gate(g, t, 0)
        assert i.op == "Div" and i.inputs[0].op == "Add"  # i = 1 / (1 + exp(-A[:, :H]))
        cell = [n for n in g.forward.find_all("Mul", step=t) if set(n.inputs) == {gt, i}]
        assert len(cell) == 1  # g * i in c_next = f * c_prev + g * i
        c_next = next(n for n in g.consumers(cell[0]) if n.phase == "forward")
        assert c_next.op == "Add" and any(n.op == "Tanh" for n in g.consumers(c_next))


def test_backward_multiplies_ds_by_g_and_i_at_every_step(ex):
    """di = ds * g, dg = ds * i: ds (the gradient reaching c_next) times the other factor."""
    g = ex.graph
    for t in range(1, T + 1):
        _, gt = _gate(g, t, 2)
        _, i = _gate(g, t, 0)
        di = [n for n in g.backward.find_all("Mul", step=t) if gt in n.inputs]
        dg = [n for n in g.backward.find_all("Mul", step=t) if i in n.inputs and n.inputs[0].phase == "backward"]
        assert len(di) == 1 and len(dg) == 1
        ds = di[0].inputs[0]
        assert ds.phase == "backward" and ds in dg[0].inputs  # the same ds feeds both


def test_db_is_a_sum_over_the_batch_at_each_step_added_over_time(ex):
    g = ex.graph
    db = g.backward.grad("b")
    assert db.op == "Add" and db.shape == (4 * H,) and "db" in db.stores
    terms, stack = [], [db]
    while stack:  # the Adds over time, down to what each step contributed
        n = stack.pop()
        if n.op == "Add":
            stack.extend(n.inputs)
        else:
            terms.append(n)
    assert sorted(n.step for n in terms) == list(range(1, T + 1))
    for n in terms:
        assert n.op == "Sum" and n.attrs["axis"] == (0,) and n.inputs[0].shape == (N, 4 * H)
        assert n.label == f"db(t={n.step})"
    rep = g.forward.find("Repeat")
    assert rep.inputs[0].label == "b" and {b.id for f, b in pairs(g) if f is rep} == {n.id for n in terms}
    for name in ("Wx", "Wh"):  # the same weights at every step: their gradients add up over time
        assert sorted(n.step for n in g.backward.find_all("MatMul") if n.label.startswith(f"d{name}(")) \
            == list(range(1, T + 1))


def test_backward_steps_follow_the_gradient_not_the_cached_values(ex):
    """df = ds * c_prev at step t reads c at t-1; the node still belongs to step t."""
    g = ex.graph
    for n in g.backward.find_all("Mul"):
        flowing = [i for i in n.inputs if i.phase == "backward" and i.step is not None]
        if flowing:
            assert n.step == min(i.step for i in flowing)


@pytest.mark.parametrize("name,fast,ref", [("lstm", "LSTM", "SimpleLSTM"), ("gru", "GRU", "SimpleGRU"),
                                           ("time-gru", "TimeGRU", "SimpleTimeGRU"),
                                           ("bidirectional", "TimeLSTM", "SimpleTimeLSTM"),
                                           ("convolution", "Convolution", "Im2colConvolution"),
                                           ("simple-conv-net", "Convolution", "Im2colConvolution")])
def test_the_other_rearranged_layers_are_traced_as_their_references(name, fast, ref):
    ex = explain(name, parse_sizes("N=2,T=2,D=3,H=3"))
    assert ex.replaced == [(fast, ref)] and ex.fast_agrees and ex.report.ok
    line = render_text(ex).splitlines()[2]
    assert line.startswith("traced: ") and f"{fast} computes the same function arranged for speed" in line
    ops = {n.op for n in visible(ex.graph, "forward") + visible(ex.graph, "backward")}
    if name != "simple-conv-net":  # its pooling's masks and the loss's labels are constants
        assert "Const" not in ops and all(op[0].isupper() or op == "pad" for op in ops), ops


def test_convolution_backward_is_traced_as_books_dcol_then_col2im():
    """The fast dx goes kernel offset by offset; the traced one is one product for the whole
    dcol, then col2im's adds: two MatMuls in backward (dW and dcol), not one per offset."""
    ex = explain("convolution", parse_sizes("N=2,C=2,D=3,H=2"))
    products = ex.graph.backward.find_all("MatMul")
    assert len(products) == 2
    assert (2 * 3 * 3, 2 * 3 * 4) in {n.shape for n in products}  # dcol (C*FH*FW, N*OH*OW)


@pytest.mark.parametrize("name", ["rnn", "time-rnn", "affine"])
def test_layers_whose_fast_form_is_the_algorithm_are_traced_as_they_are(name):
    ex = explain(name, parse_sizes("N=2,T=2,D=3,H=3"))
    assert ex.replaced == [] and not render_text(ex).splitlines()[2].startswith("traced:")
    if name == "time-rnn":
        assert type(ex.module) is TimeRNN


class _WrongWh(SimpleTimeLSTM):
    """A 'reference' whose dWh is twice what it should be."""

    def backward(self, dhs):
        out = super().backward(dhs)
        self.grads["Wh"][...] *= 2
        return out


def test_a_reference_that_disagrees_with_the_fast_layer_is_reported(monkeypatch):
    monkeypatch.setitem(READABLE, TimeLSTM, _WrongWh)
    ex = explain("time-lstm", parse_sizes("N=2,T=2,D=3,H=3"))
    assert not ex.fast_agrees
    assert "warning: the fast layer and its readable reference gave different numbers" in render_text(ex)


def test_help_lists_the_built_in_layers_and_says_which_are_traced_as_references(capsys):
    with pytest.raises(SystemExit):
        main(["explain", "--help"])
    out = capsys.readouterr().out
    assert "built-in layers" in out and "time-lstm" in out and "softmax-with-loss" in out
    assert "traced as their readable" in out
