"""Backprop Lab's training engine: pure NumPy, no server imports.

net = engine.Network([2, 4, 2, 1], activation="tanh", output_activation="tanh", seed=0)
loss, dW, db = net.loss_and_gradients(X, y, loss="mse")
engine.make_optimizer("adam", lr=0.01).step(net.weights + net.biases, dW + db)
trainer = engine.Trainer({"dataset": "xor"}); trainer.step()
"""

from . import graph
from .config import Config, ConfigError
from .network import Network
from .optimizers import make_optimizer
from .trainer import Trainer, TrainerError

__all__ = ["Config", "ConfigError", "Network", "Trainer", "TrainerError", "graph", "make_optimizer"]
