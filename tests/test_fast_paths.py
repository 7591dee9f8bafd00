"""The fast paths give the same numbers as the plain compositions they replace.

Speed comes from a few fused or special-cased ops: ``linear`` (one node for x @ W + b,
no gradient for inputs that need none), ``cross_entropy`` (softmax and log-likelihood in
one node, its backward straight from saved exponentials), the 2-D branch of ``matmul``'s
backward, and evaluation under ``no_grad``. Each is compared here with the slow, obvious
version of the same math.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import functional as F
from tinygrad_edu.models import TwoLayerNet

RNG = np.random.default_rng(7)


def _leaf(*shape: int, dtype: type = np.float64) -> tg.Tensor:
    return tg.Tensor(RNG.standard_normal(shape).astype(dtype), requires_grad=True)


def _grads(fn, *leaves: tg.Tensor) -> list[np.ndarray]:
    for leaf in leaves:
        leaf.grad = None
    fn().backward()
    return [leaf.grad.data.copy() for leaf in leaves]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_equals_matmul_plus_bias(dtype: type) -> None:
    x, w, b = _leaf(6, 5, dtype=dtype), _leaf(5, 3, dtype=dtype), _leaf(3, dtype=dtype)
    fused = F.linear(x, w, b)
    plain = x @ w + b
    assert fused.dtype == plain.dtype == dtype
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-6)
    upstream = RNG.standard_normal((6, 3)).astype(dtype)
    g_fused = _grads(lambda: (F.linear(x, w, b) * upstream).sum(), x, w, b)
    g_plain = _grads(lambda: ((x @ w + b) * upstream).sum(), x, w, b)
    for a, p in zip(g_fused, g_plain):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, p, rtol=1e-5, atol=1e-6)


def test_linear_computes_no_gradient_for_an_input_that_needs_none() -> None:
    x = tg.Tensor(RNG.standard_normal((4, 5)))  # an image batch: no grad wanted
    w, b = _leaf(5, 2), _leaf(2)
    out = F.linear(x, w, b)
    grads = out.backward_fn(tg.Tensor(np.ones((4, 2))))
    assert grads[0] is None and grads[1] is not None and grads[2] is not None


@pytest.mark.parametrize("soft", [False, True])
def test_cross_entropy_equals_log_softmax_composition(soft: bool) -> None:
    logits = _leaf(7, 4)
    labels = RNG.integers(0, 4, size=7)
    target = np.eye(4)[labels] * 0.7 + 0.075 if soft else labels

    def plain() -> tg.Tensor:
        logp = F.log_softmax(logits, axis=1)
        if soft:
            return -(logp * target).sum() / 7
        return -logp[np.arange(7), labels].sum() / 7

    np.testing.assert_allclose(F.cross_entropy(logits, target).data, plain().data, rtol=1e-12)
    g_fused = _grads(lambda: F.cross_entropy(logits, target), logits)
    g_plain = _grads(plain, logits)
    np.testing.assert_allclose(g_fused[0], g_plain[0], rtol=1e-10, atol=1e-12)


def test_cross_entropy_first_order_path_equals_create_graph_path() -> None:
    logits = _leaf(5, 3)
    labels = np.array([0, 2, 1, 1, 0])
    (fast,) = tg.grad(F.cross_entropy(logits, labels), logits)
    (graphed,) = tg.grad(F.cross_entropy(logits, labels), logits, create_graph=True)
    assert graphed.requires_grad and not fast.requires_grad
    np.testing.assert_allclose(fast.data, graphed.data, rtol=1e-12)


def test_matmul_2d_branch_equals_the_batched_branch() -> None:
    a, b = _leaf(4, 3), _leaf(3, 5)
    g_2d = _grads(lambda: (a @ b).sum(), a, b)
    # The same product as a batch of one goes through the general, reshaping branch.
    g_nd = _grads(lambda: (a.unsqueeze(0) @ b.unsqueeze(0)).sum(), a, b)
    for x, y in zip(g_2d, g_nd):
        np.testing.assert_allclose(x, y, rtol=1e-12)


def test_no_grad_evaluation_matches_the_recorded_forward() -> None:
    net = TwoLayerNet(12, 6, 3, rng=1)
    x = RNG.standard_normal((25, 12))
    t = RNG.integers(0, 3, size=25)
    recorded = net(x)
    assert recorded.requires_grad
    with tg.no_grad():
        bare = net(x)
    assert not bare.requires_grad and bare.parents == ()
    np.testing.assert_array_equal(recorded.data, bare.data)
    expected = float(np.mean(recorded.data.argmax(axis=1) == t))
    assert net.accuracy(x, t, batch_size=7) == expected  # chunked evaluation, same answer
    assert net.loss(x, t) == pytest.approx(float(F.cross_entropy(recorded, t).data), rel=1e-12)


def test_linear_first_order_path_equals_create_graph_path() -> None:
    x, w, b = _leaf(6, 5), _leaf(5, 3), _leaf(3)
    upstream = tg.Tensor(RNG.standard_normal((6, 3)))
    fast = tg.grad(F.linear(x, w, b), (x, w, b), grad_outputs=upstream)
    graphed = tg.grad(F.linear(x, w, b), (x, w, b), grad_outputs=upstream, create_graph=True)
    for f, g in zip(fast, graphed):
        assert not f.requires_grad
        np.testing.assert_allclose(f.data, g.data, rtol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("soft", [False, True])
def test_cross_entropy_paths_agree_for_every_reduction(reduction: str, soft: bool) -> None:
    logits = _leaf(5, 4)
    labels = RNG.integers(0, 4, size=5)
    target = RNG.dirichlet(np.ones(4), size=5) if soft else labels
    shape = (5,) if reduction == "none" else ()
    upstream = tg.Tensor(RNG.standard_normal(shape))
    (fast,) = tg.grad(F.cross_entropy(logits, target, reduction), logits, grad_outputs=upstream)
    (graphed,) = tg.grad(F.cross_entropy(logits, target, reduction), logits,
                         grad_outputs=upstream, create_graph=True)
    np.testing.assert_allclose(fast.data, graphed.data, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("create_graph", [False, True])
def test_cross_entropy_soft_targets_whose_rows_do_not_sum_to_one(reduction: str,
                                                                  create_graph: bool) -> None:
    # Label smoothing done by hand, a mask, a weighted row: the loss is still
    # -sum(t * log_softmax(x)), and its gradient (softmax * sum(t) - t) needs each row's
    # mass, which is 1 for every probability row and so invisible to those.
    logits = _leaf(4, 3)
    target = np.array([[0.2, 0.1, 0.2], [1.0, 0.5, 0.5], [0.0, 0.0, 0.0], [0.3, 0.9, 0.1]])
    assert not np.allclose(target.sum(axis=1), 1.0)
    shape = (4,) if reduction == "none" else ()
    upstream = tg.Tensor(RNG.standard_normal(shape))

    def plain() -> tg.Tensor:
        losses = -(F.log_softmax(logits, axis=1) * target).sum(axis=1)
        return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]

    fused = F.cross_entropy(logits, target, reduction)
    np.testing.assert_allclose(fused.data, plain().data, rtol=1e-12)
    (g_fused,) = tg.grad(fused, logits, grad_outputs=upstream, create_graph=create_graph)
    (g_plain,) = tg.grad(plain(), logits, grad_outputs=upstream)
    assert g_fused.requires_grad == create_graph
    np.testing.assert_allclose(g_fused.data, g_plain.data, rtol=1e-10, atol=1e-14)
