"""The API fuzzer: random calls of every public op, Tensor method and layer, valid and
invalid, each held to what explicit rules say must happen (fuzz_api_core.py).

A valid call returns what NumPy (or the op table's reference) computes; an invalid one
raises a ValueError, TypeError, IndexError or RuntimeError whose message names the op.
Each API entry (an op with its methods and operators, a Tensor method, a layer) gets
the profile's number of examples (``ci``: 40, ``thorough``: 1000); the number of calls
made is printed at the end of the session (tests/conftest.py).
"""

from __future__ import annotations

# Each module registers its cases in fuzz_api_core.SPECS.
import fuzz_api_conv  # noqa: F401
import fuzz_api_elementwise  # noqa: F401
import fuzz_api_inplace  # noqa: F401
import fuzz_api_layers
import fuzz_api_losses  # noqa: F401
import fuzz_api_shape  # noqa: F401
import fuzz_api_tensor  # noqa: F401
import pytest
from fuzz_api_core import REACHED, SPECS, Call, run_call
from hypothesis import given
from hypothesis import strategies as st
from op_table import HELPERS

import tinygrad_edu as tg
import tinygrad_edu.functional as F
from tinygrad_edu import nn

#: Tensor attributes that are plain data, not calls (``data``, ``grad`` and
#: ``requires_grad`` are read and written by the cases that need them).
NOT_CALLED = frozenset({"data", "grad", "requires_grad"})


def test_every_public_op_is_fuzzed() -> None:
    missing = set(F.__all__) - HELPERS - set(SPECS)
    assert not missing, f"ops in functional.__all__ that the fuzzer never calls: {missing}"


def test_every_tensor_method_and_operator_is_fuzzed() -> None:
    public = {n for n in dir(tg.Tensor) if not n.startswith("_")} - NOT_CALLED
    operators = {n for n in vars(tg.tensor_methods.TensorMethods) if n.startswith("__")
                 and callable(getattr(tg.Tensor, n)) and n not in ("__init_subclass__",)}
    conversions = {"__iter__", "__len__", "__bool__", "__float__", "__int__", "__index__",
                   "__array__", "__repr__", "__init__"}
    missing = (public | operators | conversions) - REACHED - {"__hash__", "__class__"}
    assert not missing, f"Tensor attributes that the fuzzer never calls: {sorted(missing)}"


def test_every_layer_is_fuzzed() -> None:
    layers = {name for name in nn.__all__ if isinstance(getattr(nn, name), type)
              and issubclass(getattr(nn, name), (nn.Module, tg.Tensor))} - {"Module"}
    # Containers have no forward of their own: test_training_utils.py covers them.
    layers -= {"ModuleList", "ModuleDict"}
    missing = layers - set(fuzz_api_layers.LAYERS)
    assert not missing, f"layers of tinygrad_edu.nn that the fuzzer never builds: {missing}"


@pytest.mark.parametrize("name", sorted(SPECS))
@given(data=st.data())
def test_api_call(name: str, data: st.DataObject) -> None:
    case: Call = data.draw(SPECS[name], label=name)
    run_call(case)
