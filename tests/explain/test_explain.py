"""zerokara explain: the traced graphs of Affine, EmbeddingDot and TimeRNN, every built-in
example, a user's own (wrong) layer, bad input, and the command line with pictures."""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zerokara.check.examples import EXAMPLES, make_example, parse_sizes
from zerokara.cli import main
from zerokara.errors import InputError
from zerokara.explain import explain, run_plain, trace_layer
from zerokara.explain.render import render_text
from zerokara.explain.traced_array import TracedArray

SIZES = parse_sizes("N=3,D=4,H=5")
ROOT = Path(__file__).resolve().parents[2]  # the repository: tests.explain.userlayers imports from here
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed (apt-get install graphviz)")


def _graph(name: str, sizes: str | None = None):
    s = parse_sizes(sizes)
    m, ins = make_example(name, s)
    return trace_layer(m, ins, steps=s["T"] if name.startswith("time") else None).graph


def test_affine_forward_has_matmul_repeat_add_and_backward_sums_db_over_axis_0():
    g = _graph("affine", "N=3,D=2,H=4")
    mm = g.forward.find("MatMul")
    assert [i.label for i in mm.inputs] == ["x", "W"] and mm.shape == (3, 4)
    rep = g.forward.find("Repeat")
    assert rep.inputs[0].op == "Param" and rep.inputs[0].label == "b"
    assert rep.attrs["src"] == (4,) and rep.shape == (3, 4) and rep.attrs["axes"] == (0,)
    add = g.forward.find("Add")
    assert add.inputs == [mm, rep] and "out" in add.stores
    db = g.backward.grad("b")
    assert db.op == "Sum" and db.attrs["axis"] == (0,) and db.shape == (4,) and "db" in db.stores
    assert db.inputs[0].op == "Dout" and db.inputs[0].shape == (3, 4)
    dW = g.backward.grad("W")
    assert dW.op == "MatMul" and dW.shape == (2, 4) and "dW" in dW.stores
    assert g.backward.stored("dx").op == "MatMul"
    from zerokara.explain.rules import formula, pairs, rule
    assert (rep, db) in pairs(g)  # the broadcast and the sum that undoes it
    assert rule(rep) == [f"db = sum(d#{rep.id}, axis=0)"]
    assert formula(db) == "sum(dout, axis=0)" and formula(dW) == "x.T @ dout"


def test_embedding_dot_gathers_rows_multiplies_and_sums_over_axis_1():
    g = _graph("embedding-dot")
    gather = g.forward.find("Gather")
    assert {i.label for i in gather.inputs} == {"W", "idx"}
    mul = g.forward.find("Mul")
    assert g.depends(mul, gather) and any(i.label == "h" for i in mul.inputs)
    s = g.forward.find("Sum", axis=(1,))
    assert s.inputs == [mul] and s.shape == (SIZES["N"],) and "out" in s.stores
    # backward: the row gradients are scatter-added into W's rows
    assert g.backward.grad("W") is not None and g.backward.find("ScatterAdd") is not None


def test_time_rnn_backward_carries_dh_from_step_3_to_step_1_and_sums_db_over_batch_and_time():
    g = _graph("time-rnn", "N=3,T=3,D=4,H=5")
    whT = g.backward.find("Transpose", src=(5, 5))
    assert whT.inputs[0].label == "Wh"
    steps = {n.step: n for n in g.backward.find_all("MatMul") if whT in n.inputs}
    assert sorted(steps) == [1, 2, 3]  # dh_{t-1} = da_t @ Wh.T at each step
    assert g.depends(steps[2], steps[3]) and g.depends(steps[1], steps[2])
    assert "dh0" in steps[1].stores
    for t in (1, 2, 3):  # each step also takes its own dhs[:, t-1]
        sl = g.backward.find("Slice", step=t)
        assert sl.inputs[0].op == "Dout" and g.depends(steps[1], sl)
    db = g.backward.grad("b")
    assert db.op == "Sum" and db.attrs["axis"] == (0,) and db.shape == (5,)
    stacked = db.inputs[0]
    assert stacked.shape == (9, 5)  # T*N rows: batch and time together
    assert stacked.op == "Concat" and sorted(n.step for n in stacked.inputs) == [1, 2, 3]
    rep = g.forward.find("Repeat")
    assert rep.inputs[0].label == "b" and rep.shape == (9, 5)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_builtin_example_explains(name):
    ex = explain(name, parse_sizes("N=2,T=2,D=3,H=3,C=3"))
    assert ex.same_as_untraced and ex.report.ok
    for pname in ex.trace.param_grads:
        assert ex.graph.backward.grad(pname) is not None, pname
    assert len(ex.graph.forward) and len(ex.graph.backward)
    assert "Forward graph" in render_text(ex) and "順伝播グラフ" in render_text(ex, "ja")


@pytest.mark.parametrize("name", ["affine", "time-lstm", "embedding", "multi-layer-net", "sigmoid-with-loss"])
def test_tracing_changes_neither_results_nor_the_layer(name):
    m, ins = make_example(name, SIZES)
    before = {k: v.copy() for k, v in m.parameters().items()}
    saved = copy.deepcopy(m)
    traced, plain = trace_layer(m, ins), run_plain(m, ins)
    for a, b in zip(traced.outputs, plain.outputs):
        np.testing.assert_array_equal(a, b)
    for k, v in plain.input_grads.items():
        np.testing.assert_array_equal(traced.input_grads[k], v)
    for k, v in plain.param_grads.items():
        np.testing.assert_array_equal(traced.param_grads[k], v)
    for k, v in m.parameters().items():
        assert type(v) is np.ndarray and np.array_equal(v, before[k])
    assert not any(isinstance(v, TracedArray) for _, mod in m.named_modules() for v in vars(mod).values())
    assert repr(m) == repr(saved)
    assert np.add(np.ones(2), 1).__class__ is np.ndarray and np.zeros(2).__class__ is np.ndarray


def test_users_wrong_sigmoid_is_explained_and_its_check_names_x():
    ex = explain("tests.explain.userlayers:WrongSigmoid", SIZES)
    assert not ex.report.ok and not ex.report["x"].ok
    assert ex.graph.forward.find("Exp") is not None and ex.graph.forward.find("Div") is not None
    text = render_text(ex)
    assert "FAIL" in text and "input x" in text


def test_users_bias_without_sum_fails_with_the_parameter_named_and_the_missing_sum():
    ex = explain("tests.explain.userlayers:BiasNoSum", SIZES)
    entry = ex.report["b"]
    assert not entry.ok and "sum over axis 0" in entry.diagnosis
    assert ex.graph.forward.find("Repeat", src=(4,)) is not None
    assert ex.graph.backward.grad("b").op == "Dout"  # dout itself was stored as db: no Sum
    assert "WRONG SHAPE" in render_text(ex) and "形状が違う" in render_text(ex, "ja")


@pytest.mark.parametrize("spec,sizes,message", [
    ("conv9", None, "unknown layer 'conv9'; known: affine, relu"),
    ("no_such_module_xyz:Layer", None, "cannot import 'no_such_module_xyz'"),
    ("tests.explain.userlayers:Missing", None, "has no 'Missing'; layer classes there: WrongSigmoid"),
    ("tests.explain.userlayers:NotALayer", None, "is not a layer"),
    ("tests.explain.userlayers:Scale", None, "cannot guess the constructor argument 'table'"),
    ("tests.explain.userlayers:Scale", None, "give the class a classmethod example(sizes, rng)"),
    ("tests.explain.userlayers:ConstructorFails", None, "constructor raised NameError: name 'w'"),
    ("tests/explain/nofile.py:Layer", None, "no file tests/explain/nofile.py"),
    ("tests.explain.userlayers:FixedAffine", "D=2", "no shapes the names suggest made forward run"),
    ("tests.explain.userlayers:FixedAffine", "D=2", "forward(x (3, 2)): ValueError"),
    ("tests/check/userfiles/seed_rnn.py:RNNWithoutSum", None, "failed on inputs of shapes [(3, 4), (3, 5)]"),
    ("affine", None, "--init is for your own layer"),
    ("time-rnn", "T=50", "T=50 is too large to draw"),
    ("batchnorm", "N=1", "do not fit batchnorm with sizes N=1"),
    ("affine", "Q=3", "--sizes: expected KEY=positive integer"),
])
def test_bad_input_is_a_clear_error(spec, sizes, message):
    init = {"W": (4, 5)} if spec == "affine" else None
    with pytest.raises(InputError, match=None) as info:
        explain(spec, parse_sizes(sizes), init=init)
    assert message in str(info.value)


def test_cli_bad_input_is_one_line_and_user_layer_failure_exits_1():
    res = subprocess.run([sys.executable, "-m", "zerokara", "explain", "conv9"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 1 and res.stderr.count("\n") == 1 and "known: affine" in res.stderr
    res = subprocess.run([sys.executable, "-m", "zerokara", "explain",
                          "tests.explain.userlayers:WrongSigmoid", "--lang", "ja"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 1, res.stderr
    assert "数値微分による確認" in res.stdout and "不合格" in res.stdout and "誤り 入力  x" in res.stdout


@needs_dot
@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_cli_draws_png_and_svg(tmp_path, capsys, suffix, magic):
    out = tmp_path / f"affine{suffix}"
    assert main(["explain", "affine", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(magic)
    if suffix == ".svg":
        svg = out.read_text()
        assert "Repeat" in svg and "Sum(axis=0)" in svg and "forward" in svg and "backward" in svg
    assert "Forward graph" in capsys.readouterr().out


def test_missing_dot_gives_install_hint_after_the_text(tmp_path, capsys, monkeypatch):
    pytest.importorskip("graphviz")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert main(["explain", "affine", "--out", str(tmp_path / "a.png")]) == 1
    out, err = capsys.readouterr()
    assert "Numerical gradient check" in out
    assert "apt-get install graphviz" in err and err.count("\n") == 1
    assert not (tmp_path / "a.png").exists()
    assert main(["explain", "affine", "--out", str(tmp_path / "a.gv")]) == 0  # source needs no dot
    assert "Repeat" in (tmp_path / "a.gv").read_text()
    capsys.readouterr()
    assert main(["explain", "affine", "--out", str(tmp_path / "no" / "a.gv")]) == 1
    assert "--out: cannot write" in capsys.readouterr().err


def test_users_layer_writing_steps_into_an_empty_buffer_keeps_provenance():
    ex = explain("tests.explain.userlayers:TimeTanh", parse_sizes("N=2,T=3,D=3"))
    assert ex.report.ok and ex.same_as_untraced
    g = ex.graph
    tanhs = g.forward.find_all("Tanh")
    assert sorted(n.step for n in tanhs) == [1, 2, 3]
    assert all(n.inputs[0].op == "Slice" and n.inputs[0].inputs[0].label == "xs" for n in tanhs)
    out = g.forward.stored("hs")  # named after backward's argument dhs
    assert out.op == "Concat" and out.inputs == sorted(tanhs, key=lambda n: n.step)
    dxs = g.backward.stored("dxs")
    assert sorted(n.step for n in dxs.inputs) == [1, 2, 3]  # one Mul per step, stacked
    for n in dxs.inputs:  # each step's gradient reads that step's forward tanh
        assert any(g.depends(n, h) for h in tanhs if h.step == n.step)


def test_a_plain_copy_of_a_traced_value_is_recognised_by_its_values():
    ex = explain("tests.explain.userlayers:PlainCopy", SIZES)
    assert ex.report.ok and ex.same_as_untraced
    g = ex.graph
    add, mul = g.forward.find("Add"), g.forward.find("Mul")
    assert mul.inputs[0].label == "x" and mul in add.inputs  # not a Const: found by its values
    assert g.backward.grad("b").op == "Sum"


def test_a_vector_repeated_over_time_is_a_repeat_and_backward_sums_over_time():
    ex = explain("tests.explain.userlayers:PeekyConcat", parse_sizes("N=2,T=3,D=4,H=5"))
    assert ex.report.ok and ex.same_as_untraced
    g = ex.graph
    rep = g.forward.find("Repeat")
    assert rep.inputs[0].label == "h" and rep.shape == (2, 3, 5) and rep.attrs["axes"] == (1,)
    assert g.forward.find("Concat", axis=2) is not None
    dh = g.backward.stored("dh")
    assert dh.op == "Sum" and dh.attrs["axis"] == (1,) and dh.shape == (2, 5)
    from zerokara.explain.rules import pairs
    assert (rep, dh) in pairs(g)


def test_missing_graphviz_package_gives_pip_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz now raises ImportError
    assert main(["explain", "relu", "--out", str(tmp_path / "r.svg")]) == 1
    out, err = capsys.readouterr()
    assert "Forward graph" in out and "pip install 'zerokara[explain]'" in err
