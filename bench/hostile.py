"""A student's script against a real `python -m server`, attack by attack: does the class go on?

    python bench/hostile.py              # every attack; --only lockout,export … to pick
    pip install -e '.[bench]'            # psutil, for the server's RSS

The server runs with its default settings (rate limits and caps included). The script comes
from 127.0.0.2, an honest student from 127.0.0.3 and the teacher from 127.0.0.1 (the server's
own machine, which the per-address caps leave alone), all on loopback. For each attack the
table reports, measured while it runs: the honest student's frames per second playing the
default network, its pause round trip, the time it takes to connect (socket to first
`state`), whether the teacher can open a room, and the server's RSS.

Goals (issue 13, 2 cores): under every attack the student keeps ≥ 20 frames/s and connects
within 1 s, the teacher can open a room, and RSS stays ≤ 1.5 GiB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import time

import psutil
from live_server import ROOT, start_server
from websockets.asyncio.client import connect

from engine.config import FEATURES

ATTACKER, STUDENT, TEACHER = "127.0.0.2", "127.0.0.3", "127.0.0.1"
LARGEST = {
    "features": list(FEATURES),
    "hidden": [32] * 8,
    "optimizer": "adam",
    "n_points": 2000,
    "batch_norm": True,
}


async def recv_type(ws, type_: str, timeout: float = 30.0) -> dict:
    async with asyncio.timeout(timeout):
        while True:
            m = await ws.recv()
            if isinstance(m, str):
                d = json.loads(m)
                if d["type"] == type_:
                    return d


async def open_tab(url: str, address: str, **kw):
    return await connect(
        url, local_addr=(address, 0), max_size=None, compression=None, open_timeout=60, **kw
    )


async def student(url: str, seconds: float) -> dict:
    """Connect, play the default network, count frames, then time a pause."""
    t0 = time.perf_counter()
    try:
        ws = await open_tab(url, STUDENT)
        await recv_type(ws, "state")
    except Exception as e:  # refused or timed out: the attack locked the student out
        return {"connect_s": None, "fps": 0.0, "pause_ms": None, "error": str(e)[:60]}
    connect_s = time.perf_counter() - t0
    await ws.send('{"type": "play", "speed": 1}')
    await recv_type(ws, "metrics")
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        try:
            await recv_type(ws, "metrics", timeout=max(0.1, seconds))
            n += 1
        except TimeoutError:
            break
    fps = n / (time.perf_counter() - start)
    t1 = time.perf_counter()
    await ws.send('{"type": "pause"}')
    while True:
        m = await recv_type(ws, "state")
        if not m.get("playing"):
            break
    pause_ms = (time.perf_counter() - t1) * 1e3
    await ws.send('{"type": "leave"}')
    await ws.close()
    return {"connect_s": connect_s, "fps": fps, "pause_ms": pause_ms}


async def teacher_opens_room(url: str) -> bool:
    try:
        ws = await open_tab(url, TEACHER)
        await recv_type(ws, "state")
        await ws.send('{"type": "open_room"}')
        room = await recv_type(ws, "room")
        await ws.send('{"type": "leave"}')
        await ws.close()
        return bool(room.get("code"))
    except Exception:
        return False


async def teachers_room(url: str, config: dict | None = None):
    """(the teacher's websocket, the join code) of a room the teacher opens."""
    teacher = await open_tab(url, TEACHER)
    await recv_type(teacher, "state")
    if config:
        await teacher.send(json.dumps({"type": "configure", "config": config}))
    await teacher.send('{"type": "open_room"}')
    return teacher, (await recv_type(teacher, "room"))["code"]


# the attacks: each runs until `stop` is set


async def lockout(url: str, stop: asyncio.Event) -> str:
    """Sessions opened and abandoned as fast as possible, then forks of a room."""
    opened = 0
    while not stop.is_set():
        try:
            ws = await open_tab(url, ATTACKER)
            await ws.close()
            opened += 1
        except Exception:
            await asyncio.sleep(0.01)
    return f"{opened} sessions opened and abandoned"


async def forks(url: str, stop: asyncio.Event) -> str:
    teacher, code = await teachers_room(url)
    follower = await open_tab(f"{url}?room={code}", ATTACKER)
    made = 0
    while not stop.is_set():
        await follower.send('{"type": "fork"}')
        try:
            async with asyncio.timeout(5):
                while True:
                    d = json.loads(m) if isinstance(m := await follower.recv(), str) else {}
                    if d.get("type") in ("forked", "error"):
                        made += d["type"] == "forked"
                        break
        except TimeoutError:
            pass
    await follower.close()
    await teacher.close()
    return f"{made} forks made"


async def followers(url: str, stop: asyncio.Event) -> str:
    teacher, code = await teachers_room(url)
    held, refused = [], 0
    for _ in range(400):
        try:
            ws = await open_tab(f"{url}?room={code}", ATTACKER)
            await recv_type(ws, "hello", timeout=5)
            held.append(ws)
        except Exception:
            refused += 1
    await stop.wait()
    for ws in held:
        await ws.close()
    await teacher.close()
    return f"{len(held)} follower sockets held, {refused} refused"


async def memory(url: str, stop: asyncio.Event) -> str:
    """The largest network with Adam in compare mode, trained past the undo depth."""
    tabs = []
    for _ in range(24):
        try:
            ws = await open_tab(url, ATTACKER)
            await recv_type(ws, "state")
            await ws.send(json.dumps({"type": "configure", "config": LARGEST}))
            await ws.send('{"type": "compare", "config": {"optimizer": "sgd"}}')
            await ws.send('{"type": "play", "speed": 200}')
            tabs.append(ws)
        except Exception:
            break
    await stop.wait()
    for ws in tabs:
        await ws.close()
    return f"{len(tabs)} compare sessions at the largest network, playing at speed 200"


async def exports(url: str, stop: asyncio.Event) -> str:
    teacher, code = await teachers_room(url, LARGEST)
    flock = [await open_tab(f"{url}?room={code}", ATTACKER) for _ in range(8)]
    sent = 0

    async def hammer(ws):
        nonlocal sent
        while not stop.is_set():
            await ws.send('{"type": "export"}')
            sent += 1
            try:
                async with asyncio.timeout(2):
                    while True:
                        m = await ws.recv()
                        if isinstance(m, str) and json.loads(m)["type"] in ("snapshot", "error"):
                            break
            except TimeoutError:
                pass

    await asyncio.gather(*(hammer(ws) for ws in flock))
    for ws in flock:
        await ws.close()
    await teacher.close()
    return f"{sent} exports asked by 8 followers"


async def heavy_steps(url: str, stop: asyncio.Event) -> str:
    async def one():
        ws = await open_tab(url, ATTACKER)
        await recv_type(ws, "state")
        await ws.send(
            json.dumps(
                {
                    "type": "configure",
                    "config": {"n_points": 2000, "train_fraction": 0.9, "batch_size": 1},
                }
            )
        )
        done = 0
        while not stop.is_set():
            await ws.send('{"type": "step", "unit": "epoch", "count": 10}')
            try:
                await recv_type(ws, "step", timeout=60)
                done += 1
            except TimeoutError:
                pass
        await ws.close()
        return done

    done = await asyncio.gather(*(one() for _ in range(3)))
    return f"{sum(done)} ten-epoch steps at batch size 1 from 3 tabs"


async def big_frames(url: str, stop: asyncio.Event) -> str:
    ws = await open_tab(url, ATTACKER)
    await recv_type(ws, "state")
    # Since protocol 3 a frame carries weights, not maps a client sizes (a `view` with a grid
    # is an unknown field): the biggest frames are the largest network's, compared with a run
    # B as large, A's and B's weights and A's gradients in float32 (~97 KB, 30 a second).
    await ws.send(
        json.dumps(
            {
                "type": "configure",
                "config": {"features": list(FEATURES), "hidden": [32] * 8, "batch_norm": True},
            }
        )
    )
    await ws.send('{"type": "compare", "config": {"optimizer": "adam"}}')
    await ws.send('{"type": "play", "speed": 200}')
    got, start = 0, time.perf_counter()
    while not stop.is_set():
        try:
            async with asyncio.timeout(1):
                m = await ws.recv()
                got += len(m)
        except TimeoutError:
            pass
    rate = got / (time.perf_counter() - start)
    await ws.close()
    return f"the script received {rate * 8 / 1e6:.1f} Mbit/s (weights of two 7→[32×8]→1 runs)"


async def idle_sockets(url: str, stop: asyncio.Event) -> str:
    host, port = url.split("//")[1].split("/")[0].split(":")
    held = []
    for k in range(1100):
        try:
            s = socket.create_connection((host, int(port)), source_address=(ATTACKER, 0))
            if k % 2:
                s.sendall(b"GET / HTTP/1.1\r\n")  # and never the rest
            held.append(s)
        except OSError:
            break
    await stop.wait()
    for s in held:
        s.close()
    return f"{len(held)} idle or half-sent HTTP sockets"


async def guess_codes(url: str, stop: asyncio.Event) -> str:
    tried, slowed = 0, 0
    while not stop.is_set():
        try:
            ws = await open_tab(f"{url}?room=ABC{tried % 1000:03d}", ATTACKER)
            try:
                await ws.recv()
            except Exception:
                pass
            if ws.close_code == 4005:
                slowed += 1
            await ws.close()
        except Exception:
            pass
        tried += 1
    return f"{tried} room codes tried, {slowed} answered 'slow down'"


ATTACKS = {
    "none": None,
    "lockout": lockout,
    "forks": forks,
    "followers": followers,
    "memory": memory,
    "export": exports,
    "heavy": heavy_steps,
    "bandwidth": big_frames,
    "sockets": idle_sockets,
    "codes": guess_codes,
}


async def run_attack(url: str, name: str, server: psutil.Process, seconds: float) -> dict:
    stop = asyncio.Event()
    attack = ATTACKS[name]
    task = asyncio.create_task(attack(url, stop)) if attack else None
    await asyncio.sleep(3.0 if name in ("memory", "followers", "sockets") else 1.5)
    rss = [server.memory_info().rss]
    result = await student(url, seconds)
    room = await teacher_opens_room(url)
    rss.append(server.memory_info().rss)
    stop.set()
    note = ""
    if task is not None:
        try:
            async with asyncio.timeout(90):
                note = await task
        except Exception as e:
            note = f"(the attack ended with {type(e).__name__})"
    await asyncio.sleep(3.0)  # the script has gone: does the memory come back?
    after = server.memory_info().rss
    return {
        **result,
        "room": room,
        "rss_mb": max(rss) / 2**20,
        "after_mb": after / 2**20,
        "note": note,
    }


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join(ATTACKS), help="comma-separated attacks")
    p.add_argument("--seconds", type=float, default=4.0, help="the student's measured play")
    args = p.parse_args()
    names = [n for n in args.only.split(",") if n in ATTACKS]
    print(
        f"cores {psutil.cpu_count()}; the student plays the default network for "
        f"{args.seconds:g} s under each attack; a fresh server for each"
    )
    print(
        f"{'attack':10} {'frames/s':>9} {'pause ms':>9} {'connect s':>10} {'room':>5} "
        f"{'RSS MB':>7} {'after':>6}  what the script did"
    )
    for name in names:
        proc, url = start_server(
            BACKPROP_LAB_RATE_BURST="50", BACKPROP_LAB_RATE_PER_S="20", OPENBLAS_NUM_THREADS="1"
        )
        try:
            server = psutil.Process(proc.pid)
            r = await run_attack(url, name, server, args.seconds)
        finally:
            proc.terminate()
            proc.wait(10)
        c = "—" if r["connect_s"] is None else f"{r['connect_s']:.2f}"
        pm = "—" if r["pause_ms"] is None else f"{r['pause_ms']:.0f}"
        print(
            f"{name:10} {r['fps']:9.1f} {pm:>9} {c:>10} {'yes' if r['room'] else 'NO':>5} "
            f"{r['rss_mb']:7.0f} {r['after_mb']:6.0f}  {r['note']}{r.get('error', '')}",
            flush=True,
        )


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main())
