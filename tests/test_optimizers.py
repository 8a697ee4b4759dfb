"""Optimizers against a plain-float re-implementation of torch.optim's documented update rules."""

import json
import math
import tracemalloc

import numpy as np
import pytest

from engine import config
from engine.expressions import evaluate
from engine.optimizers import REGISTRY, make_optimizer

NAMES = ("sgd", "momentum", "nesterov", "rmsprop", "adam")
HP = {"lr": 0.05, "momentum": 0.8, "alpha": 0.9, "beta1": 0.85, "beta2": 0.95, "eps": 1e-6}
SHAPES = {"flat": [(500,)], "several": [(3, 4), (5,), (2, 3, 2), (1, 1)]}

# torch.optim's documented defaults (torch 2.x), except momentum: torch's 0 would make
# "momentum" and "nesterov" plain SGD, so ours is 0.9.
TORCH_DEFAULTS = {
    "sgd": {"lr": 1e-3},
    "momentum": {"lr": 1e-3, "momentum": 0.9},
    "nesterov": {"lr": 1e-3, "momentum": 0.9},
    "rmsprop": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8},
    "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
}


def reference_run(name, hps, params, grads):
    """Weights (one flat list of floats) after each step; hps[k] and grads[k] are step k's."""
    w = [float(x) for p in params for x in p.ravel()]
    n = len(w)
    b, m, v = [0.0] * n, [0.0] * n, [0.0] * n
    history = []
    for t, (hp, gs) in enumerate(zip(hps, grads, strict=True), start=1):
        g = [float(x) for a in gs for x in a.ravel()]
        lr = hp["lr"]
        for i in range(n):
            if name == "sgd":
                w[i] = w[i] - lr * g[i]
            elif name in ("momentum", "nesterov"):
                b[i] = g[i] if t == 1 else hp["momentum"] * b[i] + g[i]
                d = g[i] + hp["momentum"] * b[i] if name == "nesterov" else b[i]
                w[i] = w[i] - lr * d
            elif name == "rmsprop":
                v[i] = hp["alpha"] * v[i] + (1 - hp["alpha"]) * g[i] ** 2
                w[i] = w[i] - lr * g[i] / (math.sqrt(v[i]) + hp["eps"])
            elif name == "adam":
                m[i] = hp["beta1"] * m[i] + (1 - hp["beta1"]) * g[i]
                v[i] = hp["beta2"] * v[i] + (1 - hp["beta2"]) * g[i] ** 2
                m_hat = m[i] / (1 - hp["beta1"] ** t)
                v_hat = v[i] / (1 - hp["beta2"] ** t)
                w[i] = w[i] - lr * m_hat / (math.sqrt(v_hat) + hp["eps"])
        history.append(list(w))
    return history


def random_problem(shapes, n_steps, seed=0):
    """Initial weights and n_steps gradient lists whose scale varies over 1e-3 … 10."""
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=sh) for sh in shapes]
    grads = [
        [rng.normal(size=sh) * 10 ** rng.uniform(-3, 1) for sh in shapes] for _ in range(n_steps)
    ]
    return params, grads


def flat(arrays):
    return np.concatenate([a.ravel() for a in arrays])


def run(opt, params, grads):
    for gs in grads:
        opt.step(params, gs)


@pytest.mark.parametrize("shapes", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("name", NAMES)
def test_matches_reference_every_step(name, shapes):
    params, grads = random_problem(shapes, 25)
    expected = reference_run(name, [HP] * 25, params, grads)
    opt = make_optimizer(name, **HP)
    for k, gs in enumerate(grads):
        opt.step(params, gs)
        np.testing.assert_allclose(flat(params), expected[k], rtol=1e-12, atol=0)
    assert opt.t == 25
    assert [p.shape for p in params] == shapes


@pytest.mark.parametrize("name", NAMES)
def test_defaults_are_torchs(name):
    opt = make_optimizer(name)
    assert opt.hyperparameters == TORCH_DEFAULTS[name]
    params, grads = random_problem([(7,)], 20, seed=1)
    expected = reference_run(name, [{**HP, **TORCH_DEFAULTS[name]}] * 20, params, grads)
    run(opt, params, grads)
    np.testing.assert_allclose(flat(params), expected[-1], rtol=1e-12, atol=0)


def test_registry_matches_config_vocabulary():
    assert tuple(REGISTRY) == config.OPTIMIZERS


@pytest.mark.parametrize("name", NAMES)
def test_unused_hyperparameters_are_ignored(name):
    opt = make_optimizer(name, **HP)
    assert opt.hyperparameters == {k: HP[k] for k in TORCH_DEFAULTS[name]}
    with pytest.raises(TypeError, match="learning_rate"):
        opt.set_hyperparameters(learning_rate=0.1)


def test_unknown_name_raises_listing_valid_ones():
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'") as err:
        make_optimizer("adagrad")
    assert all(n in str(err.value) for n in NAMES)


@pytest.mark.parametrize("name", ["momentum", "nesterov"])
def test_momentum_first_step_uses_b_equal_g(name):
    rng = np.random.default_rng(2)
    p0, g = rng.normal(size=9), rng.normal(size=9)
    p = p0.copy()
    opt = make_optimizer(name, lr=0.1, momentum=0.7)
    opt.step([p], [g])
    (b,) = opt.state_arrays()
    np.testing.assert_array_equal(b, g)
    d = g + 0.7 * g if name == "nesterov" else g
    np.testing.assert_array_equal(p, p0 - 0.1 * d)


@pytest.mark.parametrize("name", NAMES)
def test_changing_hyperparameters_mid_run_keeps_state(name):
    params, grads = random_problem(SHAPES["several"], 24, seed=3)
    later = {"lr": 0.01, "momentum": 0.5, "alpha": 0.8, "beta1": 0.7, "beta2": 0.9, "eps": 1e-4}
    expected = reference_run(name, [HP] * 12 + [later] * 12, params, grads)
    opt = make_optimizer(name, **HP)
    run(opt, params, grads[:12])
    live = opt.state_arrays()
    before = [a.copy() for a in live]
    opt.set_hyperparameters(**later)
    assert opt.t == 12 and all(a is b for a, b in zip(live, opt.state_arrays(), strict=True))
    for a, b in zip(before, live, strict=True):
        np.testing.assert_array_equal(a, b)
    run(opt, params, grads[12:])
    np.testing.assert_allclose(flat(params), expected[-1], rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_is_bit_exact(name):
    params, grads = random_problem(SHAPES["several"], 25, seed=4)
    resumed = [p.copy() for p in params]
    whole = make_optimizer(name, **HP)
    run(whole, params, grads)

    first = make_optimizer(name, **HP)
    run(first, resumed, grads[:11])
    saved = json.loads(json.dumps(first.state_dict()))
    second = make_optimizer(name)  # default hyperparameters, replaced by the loaded ones
    second.load_state_dict(saved)
    assert second.t == 11 and second.hyperparameters == first.hyperparameters
    run(second, resumed, grads[11:])
    for a, b in zip(params, resumed, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(whole.state_arrays(), second.state_arrays(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_load_state_dict_rejects_another_optimizers_state():
    opt = make_optimizer("adam")
    opt.step([np.ones(3)], [np.ones(3)])
    with pytest.raises(ValueError, match="adam"):
        make_optimizer("rmsprop").load_state_dict(opt.state_dict())


@pytest.mark.parametrize("name", NAMES)
def test_step_at_t0_starts_fresh(name):
    """The trainer's step-back may set t = 0 without restoring state arrays."""
    params, grads = random_problem([(6,)], 6, seed=5)
    used = make_optimizer(name, **HP)
    run(used, [params[0].copy()], grads[:5])
    used.t = 0
    fresh = make_optimizer(name, **HP)
    a, b = params[0].copy(), params[0].copy()
    used.step([a], grads[5])
    fresh.step([b], grads[5])
    np.testing.assert_array_equal(a, b)


TERMS = {
    "sgd": set(),
    "momentum": {"velocity"},
    "nesterov": {"velocity", "lookahead"},
    "rmsprop": {"v"},
    "adam": {"m", "v", "m_hat", "v_hat"},
}


@pytest.mark.parametrize("name", NAMES)
def test_update_terms_match_the_applied_step(name):
    params, grads = random_problem(SHAPES["several"], 8, seed=6)
    opt = make_optimizer(name, **HP)
    run(opt, params, grads[:7])
    before = [p.copy() for p in params]
    opt.step(params, grads[7])
    opt.set_hyperparameters(lr=123.0)  # terms describe the step taken, not the next one
    i, k = len(params) - 1, len(opt.state_names)  # state_arrays() is parameter by parameter
    state = dict(zip(opt.state_names, opt.state_arrays()[i * k :], strict=True))
    for j in range(params[i].size):
        w0, g = float(before[i].flat[j]), float(grads[7][i].flat[j])
        terms = opt.update_terms(i, j, g, w0)
        assert TERMS[name] <= set(terms) and terms["lr"] == HP["lr"] and terms["t"] == 8
        assert terms["weight_after"] == params[i].flat[j]
        np.testing.assert_allclose(terms["step"], params[i].flat[j] - w0, rtol=1e-12)
        for key, arr in state.items():
            assert terms[key] == arr.flat[j]
        # the printed update: w − (the amount), its leaves the terms' own numbers
        expr = terms["expr"]
        assert expr["value"] == terms["weight_after"] and expr["args"][0]["value"] == w0
        assert evaluate(expr) == pytest.approx(terms["weight_after"], rel=1e-12, abs=1e-15)
        amount = expr["args"][1]
        assert amount["op"] == "mul" and amount["args"][0]["value"] == HP["lr"]
        assert evaluate(amount) == pytest.approx(-terms["step"], rel=1e-12)
    if name == "adam":
        assert terms["m_hat"] == pytest.approx(terms["m"] / (1 - HP["beta1"] ** 8), rel=1e-15)


def test_update_terms_of_sgd_read_like_the_page():
    opt = make_optimizer("sgd", lr=0.03)
    p = np.array([0.1234])
    opt.step([p], [np.array([0.5678])])
    terms = opt.update_terms(0, 0, 0.5678, 0.1234)
    assert terms["rule"] == "w ← w − α·g"
    assert terms["expr"] == {
        "op": "sub",
        "args": [
            {"op": "num", "label": "w", "value": 0.1234},
            {
                "op": "mul",
                "args": [
                    {"op": "num", "label": "α", "value": 0.03},
                    {"op": "num", "label": "g", "value": 0.5678},
                ],
                "value": 0.03 * 0.5678,
            },
        ],
        "value": p[0],
    }
    assert terms["step"] == -0.03 * 0.5678 and terms["weight_after"] == p[0]


@pytest.mark.parametrize("name", NAMES)
def test_step_reuses_buffers_and_allocates_nothing(name):
    rng = np.random.default_rng(7)
    p, g = rng.normal(size=20_000), rng.normal(size=20_000)
    opt = make_optimizer(name)
    opt.step([p], [g])
    live = opt.state_arrays()
    tracemalloc.start()
    for _ in range(5):
        opt.step([p], [g])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < p.nbytes // 4  # a temporary array would cost p.nbytes
    assert all(a is b for a, b in zip(live, opt.state_arrays(), strict=True))
