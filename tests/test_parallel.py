"""DataParallel: a batch split over threads gives the whole batch's loss and
gradients (float64, to rounding), shares the parameters, and refuses what it
cannot do."""

from __future__ import annotations

import numpy as np
import pytest

from zerokara.errors import InputError
from zerokara.models.rnnlm import BetterRnnlm
from zerokara.models.attention_seq2seq import AttentionSeq2seq
from zerokara.models.seq2seq import PeekySeq2seq, Seq2seq
from zerokara.optim import Adam
from zerokara.parallel import DataParallel

V, TX, TY = 11, 6, 4


def batch(rng, n):
    return rng.integers(0, V, (n, TX)), rng.integers(0, V, (n, TY))


def dense(g):
    return np.asarray(g, dtype=np.float64)


@pytest.mark.parametrize("cls", [Seq2seq, PeekySeq2seq, AttentionSeq2seq])
@pytest.mark.parametrize("workers,n", [(2, 8), (2, 7), (3, 7), (1, 5)])
def test_split_batch_gives_the_whole_batchs_loss_and_gradients(cls, workers, n):
    rng = np.random.default_rng(0)
    model = cls(V, 5, 6, rng=np.random.default_rng(1), dtype=np.float64)
    xs, ts = batch(rng, n)
    loss = model.forward(xs, ts)
    model.backward()
    want = {k: dense(g).copy() for k, g in model.gradients().items()}

    dp = DataParallel(model, workers)
    assert len(dp.replicas) == workers
    for _ in range(2):  # twice: the second call reuses the replicas' buffers
        assert dp.forward(xs, ts) == pytest.approx(loss, rel=1e-12)
        dp.backward()
        got = dp.gradients()
        assert got is dp.gradients()  # scaled once per backward, not once per call
        assert set(got) == set(want)
        for k in want:
            np.testing.assert_allclose(dense(got[k]), want[k], rtol=1e-9, atol=1e-12, err_msg=k)


def test_backward_passes_dout_on_weighted_by_each_parts_rows():
    rng = np.random.default_rng(0)
    model = AttentionSeq2seq(V, 5, 6, rng=np.random.default_rng(1), dtype=np.float64)
    xs, ts = batch(rng, 7)
    model.forward(xs, ts)
    model.backward(2.5)
    want = {k: dense(g).copy() for k, g in model.gradients().items()}
    dp = DataParallel(model, 2)
    dp.forward(xs, ts)
    dp.backward(2.5)
    got = dp.gradients()
    for k in want:
        np.testing.assert_allclose(dense(got[k]), want[k], rtol=1e-9, atol=1e-12, err_msg=k)
    # the sum lands in the wrapped model's own gradient arrays
    assert all(got[k] is g for k, g in model.gradients().items() if isinstance(g, np.ndarray))


def test_replicas_share_the_parameters_and_the_wrapper_speaks_for_the_model():
    rng = np.random.default_rng(0)
    model = AttentionSeq2seq(V, 5, 6, rng=np.random.default_rng(1))
    dp = DataParallel(model, 2)
    params = model.parameters()
    for replica in dp.replicas[1:]:
        assert replica is not model
        assert all(replica.parameters()[k] is params[k] for k in params)
    assert dp.parameters() == params and list(dp.state_dict()) == list(model.state_dict())
    xs, ts = batch(rng, 6)
    before = {k: v.copy() for k, v in params.items()}
    dp.forward(xs, ts)
    dp.backward()
    Adam(lr=0.01).update(dp.parameters(), dp.gradients())
    assert all(not np.array_equal(before[k], params[k]) for k in params)
    # the replica computes with the updated weights: its loss on a batch is the model's
    assert dp.replicas[1].forward(xs, ts) == pytest.approx(model.forward(xs, ts), rel=1e-6)
    # anything else is the model's own
    assert dp.accuracy(xs, ts) == model.accuracy(xs, ts)
    assert dp.eval() is dp and not any(m.training for m in dp.replicas)
    assert "workers=2" in repr(dp)


def test_bad_uses_are_one_clear_error():
    rng = np.random.default_rng(0)
    model = Seq2seq(V, 5, 6, rng=np.random.default_rng(1))
    for bad in (0, -1, 1.5):
        with pytest.raises(InputError, match="workers expected a positive integer"):
            DataParallel(model, bad)
    dp = DataParallel(model, 3)
    xs, ts = batch(rng, 2)
    with pytest.raises(InputError, match="a batch of 2 rows cannot be split over 3 workers"):
        dp.forward(xs, ts)
    xs, ts = batch(rng, 4)
    with pytest.raises(InputError, match=r"first dimensions differ: \[4, 3\]"):
        dp.forward(xs, ts[:3])
    lm = BetterRnnlm(20, 4, 4, dropout=0.5, rng=np.random.default_rng(0))
    with pytest.raises(InputError, match="BetterRnnlm draws random numbers in training"):
        DataParallel(lm, 2)
