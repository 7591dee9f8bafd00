"""Issue-9 cases: stable numerics, refused types, empty tensors, errors that name the op,
PyTorch's conventions at NaN and at kinks. Each case gave a silently wrong or a cryptic
result before."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn

NAN = float("nan")


# ---------------------------------------------------------------------------- numerics


def test_sigmoid_is_stable_in_the_far_negative_tail() -> None:
    x = Tensor(np.float32([-17.0, -20.0]), requires_grad=True)
    s = x.sigmoid()
    np.testing.assert_allclose(s.data, [4.1399375e-08, 2.0611537e-09], rtol=1e-6)
    loss = (-(s.log())).sum()
    loss.backward()
    assert np.isfinite(loss.data) and np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(x.grad.data, [-1.0, -1.0], rtol=1e-6)  # d(-log s)/dx = s - 1
    far = Tensor(np.array([-40.0, -700.0, 40.0, 700.0])).sigmoid().data
    np.testing.assert_allclose(far, [4.248354e-18, 9.859676e-305, 1.0, 1.0], rtol=1e-6)


@pytest.mark.parametrize(("dtype", "tiny"), [(np.float32, 1e-23), (np.float64, 1e-200)])
def test_division_gradient_does_not_underflow(dtype: type, tiny: float) -> None:
    a = Tensor(np.array([tiny], dtype=dtype), requires_grad=True)
    b = Tensor(np.array([tiny], dtype=dtype), requires_grad=True)
    (a / b).sum().backward()
    np.testing.assert_allclose(b.grad.data, [-1.0 / tiny], rtol=1e-6)
    np.testing.assert_allclose(a.grad.data, [1.0 / tiny], rtol=1e-6)


def test_pow_gradients_follow_pytorch_where_the_formulas_break() -> None:
    a = Tensor([-2.0, 0.0, 0.0, 2.0], requires_grad=True)
    b = Tensor([0.5, -1.0, 2.0, 0.0], requires_grad=True)
    with np.errstate(all="ignore"):
        (a ** b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [NAN, -np.inf, 0.0, 0.0])
    np.testing.assert_allclose(b.grad.data, [NAN, -np.inf, 0.0, np.log(2.0)])


@pytest.mark.parametrize(("op", "x_grad", "y_grad"), [
    (lambda x, y: x.relu(), 1.0, None),
    (lambda x, y: x.abs(), 0.0, None),
    (lambda x, y: F.maximum(x, y), 1.0, 1.0),
    (lambda x, y: F.minimum(x, y), 1.0, 1.0),
])
def test_gradients_at_nan_follow_pytorch(op: object, x_grad: float, y_grad: float | None
                                         ) -> None:
    x, y = Tensor([NAN], requires_grad=True), Tensor([0.0], requires_grad=True)
    op(x, y).sum().backward()  # type: ignore[operator]
    assert x.grad.data[0] == x_grad
    assert (y.grad is None) if y_grad is None else (y.grad.data[0] == y_grad)


def test_nan_and_kink_gradients_match_pytorch() -> None:
    torch = pytest.importorskip("torch")
    values = np.array([NAN, 0.0, -1.0, 2.0])
    others = np.array([0.0, 0.0, 3.0, 2.0])
    cases = [("relu", lambda t: t.relu(), torch.relu), ("abs", lambda t: t.abs(), torch.abs),
             ("maximum", lambda t: F.maximum(t, others), lambda t: torch.maximum(
                 t, torch.tensor(others))),
             ("minimum", lambda t: F.minimum(t, others), lambda t: torch.minimum(
                 t, torch.tensor(others))),
             ("clip", lambda t: t.clip(-0.5, 2.0), lambda t: t.clamp(-0.5, 2.0))]
    for name, ours, theirs in cases:
        x = Tensor(values.copy(), requires_grad=True)
        ours(x).sum().backward()
        tx = torch.tensor(values, requires_grad=True)
        theirs(tx).sum().backward()
        np.testing.assert_array_equal(x.grad.data, tx.grad.numpy(), err_msg=name)


# ---------------------------------------------------------------------------- types


def test_complex_tensors_cannot_require_grad() -> None:
    with pytest.raises(TypeError, match="only real floating-point tensors can require grad"):
        Tensor(np.ones(2, dtype=np.complex128), requires_grad=True)
    with pytest.raises(TypeError, match="requires_grad_: only real floating-point"):
        Tensor(np.ones(2, dtype=np.complex64)).requires_grad_()


@pytest.mark.parametrize("data", [None, {}, {1: 2}, set(), frozenset({1}), "abc",
                                  (i for i in range(3)), iter([1.0]), [None], ["a", "b"],
                                  np.array(["x"]), np.array([object()])])
def test_meaningless_data_is_refused(data: object) -> None:
    with pytest.raises(TypeError, match="Tensor: "):
        Tensor(data)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Tensor: "):
        tg.tensor(data)  # type: ignore[arg-type]


def test_ragged_lists_and_lists_of_graph_tensors_are_refused() -> None:
    with pytest.raises(ValueError, match="Tensor: the nested lists are ragged"):
        Tensor([[1.0], [1.0, 2.0]])
    w = Tensor(2.0, requires_grad=True)
    with pytest.raises(TypeError, match=r"tg\.functional\.stack"):
        Tensor([w, Tensor(3.0)])
    with pytest.raises(TypeError, match=r"tg\.functional\.stack"):
        Tensor([[1.0, w]])
    # Tensors that record nothing are plain values: their numbers are taken.
    np.testing.assert_array_equal(Tensor([Tensor(1.0), Tensor(2.0)]).data, [1.0, 2.0])


@pytest.mark.parametrize("consume", [list, sum, tuple, iter, lambda t: [v for v in t]])
def test_a_0d_tensor_is_not_iterable(consume: object) -> None:
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        consume(Tensor(5.0))  # type: ignore[operator]


def test_iterating_a_tensor_gives_its_rows_in_the_graph() -> None:
    x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    rows = list(x)
    assert [r.shape for r in rows] == [(2,), (2,)]
    (rows[0] * 2 + rows[1]).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[2.0, 2.0], [1.0, 1.0]])


# ---------------------------------------------------------------------------- empty tensors


def test_empty_tensors_reduce_and_index_as_numpy() -> None:
    x = tg.ones((0, 3), requires_grad=True)
    m = x.max(axis=1)
    assert m.shape == np.max(np.ones((0, 3)), axis=1).shape == (0,)
    m.sum().backward()
    assert x.grad.shape == (0, 3)
    e = tg.ones((3, 0), requires_grad=True)
    assert F.softmax(e, 1).shape == F.log_softmax(e, 1).shape == (3, 0)
    lse = F.logsumexp(e, 1)
    np.testing.assert_array_equal(lse.data, [-np.inf] * 3)
    lse.sum().backward()
    assert e.grad.shape == (3, 0)
    v = tg.ones(3, requires_grad=True)
    picked = v[[]]
    assert picked.shape == np.ones(3)[np.array([], dtype=np.intp)].shape == (0,)
    picked.sum().backward()
    np.testing.assert_array_equal(v.grad.data, [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="max: cannot reduce over an axis of size 0"):
        x.max(axis=0)


# ---------------------------------------------------------------------------- arguments


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda x: x.sum(1.5), TypeError, r"sum: axis must be None, an int or a tuple of ints"),
    (lambda x: x.sum("a"), TypeError, r"sum: axis must be .* got 'a'"),
    (lambda x: x.sum(axis=True), TypeError, r"sum: axis .* got True"),
    (lambda x: x.mean((0, 1.0)), TypeError, r"mean: axis must be"),
    (lambda x: F.softmax(x, (0, 1)), TypeError, r"softmax: axis must be an int"),
    (lambda x: F.log_softmax(x, 2), ValueError, r"log_softmax: axis 2 is out of range"),
    (lambda x: x.unsqueeze(0.5), TypeError, r"unsqueeze: axis must be an int"),
    (lambda x: x.flatten(start_dim="0"), TypeError, r"flatten: start_dim must be an int"),
    (lambda x: F.clip(x, "1"), TypeError, r"clip: min must be a number or an array"),
    (lambda x: F.clip(x, Tensor(1.0, requires_grad=True)), TypeError, r"clip: min is a "),
    (lambda x: F.clip(x, np.ones(3)), ValueError, r"clip: bounds of shapes"),
])
def test_bad_arguments_raise_errors_that_name_the_op(call: object, error: type,
                                                     message: str) -> None:
    x = Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(error, match=message):
        call(x)  # type: ignore[operator]


def test_clip_takes_tensor_and_array_bounds_as_constants() -> None:
    x = Tensor([-2.0, 0.5, 3.0], requires_grad=True)
    y = F.clip(x, Tensor(-1.0), np.array([1.0, 1.0, 2.0]))
    np.testing.assert_array_equal(y.data, [-1.0, 0.5, 2.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0])


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: nn.Linear(0, 3), ValueError, r"Linear: in_features must be positive, got 0"),
    (lambda: nn.Linear(784, "10"), TypeError, r"Linear: out_features must be an int"),
    (lambda: nn.Linear(2.5, 3), TypeError, r"Linear: in_features must be an int"),
    (lambda: nn.Affine(True, 3), TypeError, r"Affine: in_features must be an int"),
    (lambda: nn.BatchNorm1d(0), ValueError, r"BatchNorm1d: num_features must be positive"),
    (lambda: nn.BatchNorm1d(3, momentum=2.0), ValueError, r"BatchNorm1d: momentum must be"),
    (lambda: nn.BatchNorm1d(3, eps=-1.0), ValueError, r"BatchNorm1d: eps must be"),
])
def test_bad_layer_arguments_name_the_layer(make: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("shape", [(), (4,)])
def test_affine_needs_a_batch_axis(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"Affine: expected a batch of shape \(N, ...\)"):
        nn.Affine(4, 3, rng=0)(np.ones(shape))


def test_batchnorm_momentum_none_is_the_cumulative_average() -> None:
    bn = nn.BatchNorm1d(2, momentum=None)
    batches = [np.array([[1.0, 2.0], [3.0, 6.0]]), np.array([[5.0, 0.0], [7.0, 2.0]]),
               np.array([[0.0, 1.0], [2.0, 9.0]])]
    for b in batches:
        bn(b)
    np.testing.assert_allclose(bn.running_mean, np.mean([b.mean(0) for b in batches], 0))
    np.testing.assert_allclose(bn.running_var,
                               _cumulative(np.ones(2), [b.var(0, ddof=1) for b in batches]))
    assert int(bn.num_batches_tracked) == 3


def _cumulative(start: np.ndarray, values: list[np.ndarray]) -> np.ndarray:
    out = start
    for k, v in enumerate(values, 1):
        out = out + (v - out) / k
    return out


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batchnorm_running_statistics_follow_pytorch_over_two_steps(momentum: float | None
                                                                    ) -> None:
    rng = np.random.default_rng(0)
    batches = [rng.standard_normal((5, 3)) * 2 + 1, rng.standard_normal((4, 3)) - 3]
    bn = nn.BatchNorm1d(3, momentum=momentum)
    mean, var = np.zeros(3), np.ones(3)
    for k, b in enumerate(batches, 1):
        bn(b)
        m = 1.0 / k if momentum is None else momentum  # PyTorch's exponential_average_factor
        mean = (1 - m) * mean + m * b.mean(0)
        var = (1 - m) * var + m * b.var(0, ddof=1)
    np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, var, rtol=1e-12)
    torch = pytest.importorskip("torch")
    tbn = torch.nn.BatchNorm1d(3, momentum=momentum, dtype=torch.float64)
    for b in batches:
        tbn(torch.tensor(b))
    np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), rtol=1e-12)
