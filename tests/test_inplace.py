"""In-place updates, version checks, checked backward closures, failing backward passes
and threads: the cases where an engine can be silently wrong one step off the path."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import Tensor, nn, optim
from tinygrad_edu.autograd.engine import BackwardError


def _param(*values: float) -> Tensor:
    return Tensor(np.array(values), requires_grad=True)


# ---------------------------------------------------------------------------- updates


def test_the_pytorch_update_under_no_grad_changes_the_parameter_itself() -> None:
    w = _param(3.0, -2.0)
    alias = w
    losses = []
    for _ in range(20):
        loss = (w * w).sum()
        losses.append(float(loss))
        w.grad = None
        loss.backward()
        with tg.no_grad():
            w -= 0.1 * w.grad
    assert w is alias and w.requires_grad and w.is_leaf
    assert losses[-1] < 0.1 * losses[0]
    assert w.version == 20


def test_in_place_on_a_tensor_that_requires_grad_is_refused_outside_no_grad() -> None:
    x, b = _param(1.0, 2.0), _param(0.5, 0.5)
    h = x * 2
    with pytest.raises(RuntimeError, match=r"add_: in-place update .*h = h \+ b"):
        h += b
    with pytest.raises(RuntimeError, match=r"mul_: .*requires grad"):
        x *= 2
    plain = tg.zeros(2)
    with pytest.raises(RuntimeError, match="operand that requires grad"):
        plain += b  # the result would need a graph that an in-place op cannot record
    plain += 1.0  # nothing requires grad: allowed, in place
    np.testing.assert_array_equal(plain.data, [1.0, 1.0])


@pytest.mark.parametrize(("method", "arg", "expected"), [
    ("add_", 2.0, [3.0, 4.0]), ("sub_", 2.0, [-1.0, 0.0]), ("mul_", 2.0, [2.0, 4.0]),
    ("div_", 2.0, [0.5, 1.0]), ("fill_", 7.0, [7.0, 7.0]), ("copy_", [5.0, 6.0], [5.0, 6.0]),
    ("zero_", None, [0.0, 0.0]),
])
def test_each_in_place_op_updates_in_place_and_bumps_the_version(
        method: str, arg: object, expected: list[float]) -> None:
    t = _param(1.0, 2.0)
    data = t.data
    with tg.no_grad():
        out = getattr(t, method)() if arg is None else getattr(t, method)(arg)
    assert out is t and t.data is data and t.version == 1
    np.testing.assert_array_equal(t.data, expected)


def test_in_place_errors_name_the_op_and_the_problem() -> None:
    ints = Tensor(np.array([1, 2]))
    with pytest.raises(TypeError, match="add_: cannot update a tensor of dtype int64"):
        ints += 0.5
    t = tg.zeros(2, 3)
    with pytest.raises(ValueError, match=r"sub_: a value of shape \(4,\) cannot update"):
        t -= np.ones(4)
    view = F.broadcast_to(tg.zeros(3), (2, 3))
    with pytest.raises(ValueError, match="mul_: the tensor's memory is read-only"):
        view *= 2


def test_writing_a_tensor_into_an_array_in_place_names_the_fix() -> None:
    p = _param(1.0, 2.0)
    (p * p).sum().backward()
    with pytest.raises(TypeError, match=r"p\.data -= lr \* p\.grad\.data"):
        p.data -= 0.1 * p.grad
    p.data -= 0.1 * p.grad.data  # the escape hatch works, untracked
    np.testing.assert_allclose(p.data, [0.8, 1.6])
    assert p.version == 0


# ---------------------------------------------------------------------------- versions


def test_an_optimizer_step_between_forward_and_backward_is_refused() -> None:
    w = _param(1.0, 2.0, 3.0)
    opt = optim.SGD([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match=r"backward of 'mul': an input .*shape \(3,\).*"
                                           r"saved at version 0, now at version 1"):
        loss.backward()


@pytest.mark.parametrize("op", [
    lambda m: m.max(), lambda m: m.relu(), lambda m: m.abs(), lambda m: m.clip(-1.0, 1.0),
    lambda m: F.maximum(m, 0.0), lambda m: m.log(), lambda m: m * m, lambda m: m @ m.T,
    lambda m: F.linear(m, m.T), lambda m: F.cross_entropy(m, np.array([0, 1])),
])
def test_backward_refuses_inputs_changed_in_place_after_the_forward(op: object) -> None:
    m = Tensor(np.array([[0.5, 2.0], [1.5, 0.25]]), requires_grad=True)
    y = op(m)  # type: ignore[operator]
    with tg.no_grad():
        m += 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


@pytest.mark.parametrize("op", [lambda x: x.exp(), lambda x: x.tanh(), lambda x: x.sigmoid(),
                                lambda x: x.sqrt(), lambda x: x.softmax()])
def test_backward_refuses_an_output_changed_in_place(op: object) -> None:
    x = _param(0.5, 1.5)
    y = op(x)  # type: ignore[operator]
    with tg.no_grad():
        y *= 2
    with pytest.raises(RuntimeError, match="its own output"):
        y.sum().backward()


def test_a_change_through_a_view_is_seen_by_the_base_and_back() -> None:
    m = Tensor(np.array([[1.0, -2.0], [3.0, 4.0]]), requires_grad=True)
    r = m.relu()
    view = m.detach().reshape(4)[1:]
    with tg.no_grad():
        view += 5.0  # changes m's memory
    assert m.version == 1
    with pytest.raises(RuntimeError, match="backward of 'relu'"):
        r.sum().backward()


def test_ops_that_do_not_read_their_inputs_allow_later_updates() -> None:
    # PyTorch's rule: only what a backward reads is checked (add reads nothing).
    a, b = _param(1.0, 2.0), _param(3.0, 4.0)
    y = (a + b).sum()
    with tg.no_grad():
        a += 1
    y.backward()
    np.testing.assert_array_equal(a.grad.data, [1.0, 1.0])


def test_writes_through_data_are_the_untracked_escape_hatch() -> None:
    net = nn.Linear(3, 2, rng=0)
    x = Tensor(np.ones((4, 3)))
    for _ in range(2):  # the book's loop: update the arrays between iterations
        net.zero_grad()
        net(x).sum().backward()
        for p in net.parameters():
            p.data -= 0.1 * p.grad.data
    assert all(p.version == 0 for p in net.parameters())


# ---------------------------------------------------------------------------- closures


def _two_parent_op(backward: object) -> Tensor:
    x, y = _param(1.0, 2.0), _param(3.0, 4.0)
    return tg.make_op(x.data * y.data, (x, y), backward, "m")  # type: ignore[arg-type]


@pytest.mark.parametrize(("backward", "error", "message"), [
    (lambda g: (g * 2,), RuntimeError, r"backward of 'm' returned 1 gradients for 2 inputs"),
    (lambda g: np.ones(2), TypeError, r"'m' must return a tuple .* got ndarray"),
    (lambda g: None, TypeError, r"'m' must return a tuple .* got NoneType"),
    (lambda g: ("a", None), TypeError, r"'m' returned a str as a gradient"),
    (lambda g: (np.ones(3), None), RuntimeError, r"'m' returned a gradient of shape \(3,\)"),
    (lambda g: (np.array([1, 2]), None), TypeError, r"'m' returned a gradient of dtype int"),
])
def test_make_op_closures_are_checked(backward: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        _two_parent_op(backward).sum().backward()


def test_an_ndarray_gradient_is_accepted_and_wrapped() -> None:
    x = _param(1.0, 2.0)
    y = tg.make_op(x.data * 3, (x,), lambda g: (g.data * 3,), "triple")
    y.sum().backward()
    assert isinstance(x.grad, Tensor)
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_an_error_inside_a_closure_names_the_op_and_changes_no_grad() -> None:
    def broken(g: Tensor) -> tuple[Tensor]:
        raise ZeroDivisionError("boom")

    a = _param(1.0, 2.0)
    b = _param(5.0, 6.0)
    y = tg.make_op(a.data * 2, (a,), broken, "broken")
    loss = (y + b).sum()  # b's gradient is found before the broken op runs
    with pytest.raises(BackwardError, match=r"backward of 'broken' .*ZeroDivisionError: boom") \
            as info:
        loss.backward()
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert a.grad is None and b.grad is None  # nothing half-delivered
    assert tg.is_grad_enabled()


def _freed_graph() -> Tensor:
    x = _param(1.0, 2.0)
    loss = (x * x).sum()
    loss.backward()  # frees the graph
    return loss


def _modified_input() -> Tensor:
    x = _param(1.0, 2.0)
    h = x * 1.0
    loss = (h * h).sum()  # mul saves h
    with tg.no_grad():
        h += 1.0
    return loss


@pytest.mark.parametrize(("make", "error", "message"), [
    (_freed_graph, tg.GraphFreedError, r"backward through the graph a second time"),
    (_modified_input, RuntimeError, r"modified by an in-place operation"),
])
@pytest.mark.parametrize("outer", [True, False])
def test_grad_mode_is_restored_after_a_backward_that_raised(make: object, error: type,
                                                            message: str, outer: bool) -> None:
    # The walk turns grad mode off (or on, for create_graph) while it runs; a walk that
    # stops on an error must still give the caller back the mode it had. Both ways:
    # a plain backward with grad mode on, and a create_graph backward under no_grad.
    loss = make()  # type: ignore[operator]
    with tg.set_grad_enabled(outer):
        with pytest.raises(error, match=message):
            loss.backward(create_graph=not outer)
        assert tg.is_grad_enabled() is outer
    assert tg.is_grad_enabled()


# ---------------------------------------------------------------------------- threads


def test_a_shared_no_grad_object_keeps_each_threads_mode() -> None:
    shared = tg.no_grad()
    entered, t2_done_entering, t1_left = (threading.Event() for _ in range(3))
    seen: dict[str, bool] = {}

    def first() -> None:
        with shared:
            entered.set()
            t2_done_entering.wait(5)
        seen["first after exit"] = tg.is_grad_enabled()
        t1_left.set()

    def second() -> None:
        entered.wait(5)
        with tg.no_grad():
            with shared:
                t2_done_entering.set()
                t1_left.wait(5)
            seen["second inside its outer no_grad"] = tg.is_grad_enabled()
        seen["second after all"] = tg.is_grad_enabled()

    threads = [threading.Thread(target=f) for f in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert seen == {"first after exit": True, "second inside its outer no_grad": False,
                    "second after all": True}


def test_concurrent_backward_into_one_leaf_loses_no_update() -> None:
    # Large enough that NumPy releases the GIL inside each sum, so the threads interleave.
    w = Tensor(np.zeros(200_000), requires_grad=True)
    rounds, workers = 50, 4

    def work() -> None:
        for _ in range(rounds):
            (w * 1.0).sum().backward()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    np.testing.assert_array_equal(w.grad.data, np.full(200_000, rounds * workers))


def test_an_upstream_gradient_of_another_dtype_keeps_its_graph_under_create_graph() -> None:
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    v = Tensor(np.array([3.0, 4.0]), requires_grad=True)  # float64
    (gx,) = tg.grad(x * 2, [x], grad_outputs=v, create_graph=True)
    assert gx.dtype == np.float32 and gx.requires_grad
    (gv,) = tg.grad(gx.sum(), [v])  # d(2 v)/dv, through the recorded cast
    np.testing.assert_array_equal(gv.data, [2.0, 2.0])
