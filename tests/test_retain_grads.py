"""tg.retain_grads(): the teaching mode that keeps .grad on every intermediate tensor."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tinygrad_edu as tg


def test_retain_grads_keeps_every_intermediate_gradient() -> None:
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    outside = x * 1.0
    with tg.retain_grads():
        h = outside * 3
        y = (h * h).sum()
        with tg.no_grad():
            c = x * 2  # records nothing, so keeps nothing
    assert not tg.grad_mode.state.retain_all
    y.backward()
    np.testing.assert_allclose(h.grad.data, 2 * h.data)
    np.testing.assert_allclose(y.grad.data, 1.0)
    assert outside.grad is None and c.grad is None and c.requires_grad is False
    z = (x * x).sum()  # after the block: back to normal
    z.backward()
    assert z.grad is None


def test_retain_grads_nests_restores_on_error_and_is_per_thread() -> None:
    with tg.retain_grads():
        with tg.retain_grads():
            pass
        assert tg.grad_mode.state.retain_all
    assert not tg.grad_mode.state.retain_all
    with pytest.raises(ZeroDivisionError), tg.retain_grads():
        1 / 0  # noqa: B018
    assert not tg.grad_mode.state.retain_all
    seen = []
    with tg.retain_grads():
        t = threading.Thread(target=lambda: seen.append(tg.grad_mode.state.retain_all))
        t.start()
        t.join()
    assert seen == [False]
