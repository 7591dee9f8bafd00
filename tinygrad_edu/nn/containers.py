"""ModuleList and ModuleDict: sub-modules held in a list or a dict, registered as
children, so that their parameters are the network's.

Layers kept in a plain Python list are invisible to ``parameters()``, ``state_dict()``
and the optimizer; these containers are the PyTorch way to hold a variable number of
layers. Neither has a ``forward``: the owning module says how they are used.

>>> from tinygrad_edu import nn
>>> class MLP(nn.Module):
...     def __init__(self, sizes):
...         super().__init__()
...         self.layers = nn.ModuleList(nn.Linear(a, b, rng=0) for a, b in zip(sizes, sizes[1:]))
...     def forward(self, x):
...         for layer in self.layers:
...             x = layer(x).relu()
...         return x
>>> [name for name, _ in MLP([4, 8, 2]).named_parameters()]
['layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias']
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tinygrad_edu.nn.module import Module

__all__ = ["ModuleList", "ModuleDict"]


def _checked(module: Any, where: str) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{where}: expected a Module, got {type(module).__name__}")
    return module


class ModuleList(Module):
    """A list of modules, registered under the names "0", "1", ... (as in PyTorch, the
    names follow the positions: deleting or inserting renumbers them).

    >>> from tinygrad_edu import nn
    >>> layers = nn.ModuleList([nn.Linear(2, 2, rng=0), nn.ReLU()])
    >>> layers.append(nn.Linear(2, 1, rng=1))
    ModuleList(
      (0): Linear(in_features=2, out_features=2, bias=True)
      (1): ReLU()
      (2): Linear(in_features=2, out_features=1, bias=True)
    )
    >>> len(layers), [name for name, _ in layers.named_parameters()]
    (3, ['0.weight', '0.bias', '2.weight', '2.bias'])
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _items(self) -> list[Module]:
        return list(self._modules.values())

    def _renumber(self, modules: list[Module]) -> None:
        for name in list(self._modules):
            delattr(self, name)
        for i, m in enumerate(modules):
            self.register_module(str(i), m)

    def _index(self, index: Any) -> int:
        n = len(self._modules)
        try:
            if isinstance(index, bool):
                raise TypeError
            index = operator.index(index)
        except TypeError:
            raise TypeError(f"ModuleList: indices must be integers or slices, got "
                            f"{type(index).__name__}") from None
        if not -n <= index < n:
            raise IndexError(f"ModuleList: index {index} is out of range for {n} modules")
        return index % n

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return ModuleList(self._items()[index])
        return self._items()[self._index(index)]

    def __setitem__(self, index: int, module: Module) -> None:
        self.register_module(str(self._index(index)), _checked(module, "ModuleList"))

    def __delitem__(self, index: int | slice) -> None:
        items = self._items()
        if isinstance(index, slice):
            del items[index]
        else:
            del items[self._index(index)]
        self._renumber(items)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._items())

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end; returns the list."""
        self.register_module(str(len(self._modules)), _checked(module, "ModuleList.append"))
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add every module of ``modules`` at the end; returns the list."""
        if isinstance(modules, Module) and not isinstance(modules, ModuleList):
            raise TypeError("ModuleList.extend: expected an iterable of Modules, got a "
                            f"single {type(modules).__name__} (use append)")
        for m in list(modules):
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Put ``module`` before position ``index``, as ``list.insert``."""
        items = self._items()
        items.insert(index, _checked(module, "ModuleList.insert"))
        self._renumber(items)


class ModuleDict(Module):
    """A dict of modules, registered under their keys, in insertion order.

    Keys are strings that can be attribute names of the container: no ".", not empty,
    and not one of Module's own attributes (``forward``, ``training`` ...), which a
    child of that name would hide.

    >>> from tinygrad_edu import nn
    >>> heads = nn.ModuleDict({"digit": nn.Linear(4, 10, rng=0), "parity": nn.Linear(4, 2, rng=1)})
    >>> heads["parity"].out_features, list(heads)
    (2, ['digit', 'parity'])
    >>> heads["train"] = nn.ReLU()
    Traceback (most recent call last):
        ...
    KeyError: "ModuleDict: the key 'train' would hide the attribute ModuleDict.train"
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None
                 = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _check_key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError(f"ModuleDict: keys must be strings, got {type(key).__name__}")
        if not key or "." in key:
            raise KeyError(f"ModuleDict: the key {key!r} must be non-empty and without '.'")
        if key not in self._modules and hasattr(self, key):
            raise KeyError(f"ModuleDict: the key {key!r} would hide the attribute "
                           f"{type(self).__name__}.{key}")
        return key

    def __getitem__(self, key: str) -> Module:
        try:
            return self._modules[key]
        except KeyError:
            raise KeyError(f"ModuleDict: no module under {key!r}; keys: "
                           f"{list(self._modules)}") from None

    def __setitem__(self, key: str, module: Module) -> None:
        self.register_module(self._check_key(key), _checked(module, "ModuleDict"))

    def __delitem__(self, key: str) -> None:
        self[key]  # the KeyError with the keys listed
        delattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def keys(self) -> list[str]:
        return list(self._modules)

    def values(self) -> list[Module]:
        return list(self._modules.values())

    def items(self) -> list[tuple[str, Module]]:
        return list(self._modules.items())

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add or replace the modules of a mapping or of (key, module) pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for pair in pairs:
            key, module = pair
            self[key] = module

    def pop(self, key: str) -> Module:
        """Remove the module under ``key`` and return it."""
        module = self[key]
        delattr(self, key)
        return module

    def clear(self) -> None:
        """Remove every module."""
        for key in list(self._modules):
            delattr(self, key)
