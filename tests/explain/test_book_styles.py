"""zerokara explain on readers' own layers as the books write them, with no example():
book 2's RNN (``self.params = [Wx, Wh, b]``, ``self.grads[0][...] = dWx``) and book 1's
Affine (``self.W``, ``self.dW``), built from their argument names as ``zerokara check``
builds them; a broken one; and the reader's object left as it was."""

from __future__ import annotations

import copy
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from zerokara.check.examples import parse_sizes
from zerokara.cli import main
from zerokara.explain import explain, run_plain, trace_layer
from zerokara.explain.render import render_text
from zerokara.explain.traced_array import TracedArray
from zerokara.introspect import param_slots

ROOT = Path(__file__).resolve().parents[2]
RNN = str(ROOT / "tests/check/userfiles/seed_rnn.py") + ":RNN"  # book 2, the teratail question's cell
AFFINE = str(ROOT / "tests/check/books/book1_layers.py") + ":Affine"  # book 1
NOT_SUMMED = str(ROOT / "tests/check/userfiles/diagnoses.py") + ":AffineDbNotSummed"  # book 1, db = dout
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (apt-get install graphviz)"
)


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


# -- the command line ---------------------------------------------------------------------------


def test_cli_explains_book2_rnn_with_its_constructor_names(capsys):
    assert main(["explain", RNN]) == 0
    out = capsys.readouterr().out
    assert "built from the argument names: Wx (4, 5), Wh (5, 5), b (5,); x (3, 4), h_prev (3, 5)" in out
    assert "parameters: Wx (4, 5), Wh (5, 5), b (5,)" in out
    assert "MatMul                 x (3, 4), Wx (4, 5)" in out
    for line in (
        "dWx            (4, 5)         = shape of Wx (4, 5)",
        "dWh            (5, 5)         = shape of Wh (5, 5)",
        "db             (5,)           = shape of b (5,)",
    ):
        assert line in out
    assert "->  dWh (5, 5)" in out and "->  dWx (4, 5)" in out and "->  db (5,)" in out
    assert "Numerical gradient check (central differences, float64): PASS" in out
    assert "ok   param Wx" in out and "params[0]" not in out


def test_cli_explains_book1_affine_with_dw_and_db(capsys):
    assert main(["explain", AFFINE]) == 0
    out = capsys.readouterr().out
    assert "parameters: W (4, 5), b (5,)" in out
    assert "->  dW (4, 5)" in out and "Sum(axis=0)            dout (3, 5)  ->  db (5,)" in out
    assert "dW             (4, 5)         = shape of W (4, 5)" in out
    assert ": PASS" in out and "ok   param W " in out and "ok   param b " in out


def test_cli_in_japanese_and_with_sizes(capsys):
    assert main(["explain", RNN, "--lang", "ja", "--sizes", "N=2,D=3,H=4"]) == 0
    out = capsys.readouterr().out
    assert "引数の名前から組み立て: Wx (3, 4), Wh (4, 4), b (4,); x (2, 3), h_prev (2, 4)" in out
    assert "サイズ: N=2, D=3, H=4" in out
    assert "数値微分による確認" in out and "合格" in out


@needs_dot
def test_cli_draws_a_book_style_layer(tmp_path, capsys):
    out = tmp_path / "rnn.svg"
    assert main(["explain", RNN, "--out", str(out)]) == 0
    svg = out.read_text()
    assert "Wx" in svg and "dWh" in svg and "Sum(axis=0)" in svg
    png = tmp_path / "affine.png"
    assert main(["explain", AFFINE, "--out", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    capsys.readouterr()


def test_cli_broken_book1_affine_exits_1_with_the_sum_over_axis_0(capsys):
    assert main(["explain", NOT_SUMMED]) == 1
    out = capsys.readouterr().out
    assert "db             (3, 5)         = shape of b (5,)   <- WRONG SHAPE" in out
    assert "FAIL param b" in out and "backward must sum over axis 0" in out
    assert "ok   param W " in out


def test_cli_init_gives_a_shape_the_name_does_not(capsys):
    assert main(["explain", "tests.explain.userlayers:Scale"]) == 1
    assert "cannot guess the constructor argument 'table'" in capsys.readouterr().err
    assert main(["explain", "tests.explain.userlayers:Scale", "--init", "table=(4,6)"]) == 0
    out = capsys.readouterr().out
    assert "parameters: table (4, 6)" in out and "dtable         (4, 6)" in out and ": PASS" in out


# -- the Python API -----------------------------------------------------------------------------


def test_api_book2_rnn_graph_names_and_check():
    ex = explain(RNN, parse_sizes(None))
    assert ex.report.ok and ex.same_as_untraced
    assert [e.name for e in ex.report.entries] == ["x", "h_prev", "Wx", "Wh", "b"]
    g = ex.graph
    assert sorted(n.label for n in g.forward.find_all("Param")) == ["Wh", "Wx", "b"]
    wx = g.forward.find("Param", label="Wx")
    assert any(wx in n.inputs for n in g.forward.find_all("MatMul"))
    assert g.backward.grad("Wx").stores == ["dWx"] and g.backward.grad("Wh").stores == ["dWh"]
    db = g.backward.grad("b")
    assert db.op == "Sum" and db.attrs["axis"] == (0,) and db.stores == ["db"]
    assert ex.trace.param_shapes == {"Wx": (4, 5), "Wh": (5, 5), "b": (5,)}
    assert ex.built.startswith("Wx (4, 5), Wh (5, 5), b (5,)")


def test_api_sizes_are_optional_and_partial():
    ex = explain(RNN, {"H": 3})
    assert ex.trace.param_shapes == {"Wx": (4, 3), "Wh": (3, 3), "b": (3,)}
    assert ex.report.ok


def test_api_book1_affine_params_and_gradients():
    ex = explain(AFFINE, parse_sizes(None))
    assert ex.report.ok and ex.same_as_untraced
    g = ex.graph
    assert sorted(n.label for n in g.forward.find_all("Param")) == ["W", "b"]
    assert g.backward.grad("W").stores == ["dW"] and g.backward.grad("W").op == "MatMul"
    assert g.backward.grad("b").op == "Sum" and g.backward.grad("b").stores == ["db"]
    assert g.forward.find("Repeat", src=(5,)) is not None
    assert set(ex.trace.param_grads) == {"W", "b"}


def test_api_broken_book1_affine_is_diagnosed():
    ex = explain(NOT_SUMMED, parse_sizes(None))
    assert not ex.report.ok and ex.report["W"].ok
    entry = ex.report["b"]
    assert not entry.ok and "sum over axis 0" in entry.diagnosis
    assert ex.graph.backward.grad("b").op == "Dout"  # dout itself stored as db: no Sum
    assert "WRONG SHAPE" in render_text(ex) and "形状が違う" in render_text(ex, "ja")


def test_book1_parameters_found_when_init_does_not_set_dw():
    ex = explain("tests.explain.userlayers:LateAffine", parse_sizes(None))
    assert ex.report.ok and ex.same_as_untraced
    assert sorted(n.label for n in ex.graph.forward.find_all("Param")) == ["W", "b"]
    assert ex.graph.backward.grad("b").stores == ["db"]


def test_book2_model_params_are_traced_inside_its_layers():
    ex = explain("tests.explain.userlayers:Book2Net", parse_sizes(None))
    assert ex.report.ok and ex.same_as_untraced
    g = ex.graph
    assert sorted(n.label for n in g.forward.find_all("Param")) == ["W1", "W2", "b1", "b2"]
    first = g.forward.find("MatMul")
    assert [i.label for i in first.inputs] == ["x", "W1"]  # the layer reads the model's Param
    assert g.backward.grad("W2").stores == ["dW2"] and g.backward.grad("b1").op == "Sum"


# -- the order of the ways to build a user's class ------------------------------------------------


def test_example_wins_then_create_then_the_names():
    ex = explain("tests.explain.userlayers:PeekyConcat", parse_sizes("N=2,T=3,D=4,H=5"))
    assert not ex.built  # example() gave the layer and its inputs
    ex = explain("tests.explain.userlayers:BiasNoSum", parse_sizes(None))
    assert ex.trace.param_shapes == {"b": (4,)}  # create(D, H): b (D,), which the names would not give
    ex = explain("tests.explain.userlayers:CreateFails", parse_sizes(None))
    assert ex.report.ok and ex.built.startswith("W (4, 5), b (5,)")  # create raised: the names
    ex = explain("tests.explain.userlayers:NeedsArgs", parse_sizes(None))  # a Module from its names
    assert not ex.report.ok and "backward left no gradient for parameter W" in ex.report["W"].diagnosis


# -- the reader's object ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path,name",
    [
        ("tests/check/userfiles/seed_rnn.py", "RNN"),
        ("tests/check/books/book1_layers.py", "Affine"),
    ],
)
def test_tracing_leaves_the_readers_object_as_it_was(path, name):
    cls = _load(path, name)
    rng = np.random.default_rng(0)
    if name == "RNN":
        layer = cls(rng.standard_normal((4, 5)), rng.standard_normal((5, 5)), rng.standard_normal(5))
        inputs = (rng.standard_normal((3, 4)), rng.standard_normal((3, 5)))
    else:
        layer = cls(rng.standard_normal((4, 5)), rng.standard_normal(5))
        inputs = (rng.standard_normal((3, 4)),)
    before = copy.deepcopy(vars(layer))
    arrays = dict(vars(layer))
    lists = [list(v) for v in vars(layer).values() if isinstance(v, list)]
    saved_inputs = [x.copy() for x in inputs]
    traced, plain = trace_layer(layer, inputs), run_plain(layer, inputs)
    for k, v in vars(layer).items():
        assert v is arrays[k]  # the same objects (lists, arrays, None) in the same attributes
        if isinstance(v, np.ndarray):
            assert type(v) is np.ndarray and np.array_equal(v, before[k])
        if isinstance(v, list):
            assert all(
                type(a) is np.ndarray and np.array_equal(a, b) for a, b in zip(v, before[k], strict=True)
            )
    assert [list(v) for v in vars(layer).values() if isinstance(v, list)] == lists  # same arrays held
    assert all(np.array_equal(x, s) for x, s in zip(inputs, saved_inputs, strict=True))
    assert not any(isinstance(v, TracedArray) for v in vars(layer).values())
    assert set(traced.param_grads) == set(plain.param_grads) and traced.param_grads
    for k, v in plain.param_grads.items():
        np.testing.assert_array_equal(traced.param_grads[k], v)
    assert np.add(np.ones(2), 1).__class__ is np.ndarray


def test_trace_layer_names_book2_params_by_the_names_given():
    cls = _load("tests/check/userfiles/seed_rnn.py", "RNN")
    rng = np.random.default_rng(1)
    Wx, Wh, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)
    layer = cls(Wx, Wh, b)
    inputs = (rng.standard_normal((4, 2)), rng.standard_normal((4, 3)))
    guessed = trace_layer(layer, inputs).graph  # the constructor's positional arguments, in order
    assert [n.label for n in guessed.forward.find_all("Param")] == ["Wx", "Wh", "b"]
    named = trace_layer(layer, inputs, names={id(Wx): "W_in", id(Wh): "W_rec", id(b): "bias"}).graph
    assert sorted(n.label for n in named.forward.find_all("Param")) == ["W_in", "W_rec", "bias"]
    assert named.backward.grad("bias").stores == ["dbias"]


def test_introspect_param_slots_reads_only_params_dicts():
    cls = _load("tests/check/userfiles/seed_rnn.py", "RNN")
    layer = cls(np.ones((2, 3)), np.ones((3, 3)), np.ones(3))
    assert param_slots(layer) == []  # book 2's list: zerokara.explain.params reads it


def test_api_takes_the_class_itself():
    """From a notebook: explain(MyRNN) builds the class from its argument names, as the CLI does."""
    from zerokara.check.source import load_file

    rnn = load_file(Path(__file__).parents[1] / "check" / "userfiles" / "seed_rnn.py").RNN
    ex = explain(rnn, {"N": 2})
    assert ex.report.ok and ex.name == "seed_rnn.py:RNN"
    assert [e.name for e in ex.report.entries] == ["x", "h_prev", "Wx", "Wh", "b"]
    assert "seed_rnn.py:RNN" in render_text(ex)
