"""Data generators against independent restatements of TF Playground's rules, and features."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.config import (
    BINARY_DATASETS,
    DATASETS,
    FEATURES,
    IMPORTED_DATASETS,
    MULTICLASS_DATASETS,
    REGRESSION_DATASETS,
    task_of,
)
from engine.datasets import DOMAIN, GENERATORS, generate, split
from engine.features import FEATURE_FUNCS, compute_features, feature_label

EMPTY = ("custom", *IMPORTED_DATASETS)  # their points come from clicks or a file
GENERATED = tuple(d for d in DATASETS if d not in EMPTY)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_registry_covers_config():
    assert set(GENERATORS) == set(DATASETS)


@pytest.mark.parametrize("n", [1, 7, 500])
@pytest.mark.parametrize("name", DATASETS)
def test_shapes_and_dtypes(name, n):
    X, y = generate(name, n, 0.2, rng(), n_classes=4)
    expected_n = 0 if name in EMPTY else n
    assert X.shape == (expected_n, 2) and X.dtype == np.float64
    assert y.shape == (expected_n,)
    assert y.dtype == (np.float64 if task_of(name) == "regression" else np.int64)


@pytest.mark.parametrize("noise", [0.0, 0.5])
@pytest.mark.parametrize("name", [d for d in BINARY_DATASETS if d not in EMPTY])
def test_binary_labels_are_zero_and_one(name, noise):
    _, y = generate(name, 500, noise, rng())
    assert set(np.unique(y)) == {0, 1}


@pytest.mark.parametrize("noise", [0.0, 0.5])
@pytest.mark.parametrize("name", [d for d in REGRESSION_DATASETS if d not in EMPTY])
def test_regression_targets_span_minus_one_to_one(name, noise):
    _, y = generate(name, 1000, noise, rng())
    assert y.min() >= -1.0 and y.max() <= 1.0
    assert y.min() < -0.5 and y.max() > 0.5


@pytest.mark.parametrize("k", [3, 4, 5])
@pytest.mark.parametrize("name", [d for d in MULTICLASS_DATASETS if d not in EMPTY])
def test_multiclass_labels_and_balance(name, k):
    for n in (7, 500):
        _, y = generate(name, n, 0.1, rng(), n_classes=k)
        counts = np.bincount(y, minlength=k)
        assert len(counts) == k and counts.sum() == n
        assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("name", DATASETS)
def test_same_seed_is_bit_identical(name):
    X1, y1 = generate(name, 200, 0.3, rng(42))
    X2, y2 = generate(name, 200, 0.3, rng(42))
    assert X1.tobytes() == X2.tobytes() and y1.tobytes() == y2.tobytes()


@pytest.mark.parametrize("name", GENERATED)
def test_different_seed_differs(name):
    X1, _ = generate(name, 200, 0.3, rng(1))
    X2, _ = generate(name, 200, 0.3, rng(2))
    assert not np.array_equal(X1, X2)


@pytest.mark.parametrize("name", GENERATED)
def test_noise_free_points_inside_domain(name):
    # gaussian and blobs are unbounded normals, as in TF; at noise 0 (σ ≈ 0.71) these seeds stay in.
    for seed in range(3):
        X, _ = generate(name, 500, 0.0, rng(seed), n_classes=5)
        assert np.all((X >= DOMAIN[0]) & (X <= DOMAIN[1]))


@pytest.mark.parametrize("name", [d for d in GENERATED if d not in ("gaussian", "blobs")])
def test_bounded_sets_stay_inside_domain_at_full_noise(name):
    X, _ = generate(name, 2000, 0.5, rng(), n_classes=5)
    assert np.all((X >= DOMAIN[0]) & (X <= DOMAIN[1]))


def test_gaussian_is_not_clipped_like_tf():
    X, _ = generate("gaussian", 2000, 0.5, rng())  # σ = 2 around (±2, ±2)
    assert np.any(np.abs(X) > DOMAIN[1])


def test_circle_rule():
    X, y = generate("circle", 1001, 0.0, rng())
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_array_equal(y, (r < 2.5).astype(np.int64))
    assert not np.any((r >= 2.5) & (r < 3.5))  # the empty band between the two rings
    assert r.max() <= 5.0 and y.sum() == 501  # the inner ring gets the odd point


def test_circle_noise_moves_labels_not_points():
    X, y = generate("circle", 1000, 0.5, rng())
    r = np.hypot(X[:, 0], X[:, 1])
    assert not np.any((r >= 2.5) & (r < 3.5))
    assert 0 < np.sum(y != (r < 2.5)) < 500


def test_xor_rule_with_padding():
    X, y = generate("xor", 1000, 0.0, rng())
    assert np.all((np.abs(X) >= 0.3) & (np.abs(X) <= 5.3))
    expected = [1 if a * b >= 0 else 0 for a, b in X]
    np.testing.assert_array_equal(y, expected)
    _, y_noisy = generate("xor", 1000, 0.5, rng())
    assert 0 < np.sum(y_noisy != expected) < 500  # same draws of X, labels from shifted points


@pytest.mark.parametrize(("noise", "std"), [(0.0, math.sqrt(0.5)), (0.5, 2.0)])
def test_gaussian_centres_and_tf_variance_scale(noise, std):
    X, y = generate("gaussian", 4000, noise, rng())
    for label, centre in ((1, (2.0, 2.0)), (0, (-2.0, -2.0))):
        pts = X[y == label]
        assert len(pts) == 2000
        np.testing.assert_allclose(pts.mean(axis=0), centre, atol=0.15)
        np.testing.assert_allclose(pts.std(axis=0), std, rtol=0.06)


def spiral_oracle(m: int, delta_t: float) -> np.ndarray:
    """TF's genSpiral written out point by point."""
    pts = []
    for i in range(m):
        r = i / m * 5
        t = 1.75 * i / m * 2 * math.pi + delta_t
        pts.append((r * math.sin(t), r * math.cos(t)))
    return np.array(pts)


def test_spiral_matches_tf_arms():
    X, y = generate("spiral", 400, 0.0, rng())
    expected = np.concatenate([spiral_oracle(200, 0.0), spiral_oracle(200, math.pi)])
    np.testing.assert_allclose(X, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(y, [1] * 200 + [0] * 200)
    X_noisy, _ = generate("spiral", 400, 0.3, rng())
    assert np.abs(X_noisy - expected).max() <= 0.3


@pytest.mark.parametrize("k", [3, 4, 5])
def test_multi_spiral_arms_turned_evenly(k):
    n = 10 * k + 1
    X, y = generate("multi_spiral", n, 0.0, rng(), n_classes=k)
    sizes = [11] + [10] * (k - 1)
    expected = np.concatenate([spiral_oracle(m, 2 * math.pi * a / k) for a, m in enumerate(sizes)])
    np.testing.assert_allclose(X, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(y, np.repeat(np.arange(k), sizes))


def test_plane_rule():
    X, y = generate("plane", 1000, 0.0, rng())
    np.testing.assert_allclose(y, np.clip((X[:, 0] + X[:, 1]) / 10, -1, 1), rtol=0, atol=1e-12)
    _, y_noisy = generate("plane", 1000, 0.5, rng())
    clean = np.clip((X[:, 0] + X[:, 1]) / 10, -1, 1)
    assert 0 < np.abs(y_noisy - clean).max() <= 0.6  # shift ≤ 3 per coordinate, / 10


def test_multi_gaussian_rule():
    X, y = generate("multi_gaussian", 500, 0.0, rng())
    bumps = [(-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1)]
    for (px, py), got in zip(X, y, strict=True):
        label = 0.0
        for cx, cy, sign in bumps:
            new = sign * min(1.0, max(0.0, 1 - math.dist((px, py), (cx, cy)) / 2))
            if abs(new) > abs(label):
                label = new
        assert got == pytest.approx(label, abs=1e-12)


def test_moons_lie_on_their_half_circles():
    X, y = generate("moons", 501, 0.0, rng())
    unit = X / 3.0 + [0.5, 0.25]
    up, down = unit[y == 1], unit[y == 0]
    assert len(up) == 251 and len(down) == 250
    np.testing.assert_allclose(np.hypot(*up.T), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.hypot(down[:, 0] - 1, down[:, 1] - 0.5), 1.0, atol=1e-12)
    assert up[:, 1].min() >= 0 and down[:, 1].max() <= 0.5


def test_checkerboard_parity():
    X, y = generate("checkerboard", 2000, 0.0, rng())
    col = ((X[:, 0] + 6) // 3).astype(int)
    row = ((X[:, 1] + 6) // 3).astype(int)
    np.testing.assert_array_equal(y, (col % 2 == row % 2).astype(np.int64))
    assert 0.4 < y.mean() < 0.6


@pytest.mark.parametrize("k", [3, 4, 5])
def test_blob_centres_on_a_circle(k):
    X, y = generate("blobs", 300 * k, 0.0, rng(), n_classes=k)
    means = np.array([X[y == c].mean(axis=0) for c in range(k)])
    angles = math.pi / 2 + 2 * math.pi * np.arange(k) / k
    expected = 3.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    np.testing.assert_allclose(means, expected, atol=0.15)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("nope", 10, 0.0), "unknown dataset"),
        (("circle", -1, 0.0), "n_points"),
        (("circle", 10, 0.6), "noise"),
        (("blobs", 10, 0.0, 6), "n_classes"),
        (("multi_spiral", 10, 0.0, 2), "n_classes"),
    ],
)
def test_generate_rejects_bad_arguments(args, match):
    name, n, noise, *k = args
    with pytest.raises(ValueError, match=match):
        generate(name, n, noise, rng(), *k)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("n", [1, 2, 7, 500])
def test_split_sizes_and_disjointness(n, fraction):
    X = np.column_stack([np.arange(n, dtype=float), -np.arange(n, dtype=float)])
    y = np.arange(n)
    X_tr, y_tr, X_te, y_te = split(X, y, fraction, rng())
    expected_train = max(1, round(n * fraction))
    if n >= 2:
        expected_train = min(expected_train, n - 1)
    assert len(X_tr) == len(y_tr) == expected_train
    assert len(X_te) == len(y_te) == n - expected_train
    if n >= 2:
        assert len(X_te) >= 1
    ids = np.concatenate([y_tr, y_te])
    np.testing.assert_array_equal(np.sort(ids), np.arange(n))  # disjoint and complete
    np.testing.assert_array_equal(X_tr[:, 0], y_tr)  # rows stay paired with labels
    np.testing.assert_array_equal(X_te[:, 0], y_te)


def test_split_shuffles_deterministically():
    X, y = generate("circle", 100, 0.0, rng())
    a = split(X, y, 0.5, rng(3))
    b = split(X, y, 0.5, rng(3))
    c = split(X, y, 0.5, rng(4))
    assert all(np.array_equal(p, q) for p, q in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    assert set(a[1][:50]) == {0, 1}  # the generator's class-ordered rows got mixed


def test_split_of_custom_is_empty():
    X, y = generate("custom", 500, 0.0, rng())
    parts = split(X, y, 0.5, rng())
    assert [p.shape[0] for p in parts] == [0, 0, 0, 0]


def feature_oracle(name: str, a: float, b: float) -> float:
    return {
        "x1": a,
        "x2": b,
        "x1_sq": a**2,
        "x2_sq": b**2,
        "x1x2": a * b,
        "sin_x1": math.sin(a),
        "sin_x2": math.sin(b),
    }[name]


def test_feature_registry_matches_config():
    assert tuple(FEATURE_FUNCS) == FEATURES


@pytest.mark.parametrize("names", [FEATURES, ("sin_x2", "x1"), ("x1x2",)])
def test_features_against_formulas(names):
    X = rng(7).uniform(-6, 6, (50, 2))
    got = compute_features(X, names)
    expected = [[feature_oracle(nm, a, b) for nm in names] for a, b in X]
    assert got.shape == (50, len(names)) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=1e-15)


def test_features_write_into_out():
    X = rng().uniform(-6, 6, (10, 2))
    out = np.full((10, 3), np.nan)
    result = compute_features(X, ("x1_sq", "x2", "sin_x1"), out=out)
    assert result is out
    np.testing.assert_allclose(out, compute_features(X, ("x1_sq", "x2", "sin_x1")), rtol=0)


@pytest.mark.parametrize(
    ("X", "names", "out"),
    [
        (np.zeros((3, 2)), ("x3",), None),
        (np.zeros((3, 3)), ("x1",), None),
        (np.zeros((3, 2)), "x1", None),
        (np.zeros((3, 2)), ("x1",), np.zeros((3, 2))),
    ],
)
def test_compute_features_rejects_bad_input(X, names, out):
    with pytest.raises(ValueError):
        compute_features(X, names, out=out)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("x1", "X₁"),
        ("x2", "X₂"),
        ("x1_sq", "X₁²"),
        ("x2_sq", "X₂²"),
        ("x1x2", "X₁X₂"),
        ("sin_x1", "sin(X₁)"),
        ("sin_x2", "sin(X₂)"),
    ],
)
def test_feature_labels(name, label):
    assert feature_label(name) == label
