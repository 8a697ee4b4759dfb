"""A student's script against a real `python -m server`, attack by attack: does the class go on?

    python bench/hostile.py                   # every attack of issue 24, baseline first and last
    python bench/hostile.py --only parse,slots --seconds 6
    pip install -e '.[bench]'                 # psutil, for the server's RSS

Each attack gets a fresh server with its default settings (rate limits, caps and the memory
budget included), its stderr kept and read afterwards. The script comes from 127.0.0.2 (the
class lock-out from eight addresses, 127.0.0.10–17). The honest student is a process of its
own (`--student`: its own event loop, not the attacker's) from 127.0.0.3; it plays the
default network and counts frames, times its pause, then times a heavy step (ten epochs, the
long-jobs pool), and then the teacher (127.0.0.1, the server's own machine) loads the page,
opens a session and a room. `churn` makes the student a presenter whose room the script
joins and leaves in a loop; `handover` runs two servers sharing a real redis-server and the
script bounces its eight heavy sessions between them while the student plays on the first.

Columns: frames/s (the student's, playing), pause ms (its round trip; the presenter's under
`churn`), heavy s (a ten-epoch step's answer), page s (the teacher's `GET /`, or its HTTP
status), session/room (the teacher got them), RSS MB (server, max), exc (exceptions and
"Task was destroyed" in the server's stderr).

Goals (issue 24, 2 cores): under every attack the student keeps ≥ 20 frames/s, a heavy step
answers within 15 s, the teacher loads the page and gets a session and a room, RSS stays
under the memory budget (1.5 GiB), and the server logs no exception.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import psutil
from live_server import ROOT
from websockets.asyncio.client import connect

from engine.config import FEATURES

ATTACKER, STUDENT, TEACHER = "127.0.0.2", "127.0.0.3", "127.0.0.1"
CLASS = [f"127.0.0.{10 + k}" for k in range(8)]  # eight student devices
LARGEST = {
    "features": list(FEATURES),
    "hidden": [32] * 8,
    "optimizer": "adam",
    "n_points": 2000,
    "batch_norm": True,
    "batch_size": 1000,
}
HEAVY_TIMEOUT_S = 40.0


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
        url, local_addr=(address, 0), max_size=None, compression=None, open_timeout=30, **kw
    )


# the honest student and the teacher: `python bench/hostile.py --student URL`


async def honest(url: str, seconds: float, present: bool) -> dict:
    """Play, pause, a heavy step; then the teacher's page, session and room."""
    out: dict = {"fps": 0.0, "pause_ms": None, "heavy_s": None, "connect_s": None}
    t0 = time.perf_counter()
    try:
        ws = await open_tab(url, STUDENT)
        await recv_type(ws, "state")
        out["connect_s"] = time.perf_counter() - t0
        if present:  # the script follows this room (churn): it says so on stdout
            await ws.send('{"type": "open_room"}')
            print(json.dumps({"room": (await recv_type(ws, "room"))["code"]}), flush=True)
            await asyncio.sleep(2.0)
        await ws.send('{"type": "play", "speed": 1}')
        await recv_type(ws, "metrics")
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            try:
                await recv_type(ws, "metrics", timeout=max(0.1, seconds))
                n += 1
            except TimeoutError:
                break
        out["fps"] = n / (time.perf_counter() - start)
        t1 = time.perf_counter()
        await ws.send('{"type": "pause"}')
        while (await recv_type(ws, "state")).get("playing"):
            pass
        out["pause_ms"] = (time.perf_counter() - t1) * 1e3
        t2 = time.perf_counter()
        await ws.send('{"type": "step", "unit": "epoch", "count": 10}')
        with contextlib.suppress(TimeoutError):
            await recv_type(ws, "step", timeout=HEAVY_TIMEOUT_S)
            out["heavy_s"] = time.perf_counter() - t2
        await ws.send('{"type": "leave"}')
        await ws.close()
    except Exception as e:  # refused or timed out: the attack locked the student out
        out["error"] = f"{type(e).__name__}: {str(e)[:50]}"
    out.update(await teacher(url))
    return out


async def teacher(url: str) -> dict:
    page = url.replace("ws://", "http://").removesuffix("/ws") + "/"
    t0 = time.perf_counter()
    try:
        status = await asyncio.to_thread(lambda: urllib.request.urlopen(page, timeout=10).status)
    except urllib.error.HTTPError as e:
        status = e.code
    except OSError as e:
        status = type(e).__name__
    got = {"page_s": time.perf_counter() - t0, "page": status, "session": False, "room": False}
    try:
        ws = await open_tab(url, TEACHER)
        await recv_type(ws, "state", timeout=15)
        got["session"] = True
        await ws.send('{"type": "open_room"}')
        got["room"] = bool((await recv_type(ws, "room", timeout=15)).get("code"))
        await ws.send('{"type": "leave"}')
        await ws.close()
    except Exception:
        pass
    return got


# the attacks: each runs until `stop` is set; `ctx` has the URLs and the student's room


async def parse_cost(ctx: dict, stop: asyncio.Event) -> str:
    """3 tabs sending 19 messages a second of 64 KiB that are refused anyway."""
    junk = '{"type":"configure","config":{"a":[' + ",".join(["[]"] * 21_000) + "]}}"
    tabs = [await open_tab(ctx["url"], ATTACKER) for _ in range(3)]
    sent = 0

    async def drain(ws):
        with contextlib.suppress(Exception):
            async for _ in ws:
                pass

    drains = [asyncio.create_task(drain(ws)) for ws in tabs]
    while not stop.is_set():
        for ws in tabs:
            with contextlib.suppress(Exception):
                await ws.send(junk)
                sent += 1
        await asyncio.sleep(1 / 19)
    for ws in tabs:
        await ws.close()
    for d in drains:
        d.cancel()
    return f"{sent} messages of 64 KiB from 3 tabs"


async def http_slots(ctx: dict, stop: asyncio.Event) -> str:
    """1,100 idle or half-sent HTTP sockets from one address, topped up as they close."""
    host, port = ctx["url"].split("//")[1].split("/")[0].split(":")
    held: list[socket.socket] = []
    opened = 0
    while not stop.is_set():
        alive = []
        for s in held:  # the server closes them at its header deadline: reopen
            try:
                s.setblocking(False)
                if s.recv(1) == b"":
                    s.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                continue
            alive.append(s)
        held = alive
        while len(held) < 1100:  # topped up as the server closes them
            try:
                s = socket.create_connection((host, int(port)), source_address=(ATTACKER, 0))
                if opened % 2:
                    s.sendall(b"GET / HTTP/1.1\r\n")  # and never the rest
                held.append(s)
                opened += 1
            except OSError:
                break
        await asyncio.sleep(0.5)
    n = len(held)
    for s in held:
        s.close()
    return f"{opened} idle or half-sent HTTP sockets opened, {n} held at the end"


async def heavy_jobs(ctx: dict, stop: asyncio.Event) -> str:
    """Two tabs asking for gradient checks of the largest network, hanging up and again."""
    answered = 0

    async def one():
        nonlocal answered
        while not stop.is_set():
            with contextlib.suppress(Exception):
                ws = await open_tab(ctx["url"], ATTACKER)
                await recv_type(ws, "state")
                await ws.send(json.dumps({"type": "configure", "config": LARGEST}))
                await recv_type(ws, "state", timeout=60)
                await ws.send('{"type": "gradcheck"}')
                with contextlib.suppress(TimeoutError):
                    await recv_type(ws, "gradcheck", timeout=5)
                    answered += 1
                await ws.close()  # hangs up: the check should stop with it

    await asyncio.gather(one(), one())
    return f"gradchecks of 7→[32×8]→1 from 2 tabs, {answered} answered within 5 s"


async def class_lockout(ctx: dict, stop: asyncio.Event) -> str:
    """Eight devices with eight tabs each, all attached."""
    tabs = []
    for address in CLASS:
        for _ in range(8):
            with contextlib.suppress(Exception):
                ws = await open_tab(ctx["url"], address)
                await recv_type(ws, "state", timeout=10)
                tabs.append(ws)
    await stop.wait()
    closed = sum(ws.close_code is not None for ws in tabs)
    for ws in tabs:
        await ws.close()
    return f"{len(tabs)} attached tabs from 8 addresses ({closed} closed by the server)"


async def follower_churn(ctx: dict, stop: asyncio.Event) -> str:
    """A follower of the student's room joining and leaving in a loop."""
    code = await ctx["room"]
    n = 0
    while not stop.is_set():
        with contextlib.suppress(Exception):
            ws = await open_tab(f"{ctx['url']}?room={code}", ATTACKER)
            await recv_type(ws, "state", timeout=10)
            await ws.send('{"type": "leave"}')
            await ws.close()
            n += 1
    return f"{n} joins and leaves of the student's room"


async def handover(ctx: dict, stop: asyncio.Event) -> str:
    """Eight sessions of the largest network bounced between the two workers."""
    a, b = ctx["url"], ctx["url_b"]
    ids = []
    for _ in range(8):
        ws = await open_tab(a, ATTACKER)
        hello = await recv_type(ws, "hello")
        await recv_type(ws, "state")
        await ws.send(json.dumps({"type": "configure", "config": LARGEST}))
        await recv_type(ws, "state", timeout=60)
        ids.append(hello["session"])
        await ws.close()
    hops = 0
    while not stop.is_set():
        for sid in ids:
            target = (a, b)[hops % 2]
            with contextlib.suppress(Exception):
                ws = await open_tab(f"{target}?session={sid}", ATTACKER)
                await recv_type(ws, "state", timeout=20)
                await ws.close()
                hops += 1
    return f"{hops} hand-overs of 8 sessions of 7→[32×8]→1"


ATTACKS = {
    "none": None,
    "parse": parse_cost,
    "slots": http_slots,
    "heavy": heavy_jobs,
    "class": class_lockout,
    "churn": follower_churn,
    "handover": handover,
}
CLUSTER = {"handover"}


# servers, with their stderr kept


class Server:
    def __init__(self, env: dict, *args: str):
        self.log = tempfile.NamedTemporaryFile(prefix="hostile-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server", "--port", "0", "--no-browser", *args],
            cwd=ROOT,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", **env},
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        line = self.proc.stdout.readline()
        host = re.search(r"http://(\S+?)/?$", line.strip()).group(1)
        self.url = f"ws://{host}/ws"
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://{host}/healthz"):
                    break
            except OSError:
                time.sleep(0.05)
        self.ps = psutil.Process(self.proc.pid)

    def rss_mb(self) -> float:
        return self.ps.memory_info().rss / 2**20

    def stop(self) -> int:
        """Stop it; the exceptions its stderr logged."""
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        with open(self.log.name, errors="replace") as f:
            text = f.read()
        n = text.count("Traceback") + text.count("Task was destroyed")
        if n:  # kept for a look
            print(f"  (the server's stderr: {self.log.name})", file=sys.stderr)
        else:
            os.unlink(self.log.name)
        return n


@contextlib.contextmanager
def redis_server():
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    n = port.getsockname()[1]
    port.close()
    proc = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(n), "--save", ""]
        + ["--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    try:
        yield f"redis://127.0.0.1:{n}/0"
    finally:
        proc.terminate()
        proc.wait(10)


async def run_student(url: str, seconds: float, present: bool, room: asyncio.Future) -> dict:
    args = [sys.executable, __file__, "--student", url, "--seconds", str(seconds)]
    proc = await asyncio.create_subprocess_exec(
        *args, *(["--present"] if present else []), stdout=asyncio.subprocess.PIPE
    )
    result: dict = {}
    async for line in proc.stdout:
        d = json.loads(line)
        if "fps" not in d:  # the room the student presents
            room.set_result(d["room"])
        else:
            result = d
    await proc.wait()
    return result


async def run_attack(name: str, seconds: float) -> dict:
    servers, stack = [], contextlib.ExitStack()
    env = {"BACKPROP_LAB_RATE_BURST": "50", "BACKPROP_LAB_RATE_PER_S": "20"}
    if name in CLUSTER:
        url = stack.enter_context(redis_server())
        servers = [Server(env, "--redis", url), Server(env, "--redis", url)]
    else:
        servers = [Server(env)]
    loop = asyncio.get_running_loop()
    ctx = {"url": servers[0].url, "url_b": servers[-1].url, "room": loop.create_future()}
    stop = asyncio.Event()
    attack = ATTACKS[name]
    task = asyncio.create_task(attack(ctx, stop)) if attack else None
    rss = [s.rss_mb() for s in servers]
    cpu0 = sum(sum(s.ps.cpu_times()[:2]) for s in servers)
    me0, t0 = sum(psutil.Process().cpu_times()[:2]), time.perf_counter()
    if name != "churn":
        await asyncio.sleep(4.0 if name in ("class", "slots", "handover", "heavy") else 1.5)
    student = asyncio.create_task(run_student(ctx["url"], seconds, name == "churn", ctx["room"]))
    while not student.done():
        rss.append(max(s.rss_mb() for s in servers))
        await asyncio.sleep(0.5)
    result = student.result()
    wall = time.perf_counter() - t0
    cpu = (sum(sum(s.ps.cpu_times()[:2]) for s in servers) - cpu0) / wall
    script = (sum(psutil.Process().cpu_times()[:2]) - me0) / wall
    stop.set()
    note = ""
    if task is not None:
        try:
            async with asyncio.timeout(60):
                note = await task
        except Exception as e:
            note = f"(the attack ended with {type(e).__name__})"
    exceptions = sum(s.stop() for s in servers)
    stack.close()
    note = f"{note}; CPU: server {cpu:.2f}, script {script:.2f}".lstrip("; ")
    return {**result, "rss_mb": max(rss), "exceptions": exceptions, "note": note}


def row(name: str, r: dict) -> str:
    def f(v, fmt):
        return "—" if v is None else format(v, fmt)

    page = f"{r['page_s']:.2f}" if r.get("page") == 200 else str(r.get("page"))
    heavy = f(r.get("heavy_s"), ".1f") if r.get("heavy_s") else f">{HEAVY_TIMEOUT_S:.0f}"
    return (
        f"{name:9} {r.get('fps', 0):8.1f} {f(r.get('pause_ms'), '.0f'):>8} {heavy:>7} "
        f"{page:>7} {'yes' if r.get('session') else 'NO':>7} {'yes' if r.get('room') else 'NO':>5} "
        f"{r['rss_mb']:7.0f} {r['exceptions']:4d}  {r['note']}{r.get('error', '')}"
    )


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", default=",".join([*ATTACKS, "none"]), help="attacks, in order")
    p.add_argument("--seconds", type=float, default=6.0, help="the student's measured play")
    p.add_argument("--student", metavar="URL", help=argparse.SUPPRESS)
    p.add_argument("--present", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.student:
        print(json.dumps(await honest(args.student, args.seconds, args.present)), flush=True)
        return
    names = [n for n in args.only.split(",") if n in ATTACKS]
    print(
        f"cores {psutil.cpu_count()}; the student plays the default network for "
        f"{args.seconds:g} s under each attack, in its own process; a fresh server for each"
    )
    print(
        f"{'attack':9} {'frames/s':>8} {'pause ms':>8} {'heavy s':>7} {'page s':>7} "
        f"{'session':>7} {'room':>5} {'RSS MB':>7} {'exc':>4}  what the script did"
    )
    fps = {}
    for name in names:
        r = await run_attack(name, args.seconds)
        fps.setdefault(name, []).append(r.get("fps", 0.0))
        print(row(name, r), flush=True)
    if len(fps.get("none", [])) > 1:
        print(f"baseline frames/s, median of {len(fps['none'])}: {statistics.median(fps['none'])}")


if __name__ == "__main__":
    os.chdir(ROOT)
    asyncio.run(main())
