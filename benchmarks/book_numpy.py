"""The book's two-layer network written by hand in NumPy: the reference for the benchmarks.

Affine -> ReLU -> Affine -> softmax-with-loss, with the backward pass derived by hand,
exactly the work the book's code does per step (including the gradient of the input batch,
which the book's Affine computes and nothing uses). Nothing here imports tinygrad_edu.
"""

from __future__ import annotations

import numpy as np


class HandWrittenTwoLayerNet:
    """784-50-10 network with hand-derived gradients (the book's math)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, rng: np.random.Generator | None = None,
                 dtype: type = np.float64) -> None:
        rng = rng or np.random.default_rng(0)
        self.params = {
            "W1": (weight_init_std * rng.standard_normal((input_size, hidden_size))).astype(dtype),
            "b1": np.zeros(hidden_size, dtype=dtype),
            "W2": (weight_init_std * rng.standard_normal((hidden_size, output_size))).astype(dtype),
            "b2": np.zeros(output_size, dtype=dtype),
        }

    def predict(self, x: np.ndarray) -> np.ndarray:
        p = self.params
        h = np.maximum(x @ p["W1"] + p["b1"], 0)
        return h @ p["W2"] + p["b2"]

    @staticmethod
    def _softmax(a: np.ndarray) -> np.ndarray:
        e = np.exp(a - a.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        y = self._softmax(self.predict(x))
        n = x.shape[0]
        # The book's cross-entropy: one-hot rows, 1e-7 inside the log.
        return float(-np.sum(np.log(y[np.arange(n), t.argmax(axis=1)] + 1e-7)) / n)

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        labels = t.argmax(axis=1) if t.ndim != 1 else t
        return float(np.mean(self.predict(x).argmax(axis=1) == labels))

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        p = self.params
        n = x.shape[0]
        a1 = x @ p["W1"] + p["b1"]
        mask = a1 <= 0
        h = a1.copy()
        h[mask] = 0
        y = self._softmax(h @ p["W2"] + p["b2"])
        dout = (y - t) / n                       # softmax-with-loss backward
        grads = {"W2": h.T @ dout, "b2": dout.sum(axis=0)}
        dh = dout @ p["W2"].T                    # Affine2 backward
        dh[mask] = 0                             # ReLU backward
        grads["W1"] = x.T @ dh                   # Affine1 backward
        grads["b1"] = dh.sum(axis=0)
        _dx = dh @ p["W1"].T                     # the input gradient the book computes anyway
        return grads
