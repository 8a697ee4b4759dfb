"""A fully connected network whose forward pass keeps a trace that its backward pass reads.

All parameters live in one flat float64 vector `params`; `weights[l]` (fan_in, fan_out),
`biases[l]` (fan_out,) and, with batch norm, `gammas[l]` and `betas[l]` are writable views
into it. Gradients mirror that layout in `grads` with views `dW`, `db`, `dgamma`, `dbeta`,
so an optimizer updates everything in a few NumPy calls.

A hidden layer computes
    z = a_in·W + b;  u = BN(z) (or z);  h = f(u);  a = h·mask/(1−p) (+ a_in if residual)
and the output layer z = a_in·W + b, ŷ = g(z), with g and the loss paired in `losses.Head`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import activations
from .losses import make_head

BN_EPS = 1e-5
BN_MOMENTUM = 0.1  # running ← (1 − m)·running + m·batch, torch's convention
INIT_BIAS_UNIFORM = 0.1  # TensorFlow Playground's initial bias
EVAL_CACHE_ENTRIES = 2  # evaluation buffers kept between calls, by batch size and dtype...
EVAL_CACHE_ENTRY_BYTES = 4 << 20  # ...each at most this big; larger ones are made per call


@dataclass(slots=True)
class LayerTrace:
    """What one layer computed on a batch of n examples; backward fills the d-fields."""

    input: np.ndarray  # (n, fan_in) a of the previous layer
    z: np.ndarray  # (n, fan_out) a_in·W + b
    a: np.ndarray  # (n, fan_out) the layer's output
    f_out: np.ndarray  # (n, fan_out) f(u) before dropout and the residual sum
    x_aug: np.ndarray | None = None  # (n, fan_in + 1) the input with a column of ones
    u: np.ndarray | None = None  # (n, fan_out) batch-normalized z (γ·ẑ + β)
    z_hat: np.ndarray | None = None  # (n, fan_out) (z − μ)/σ
    inv_std: np.ndarray | None = None  # (fan_out,) 1/√(var + eps)
    mask: np.ndarray | None = None  # (n, fan_out) bool dropout mask
    dz: np.ndarray | None = None  # (n, fan_out) ∂L/∂z
    du: np.ndarray | None = None  # (n, fan_out) ∂L/∂u (= dz without batch norm)
    fprime: np.ndarray | None = None  # (n, fan_out) f′(u): du = da·fprime, the inspector's f′
    da: np.ndarray | None = None  # (n, fan_out) ∂L/∂a


class Workspace:
    """Buffers for a batch of n: `xs[l]` (n, fan_in+1) ends in a column of ones, so that
    z = xs[l]·[W; b] is one matrix product; layer l writes its output into xs[l+1]."""

    def __init__(self, sizes: list[int], n: int, dtype=np.float64):
        self.n = n
        self.xs = []
        for fi in sizes[:-1]:
            x = np.empty((n, fi + 1), dtype)
            x[:, fi] = 1.0
            self.xs.append(x)
        self.ins = [x[:, :fi] for x, fi in zip(self.xs, sizes)]  # views without the ones
        self.outs = [x[:, :fo] for x, fo in zip(self.xs[1:], sizes[1:])]
        self.zs = [np.empty((n, fo), dtype) for fo in sizes[1:]]
        self.fs = [np.empty((n, fo), dtype) for fo in sizes[1:-1]]
        self.das = [np.empty((n, fo), dtype) for fo in sizes[1:-1]]
        self.dzs = [np.empty((n, fo), dtype) for fo in sizes[1:-1]]


def _init_weights(init: str, fan_in: int, fan_out: int, rng: np.random.Generator):
    if init == "uniform":
        return rng.uniform(-0.5, 0.5, (fan_in, fan_out)), INIT_BIAS_UNIFORM
    if init == "xavier":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_in, fan_out)), 0.0
    if init == "he":
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out)), 0.0
    if init == "zeros":
        return np.zeros((fan_in, fan_out)), 0.0
    raise ValueError(f"unknown init {init!r}; use uniform, xavier, he or zeros")


def skips(sizes, residual: bool = True) -> list[bool]:
    """Per weight layer, whether it gets a skip connection: with `residual`, where its input
    and output widths match, below the output layer (static/js/controls.js mirrors it to say
    when Residual has nothing to connect)."""
    n_hidden = len(sizes) - 2
    return [residual and l < n_hidden and sizes[l] == sizes[l + 1] for l in range(len(sizes) - 1)]


class Network:
    """Network([2, 4, 2, 1], activation="tanh", output_activation="tanh", seed=0)."""

    def __init__(
        self,
        layer_sizes,
        activation="tanh",
        output_activation="tanh",
        init="uniform",
        seed=None,
        rng: np.random.Generator | None = None,
        batch_norm: bool = False,
        dropout: float = 0.0,
        residual: bool = False,
    ):
        sizes = [int(s) for s in layer_sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError("layer_sizes needs an input and an output size, each ≥ 1")
        self.sizes = sizes
        self.n_layers = len(sizes) - 1
        n_hidden = self.n_layers - 1
        names = [activation] * n_hidden if isinstance(activation, str) else list(activation)
        if len(names) != n_hidden:
            raise ValueError(f"activation needs one name per hidden layer ({n_hidden})")
        self.activation_names = names
        self.acts = [activations.get(n) for n in names]
        self.output_activation = output_activation
        self.batch_norm = bool(batch_norm)
        self.dropout = float(dropout)
        self.residual = bool(residual)
        self.skip = skips(sizes, self.residual)
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self._eval_cache: dict = {}
        self._layout()
        self.initialize(init, self.rng)

    def _layout(self):
        """Allocate the flat parameter and gradient vectors and carve the per-layer views."""
        spans, off = [], 0
        self.layer_offsets = [0]
        for l in range(self.n_layers):
            fi, fo = self.sizes[l], self.sizes[l + 1]
            bn = self.batch_norm and l < self.n_layers - 1
            parts = {"W": (off, fi * fo, (fi, fo))}
            off += fi * fo
            parts["b"] = (off, fo, (fo,))
            off += fo
            if bn:
                parts["gamma"] = (off, fo, (fo,))
                off += fo
                parts["beta"] = (off, fo, (fo,))
                off += fo
            spans.append(parts)
            self.layer_offsets.append(off)
        self.n_params = off
        self.layout = [
            (
                slice(p["W"][0], p["W"][0] + p["W"][1]),
                p["W"][2],
                slice(p["b"][0], p["b"][0] + p["b"][1]),
            )
            for p in spans
        ]
        self.params = np.zeros(off)
        self.grads = np.zeros(off)
        # per layer, {"W" | "b" | "gamma" | "beta": (offset, size, shape)} in `params`
        self.spans = spans

        def views(buf, key):
            out = []
            for parts in spans:
                if key in parts:
                    o, n, shape = parts[key]
                    out.append(buf[o : o + n].reshape(shape))
                else:
                    out.append(None)
            return out

        self.weights, self.biases = views(self.params, "W"), views(self.params, "b")
        self.Wb = [
            self.params[w_at.start : b_at.stop].reshape(sh[0] + 1, sh[1])
            for w_at, sh, b_at in self.layout
        ]
        self.dWb = [
            self.grads[w_at.start : b_at.stop].reshape(sh[0] + 1, sh[1])
            for w_at, sh, b_at in self.layout
        ]
        self.WT = [w.T for w in self.weights]
        self.gammas, self.betas = views(self.params, "gamma"), views(self.params, "beta")
        self.dW, self.db = views(self.grads, "W"), views(self.grads, "b")
        self.dgamma, self.dbeta = views(self.grads, "gamma"), views(self.grads, "beta")
        self.weight_mask = np.zeros(off)  # 1 on weights, 0 on biases and batch-norm terms
        for parts in spans:
            o, n, _ = parts["W"]
            self.weight_mask[o : o + n] = 1.0
        widths = self.sizes[1:-1] if self.batch_norm else []
        self.buffers = np.zeros(2 * sum(widths))  # running means then running variances
        self.running_mean, self.running_var, o = [], [], 0
        for w in widths:
            self.running_mean.append(self.buffers[o : o + w])
            o += w
        for w in widths:
            self.running_var.append(self.buffers[o : o + w])
            o += w

    def initialize(self, init: str, rng: np.random.Generator) -> None:
        """Draw fresh weights in layer order from `rng`; batch-norm γ = 1, β = 0."""
        for l in range(self.n_layers):
            W, b = _init_weights(init, self.sizes[l], self.sizes[l + 1], rng)
            self.weights[l][...] = W
            self.biases[l][...] = b
            if self.gammas[l] is not None:
                self.gammas[l][...] = 1.0
                self.betas[l][...] = 0.0
        for v in self.running_var:
            v[...] = 1.0
        for m in self.running_mean:
            m[...] = 0.0

    def head(self, loss: str):
        return make_head(self.output_activation, loss)

    # forward and backward

    def workspace(self, n: int, dtype=np.float64) -> Workspace:
        """Fresh buffers for a batch of n; the caller fills `xs[0][:, :fan_in]` with inputs."""
        return Workspace(self.sizes, n, dtype)

    def forward(self, X, head, train=True, masks=None, rng=None):
        """Run X (n, fan_in) forward; returns the per-layer traces and ŷ (n, K).

        In training, batch norm uses batch statistics (and updates the running averages)
        and dropout draws masks from `rng` unless `masks` (one per hidden layer) is given.
        """
        work = self.workspace(len(X))
        work.xs[0][:, : self.sizes[0]] = X
        return self.forward_ws(work, head, train, masks, rng)

    def forward_ws(self, work: Workspace, head, train=True, masks=None, rng=None):
        """`forward` on inputs already in `work.xs[0]`, writing into the workspace's buffers."""
        traces = []
        last = self.n_layers - 1
        p = self.dropout if train else 0.0
        Wb = self.Wb
        for l in range(self.n_layers):
            x, z, inp = work.xs[l], work.zs[l], work.ins[l]
            np.dot(x, Wb[l], out=z)  # z = a_in·W + b through the ones column
            if l == last:
                yhat = head.forward(z)
                traces.append(LayerTrace(inp, z, yhat, yhat, x_aug=x))
                return traces, yhat
            a = work.outs[l]
            t = LayerTrace(inp, z, a, a, x_aug=x)
            u = z if self.gammas[l] is None else self._batch_norm(l, z, t, train)
            if p == 0.0 and not self.skip[l]:
                self.acts[l].forward_into(u, a)
            else:
                f = t.f_out = work.fs[l]
                self.acts[l].forward_into(u, f)
                if p > 0.0:
                    mask = masks[l] if masks is not None else (rng or self.rng).random(f.shape) >= p
                    t.mask = mask
                    np.multiply(f, mask, out=a)
                    a *= 1.0 / (1.0 - p)
                else:
                    np.copyto(a, f)
                if self.skip[l]:
                    a += inp
            traces.append(t)
        raise AssertionError("unreachable")

    def _batch_norm(self, l, z, t: LayerTrace, train: bool):
        if train:
            mu = z.mean(axis=0)
            var = z.var(axis=0)
            n = len(z)
            m = self.running_mean[l]
            m *= 1.0 - BN_MOMENTUM
            m += BN_MOMENTUM * mu
            rv = self.running_var[l]
            rv *= 1.0 - BN_MOMENTUM
            rv += BN_MOMENTUM * (var * (n / (n - 1)) if n > 1 else var)
        else:
            mu, var = self.running_mean[l], self.running_var[l]
        inv = 1.0 / np.sqrt(var + BN_EPS)
        z_hat = (z - mu) * inv
        u = z_hat * self.gammas[l] + self.betas[l]
        t.z_hat, t.inv_std, t.u = z_hat, inv, u
        return u

    def backward(self, traces: list[LayerTrace], dz_out: np.ndarray, work: Workspace | None = None):
        """Fill `grads` (the data-loss part) from the traces and ∂L/∂z of the output layer."""
        if work is None:
            work = self.workspace(len(dz_out))
        inv_keep = 1.0 / (1.0 - self.dropout) if self.dropout < 1.0 else 0.0
        dz = dz_out
        WT, dWb = self.WT, self.dWb
        for l in range(self.n_layers - 1, -1, -1):
            t = traces[l]
            t.dz = dz
            np.dot(t.x_aug.T, dz, out=dWb[l])  # [dW; db] = [a_in, 1]ᵀ·dz
            if l == 0:
                return
            below = traces[l - 1]
            da = work.das[l - 1]
            np.dot(dz, WT[l], out=da)
            if self.skip[l]:
                da += t.da
            below.da = da
            if below.mask is not None:
                da = da * below.mask
                da *= inv_keep
            du = work.dzs[l - 1]
            u = below.u if below.u is not None else below.z
            # f′ kept in the trace, so the inspector prints the very factor du was made with
            below.fprime = self.acts[l - 1].derivative(u, below.f_out)
            np.multiply(da, below.fprime, out=du)
            below.du = du
            dz = du if below.u is None else self._batch_norm_backward(l - 1, below, du)

    def _batch_norm_backward(self, l, t: LayerTrace, du):
        # u = γ·ẑ + β, ẑ = (z − μ)·inv. With g = ∂L/∂ẑ = du·γ over a batch of n:
        # ∂L/∂z = inv/n · (n·g − Σg − ẑ·Σ(g·ẑ)).
        np.sum(du * t.z_hat, axis=0, out=self.dgamma[l])
        np.sum(du, axis=0, out=self.dbeta[l])
        g = du * self.gammas[l]
        n = len(g)
        return (t.inv_std / n) * (n * g - g.sum(axis=0) - t.z_hat * (g * t.z_hat).sum(axis=0))

    # public conveniences

    def loss_and_gradients(self, X, y, loss="mse"):
        """Data loss averaged over the batch, with fresh lists dW (fan_in, fan_out), db (fan_out,).

        y is (n,): ±1 or real values for MSE, 0/1 for BCE, class indices for cross-entropy.
        """
        head = self.head(loss)
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if head.name == "cross_entropy":
            target = y.astype(np.int64)
        else:
            target = y.astype(float).reshape(-1, 1)
        traces, yhat = self.forward(X, head, train=True)
        z = traces[-1].z
        value = float(head.per_example(z, yhat, target).mean())
        self.backward(traces, head.dz(z, yhat, target))
        return value, [d.copy() for d in self.dW], [d.copy() for d in self.db]

    def predict(self, X, head) -> tuple[np.ndarray, np.ndarray]:
        """(z, ŷ) of the output layer, each (n, K), in evaluation mode."""
        outs = self.activations_on(X, head, keep_z=True)
        return outs[-2].T, outs[-1].T

    def activations_on(self, X, head, dtype=np.float64, keep_z=False) -> list[np.ndarray]:
        """Every layer's output on X (n, fan_in) in evaluation mode (no dropout, batch norm
        from running averages), neuron-major: [(width_l, n)] per layer, in `dtype`.

        Neuron-major keeps each neuron's values contiguous, so the bias rides along in the
        matrix product (a row of ones under the inputs) and every map is one reshape away.
        With `keep_z` the output layer's z comes before ŷ at the end of the list. The hidden
        layers' arrays are buffers reused by the next call with the same n and dtype (fresh
        large arrays cost page faults that tripled the time of a 100×100 grid; up to
        EVAL_CACHE_ENTRY_BYTES, two sizes): copy to keep.
        """
        n = len(X)
        bufs = self._eval_buffers(n, np.dtype(dtype))
        x = bufs[0]
        x[:-1] = np.asarray(X).T
        outs = []
        last = self.n_layers - 1
        for l in range(self.n_layers):
            WbT = self.Wb[l].T.astype(dtype)
            if l == last:
                z = np.dot(WbT, x)
                if keep_z:
                    outs.append(z)
                outs.append(head.forward(z.T).T)
                return outs
            fo = self.sizes[l + 1]
            nxt = bufs[l + 1]
            z = nxt[:fo]
            np.dot(WbT, x, out=z)
            if self.gammas[l] is not None:
                scale = self.gammas[l] / np.sqrt(self.running_var[l] + BN_EPS)
                z -= self.running_mean[l].astype(dtype)[:, None]
                z *= scale.astype(dtype)[:, None]
                z += self.betas[l].astype(dtype)[:, None]
            self.acts[l].forward_into(z, z)
            if self.skip[l]:
                z += x[:-1]
            outs.append(z)
            x = nxt
        raise AssertionError("unreachable")

    def _eval_buffers(self, n: int, dtype: np.dtype) -> list[np.ndarray]:
        """Per layer a (fan_in + 1, n) buffer whose last row is ones; the last few sizes kept."""
        key = (n, dtype.str)
        bufs = self._eval_cache.get(key)
        if bufs is None:
            bufs = []
            for fi in self.sizes[:-1]:
                b = np.empty((fi + 1, n), dtype)
                b[fi] = 1.0
                bufs.append(b)
            # kept for the next call when small enough: a session's memory stays bounded
            if sum(b.nbytes for b in bufs) <= EVAL_CACHE_ENTRY_BYTES:
                if len(self._eval_cache) >= EVAL_CACHE_ENTRIES:
                    self._eval_cache.pop(next(iter(self._eval_cache)))
                self._eval_cache[key] = bufs
        return bufs

    def describe(self) -> dict:
        """What a page needs to run `activations_on` itself: the layer sizes, each hidden
        layer's activation, the output's, which layers have batch norm and which a skip
        connection, and the activations' constants. With `eval_arrays()`, the weights."""
        return {
            "sizes": list(self.sizes),
            "activations": list(self.activation_names),
            "output_activation": self.output_activation,
            "batch_norm": self.batch_norm,
            "skip": list(self.skip),
            "constants": {
                "leaky_slope": activations.LEAKY_SLOPE,
                "elu_alpha": activations.ELU_ALPHA,
            },
        }

    def eval_arrays(self) -> list[tuple[np.ndarray, ...]]:
        """Per weight layer (W, b) or, under batch norm, (W, b, scale, shift): evaluation
        mode's u = z·scale + shift, batch norm folded from the running statistics, γ and β
        (`activations_on` computes (z − mean)·γ/√(var + ε) + β, equal up to rounding)."""
        out = []
        for l in range(self.n_layers):
            W, b = self.weights[l], self.biases[l]
            if self.gammas[l] is None:
                out.append((W, b))
                continue
            scale = self.gammas[l] / np.sqrt(self.running_var[l] + BN_EPS)
            out.append((W, b, scale, self.betas[l] - self.running_mean[l] * scale))
        return out

    def layer_slices(self) -> list[slice]:
        """The flat-vector slice holding each layer's parameters (W, b, γ, β)."""
        o = self.layer_offsets
        return [slice(o[l], o[l + 1]) for l in range(self.n_layers)]
