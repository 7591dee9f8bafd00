"""Anomaly mode: the first NaN or inf, in forward or in backward, names its op and the
line of user code that created it."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import AnomalyError, Tensor, anomaly

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.mark.parametrize(("make", "op", "kind"), [
    (lambda x: x.log(), "log", "nan"),
    (lambda x: x / Tensor([0.0, 1.0]), "div", "inf"),
    (lambda x: (x * 1000.0).exp(), "exp", "inf"),
])
def test_a_bad_forward_result_names_the_op_and_the_users_line(make: object, op: str,
                                                              kind: str) -> None:
    x = Tensor([-1.0, 2.0], requires_grad=True)
    with tg.detect_anomaly(), pytest.raises(AnomalyError) as info:
        make(x)  # type: ignore[operator]
    message = str(info.value)
    assert f"'{op}' produced {kind}" in message
    # The innermost line of user code: the lambda that applied the op.
    assert __file__ in message and "(lambda x:" in message


def test_a_bad_gradient_names_the_backward_step_and_the_forward_line() -> None:
    x = Tensor([0.0, 4.0], requires_grad=True)
    with tg.detect_anomaly():
        root = x.sqrt()  # finite forward; d sqrt / dx is inf at 0
        with pytest.raises(AnomalyError) as info:
            root.sum().backward()
    message = str(info.value)
    assert "the backward step of 'sqrt' produced inf" in message
    assert "root = x.sqrt()" in message and __file__ in message
    assert x.grad is None and tg.is_grad_enabled()


def test_an_overflow_born_in_division_backward() -> None:
    a = Tensor([1.0], requires_grad=True)
    b = Tensor([1e-160], requires_grad=True)
    with tg.detect_anomaly():
        q = a / b  # 1e160 is finite; d/db = -a / b**2 = -1e320 is not
        with pytest.raises(AnomalyError, match=r"backward step of 'div' produced inf.*q = a / b"):
            q.sum().backward()


def test_outside_anomaly_mode_nothing_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object) -> None:
        raise AssertionError("anomaly checks ran outside anomaly mode")

    monkeypatch.setattr(anomaly, "watch", forbidden)
    x = Tensor([-1.0, 0.0], requires_grad=True)
    y = x.log()  # nan and -inf, silently, as NumPy
    assert np.isnan(y.data[0]) and np.isneginf(y.data[1])


def test_detect_anomaly_as_a_decorator_and_per_thread() -> None:
    @tg.detect_anomaly()
    def bad() -> Tensor:
        return Tensor([-1.0]).log() * Tensor([1.0], requires_grad=True)

    with pytest.raises(AnomalyError):
        bad()
    seen: list[bool] = []
    with tg.detect_anomaly():
        thread = threading.Thread(target=lambda: seen.append(tg.grad_mode.state.anomaly))
        thread.start()
        thread.join()
    assert seen == [False] and not tg.grad_mode.state.anomaly
