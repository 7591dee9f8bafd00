"""Gradient checking: compare autograd with finite differences.

* :func:`numerical_gradient` -- central differences of a scalar function, one element
  at a time (the book's method), restoring every element exactly.
* :func:`gradcheck` -- autograd against finite differences for every input that
  requires grad, under a random upstream gradient (a gradient checked only against
  ``ones`` can hide a transposed or mis-summed backward).
* :func:`gradgradcheck` -- the same for second derivatives, through ``create_graph``.

Defaults follow PyTorch: float64 inputs, eps 1e-6, atol 1e-5, rtol 1e-3.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_edu.autograd import enable_grad, grad, no_grad
from tinygrad_edu.tensor import Tensor

__all__ = ["numerical_gradient", "gradcheck", "gradgradcheck", "GradcheckError"]

# Past this many elements, mode="auto" checks a random directional derivative instead of
# every element: two evaluations per input whatever its size.
PROJECTION_THRESHOLD = 2048


class GradcheckError(AssertionError):
    """Autograd and finite differences disagree; the message says where and by how much."""


def _scalar(value: Any) -> float:
    if isinstance(value, Tensor):
        value = value.data
    arr = np.asarray(value)
    if arr.size != 1:
        raise ValueError(
            f"numerical_gradient: f must return a scalar, got an array of shape {arr.shape}"
        )
    return float(arr.reshape(()))


def numerical_gradient(
    f: Callable[[Any], Any], x: np.ndarray | Tensor, eps: float = 1e-6
) -> np.ndarray:
    """Central-difference gradient of the scalar ``f`` at ``x``, as a float64 array.

    ``x`` (an ndarray or a Tensor) is perturbed in place one element at a time and
    ``f(x)`` is evaluated, so ``f`` may ignore its argument and read shared weights
    (the book's ``lambda W: net.loss(x, t)``). Each element is restored bit for bit.
    The step actually taken is measured after rounding to x's dtype, so float32 inputs
    still give a consistent quotient. df/dx_i ~= (f(x + h e_i) - f(x - h e_i)) / 2h.

    >>> import numpy as np
    >>> x = np.array([1.0, 2.0])
    >>> numerical_gradient(lambda v: float((v ** 2).sum()), x).round(6)
    array([2., 4.])
    """
    arr = x.data if isinstance(x, Tensor) else x
    if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
        raise TypeError(
            f"numerical_gradient: x must be a floating-point ndarray or Tensor, got "
            f"{getattr(arr, 'dtype', type(arr).__name__)}"
        )
    if not arr.flags.writeable:
        raise ValueError("numerical_gradient: x must be writeable (it is perturbed in place)")
    out = np.zeros(arr.shape, dtype=np.float64)
    flat_out = out.reshape(-1)
    with no_grad():
        for flat_i, idx in enumerate(np.ndindex(*arr.shape)):
            orig = arr[idx].copy()
            try:
                # Where eps is below x's resolution (large |x|, float32), the rounded
                # step would be 0: step one unit in the last place instead.
                arr[idx] = orig + eps
                if arr[idx] == orig:
                    arr[idx] = np.nextafter(orig, arr.dtype.type(np.inf))
                up = float(arr[idx])
                f_plus = _scalar(f(x))
                arr[idx] = orig - eps
                if arr[idx] == orig:
                    arr[idx] = np.nextafter(orig, arr.dtype.type(-np.inf))
                down = float(arr[idx])
                f_minus = _scalar(f(x))
            finally:
                arr[idx] = orig
            flat_out[flat_i] = (f_plus - f_minus) / (up - down)
    return out


def _as_outputs(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, (tuple, list)) and all(isinstance(v, Tensor) for v in value):
        return list(value)
    raise TypeError(
        f"gradcheck: fn must return a Tensor or a tuple of Tensors, got {type(value).__name__}"
    )


def _weighted_sum(outputs: list[Tensor], weights: list[np.ndarray]) -> float:
    return float(np.sum([np.sum(o.data.astype(np.float64) * w) for o, w in zip(outputs, weights)]))


def gradcheck(
    fn: Callable[..., Any],
    *inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int | None = 0,
    mode: str = "auto",
    raise_exception: bool = True,
) -> bool:
    """Check ``fn``'s autograd gradients against central differences.

    For every input Tensor with ``requires_grad``, the gradient of
    ``sum(fn(*inputs) * v)`` for a random upstream ``v`` is computed by backward and by
    finite differences, and must agree within ``|a - n| <= atol + rtol * |n|``.
    ``mode="full"`` differentiates every element; ``"projection"`` compares the
    directional derivative along one random direction per input (two evaluations,
    whatever the size); ``"auto"`` uses projection past 2048 elements. Inputs are not
    modified. Returns True, or raises :class:`GradcheckError` (returns False when
    ``raise_exception=False``) with the largest absolute and relative error per input.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([0.5, 1.5], requires_grad=True)
    >>> tg.gradcheck(lambda t: t.exp() * t, x)
    True
    """
    if mode not in ("auto", "full", "projection"):
        raise ValueError(f"gradcheck: mode must be 'auto', 'full' or 'projection', got {mode!r}")
    rng = np.random.default_rng(seed)
    tensors = [x if isinstance(x, Tensor) else Tensor(np.asarray(x)) for x in inputs]
    diff = [i for i, t in enumerate(tensors) if t.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    for i in diff:
        if tensors[i].dtype != np.float64:
            warnings.warn(
                f"gradcheck: input {i} is {tensors[i].dtype}; finite differences need "
                "float64 to be trustworthy (cast with .astype(np.float64))",
                stacklevel=2,
            )

    with enable_grad():
        outputs = _as_outputs(fn(*tensors))
    weights = [rng.standard_normal(o.shape) for o in outputs]
    live = [k for k, o in enumerate(outputs) if o.requires_grad]
    if live:
        analytic = grad(
            [outputs[k] for k in live],
            [tensors[i] for i in diff],
            grad_outputs=[Tensor(weights[k].astype(outputs[k].dtype)) for k in live],
            allow_unused=True,
        )
        analytic = _zeros_for_unused(analytic, [tensors[i] for i in diff])
    else:
        analytic = tuple(Tensor(np.zeros_like(tensors[i].data)) for i in diff)

    def evaluate(i: int, data: np.ndarray) -> float:
        args = list(tensors)
        args[i] = Tensor(data, requires_grad=tensors[i].requires_grad)
        with enable_grad():  # fn may itself differentiate (gradgradcheck does)
            return _weighted_sum(_as_outputs(fn(*args)), weights)

    failures = []
    for i, a_grad in zip(diff, analytic):
        x = tensors[i]
        a = a_grad.data.astype(np.float64)
        if a_grad.shape != x.shape:
            failures.append(f"input {i}: gradient has shape {a_grad.shape}, input has {x.shape}")
            continue
        if a_grad.dtype != x.dtype:
            failures.append(f"input {i}: gradient has dtype {a_grad.dtype}, input has {x.dtype}")
            continue
        base = x.data.copy()
        use_projection = mode == "projection" or (mode == "auto" and x.size > PROJECTION_THRESHOLD)
        if use_projection:
            direction = rng.standard_normal(x.shape)
            direction /= np.linalg.norm(direction) or 1.0
            plus = (base + eps * direction).astype(x.dtype)
            minus = (base - eps * direction).astype(x.dtype)
            numeric = np.array((evaluate(i, plus) - evaluate(i, minus)) / (2 * eps))
            # The step actually taken, after rounding to x's dtype (float32 rounds a lot).
            taken = plus.astype(np.float64) - minus.astype(np.float64)
            analytic_value = np.array(np.sum(a * taken) / (2 * eps))
            failure = _compare(i, analytic_value, numeric, atol, rtol, "directional derivative")
        else:
            numeric_full = np.zeros(x.shape)
            for idx in np.ndindex(*x.shape):
                plus = base.copy()
                plus[idx] += eps
                minus = base.copy()
                minus[idx] -= eps
                # Divide by the step actually taken, after rounding to x's dtype.
                taken = float(plus[idx]) - float(minus[idx])
                numeric_full[idx] = (evaluate(i, plus) - evaluate(i, minus)) / taken
            failure = _compare(i, a, numeric_full, atol, rtol, "gradient")
        if failure:
            failures.append(failure)
    if failures:
        if raise_exception:
            raise GradcheckError(
                "gradcheck failed: autograd and finite differences disagree "
                f"(atol={atol}, rtol={rtol}, eps={eps})\n" + "\n".join(failures)
            )
        return False
    return True


def _compare(i: int, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float,
             what: str) -> str | None:
    abs_err = np.abs(analytic - numeric)
    bad = ~(abs_err <= atol + rtol * np.abs(numeric))  # NaN counts as bad
    if not bad.any():
        return None
    rel_err = abs_err / np.maximum(np.abs(numeric), 1e-300)
    # A NaN error (NaN or inf on either side) ranks worst; fmax skips NaNs without the
    # all-NaN error/warning of nanargmax/nanmax.
    ranked = np.where(bad, np.nan_to_num(abs_err, nan=np.inf), -1.0)
    worst = np.unravel_index(int(np.argmax(ranked)), abs_err.shape)
    where = f" at index {tuple(int(w) for w in worst)}" if analytic.ndim else ""
    max_abs = np.fmax.reduce(abs_err, axis=None)
    max_rel = np.fmax.reduce(rel_err, axis=None)
    return (
        f"input {i} ({what}): {int(bad.sum())} of {bad.size} entries out of tolerance; "
        f"max abs error {max_abs:.3g}, max rel error {max_rel:.3g}; "
        f"worst{where}: autograd {analytic[worst]:.10g} vs numerical {numeric[worst]:.10g}"
    )


def gradgradcheck(
    fn: Callable[..., Any],
    *inputs: Any,
    grad_outputs: Sequence[Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int | None = 0,
    mode: str = "auto",
    raise_exception: bool = True,
) -> bool:
    """Check second derivatives: :func:`gradcheck` applied to the map
    ``(inputs, v) -> d(sum(fn(inputs) * v))/d(inputs)``, built with ``create_graph``.

    >>> import tinygrad_edu as tg
    >>> x = tg.Tensor([0.5, 1.5], requires_grad=True)
    >>> tg.gradgradcheck(lambda t: (t ** 3).sum(), x)
    True
    """
    rng = np.random.default_rng(None if seed is None else seed + 1)
    tensors = [x if isinstance(x, Tensor) else Tensor(np.asarray(x)) for x in inputs]
    diff = [i for i, t in enumerate(tensors) if t.requires_grad]
    if not diff:
        raise ValueError("gradgradcheck: no input requires grad, so there is nothing to check")
    with enable_grad():
        outputs = _as_outputs(fn(*tensors))
    if grad_outputs is None:
        vs = [Tensor(rng.standard_normal(o.shape).astype(o.dtype), requires_grad=True)
              for o in outputs]
    else:
        vs = [v if isinstance(v, Tensor) else Tensor(np.asarray(v), requires_grad=True)
              for v in grad_outputs]
    n_in = len(tensors)

    def first_derivative(*args: Tensor) -> tuple[Tensor, ...]:
        xs, v = list(args[:n_in]), list(args[n_in:])
        outs = _as_outputs(fn(*xs))
        live = [k for k, o in enumerate(outs) if o.requires_grad]
        if not live:
            return tuple(Tensor(np.zeros_like(xs[i].data)) for i in diff)
        grads = grad([outs[k] for k in live], [xs[i] for i in diff],
                     grad_outputs=[v[k] for k in live], create_graph=True, allow_unused=True)
        return _zeros_for_unused(grads, [xs[i] for i in diff])

    return gradcheck(first_derivative, *tensors, *vs, eps=eps, atol=atol, rtol=rtol, seed=seed,
                     mode=mode, raise_exception=raise_exception)


def _zeros_for_unused(grads: Sequence[Tensor | None], inputs: Sequence[Tensor]
                      ) -> tuple[Tensor, ...]:
    """``grad(..., allow_unused=True)`` gives None for an input the outputs ignore: its
    derivative is zero there."""
    return tuple(Tensor(np.zeros_like(x.data)) if g is None else g
                 for g, x in zip(grads, inputs))
