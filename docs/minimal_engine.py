"""The whole idea of reverse-mode autograd, in one small file.

A Value wraps a NumPy array. Each op returns a new Value that remembers its parents and
a closure from the upstream gradient to the gradients of those parents. backward()
orders the graph so that every node runs after all of its consumers, then hands each
gradient down. Everything tinygrad_edu adds to this is in docs/engine.md.
"""
import numpy as np


class Value:
    def __init__(self, data, parents=(), backward=None):
        self.data = np.asarray(data, dtype=np.float64)
        self.grad = None
        self.parents = parents      # the op's inputs
        self.backward_fn = backward  # upstream gradient -> one gradient per parent

    def __add__(self, other):       # d(a+b) = da + db
        return Value(self.data + other.data, (self, other), lambda g: (g, g))

    def __mul__(self, other):       # d(a*b) = b da + a db
        return Value(self.data * other.data, (self, other),
                     lambda g: (g * other.data, g * self.data))

    def __matmul__(self, other):    # 2-D only: d(A@B) = dA @ B + A @ dB
        return Value(self.data @ other.data, (self, other),
                     lambda g: (g @ other.data.T, self.data.T @ g))

    def relu(self):                 # relu'(x) = 1 where x > 0, else 0
        return Value(np.maximum(self.data, 0), (self,), lambda g: (g * (self.data > 0),))

    def exp(self):                  # exp'(x) = exp(x)
        out = np.exp(self.data)
        return Value(out, (self,), lambda g: (g * out,))

    def log(self):                  # log'(x) = 1 / x
        return Value(np.log(self.data), (self,), lambda g: (g / self.data,))

    def sum(self):                  # every entry gets the upstream gradient
        return Value(self.data.sum(), (self,), lambda g: (g * np.ones_like(self.data),))

    def backward(self):
        # Topological order without recursion: a depth-first search with an explicit
        # stack; a node is placed after all of its parents.
        order, seen, stack = [], set(), [(self, False)]
        while stack:
            node, parents_done = stack.pop()
            if parents_done:
                order.append(node)
            elif id(node) not in seen:
                seen.add(id(node))
                stack.append((node, True))
                stack.extend((p, False) for p in node.parents)
        grads = {id(self): np.ones_like(self.data)}
        for node in reversed(order):  # consumers before what they consume
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if not node.parents:      # a leaf: keep its gradient
                node.grad = g if node.grad is None else node.grad + g
                continue
            for parent, pg in zip(node.parents, node.backward_fn(g)):
                grads[id(parent)] = grads.get(id(parent), 0) + pg
