"""``zerokara check`` on readers' own layers, as they write them: each diagnosis catches its
broken layer and stays quiet on the correct one, the seeds' real code is checked as it
is, every layer of the books is built from its names alone, and the user's objects are
never changed."""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zerokara.check import adapt, gradcheck
from zerokara.check.build import NoFitError, build, parse_init, parse_sizes
from zerokara.check.findings import WARNINGS
from zerokara.check.files import check_file, table
from zerokara.check.layer import check_layer
from zerokara.check.source import FileError, classes_in, is_layer, load_file
from zerokara.cli import main

HERE = Path(__file__).parent
USER = HERE / "userfiles"
BOOKS = HERE / "books"

diagnoses = load_file(USER / "diagnoses.py")


def _line(path: Path, snippet: str, after: str = "") -> int:
    """The first line of ``path`` that starts with ``snippet`` (1-based), below the first line
    that contains ``after``."""
    lines = path.read_text().splitlines()
    start = next(i for i, text in enumerate(lines) if after in text)
    for i, text in enumerate(lines[start:], start + 1):
        if text.strip().startswith(snippet):
            return i
    raise AssertionError(f"{snippet!r} not in {path}")


# ---------------------------------------------------------------------------
# every diagnosis: its broken layer is caught, its correct one is not
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(diagnoses.EXPECT))
def test_each_diagnosis_and_no_false_alarm(name):
    expected = diagnoses.EXPECT[name]
    result = check_layer(getattr(diagnoses, name))
    failures = [c for c in expected if c not in WARNINGS]
    if not failures:
        assert result.status == "pass", result.render()
        assert [c for c in result.codes if c not in WARNINGS] == []
        assert sorted(set(result.codes)) == sorted(set(expected))
    else:
        assert result.status == "fail", result.render()
        for code in expected:
            assert code in result.codes, result.render()


@pytest.mark.parametrize(
    "name", sorted(n for n, codes in diagnoses.EXPECT.items() if any(c not in WARNINGS for c in codes))
)
def test_each_named_mistake_is_located_in_the_users_file(name):
    """The finding points at a line of diagnoses.py: the reader sees where to look."""
    result = check_layer(getattr(diagnoses, name))
    found = [
        f
        for f in _findings(result)
        if f.code in diagnoses.EXPECT[name]
    ]
    assert found, result.render()
    assert any(f.where is not None and f.where.file.endswith("diagnoses.py") for f in found), result.render()
    assert "diagnoses.py:" in result.render()


def _findings(result):
    out = list(result.findings)
    if result.report is not None:
        out += [f for e in result.report.entries for f in e.findings] + result.report.notes
    return out


def test_lines_to_write_use_the_readers_names():
    rnn = check_layer(load_file(USER / "seed_rnn.py").RNNWithoutSum)
    fix = next(f for f in _findings(rnn) if f.code == "bias-not-summed")
    assert fix.fix == "db = np.sum(dt, axis=0)"
    assert fix.extra["fix_line"] == _line(USER / "seed_rnn.py", "db = dt  ")
    assert f"# line {fix.extra['fix_line']}" in rnn.render() and "行目" in rnn.render("ja")
    shared = check_layer(load_file(USER / "seed_rnn.py").RNNWithoutSum)  # the fix leaves dt alone
    assert "dt = " not in (next(f for f in _findings(shared) if f.code == "bias-not-summed").fix or "")
    t = check_layer(diagnoses.AffineDWTransposed)
    assert any(f.fix and "np.dot(self.x.T, dout)" in f.fix for f in _findings(t)), t.render()
    w = check_layer(diagnoses.RNNDhPrevWithWx)
    assert any(f.fix and "Wh.T" in f.fix and "Wx.T" not in f.fix for f in _findings(w)), w.render()


# ---------------------------------------------------------------------------
# the seeds' code, as the seeds wrote it
# ---------------------------------------------------------------------------


def test_seed_rnn_as_asked_passes_and_without_the_sum_is_named():
    """The question "RNNの逆伝播でdbをaxis=0でsumする理由に関して": the asker's RNN is right; the
    same RNN without the sum fails at its line, with why and what to write."""
    path = USER / "seed_rnn.py"
    result = check_file(path)
    by = {r.name: r for r in result.layers}
    assert by["RNN"].status == "pass" and by["RNN"].style == "book2"
    bad = by["RNNWithoutSum"]
    assert bad.status == "fail" and "bias-not-summed" in bad.codes
    f = next(f for f in _findings(bad) if f.code == "bias-not-summed")
    assert f.where.line == _line(path, "self.grads[2][...] = db", after="class RNNWithoutSum")
    assert "axis 0" in f.render() and "(N, H) = (3, 5)" in f.render()
    assert result.status == 1


def test_book1_convolution_bias_over_every_position_and_col2im_that_copies():
    """Book 1, chapter 7's Convolution and Pooling as a reader writes them (im2col, one product,
    col2im): right ones pass; db left (N*OH*OW, FN) names the rows it was repeated over; a
    col2im that writes the overlapping windows back with = is found in the helper backward calls,
    with the += to write."""
    path = USER / "book1_conv.py"
    result = check_file(path)
    by = {r.name: r for r in result.layers}
    assert by["Convolution"].status == "pass" and by["Pooling"].status == "pass"
    bias = next(f for f in _findings(by["ConvolutionWithoutSum"]) if f.code == "bias-not-summed")
    assert "N*OH*OW = 3*4*4 = 48" in bias.render() and "the batch" not in bias.render()
    assert "N*OH*OW = 3*4*4 = 48" in bias.render("ja")
    assert bias.fix == "self.db = np.sum(dout, axis=0)"
    copies = by["ConvolutionCopyingBack"]
    assert copies.status == "fail" and copies.codes == ["col2im-copies"]
    f = _findings(copies)[0]
    assert f.where.line == _line(path, "img[:, :, rows, cols] = col[:, :, y, x_]")
    assert f.fix == "img[:, :, rows, cols] += col[:, :, y, x_]"
    assert "my_col2im" in f.render() and "+=" in f.render("ja")


def test_seed_mlp_sigmoid_derivative_from_dout_and_keepdims():
    """The question "逆伝播におけるバイアス項の勾配": ``dz2 = dh2 * (1 - dh2)`` (the derivative from
    the incoming gradient) is found at both layers' lines; its keepdims bias is named too."""
    path = USER / "seed_mlp.py"
    net = check_layer(load_file(path).Net)
    assert net.status == "fail"
    lines = {f.where.line for f in _findings(net) if f.code == "derivative-from-dout" and f.where}
    assert {_line(path, "dz2 = dh2 * (1 - dh2)"), _line(path, "dz1 = dh1 * (1 - dh1)")} <= lines
    assert "bias-keepdims" in net.codes
    fixes = {f.fix for f in _findings(net)}
    assert "dz2 = dh2 * (1 - self.h2) * self.h2" in fixes


def test_seed_mlp_answer_derivative_at_the_pre_activation():
    path = USER / "seed_mlp.py"
    mod = load_file(path)
    for cls in (mod.AnswerNet, mod.AnswerNetPreActivation):
        r = check_layer(cls)
        f = next(f for f in _findings(r) if f.code == "derivative-at-input")
        assert "out_l1" in f.render() and f.fix == "d_h1 = (1 - out_s1) * out_s1 * grad_1"
    assert check_layer(mod.FixedNet).status == "pass"


def test_seed_layers_relu_writes_into_dout_is_a_warning():
    """The study slides' book 1 layers: right values; ReLU's ``dout[self.mask] = 0`` destroys
    the caller's dout, which is said as a warning though the numbers pass."""
    result = check_file(USER / "seed_layers.py")
    by = {r.name: r for r in result.layers}
    assert all(r.status == "pass" for r in result.layers), table(result)
    assert by["Relu"].codes == ["dout-modified"]
    assert "warning" in by["Relu"].verdict()
    assert by["Affine"].style == "book1" and by["SoftmaxWithLoss"].style == "none"
    assert result.status == 0


def test_seed_embedding_errors_at_their_lines_in_one_block(capsys):
    """The question "ゼロから作るDeeplearning❷-word2vecに関して": ``dw[...] = 0`` and ``self.chace``
    are each reported at the user's line with Python's hint, no traceback, exit status 2."""
    path = USER / "seed_embedding.py"
    status = main(["check", str(path)])
    out, err = capsys.readouterr()
    assert status == 2
    assert "Traceback" not in out + err
    assert f"seed_embedding.py:{_line(path, 'dw[...] = 0')}: dw[...] = 0" in out
    assert "did you mean 'dW'?" in out
    assert f"seed_embedding.py:{_line(path, 'h, target_W = self.chace')}:" in out and "did you mean 'cache'?" in out
    fixed = check_file(USER / "seed_embedding_fixed.py")
    assert fixed.status == 0, table(fixed)


def test_seed_tanh_derivatives_agree(capsys):
    """The Day 3 note: ``4 / (np.exp(x) + np.exp(-x)) ** 2`` and the answer key's
    ``1 / np.cosh(x) ** 2`` are both tanh's derivative."""
    assert main(["check", str(USER / "seed_tanh.py")]) == 0
    out = capsys.readouterr().out
    assert "d_tanh" in out and "d_tann" in out
    assert main(["check", f"{USER / 'seed_tanh.py'}:d_tanh", "--of", "tanh", "--lang", "ja"]) == 0


# ---------------------------------------------------------------------------
# the books' layers, built from their names alone
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "file",
    [
        "book1_layers.py",
        "book2_layers.py",
        "book2_time_layers.py",
        "module_layers.py",
        "book1_style_of_book2.py",
        "book2_style_of_book1.py",
    ],
)
def test_every_book_layer_is_built_and_passes_with_no_hints(file):
    module = load_file(BOOKS / file)
    layers = [c for c in classes_in(module) if is_layer(c)]
    assert len(layers) >= 5
    for cls in layers:
        r = check_layer(cls)
        assert r.status == "pass", r.render()
        assert set(r.codes) <= set(WARNINGS), r.render()


def test_styles_are_recognised():
    b1 = load_file(BOOKS / "book1_layers.py")
    b2 = load_file(BOOKS / "book2_time_layers.py")
    zk = load_file(BOOKS / "module_layers.py")
    assert check_layer(b1.Affine).style == "book1"
    assert check_layer(b2.LSTM).style == "book2"
    assert check_layer(zk.Affine).style == "module"
    lstm = build(b2.LSTM)
    assert lstm.layer.params[0].shape == (4, 20)  # k = 4: the four gates
    gru = build(b2.GRU)
    assert gru.layer.params[0].shape == (4, 15)
    conv = build(load_file(BOOKS / "book1_layers.py").Convolution)
    assert conv.inputs[0].ndim == 4


def test_book2_names_come_from_the_constructor():
    r = check_layer(load_file(BOOKS / "book2_time_layers.py").RNN)
    assert [e.name for e in r.report.entries] == ["x", "h_prev", "Wx", "Wh", "b"]


def test_nothing_fits_says_what_was_tried_and_how_to_say_it():
    class Odd:
        def __init__(self, kernel):
            self.kernel = kernel

        def forward(self, x):
            return x @ self.kernel

        def backward(self, dout):
            return dout @ self.kernel.T

    r = check_layer(Odd)
    assert r.status == "error"
    text = r.render()
    assert "'kernel'" in text and "--init" in text and "example(sizes, rng)" in text
    assert "の形を名前から推測できません" in r.render("ja")
    ok = check_layer(Odd, init=parse_init("kernel=(4,3)"))
    assert ok.status == "pass", ok.render()


def test_wrong_sizes_list_the_tries():
    class Fixed:
        def __init__(self, W):
            self.W = W

        def forward(self, x):
            if x.shape[1] != 9:
                raise ValueError("x must have 9 columns")
            return x

        def backward(self, dout):
            return dout

    with pytest.raises(NoFitError) as e:
        build(Fixed)
    assert "tried" in str(e.value) and "x must have 9 columns" in str(e.value)
    assert "--sizes" in str(e.value)


def test_sizes_and_init_options():
    assert parse_sizes("N=2,H=8")["H"] == 8
    with pytest.raises(Exception, match="--sizes"):
        parse_sizes("Q=3")
    with pytest.raises(Exception, match="--init"):
        parse_init("W=(4,x)")
    b = build(load_file(BOOKS / "book2_layers.py").Affine, sizes={"N": 2, "D": 3, "H": 6})
    assert b.layer.params[0].shape == (3, 6) and b.inputs[0].shape == (2, 3)


@settings(max_examples=8, deadline=None)
@given(n=st.integers(2, 5), d=st.integers(2, 6), h=st.integers(2, 6))
def test_random_sizes_rnn_passes_and_unsummed_bias_is_caught(n, d, h):
    seed = load_file(USER / "seed_rnn.py")
    sizes = {"N": n, "D": d, "H": h}
    assert check_layer(seed.RNN, sizes=sizes).status == "pass"
    bad = check_layer(seed.RNNWithoutSum, sizes=sizes)
    if n != h:  # with N == H the buffer takes the (N, H) array silently: numbers differ instead
        assert "bias-not-summed" in bad.codes, bad.render()
    assert bad.status == "fail"


# ---------------------------------------------------------------------------
# the Python API takes book-style objects; the user's objects are not changed
# ---------------------------------------------------------------------------


def test_python_gradcheck_takes_book_style_objects(rng):
    """`zerokara.check.gradcheck(book_style_layer, x)` once failed with AttributeError 'astype'."""
    b1 = load_file(BOOKS / "book1_layers.py")
    layer = b1.Affine(rng.standard_normal((4, 3)), rng.standard_normal(3))
    report = gradcheck(layer, rng.standard_normal((2, 4)))
    assert report.ok and report.style == "book1"
    assert [e.name for e in report.entries] == ["x", "W", "b"]


def test_the_check_never_changes_the_users_objects(rng):
    b2 = load_file(BOOKS / "book2_time_layers.py")
    Wx = rng.standard_normal((4, 20)).astype(np.float32)
    Wh = rng.standard_normal((5, 20)).astype(np.float32)
    b = rng.standard_normal(20).astype(np.float32)
    layer = b2.TimeLSTM(Wx, Wh, b, stateful=True)
    xs = rng.standard_normal((3, 2, 4)).astype(np.float32)
    layer.forward(xs)  # a carried state the check must replay, not change
    before = copy.deepcopy(layer)
    xs0 = xs.copy()
    report = gradcheck(layer, xs)
    assert report.ok, str(report)
    assert layer.params[0] is Wx and Wx.dtype == np.float32
    for a, c in zip(adapt.float_arrays(layer), adapt.float_arrays(before), strict=True):
        assert a.dtype == c.dtype and np.array_equal(a, c)
    assert np.array_equal(xs, xs0)


def test_dout_given_to_the_users_backward_is_a_copy(rng):
    seed = load_file(USER / "seed_layers.py")
    report = gradcheck(seed.Relu(), rng.standard_normal((3, 4)))
    assert report.ok and report.codes == ["dout-modified"]


# ---------------------------------------------------------------------------
# files that cannot be checked: one clear message, exit status 2
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "says"),
    [
        ("broken_syntax.py", "syntax error"),
        ("broken_import.py", "cannot be imported"),
        ("no_forward.py", "no forward"),
        ("returns_none.py", "returned None"),
        ("nan_grad.py", "NaN"),
        ("missing.py", "no such file"),
    ],
)
def test_unusable_files_and_layers_exit_2_without_traceback(file, says, capsys):
    status = main(["check", str(USER / file)])
    out, err = capsys.readouterr()
    assert status == 2
    assert "Traceback" not in out + err
    assert says in out + err


def test_syntax_error_names_the_line(capsys):
    with pytest.raises(FileError) as e:
        load_file(USER / "broken_syntax.py")
    assert e.value.where is not None and e.value.where.line > 0


def test_unknown_name_in_file(capsys):
    assert main(["check", f"{USER / 'seed_rnn.py'}:Nope"]) == 2
    assert "RNNWithoutSum" in capsys.readouterr().err


def test_ja_output_is_japanese_throughout(capsys):
    main(["check", str(USER / "seed_rnn.py"), "--lang", "ja"])
    out = capsys.readouterr().out
    assert "合格" in out and "不合格" in out and "組み立て" in out
    assert "軸 0" in out and "バッチ" in out
    for english in ("PASS:", "FAIL:", "built:", "forward repeated"):
        assert english not in out


def test_whole_file_ends_with_a_table(capsys):
    assert main(["check", str(USER / "diagnoses.py")]) == 1
    out = capsys.readouterr().out
    tail = out.rsplit("\n\n", 1)[1]
    names = [n for n, c in vars(diagnoses).items() if inspect.isclass(c) and is_layer(c)]
    for n in names:
        assert n in tail
    assert "checked" in tail.splitlines()[-1]


def test_gradcheck_command_takes_the_readers_file_too(capsys):
    """`zerokara gradcheck my.py:RNN` was refused (built-in names only); it now checks the file."""
    assert main(["gradcheck", f"{USER / 'seed_rnn.py'}:RNN"]) == 0
    assert "PASS" in capsys.readouterr().out
    assert main(["gradcheck", f"{USER / 'seed_rnn.py'}:RNNWithoutSum"]) == 1


@settings(max_examples=6, deadline=None)
@given(sizes=st.lists(st.integers(2, 7), min_size=3, max_size=3, unique=True))
def test_diagnoses_hold_at_random_distinct_sizes(sizes):
    """The names of the mistakes do not depend on the sizes the check happened to pick."""
    n, d, h = sizes
    chosen = {"N": n, "D": d, "H": h}
    for name in ("AffineDbNotSummed", "AffineDbWrongAxis", "AffineDWTransposed", "SigmoidFromDout",
                 "RNNDhPrevWithWx", "RNNNoTanhDerivative", "EmbeddingAssignLoop", "SoftmaxWithLossNoMean"):
        result = check_layer(getattr(diagnoses, name), sizes=chosen)
        for code in diagnoses.EXPECT[name]:
            assert code in result.codes, (chosen, result.render())
    for name in ("Affine", "RNN", "Embedding", "SoftmaxWithLoss"):
        assert check_layer(getattr(diagnoses, name), sizes=chosen).status == "pass"


def test_wrong_weight_is_named_from_the_code_when_the_shapes_agree():
    """With D == H, dt @ Wx.T has dh_prev's shape: only the values are wrong, and the code
    says which weight was used."""
    r = check_layer(diagnoses.RNNDhPrevWithWx, sizes={"D": 5, "H": 5})
    f = next(f for f in _findings(r) if f.code == "wrong-weight")
    assert f.where is not None and "Wx.T" in f.where.source and f.fix and "Wh.T" in f.fix
    assert check_layer(diagnoses.RNN, sizes={"D": 5, "H": 5}).status == "pass"


def test_book1_objects_and_their_arrays_are_left_alone(rng):
    b1 = load_file(BOOKS / "book1_layers.py")
    W, b = rng.standard_normal((4, 3)).astype(np.float32), np.zeros(3, np.float32)
    layer = b1.Affine(W, b)
    x = rng.standard_normal((2, 4)).astype(np.float32)
    before, x0 = copy.deepcopy(vars(layer)), x.copy()
    assert gradcheck(layer, x).ok
    assert layer.W is W and W.dtype == np.float32 and np.array_equal(x, x0)
    assert set(vars(layer)) == set(before) and layer.dW is None and layer.x is None


def test_book2_model_with_layers_in_a_list():
    """Book 2's TwoLayerNet: sizes from input_size/hidden_size/output_size, the parameters named
    by the layer that holds them, and a slip inside one layer fails the model."""
    mod = load_file(USER / "book2_model.py")
    r = check_layer(mod.TwoLayerNet)
    assert r.status == "pass", r.render()
    assert [e.name for e in r.report.entries] == ["x", "layers[0].W", "layers[0].b", "layers[2].W", "layers[2].b"]
    bad = check_layer(mod.TwoLayerNetWithSlip)
    assert bad.status == "fail" and "layers[0].W" in {e.name for e in bad.report.failures()}


def test_book1_model_with_loss_and_gradient():
    """Book 1's TwoLayerNet has loss(x, t) and gradient(x, t) instead of forward and backward:
    checked as book 1's gradient_check.py does, its gradient() against the numerical one."""
    mod = load_file(USER / "book1_model.py")
    r = check_layer(mod.TwoLayerNet)
    assert r.status == "pass", r.render()
    assert [e.name for e in r.report.entries] == ["W1", "b1", "W2", "b2"] and r.style == "model1"
    assert r.built.startswith("input_size 4, hidden_size 5, output_size 6")
    bad = check_layer(mod.TwoLayerNetSwapped)
    assert bad.status == "fail" and {"W1", "W2"} <= {e.name for e in bad.report.failures()}
    assert "swapped" in bad.codes
    assert check_file(USER / "book1_model.py").status == 1


def test_odd_but_right_layers_and_the_slips_among_them(capsys):
    path = USER / "odd_but_right.py"
    result = check_file(path)
    by = {r.name: r for r in result.layers}
    assert "Base" not in by  # an abstract base is skipped, not an error
    attention = by["ScaledDotProductAttention"]
    assert attention.status == "pass" and "q (3, 2, 4), k (3, 2, 4), v (3, 2, 4)" in attention.built
    assert by["MulLayer"].status == "pass" and "y (3, 4)" in by["MulLayer"].built
    assert by["MeanSquaredLoss"].status == "pass"
    assert by["MeanSquaredLossNoHalf"].status == "fail"
    sig = by["AffineSigmoid"]  # the transposed dW named, and no second opinion on the right sigmoid line
    assert sig.codes == ["transposed"], sig.render()
    assert by["DictOut"].status == "error" and "returned a dict" in by["DictOut"].render()
    assert by["d_square"].status == "error" and "--of" in by["d_square"].render()
    assert main(["check", str(path)]) == 2  # every class still checked; the table has them all
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and "MulLayer" in out.rsplit("\n\n", 1)[1]
    assert main(["check", f"{path}:d_square", "--of", "odd_but_right.py:square"]) == 2


def test_a_layer_with_nothing_to_check_is_an_error():
    class IdsOnly:
        def forward(self, idx):
            self.idx = idx
            return idx * 2

        def backward(self, dout):
            return None

    r = check_layer(IdsOnly)
    assert r.status == "error" and "nothing to check" in r.render()


def test_init_with_unbalanced_parentheses_is_refused():
    with pytest.raises(Exception, match="unbalanced"):
        parse_init("x=(3,4")


def test_every_code_said_is_a_known_code():
    """The codes the guide lists are the codes the check says (findings.CODES)."""
    from zerokara.check.findings import CODES

    said = set()
    for path in (USER / "diagnoses.py", USER / "seed_mlp.py", USER / "book1_model.py", USER / "odd_but_right.py"):
        for r in check_file(path).layers:
            said |= set(r.codes)
    assert said <= set(CODES), said - set(CODES)
    assert len(said) >= 17
