"""The benchmark harness: alternating runs, medians, the JSON line; and the
``mlp`` workload on a tiny slice of data. No assertion is made on any time:
the machines are noisy and shared."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

pytest.importorskip("torch")

from bench import WORKLOADS  # noqa: E402
from bench import mlp as mlp_workload  # noqa: E402
from bench.__main__ import main  # noqa: E402
from bench.harness import Pair, Workload, configure_threads, measure, run_all  # noqa: E402

KEYS = {"workload", "zerokara_s", "peer", "peer_s", "ratio", "repeats", "threads"}


def tiny_workload(calls: list[str]) -> Workload:
    def setup(scale: float) -> Pair:
        n = max(1, int(1000 * scale))
        a = np.arange(n, dtype=np.float64)

        def z() -> float:
            calls.append("z")
            return float(np.sum(a * a))

        def p() -> float:
            calls.append("p")
            return float(a @ a)

        return Pair(z, p, {"n": n})

    return Workload("tiny", "sum of squares", "numpy", setup)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def check_line(d: dict, name: str, peer: str, repeats: int) -> None:
    assert KEYS <= set(d)
    assert d["workload"] == name and d["peer"] == peer and d["repeats"] == repeats
    assert d["zerokara_s"] > 0 and d["peer_s"] > 0
    assert d["ratio"] == pytest.approx(d["zerokara_s"] / d["peer_s"], rel=1e-12)
    assert d["zerokara_s"] == pytest.approx(float(np.median(d["zerokara_runs"])), rel=1e-12)
    assert d["peer_s"] == pytest.approx(float(np.median(d["peer_runs"])), rel=1e-12)
    assert d["threads"] >= 1


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    """The pause between runs (bench.harness.PAUSE) only makes these tests slower."""
    monkeypatch.setattr("bench.harness.PAUSE", 0.0)


def test_harness_alternates_after_one_warmup_each():
    calls: list[str] = []
    result = measure(tiny_workload(calls), repeats=4)
    assert calls == ["z", "p"] + ["z", "p"] * 4
    assert len(result.zerokara_runs) == len(result.peer_runs) == 4
    assert result.ratio == result.zerokara_s / result.peer_s


def test_each_timed_run_starts_after_a_pause(monkeypatch):
    """So the other side's spinning BLAS/OpenMP threads are idle when a run starts;
    the pause is not part of the time."""
    import bench.harness as harness

    monkeypatch.setattr(harness, "PAUSE", 0.25)
    calls: list[str] = []
    sleeps: list[float] = []
    monkeypatch.setattr(harness.time, "sleep", lambda s: (sleeps.append(s), calls.append("pause")))
    result = measure(tiny_workload(calls), repeats=3)
    assert calls == ["z", "p"] + ["pause", "z", "pause", "p"] * 3
    assert sleeps == [0.25] * 6
    assert max(result.zerokara_runs + result.peer_runs) < 0.25


def test_run_all_prints_table_then_one_json_line_per_workload():
    calls: list[str] = []
    workloads = {"tiny": tiny_workload(calls)}
    out, err = io.StringIO(), io.StringIO()
    results = run_all(["tiny"], workloads, repeats=3, scale=0.5, out=out, err=err)
    assert len(results) == 1
    text = out.getvalue()
    lines = json_lines(text)
    assert len(lines) == 1
    check_line(lines[0], "tiny", "numpy", 3)
    assert lines[0]["n"] == 500 and lines[0]["scale"] == 0.5
    assert "tiny" in text.split("{", 1)[0]  # the table comes first
    assert text.rstrip().splitlines()[-1].startswith("{")


def test_json_only_and_failing_workload_reported():
    def broken(scale: float) -> Pair:
        raise ImportError("no peer here")

    workloads = {"tiny": tiny_workload([]), "broken": Workload("broken", "", "none", broken)}
    out, err = io.StringIO(), io.StringIO()
    results = run_all(["broken", "tiny"], workloads, repeats=1, json_only=True, out=out, err=err)
    assert [r.workload for r in results] == ["tiny"]
    assert "broken: FAILED" in err.getvalue()
    assert [d["workload"] for d in json_lines(out.getvalue())] == ["tiny"]
    assert out.getvalue().startswith("{")  # nothing but JSON lines


def test_thread_count_reported():
    info = configure_threads()
    assert info.threads >= 1 and info.source


def test_mlp_sides_do_the_same_work():
    """Same initial weights, same batches: the two epochs' mean losses agree,
    and a second run (weights restored) repeats the first exactly."""
    pair = mlp_workload.setup(scale=0.005, data="random")  # 300 images, 3 updates
    assert pair.notes == {"data": "random", "updates": 3}
    z1, p1 = pair.zerokara(), pair.peer()
    assert z1 == pytest.approx(p1, rel=1e-4)
    assert pair.zerokara() == z1 and pair.peer() == p1


def test_mlp_workload_through_the_cli(capsys):
    assert "mlp" in WORKLOADS
    assert main(["mlp", "--repeats", "2", "--scale", "0.005", "--json-only"]) == 0
    lines = json_lines(capsys.readouterr().out)
    assert len(lines) == 1
    check_line(lines[0], "mlp", "torch", 2)
    assert lines[0]["updates"] == 3 and lines[0]["data"]


# -- python -m bench.breakdown --------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 4, 5, 6), (2, 3, 4, 300)])  # small Wh, and over big_Wh
def test_breakdown_times_the_layers_own_products(shape):
    """The ``products`` side makes the products TimeLSTM makes, on its arrays:
    rerun after a real pass, it gives the same dW (db, dWx, dWh) bit for bit."""
    from bench import breakdown

    runs, layer = breakdown.sides(*shape, passes=1)
    assert set(runs) == {"zerokara", "products", "torch"}
    dW = layer.grads["b"].base
    before = dW.copy()
    runs["products"]()
    np.testing.assert_array_equal(dW, before)
    runs["torch"]()


def test_breakdown_report(capsys):
    from bench import breakdown

    assert breakdown.main(["3,4,5,6", "--repeats", "2", "--passes", "1"]) == 0
    out = capsys.readouterr().out
    (d,) = json_lines(out)
    assert d["shape"] == "N=3 T=4 D=5 H=6" and d["repeats"] == 2
    assert d["rest_ms"] == pytest.approx(d["zerokara_ms"] - d["products_ms"])
    assert d["ratio"] == pytest.approx(d["zerokara_ms"] / d["torch_ms"])
    assert "products/torch" in out
    assert breakdown.parse_shape("encoder") == (128, 29, 16, 256)
    for bad in ("3,4,5", "a,b,c,d", "0,1,1,1", "lstm-h1"):
        with pytest.raises(Exception, match="N,T,D,H"):
            breakdown.parse_shape(bad)


def test_seq2seq_sides_do_the_same_work():
    """``seq2seq``: zerokara (its batches split over the harness's threads) and
    torch start from the same weights and see the same batches: the same losses."""
    from bench import seq2seq

    pair = seq2seq.setup(scale=0.006)  # 2 updates
    assert pair.notes["updates"] == 2 and pair.notes["zerokara_workers"] == configure_threads().threads
    for _ in range(2):  # the second run continues from the first's weights on both sides
        assert pair.zerokara() == pytest.approx(pair.peer(), rel=1e-4)


# -- cnn-simple, cnn-deep -------------------------------------------------------


def test_cnn_workloads_registered_and_through_the_cli(capsys):
    assert {"cnn-simple", "cnn-deep"} <= set(WORKLOADS)
    assert main(["cnn-simple", "--repeats", "1", "--scale", "0.05", "--json-only"]) == 0
    (d,) = json_lines(capsys.readouterr().out)
    check_line(d, "cnn-simple", "torch", 1)
    assert d["steps"] == 1 and d["data"]


def test_cnn_simple_sides_do_the_same_work():
    """Same initial weights, same batches, Adam on both sides: the same mean loss;
    a second run (weights and optimizer restarted) repeats the first exactly."""
    from bench import cnn

    pair = cnn.setup("simple", scale=0.1, data="random")  # 2 steps
    assert pair.notes == {"data": "random", "steps": 2}
    z1, p1 = pair.zerokara(), pair.peer()
    assert z1 == pytest.approx(p1, rel=1e-4)
    assert pair.zerokara() == z1 and pair.peer() == pytest.approx(p1, rel=1e-6)


def test_cnn_deep_starts_from_the_same_network():
    """DeepConvNet in eval mode (no dropout): the same scores on both sides."""
    import torch

    from bench import cnn

    model, net = cnn.build("deep", np.random.default_rng(0))
    x = np.random.default_rng(1).random((3, 1, 28, 28), dtype=np.float32)
    model.eval()
    net.eval()
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-5)


def test_cnn_breakdown_times_the_layers_own_products_and_reports(capsys):
    """The GEMM replay makes the products Convolution makes, on its arrays: after a
    real step it gives each layer's dW bit for bit; the report's parts add up."""
    from bench import breakdown, cnn

    model, _ = cnn.build("simple", np.random.default_rng(0))
    model.input_grad = False
    pieces = cnn._Pieces()
    x = np.random.default_rng(1).random((4, 1, 28, 28), dtype=np.float32)
    with pieces.patched():
        model.forward(x, np.arange(4))
        model.backward()
    assert pieces.seconds["im2col"] > 0 and pieces.seconds["pooling"] > 0
    (dW,) = cnn.gemm_replay(model, pieces.douts)()
    np.testing.assert_array_equal(dW.reshape(model.gradients()["convolution1.W"].shape),
                                  model.gradients()["convolution1.W"])

    assert breakdown.main(["cnn-simple", "--repeats", "1", "--passes", "1"]) == 0
    out = capsys.readouterr().out
    (d,) = json_lines(out)
    assert d["model"] == "simple" and "GEMM/torch" in out
    parts = d["im2col_ms"] + d["gemm_ms"] + d["dx_ms"] + d["pooling_ms"] + d["rest_ms"]
    assert parts == pytest.approx(d["zerokara_ms"])
    assert d["ratio"] == pytest.approx(d["zerokara_ms"] / d["torch_ms"])


# -- transformer ------------------------------------------------------------------


def test_transformer_sides_are_the_same_network():
    """``transformer``: torch's model built from nn modules with zerokara's weights
    copied in computes the same loss and the same gradients (float64, no dropout)."""
    import torch

    from bench import transformer
    from zerokara.models.transformer import TransformerSeq2seq

    rng = np.random.default_rng(0)
    V = 13
    model = TransformerSeq2seq(V, transformer.D_MODEL, transformer.HEADS, transformer.LAYERS,
                               transformer.D_FF, 0.0, max_len=12, rng=rng, dtype=np.float64)
    tmodel = transformer.torch_model(model, V, dropout=0.0)
    xs, ts = rng.integers(0, V, (5, 9)), rng.integers(0, V, (5, 7))
    loss = model.forward(xs, ts)
    model.backward()
    tloss = tmodel(torch.from_numpy(xs), torch.from_numpy(ts))
    tloss.backward()
    assert loss == pytest.approx(tloss.item(), rel=1e-10)
    grads = model.gradients()
    tgrad = tmodel.enc[0].attn.in_proj_weight.grad.numpy()
    np.testing.assert_allclose(tgrad[:transformer.D_MODEL].T, grads["encoder.layer1.attn.Wq"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(tmodel.out.weight.grad.numpy().T, grads["decoder.affine.W"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(tmodel.enc_embed.weight.grad.numpy(), grads["encoder.embed.W"], rtol=1e-6, atol=1e-12)


def test_transformer_workload_through_the_cli(capsys):
    assert "transformer" in WORKLOADS
    assert main(["transformer", "--repeats", "1", "--scale", "0.006", "--json-only"]) == 0
    (d,) = json_lines(capsys.readouterr().out)
    check_line(d, "transformer", "torch", 1)
    assert d["updates"] == 2
