"""The plumbing of :mod:`.functional`: what its functions take and return.

PyTorch's ``torch.autograd.functional`` accepts a Tensor or a tuple of Tensors wherever
it takes inputs, outputs or a vector ``v``, and answers in the same structure; it works
on fresh copies of the inputs, so the caller's tensors and their ``.grad`` are never
touched; it detaches results unless ``create_graph``; and in ``strict`` mode it refuses
derivatives that are zero because an output does not depend on an input. Those rules
live here, so that each function in :mod:`.functional` reads as its mathematics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_edu.autograd.engine import grad
from tinygrad_edu.tensor import Tensor, make_op, wrap

__all__ = ["Tensors", "Func", "as_tuple", "identity", "prepare", "finish", "unpack", "check_v",
           "check_requires_grad", "grad_of", "zeros_for_none", "inputs_and_v", "call",
           "single_output"]

Tensors = tuple[Tensor, ...]
Func = Callable[..., Any]


def as_tuple(x: Any, what: str, fn: str) -> tuple[bool, Tensors]:
    """``(was it a tuple, the tensors)``; a TypeError naming ``fn`` for anything else."""
    if isinstance(x, Tensor):
        return False, (x,)
    if not isinstance(x, (tuple, list)):
        raise TypeError(f"{fn}: the {what} must be a Tensor or a tuple of Tensors, "
                        f"got {type(x).__name__}")
    for i, t in enumerate(x):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: the {what} must be a Tensor or a tuple of Tensors, "
                            f"but entry {i} is a {type(t).__name__}")
    return True, tuple(x)


def identity(t: Tensor) -> Tensor:
    """``t`` as a new graph node, so that results stay connected to ``t``'s graph."""
    return make_op(t.data, (t,), lambda g: (g,), "identity")


def prepare(inputs: Tensors, create_graph: bool, need_graph: bool, fn: str) -> Tensors:
    """Fresh tensors at the same values: leaves that require grad (``need_graph``), or,
    under ``create_graph``, nodes on top of inputs that already require grad."""
    out = []
    for i, t in enumerate(inputs):
        if t.dtype.kind != "f":
            raise TypeError(f"{fn}: entry {i} has dtype {t.dtype}; only floating-point "
                            "tensors can be differentiated")
        if create_graph and t.requires_grad:
            out.append(identity(t))
        else:
            out.append(Tensor(t.data, requires_grad=need_graph))
    return tuple(out)


def finish(ts: Sequence[Tensor], create_graph: bool) -> Tensors:
    """Results as returned: detached unless the caller wants to differentiate them."""
    return tuple(ts) if create_graph else tuple(t.detach() for t in ts)


def unpack(res: Any, is_tuple: bool | tuple[bool, bool]) -> Any:
    """Undo :func:`as_tuple` on results: single tensors come back as tensors."""
    if isinstance(is_tuple, tuple):
        outer, inner = is_tuple
        if not inner:
            res = tuple(r[0] for r in res)
        return res if outer else res[0]
    return res if is_tuple else res[0]


def check_v(v: Tensors, refs: Tensors, of: str, fn: str) -> None:
    if len(v) != len(refs):
        raise RuntimeError(f"{fn}: v is a tuple of invalid length: should be {len(refs)} "
                           f"(the number of {of}) but got {len(v)}")
    for i, (a, b) in enumerate(zip(v, refs)):
        if a.shape != b.shape:
            raise RuntimeError(f"{fn}: entry {i} in v has invalid shape: should be "
                               f"{b.shape} (as the {of}) but got {a.shape}")


NOT_DIFFERENTIABLE = {
    "outputs": "output {i} of the user-provided function does not require grad; in strict "
               "mode the outputs must be computed in a differentiable way from the inputs",
    "grad_inputs": "the gradient with respect to input {i} does not depend on the inputs; "
                   "this is not allowed in strict mode",
    "jacobian": "the Jacobian with respect to input {i} does not depend on the inputs (a "
                "linear function, say); this is not allowed in strict mode",
    "hessian": "the Hessian with respect to input {i} does not depend on the inputs; this "
               "is not allowed in strict mode",
}

INDEPENDENT = {
    "back": "the output of the user-provided function is independent of input {i}; this "
            "is not allowed in strict mode",
    "back_trick": "the output of the user-provided function is independent of input {i} "
                  "(the double-backward trick found no path); this is not allowed in "
                  "strict mode",
    "double_back": "the Jacobian of the user-provided function is independent of input "
                   "{i}; this is not allowed in strict mode",
    "double_back_trick": "the Hessian of the user-provided function is independent of "
                         "input {i}; this is not allowed in strict mode",
}


def check_requires_grad(ts: Sequence[Tensor | None], kind: str, strict: bool,
                         fn: str) -> None:
    if not strict:
        return
    for i, t in enumerate(ts):
        if t is None:
            raise RuntimeError(f"{fn}: " + INDEPENDENT["back"].format(i=i))
        if not t.requires_grad:
            raise RuntimeError(f"{fn}: " + NOT_DIFFERENTIABLE[kind].format(i=i))


def grad_of(outputs: Sequence[Tensor | None], inputs: Tensors,
          grad_outputs: Sequence[Tensor] | None = None, create_graph: bool = False,
          retain_graph: bool | None = None) -> list[Tensor | None]:
    """:func:`grad` over the outputs that have a graph, None for unreached inputs."""
    gouts = list(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, gouts) if o is not None and o.requires_grad]
    if not pairs:
        return [None] * len(inputs)
    outs, gs = zip(*pairs)
    given = None if grad_outputs is None else list(gs)
    return list(grad(list(outs), list(inputs), given, retain_graph=retain_graph,
                     create_graph=create_graph, allow_unused=True))


def zeros_for_none(grads: Sequence[Tensor | None], refs: Tensors, strict: bool,
                    stage: str, fn: str) -> Tensors:
    out = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{fn}: " + INDEPENDENT[stage].format(i=i))
            g = wrap(np.zeros_like(ref.data))
        out.append(g)
    return tuple(out)


def inputs_and_v(inputs: Any, v: Any, create_graph: bool,
                  fn: str) -> tuple[bool, Tensors, Tensors]:
    """The prepared inputs and a ``v`` shaped like them (ones for one-element input)."""
    is_inputs_tuple, ins = as_tuple(inputs, "inputs", fn)
    ins = prepare(ins, create_graph, True, fn)
    if v is not None:
        vs = prepare(as_tuple(v, "v", fn)[1], create_graph, False, fn)
        check_v(vs, ins, "inputs", fn)
    elif len(ins) != 1 or ins[0].size != 1:
        raise RuntimeError(f"{fn}: v can be None only if the input is a single Tensor "
                           "with a single element; pass v shaped like the input")
    else:
        vs = (wrap(np.ones_like(ins[0].data)),)
    return is_inputs_tuple, ins, vs


def call(func: Func, inputs: Tensors, fn: str) -> tuple[bool, Tensors]:
    return as_tuple(func(*inputs), "outputs of the user-provided function", fn)


def single_output(func: Func, inputs: Tensors, strict: bool, fn: str) -> Tensor:
    """func(*inputs), checked to be one tensor of one element (for Hessians)."""
    out = func(*inputs)
    is_tuple, outs = as_tuple(out, "outputs of the user-provided function", fn)
    check_requires_grad(outs, "outputs", strict, fn)
    if is_tuple:
        raise RuntimeError(f"{fn}: the function must return a single Tensor, got a tuple")
    if outs[0].size != 1:
        raise RuntimeError(f"{fn}: the function must return a Tensor with a single "
                           f"element, got shape {outs[0].shape}")
    return outs[0]
