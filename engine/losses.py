"""Output heads: an output activation paired with its loss, value beside gradient.

Shapes: z and ŷ are (n, K); `target` is (n, K) float for MSE and BCE, or (n,) int class
indices for cross-entropy. Every loss is averaged over the batch, so `dz` is ∂(mean L)/∂z.
"""

from __future__ import annotations

import numpy as np

from . import activations


class Head:
    name = ""
    formula = ""

    def __init__(self, output_activation: str):
        self.output_activation = output_activation

    def forward(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def per_example(self, z: np.ndarray, yhat: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(n,) loss of each example."""
        raise NotImplementedError

    def dz(self, z: np.ndarray, yhat: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(n, K) gradient of the batch-mean loss with respect to the output pre-activation."""
        raise NotImplementedError

    def dyhat(self, yhat: np.ndarray, target: np.ndarray) -> np.ndarray:
        """(n, K) ∂L_i/∂ŷ for each example, for the chain rule the page prints."""
        raise NotImplementedError


class MSE(Head):
    """L = ½ Σ_k (ŷ_k − y_k)², the seed article's loss; ∂L/∂z = (ŷ − y)·g′(z)."""

    name, formula = "mse", "L = ½(ŷ − y)²"

    def __init__(self, output_activation: str):
        super().__init__(output_activation)
        if output_activation == "softmax":
            raise ValueError("mse pairs with a tanh, linear or sigmoid output")
        self.act = activations.get(output_activation)

    def forward(self, z):
        return self.act.forward(z)

    def per_example(self, z, yhat, target):
        d = yhat - target
        return 0.5 * np.einsum("ij,ij->i", d, d)

    def dz(self, z, yhat, target):
        d = yhat - target
        d *= self.act.derivative(z, yhat)
        d *= 1.0 / len(z)
        return d

    def dyhat(self, yhat, target):
        return yhat - target


class BinaryCrossEntropy(Head):
    """L = −[y log p + (1−y) log(1−p)] with p = σ(z), computed from z as softplus(z) − y·z.

    Sigmoid and cross-entropy together give the simple ∂L/∂z = p − y.
    """

    name, formula = "bce", "L = −[y·log ŷ + (1−y)·log(1−ŷ)]"

    def __init__(self, output_activation: str):
        super().__init__(output_activation)
        if output_activation != "sigmoid":
            raise ValueError("bce pairs with a sigmoid output")

    def forward(self, z):
        return activations.get("sigmoid").forward(z)

    def per_example(self, z, yhat, target):
        return (np.logaddexp(0.0, z) - target * z).sum(axis=1)

    def dz(self, z, yhat, target):
        return (yhat - target) * (1.0 / len(z))

    def dyhat(self, yhat, target):
        p = np.clip(yhat, 1e-12, 1 - 1e-12)
        return (p - target) / (p * (1 - p))


class CrossEntropy(Head):
    """L = −log softmax(z)_y = logsumexp(z) − z_y; with softmax, ∂L/∂z = p − onehot(y)."""

    name, formula = "cross_entropy", "L = −log ŷ_y"

    def __init__(self, output_activation: str):
        super().__init__(output_activation)
        if output_activation != "softmax":
            raise ValueError("cross_entropy pairs with a softmax output")

    def forward(self, z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)
        return e

    def per_example(self, z, yhat, target):
        m = z.max(axis=1)
        lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
        return lse - z[np.arange(len(z)), target]

    def dz(self, z, yhat, target):
        d = yhat.copy()
        d[np.arange(len(z)), target] -= 1.0
        d *= 1.0 / len(z)
        return d

    def dyhat(self, yhat, target):
        d = np.zeros_like(yhat)
        idx = np.arange(len(yhat))
        d[idx, target] = -1.0 / np.maximum(yhat[idx, target], 1e-12)
        return d


HEADS = {cls.name: cls for cls in (MSE, BinaryCrossEntropy, CrossEntropy)}


def make_head(output_activation: str, loss: str) -> Head:
    try:
        cls = HEADS[loss]
    except KeyError:
        raise ValueError(f"unknown loss {loss!r}; use one of {', '.join(HEADS)}") from None
    return cls(output_activation)


def targets_for(head: Head, labels: np.ndarray, task: str) -> np.ndarray:
    """Map stored labels (0/1, class index or real value) to the head's target array."""
    if head.name == "cross_entropy":
        return labels.astype(np.int64)
    t = labels.astype(np.float64).reshape(-1, 1)
    if task == "binary" and head.name == "mse" and head.output_activation != "sigmoid":
        t = 2.0 * t - 1.0  # TensorFlow Playground's ±1 labels
    return t


def predicted_classes(head: Head, yhat: np.ndarray) -> np.ndarray:
    """(n,) int64: the class each output names: the largest probability, or for one output
    1 above the threshold (0.5 for a sigmoid, 0 for ±1 outputs) and 0 below. (Not defined
    for regression.)"""
    if head.name == "cross_entropy":
        return yhat.argmax(axis=1)
    threshold = 0.5 if head.output_activation == "sigmoid" else 0.0
    return (yhat[:, 0] > threshold).astype(np.int64)


def correct(head: Head, yhat: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(n,) bool: is each classification right? (Not defined for regression.)"""
    if head.name == "cross_entropy":
        return predicted_classes(head, yhat) == labels
    return predicted_classes(head, yhat) == (labels > 0.5)
