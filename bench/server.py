"""Server speed on loopback, against a real `python -m server` in its own process.

    python bench/server.py              # all three; --quick for a shorter run

1. Step latency, 7→[8×6]→1 tanh: `{"type":"step"}` sent → `step` reply read.
   Goals p50 ≤ 0.6 ms, p99 ≤ 2 ms.
2. Play mode, one client, speed 1: server CPU per frame (psutil, the server process's user +
   system time over the frames received) and bytes per frame (metrics text + heatmap frame).
   Goals ≤ 2 ms and ≤ 40 KB for 7→[8×6]→1, ≤ 16 KB for the default 2→[4,2]→1. Also the
   in-process cost of producing one frame (run(1), metrics, 100×100 grid, encoding).
3. Capacity: 30 sessions playing at once, default network, each ≥ 20 frames/s with a p99
   gap between frames ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import psutil
from live_server import DEEP, DEFAULT, pct, start_server
from websockets.asyncio.client import connect as aconnect
from websockets.sync.client import connect


def recv_type(ws, type_: str):
    while True:
        m = ws.recv(timeout=10)
        if isinstance(m, str) and json.loads(m)["type"] == type_:
            return m


def bench_step_latency(ws_url: str, n: int) -> dict:
    with connect(ws_url, max_size=None, compression=None) as ws:
        recv_type(ws, "state")
        ws.send(json.dumps({"type": "configure", "config": DEEP}))
        recv_type(ws, "state")
        base = []  # a refused message: the protocol path without the engine or a thread hop
        for i in range(n // 2 + 100):
            t0 = time.perf_counter()
            ws.send('{"type":"nothing"}')
            recv_type(ws, "error")
            if i >= 100:
                base.append((time.perf_counter() - t0) * 1e3)
        lat = []
        for i in range(n + 200):
            t0 = time.perf_counter()
            ws.send('{"type":"step"}')
            recv_type(ws, "step")
            if i >= 200:
                lat.append((time.perf_counter() - t0) * 1e3)
    return {
        "p50": statistics.median(lat),
        "p99": pct(lat, 99),
        "n": n,
        "base_p50": statistics.median(base),
        "base_p99": pct(base, 99),
    }


def bench_play(ws_url: str, server: psutil.Process, config: dict, seconds: float) -> dict:
    with connect(ws_url, max_size=None, compression=None) as ws:
        recv_type(ws, "state")
        ws.send(json.dumps({"type": "configure", "config": config}))
        recv_type(ws, "state")
        ws.send('{"type":"play","speed":1}')
        recv_type(ws, "metrics")
        frames = text_bytes = bin_bytes = 0
        cpu0 = server.cpu_times()
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            m = ws.recv(timeout=10)
            if isinstance(m, str):
                if json.loads(m)["type"] == "metrics":
                    frames += 1
                    text_bytes += len(m.encode())
            else:
                bin_bytes += len(m)
        cpu1 = server.cpu_times()
        elapsed = time.perf_counter() - t0
        ws.send('{"type":"pause"}')
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {
        "fps": frames / elapsed,
        "cpu_ms": cpu / frames * 1e3,
        "bytes": (text_bytes + bin_bytes) / frames,
        "bin": bin_bytes / frames,
    }


def in_process_frame_ms(config: dict, n: int = 300) -> float:
    """Median ms to make one play frame: run(1), metrics, weights, encoding (no socket)."""
    from engine.trainer import Trainer
    from server.sessions import Session
    from server.settings import Settings

    s = Session("bench", Trainer(config), Settings(), None)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        s._play_frame(s.trainer, 1)
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples[20:])


async def _one_player(ws_url: str, seconds: float, start: asyncio.Event) -> list[float]:
    async with aconnect(ws_url, max_size=None, compression=None) as ws:
        while json.loads(await ws.recv())["type"] != "state":
            pass
        await start.wait()
        await ws.send('{"type":"play","speed":1}')
        stamps, t_end = [], None
        loop = asyncio.get_running_loop()
        while True:
            m = await ws.recv()
            now = loop.time()
            if isinstance(m, str) and m.startswith('{"type":"metrics"'):
                t_end = t_end or now + seconds
                stamps.append(now)
            if t_end and now >= t_end:
                break
        await ws.send('{"type":"pause"}')
    return stamps


async def _capacity(ws_url: str, n: int, seconds: float) -> list[list[float]]:
    start = asyncio.Event()
    tasks = [asyncio.create_task(_one_player(ws_url, seconds, start)) for _ in range(n)]
    await asyncio.sleep(1.0)
    start.set()
    return await asyncio.gather(*tasks)


def bench_capacity(ws_url: str, n: int, seconds: float) -> dict:
    runs = asyncio.run(_capacity(ws_url, n, seconds))
    warm = [s[10:] for s in runs]  # the first frames arrive while the others are starting
    fps = [(len(s) - 1) / (s[-1] - s[0]) for s in warm]
    gaps = [(b - a) * 1e3 for s in warm for a, b in zip(s, s[1:], strict=False)]
    per_client_p99 = [
        pct([(b - a) * 1e3 for a, b in zip(s, s[1:], strict=False)], 99) for s in warm
    ]
    return {
        "min_fps": min(fps),
        "median_fps": statistics.median(fps),
        "p99_gap": pct(gaps, 99),
        "worst_client_p99_gap": max(per_client_p99),
        "n": n,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sessions", type=int, default=30)
    args = ap.parse_args()
    n_steps, play_s, cap_s = (500, 3, 5) if args.quick else (3000, 8, 15)

    proc, ws_url = start_server()
    server = psutil.Process(proc.pid)
    try:
        lat = bench_step_latency(ws_url, n_steps)
        print(
            f"step latency 7→[8×6]→1  p50 {lat['p50']:.3f} ms ({lat['p50'] / 0.6:.2f}× goal)"
            f"  p99 {lat['p99']:.3f} ms ({lat['p99'] / 2:.2f}× goal)  n={lat['n']};  a refused "
            f"message's round trip (no engine): p50 {lat['base_p50']:.3f} p99 "
            f"{lat['base_p99']:.3f} ms"
        )
        for name, cfg, budget in (("7→[8×6]→1", DEEP, 40_000), ("2→[4,2]→1", DEFAULT, 16_000)):
            p = bench_play(ws_url, server, cfg, play_s)
            made = in_process_frame_ms(cfg)
            print(
                f"play {name:10} {p['fps']:5.1f} frames/s  server CPU {p['cpu_ms']:.3f} ms/frame"
                f" ({p['cpu_ms'] / 2:.2f}× goal; making it in-process {made:.3f} ms)  "
                f"{p['bytes']:,.0f} B/frame ({p['bytes'] / budget:.2f}× goal; binary "
                f"{p['bin']:,.0f})"
            )
        cap = bench_capacity(ws_url, args.sessions, cap_s)
        print(
            f"capacity {cap['n']} sessions playing 2→[4,2]→1: min {cap['min_fps']:.1f} "
            f"frames/s ({cap['min_fps'] / 20:.2f}× goal), median {cap['median_fps']:.1f}; "
            f"p99 gap {cap['p99_gap']:.0f} ms over all ({cap['p99_gap'] / 200:.2f}× goal), "
            f"worst client's p99 {cap['worst_client_p99_gap']:.0f} ms"
        )
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
