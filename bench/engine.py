"""Engine speed: median µs per step against PyTorch on the CPU (1 thread), side by side.

    python bench/engine.py            # needs torch for the ratios: pip install torch==2.13.0

Networks: (a) 2→[4,2]→1 tanh, (b) 2→[8×6]→1 relu, (c) 7→[8×6]→1 tanh, each batch 10, and
(d) network (b) with a full batch of 250. Goals: a recorded step ≤ 0.15× PyTorch's on (b)
and (c), the fast path ≤ 0.12×, and the 100×100 all-neuron grid ≤ 0.5× PyTorch's forward.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

# one BLAS thread, as in the server (server/single_threaded_blas.py) and as torch is set
# below: with the default, the grid figures swung from 3.5 ms to 60 ms between runs
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config import FEATURES  # noqa: E402
from engine.trainer import Trainer  # noqa: E402

CASES = {
    "a": dict(features=["x1", "x2"], hidden=[4, 2], activation="tanh", batch_size=10),
    "b": dict(features=["x1", "x2"], hidden=[8] * 6, activation="relu", batch_size=10),
    "c": dict(features=list(FEATURES), hidden=[8] * 6, activation="tanh", batch_size=10),
    "d": dict(features=["x1", "x2"], hidden=[8] * 6, activation="relu", batch_size=250),
}
BASE = dict(
    dataset="circle",
    n_points=500,
    train_fraction=0.5,
    seed=1,
    learning_rate=0.03,
    output_activation="tanh",
    loss="mse",
)


def median_us(fn, inner: int, repeats: int = 15) -> float:
    fn()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner * 1e6)
    return statistics.median(samples)


def engine_figures(cfg: dict) -> dict:
    t = Trainer({**BASE, **cfg})
    rec = median_us(t.step, 200)
    evaluation = median_us(t.evaluate, 200)  # part of every record: loss after the update
    t.reset()
    fast = median_us(lambda: t.run(100), 10) / 100
    grid = median_us(lambda: t.grid(100), 20)
    return {"record": rec, "eval": evaluation, "fast": fast, "grid": grid}


def torch_figures(cfg: dict) -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    t = Trainer({**BASE, **cfg})
    sizes = t.config.layer_sizes
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[cfg["activation"]]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        layers.append(act() if i < len(sizes) - 2 else torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.03)
    X = torch.tensor(t.F_train[: cfg["batch_size"]], dtype=torch.float32)
    y = torch.tensor(t.T_train[: cfg["batch_size"]], dtype=torch.float32)

    def step():
        opt.zero_grad()
        loss = 0.5 * ((model(X) - y) ** 2).mean()
        loss.backward()
        opt.step()

    G = torch.tensor(t.grid(100).inputs.reshape(-1, sizes[0]))

    def forward_all():
        with torch.no_grad():
            a, outs = G, []
            for m in model:
                a = m(a)
                if not isinstance(m, torch.nn.Linear):
                    outs.append(a)
        return outs

    return {"step": median_us(step, 200), "grid": median_us(forward_all, 20)}


COLUMNS = [
    ("net", 4),
    ("record µs", 10),
    ("of which eval", 14),
    ("fast µs", 9),
    ("torch µs", 9),
    ("rec/torch", 10),
    ("(rec-eval)/torch", 17),
    ("fast/torch", 11),
    ("grid µs", 9),
    ("torch grid", 11),
    ("grid ratio", 11),
]


def row(cells: list[str]) -> str:
    return " ".join(
        c.rjust(w) if i else c.ljust(w)
        for i, (c, (_, w)) in enumerate(zip(cells, COLUMNS, strict=True))
    )


def main() -> None:
    print("record: step() with its full record, which includes evaluating the train and test")
    print("loss after the update over all points ('of which eval'); fast: run(), no records.")
    print(
        f"BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']}; torch columns need torch "
        "(pip install torch==2.13.0), '-' without it."
    )
    print(row([name for name, _ in COLUMNS]))
    for name, cfg in CASES.items():
        e = engine_figures(cfg)
        p = torch_figures(cfg)
        ours = [f"({name})", f"{e['record']:.1f}", f"{e['eval']:.1f}", f"{e['fast']:.1f}"]
        if p is None:
            print(row([*ours, "-", "-", "-", "-", f"{e['grid']:.0f}", "-", "-"]))
            continue
        print(
            row(
                [
                    *ours,
                    f"{p['step']:.1f}",
                    f"{e['record'] / p['step']:.3f}",
                    f"{(e['record'] - e['eval']) / p['step']:.3f}",
                    f"{e['fast'] / p['step']:.3f}",
                    f"{e['grid']:.0f}",
                    f"{p['grid']:.0f}",
                    f"{e['grid'] / p['grid']:.3f}",
                ]
            )
        )


if __name__ == "__main__":
    main()
