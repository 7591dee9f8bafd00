"""Module and Parameter: the bookkeeping that turns functions into trainable layers.

A :class:`Module` remembers, in assignment order, every :class:`Parameter` and every
sub-module assigned to it as an attribute, so a whole network can be walked for its
weights (``parameters()``), saved (``state_dict()``) and restored (``load_state_dict()``).
Buffers (``register_buffer``) are arrays that belong to the state but are not learned,
such as BatchNorm's running statistics.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from tinygrad_edu.tensor import Tensor

__all__ = ["Parameter", "Module", "LoadResult"]


class Parameter(Tensor):
    """A Tensor that a :class:`Module` registers as a learnable weight.

    ``Parameter(data, requires_grad=True, dtype=None)`` wraps ``np.asarray(data, dtype)``
    without a copy, like :class:`Tensor`: an ndarray of the right dtype is shared, so
    updating ``p.data`` in place updates that array (the book's ``params`` dict relies
    on it).

    >>> p = Parameter(np.zeros(2))
    >>> p.requires_grad, p.shape
    (True, (2,))
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter" + super().__repr__()[len("Tensor"):]


class LoadResult(NamedTuple):
    """What :meth:`Module.load_state_dict` did not match (empty lists when strict)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _indent(text: str, spaces: int) -> str:
    return text.replace("\n", "\n" + " " * spaces)


def _cast_for(name: str, raw: Any, target: np.ndarray) -> tuple[np.ndarray, str]:
    """(``raw`` as an array of ``target``'s dtype, "") or (target, what is wrong)."""
    try:
        value = np.asarray(raw.data if isinstance(raw, Tensor) else raw)
    except (ValueError, TypeError) as exc:
        return target, f"{name!r} is not an array: {exc}"
    if value.dtype.kind not in "biuf":
        return target, (f"dtype of {name!r}: the checkpoint has {value.dtype}, which cannot "
                        f"be loaded into a {target.dtype} array")
    if value.shape != target.shape:
        return target, (f"size mismatch for {name!r}: the checkpoint has shape {value.shape}, "
                        f"the model has shape {target.shape}")
    if not target.flags.writeable:
        return target, f"{name!r} is read-only in the model; nothing can be loaded into it"
    with np.errstate(all="ignore"):  # the checks below say what went wrong
        cast = value.astype(target.dtype)
    if target.dtype.kind == "f" and not np.isfinite(cast).all():
        if np.isfinite(value).all():
            largest = float(np.max(np.abs(value)))
            return target, f"{name!r}: values up to {largest:g} overflow {target.dtype}"
        return target, f"{name!r}: the checkpoint has non-finite values (inf or nan)"
    if target.dtype.kind != "f" and not np.array_equal(cast, value):
        return target, f"{name!r}: the checkpoint has values {target.dtype} cannot hold exactly"
    return cast, ""


class Module:
    """Base class of layers and models: subclass it, assign parameters and sub-modules in
    ``__init__`` (after ``super().__init__()``), and write ``forward``.

    >>> class Scale(Module):
    ...     def __init__(self) -> None:
    ...         super().__init__()
    ...         self.w = Parameter(np.array([2.0]))
    ...     def forward(self, x):
    ...         return x * self.w
    >>> m = Scale()
    >>> [name for name, _ in m.named_parameters()]
    ['w']
    >>> m(Tensor([1.5])).data
    array([3.])
    """

    training: bool

    def __init__(self) -> None:
        # Written through __dict__: __setattr__ below needs these registries to exist.
        d = self.__dict__
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_modules"] = {}
        d["training"] = True

    # ------------------------------------------------------------------ registration

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params: dict[str, Parameter | None] | None = d.get("_parameters")
        if params is None:
            if isinstance(value, (Parameter, Module)):
                raise RuntimeError(
                    f"cannot assign {type(value).__name__} '{name}' before Module.__init__(); "
                    f"call super().__init__() first in {type(self).__name__}.__init__"
                )
            object.__setattr__(self, name, value)
            return
        buffers: dict[str, np.ndarray | None] = d["_buffers"]
        modules: dict[str, Module] = d["_modules"]
        if isinstance(value, Parameter):
            buffers.pop(name, None)
            modules.pop(name, None)
            params[name] = value  # an existing name keeps its place in the order
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif name in params:
            # Replacing a weight by a computed Tensor would silently stop training it.
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' of "
                    f"{type(self).__name__} (Parameter or None expected); to change the "
                    f"values, write into .data in place: m.{name}.data[...] = new_values"
                )
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer '{name}' of "
                    f"{type(self).__name__} (ndarray or None expected)"
                )
            buffers[name] = value
        else:
            modules.pop(name, None)
            if isinstance(value, (list, tuple)) and any(isinstance(v, Module) for v in value):
                warnings.warn(
                    f"{type(self).__name__}.{name} is a {type(value).__name__} of modules, "
                    "which registers none of them: their parameters are not in "
                    "parameters(), state_dict() or an optimizer; hold them in an "
                    "nn.ModuleList", stacklevel=2)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_buffers", "_modules"):
            self.__dict__[registry].pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name``; None reserves the name (e.g. ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: '{name}' must be a Parameter or None, "
                f"got {type(param).__name__}"
            )
        self.__dict__["_parameters"][name] = param
        self.__dict__["_modules"].pop(name, None)
        self.__dict__["_buffers"].pop(name, None)
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, array: np.ndarray | None) -> None:
        """Register a non-learned array (saved in ``state_dict``, updated in place)."""
        if array is not None and not isinstance(array, np.ndarray):
            raise TypeError(
                f"register_buffer: '{name}' must be an ndarray or None, got {type(array).__name__}"
            )
        self.__dict__["_buffers"][name] = array
        self.__dict__["_parameters"].pop(name, None)
        self.__dict__["_modules"].pop(name, None)
        object.__setattr__(self, name, array)

    def register_module(self, name: str, module: Module) -> None:
        """Register ``module`` as the child ``name`` (also reachable as ``self.<name>``)."""
        if not isinstance(module, Module):
            raise TypeError(
                f"register_module: '{name}' must be a Module, got {type(module).__name__}"
            )
        setattr(self, name, module)

    add_module = register_module

    # ------------------------------------------------------------------ traversal

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their attribute names, in assignment order."""
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        """The direct sub-modules, in assignment order."""
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (named ``prefix``) and every descendant, depth first, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            kids = [(f"{name}.{child}" if name else child, m)
                    for child, m in module.named_children()]
            stack.extend(reversed(kids))  # reversed: the first child is visited first

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, depth first, each once."""
        for _, m in self.named_modules():
            yield m

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, Parameter) pairs: a module's own parameters first, then its
        children's, in assignment order. A parameter shared by two modules is listed once,
        under the first name met."""
        seen: set[int] = set()
        owners = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for owner, module in owners:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{owner}.{name}" if owner else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every Parameter, in the order of :meth:`named_parameters`."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """(dotted name, array) for every registered buffer, each array once."""
        seen: set[int] = set()
        for owner, module in self.named_modules(prefix):
            for name, b in module._buffers.items():
                if b is None or id(b) in seen:
                    continue
                seen.add(id(b))
                yield (f"{owner}.{name}" if owner else name), b

    def buffers(self) -> Iterator[np.ndarray]:
        """Every buffer array."""
        for _, b in self.named_buffers():
            yield b

    # ------------------------------------------------------------------ training helpers

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (``grad = None``, as PyTorch's default)."""
        for p in self.parameters():
            p.grad = None

    def train(self, mode: bool = True) -> Module:
        """Set ``training`` on this module and every descendant (Dropout, BatchNorm care)."""
        for m in self.modules():
            m.training = bool(mode)
        return self

    def eval(self) -> Module:
        """``train(False)``: Dropout becomes the identity, BatchNorm uses running stats."""
        return self.train(False)

    # ------------------------------------------------------------------ state

    def _state_items(self) -> Iterator[tuple[str, np.ndarray]]:
        # PyTorch's order: per module (depth first), its parameters then its buffers.
        seen: set[int] = set()
        for owner, module in self.named_modules():
            entries: list[tuple[str, np.ndarray]] = [
                (n, p.data) for n, p in module._parameters.items() if p is not None
            ]
            entries += [(n, b) for n, b in module._buffers.items() if b is not None]
            for name, array in entries:
                if id(array) in seen:
                    continue
                seen.add(id(array))
                yield (f"{owner}.{name}" if owner else name), array

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Name -> a copy of every parameter's and buffer's values, in a stable order."""
        return OrderedDict((name, array.copy()) for name, array in self._state_items())

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> LoadResult:
        """Copy ``state_dict``'s values into the parameters and buffers, in place.

        Arrays are written into the existing ones (so references such as
        ``TwoLayerNet.params`` stay valid) and cast to each parameter's dtype (a float64
        checkpoint loads into a float32 model, rounded). Every entry is checked before
        the first write, and all problems are reported at once in one RuntimeError, so
        on error nothing changes: with ``strict`` (the default) any missing or
        unexpected key; always a value that is not a real-number array, has another
        shape, would be written into a read-only array, is not finite after the cast
        (1e300 into float32), or does not survive the cast into an integer buffer.
        Returns the missing and unexpected keys.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict: expected a mapping of names to arrays, got "
                f"{type(state_dict).__name__}"
            )
        targets = OrderedDict(self._state_items())
        missing = [k for k in targets if k not in state_dict]
        unexpected = [k for k in state_dict if k not in targets]
        errors: list[str] = []
        if strict:
            if missing:
                errors.append("missing keys: " + ", ".join(repr(k) for k in missing))
            if unexpected:
                errors.append("unexpected keys: " + ", ".join(repr(k) for k in unexpected))
        writes: list[tuple[np.ndarray, np.ndarray]] = []
        for name, target in targets.items():
            if name in state_dict:
                value, problem = _cast_for(name, state_dict[name], target)
                if problem:
                    errors.append(problem)
                else:
                    writes.append((target, value))
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                + "\n  ".join(errors)
            )
        for target, value in writes:
            target[...] = value  # in place; checked above, so no write can fail
        return LoadResult(missing, unexpected)

    # ------------------------------------------------------------------ calling

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses override it."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        """The part of ``repr`` inside the parentheses, e.g. ``in_features=2, ...``."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = [f"({name}): {_indent(repr(m), 2)}" for name, m in self.named_children()]
        if not lines:
            return f"{type(self).__name__}({extra})"
        if extra:
            lines.insert(0, extra)
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"
