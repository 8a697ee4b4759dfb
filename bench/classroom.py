"""Classroom capacity on loopback: one teacher's room, a class following it, forks playing.

    python bench/classroom.py   # --followers 200 --forks 30 --seconds 10 --warmup 3 --processes 2
                                # --network deep|default --view forward|backward

A real `python -m server` runs in its own process. The teacher (a real client, in this
process) configures 7→[8×6]→1 (or the default 2→[4,2]→1), opens a room, shows the forward
(or backward) view and plays at speed 1 (≤ 30 frames/s). Then:

A. `--followers` clients follow the room (`/ws?room=CODE`); after `--warmup` s, a window of
   `--seconds` s is measured.
Q. The asking round (issue 27): the teacher asks the class whether a weight's next update
   goes up or down; every follower answers at a random moment within one second of being
   told; the teacher reveals once its `answers` count reaches them all. A window of
   `--seconds` s from the ask is measured as A is, and: the time from the ask, and from the
   last answer sent, until the presenter's count reaches `--followers`, and the bytes per
   follower of the round's own messages (the question, its answer confirmed, the reveal).
B. `--forks` more clients follow, fork (`fork` → `forked`), reconnect to their own session
   (`/ws?session=SID`) and play it at speed 1, while the followers stay; after the warm-up
   another window is measured.

In each window: frames/s per follower (binary frames of kind "frame"; min, p5, median;
goal ≥ 20), the lag behind the teacher (a follower's receive time minus the teacher's for
the frame with the same step, over all followers' frames; goal p99 ≤ 250 ms), frames/s per
fork (goal ≥ 15), the server's RSS (max over the whole run; goal ≤ 1 GiB), its CPU per frame
the sessions made and per frame delivered, bytes per follower per second (goal ≤ 48 KB/s
for 7→[8×6]→1, ≤ 16 KB/s for the default network: a classroom's access point is shared),
and the CPU of the client processes, so that a client-bound figure can be told from a
server-bound one.

The clients are asyncio `websockets` connections spread over `--processes` processes; a
message is never decoded beyond the 12-byte prefix and the start of a binary frame's header.
Timestamps are time.monotonic(), one clock for every process on Linux.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import re
import statistics
import sys
import time
from array import array
from dataclasses import dataclass, field

import psutil
from live_server import DEEP, DEFAULT, pct, start_server
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.frames import MAGIC  # noqa: E402  (live_server puts the repository on the path)

WS_OPTIONS = {"max_size": None, "compression": None, "ping_interval": None}
FRAME_HEAD = re.compile(rb'\{"kind":"frame","step":(\d+)')
CONNECT_AT_ONCE = 25  # connections opening at a time: each gets a state with history
GOALS = {"follower_fps": 20.0, "lag_p99_ms": 250.0, "rss_mib": 1024.0, "fork_fps": 15.0}
NETWORKS = {"deep": DEEP, "default": DEFAULT}
KB_GOALS = {"deep": 48.0, "default": 16.0}  # per follower per second: a shared access point


@dataclass
class Log:
    """What one connection received: per message its time, its size and, for a play
    frame, its step (-1 for anything else)."""

    t: array = field(default_factory=lambda: array("d"))
    size: array = field(default_factory=lambda: array("q"))
    step: array = field(default_factory=lambda: array("q"))
    asking: int = 0  # bytes of `question` and `reveal` messages
    answered_at: float = 0.0  # when this follower sent its answer


ASKING = (b'{"type":"question"', b'{"type":"reveal"')


def frame_step(m: bytes) -> int:
    """The step of a binary play frame, -1 for text or other frames; reads ~40 bytes."""
    if m[:4] != MAGIC:
        return -1
    hit = FRAME_HEAD.match(m, 12, 60)
    return int(hit.group(1)) if hit else -1


async def record(ws, log: Log, on_answers=None) -> None:
    """Log every message on `ws` until it closes; `on_answers(message)` sees each `answers`."""
    t, size, step = log.t.append, log.size.append, log.step.append
    clock = time.monotonic
    try:
        while True:
            m = await ws.recv(decode=False)
            t(clock())
            size(len(m))
            step(frame_step(m))
            if m.startswith(ASKING):
                log.asking += len(m)
                if on_answers is not None and m.startswith(b'{"type":"question"'):
                    on_answers(json.loads(m))
            elif on_answers is not None and m.startswith(b'{"type":"answers"'):
                on_answers(json.loads(m))
    except ConnectionClosed:
        pass


async def answer(ws, log: Log, qid: str, rng: random.Random) -> None:
    """One follower's answer, at a random moment within the next second."""
    await asyncio.sleep(rng.random())
    value = rng.choice(["up", "down", "unchanged"])
    log.answered_at = time.monotonic()
    await ws.send(json.dumps({"type": "answer", "question": qid, "value": value}))


async def recv_json(ws, type_: str) -> dict:
    prefix = f'{{"type":"{type_}"'.encode()
    while True:
        m = await ws.recv(decode=False)
        if m.startswith(prefix):
            return json.loads(m)


async def follow(
    url: str, gate: asyncio.Semaphore, log: Log, ready: asyncio.Event, conns: list
) -> None:
    async with gate:
        ws = await connect(url, **WS_OPTIONS)
        await recv_json(ws, "state")
    ws.bench_log = log  # a follower: it answers the teacher's questions (kind "answer")
    conns.append(ws)
    ready.set()
    await record(ws, log)


async def fork_and_play(
    url: str, gate: asyncio.Semaphore, log: Log, ready: asyncio.Event, conns: list
) -> None:
    """Follow the room, fork it, drive the fork: play at speed 1 and log its frames."""
    async with gate:
        async with connect(url, **WS_OPTIONS) as student:
            await recv_json(student, "state")
            await student.send('{"type":"fork"}')
            sid = (await recv_json(student, "forked"))["session"]
        ws = await connect(f"{url.split('?')[0]}?session={sid}", **WS_OPTIONS)
        await recv_json(ws, "state")
        await ws.send('{"type":"play","speed":1}')
        await recv_json(ws, "metrics")
    conns.append(ws)
    ready.set()
    await record(ws, log)


async def start_clients(kind, n: int, url: str, conns: list, tasks: list) -> list[Log]:
    """`n` clients of `kind` (follow or fork_and_play), returned once all are going."""
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    logs, readies = [Log() for _ in range(n)], [asyncio.Event() for _ in range(n)]
    tasks += [
        asyncio.create_task(kind(url, gate, log, ready, conns)) for log, ready in zip(logs, readies)
    ]
    await asyncio.gather(*(r.wait() for r in readies))
    return logs


async def client_process(pipe, kinds: dict | None = None) -> None:
    """A client process: obey (kind, url, n) and ("stop",) from the pipe, a kind being a
    name in `kinds` (here "follow" and "fork"; bench/lab.py has its own)."""
    kinds = kinds or {"follow": follow, "fork": fork_and_play}
    conns, tasks, logs = [], [], {k: [] for k in kinds}
    while True:
        cmd = await asyncio.to_thread(pipe.recv)
        if cmd[0] == "stop":
            break
        if cmd[0] == "answer":  # every follower answers question cmd[1] within a second
            rng = random.Random(0)
            followers = [ws for ws in conns if hasattr(ws, "bench_log")]
            tasks += [
                asyncio.create_task(answer(ws, ws.bench_log, cmd[1], rng)) for ws in followers
            ]
            pipe.send("ready")
            continue
        kind, url, n = cmd
        logs[kind] += await start_clients(kinds[kind], n, url, conns, tasks)
        pipe.send("ready")
    await asyncio.gather(*(asyncio.wait_for(ws.close(), 5) for ws in conns), return_exceptions=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send(logs)


def client_main(pipe) -> None:
    asyncio.run(client_process(pipe))


@dataclass
class Window:
    """A measured interval: its bounds and the CPU seconds each process used in it."""

    t0: float
    t1: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    teacher_cpu: float = 0.0
    machine_cpu: float = 0.0  # every process on the machine, ours included


def cpu_seconds(p: psutil.Process) -> float:
    c = p.cpu_times()
    return c.user + c.system


def machine_cpu_seconds() -> float:
    c = psutil.cpu_times()
    return c.user + c.nice + c.system + c.irq + c.softirq + c.steal


async def profiler(pid: int, seconds: float, output: str) -> asyncio.subprocess.Process:
    """py-spy recording process `pid` for `seconds` into `output` (collapsed stacks)."""
    return await asyncio.create_subprocess_exec(
        *("py-spy", "record", "--pid", str(pid), "--nonblocking", "--rate", "200"),
        *("--duration", str(round(seconds)), "--format", "raw", "--output", output),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def client_processes(n: int, target) -> tuple[list, list[psutil.Process]]:
    """`n` forked processes running `target(pipe)` (client_main), and our ends of their pipes;
    started before any event loop or thread exists."""
    ctx = mp.get_context("fork")
    pipes, procs = [], []
    for _ in range(n):
        ours, theirs = ctx.Pipe()
        w = ctx.Process(target=target, args=(theirs,), daemon=True)
        w.start()
        pipes.append(ours)
        procs.append(psutil.Process(w.pid))
    return pipes, procs


async def spread(pipes: list, kind: str, url: str, n: int) -> None:
    """Spread `n` clients of `kind` over the client processes; return once all go."""
    k = len(pipes)
    for i, pipe in enumerate(pipes):
        pipe.send((kind, url, n // k + (i < n % k)))
    for pipe in pipes:
        assert await asyncio.to_thread(pipe.recv) == "ready"


class Run:
    """The teacher, the client processes and the server, with the figures of one run."""

    def __init__(self, args, proc, ws_url: str):
        self.args, self.ws_url = args, ws_url
        self.server = psutil.Process(proc.pid)
        self.me = psutil.Process()
        self.rss_max = 0
        self.pipes, self.workers = client_processes(args.processes, client_main)
        self.teacher = Log()
        self.asked = self.counted = 0.0  # when the teacher asked; when its count reached all
        self._question: asyncio.Future | None = None
        self._all_in: asyncio.Event = asyncio.Event()

    def on_answers(self, m: dict) -> None:
        """The teacher's `question` (its id) and `answers` (when all have answered)."""
        if m["type"] == "question" and self._question is not None and not self._question.done():
            self._question.set_result(m["id"])
        elif m["type"] == "answers" and m["answered"] >= self.args.followers and not self.counted:
            self.counted = time.monotonic()
            self._all_in.set()

    async def asking(self, ws) -> Window:
        """Window Q: ask, every follower answers within a second, reveal when all are in."""
        self._question = asyncio.get_running_loop().create_future()
        cpu0 = self.cpu()
        w = Window(time.monotonic())
        self.asked = w.t0
        question = {"kind": "update_sign", "target": {"kind": "link", "layer": 0, "i": 0, "j": 0}}
        await ws.send(json.dumps({"type": "ask", "question": question}))
        qid = await asyncio.wait_for(self._question, 10)
        await self.command_all(("answer", qid))
        try:
            await asyncio.wait_for(self._all_in.wait(), 30)
        except asyncio.TimeoutError:
            print("the presenter's count never reached every follower", file=sys.stderr)
        await ws.send('{"type":"reveal"}')
        await asyncio.sleep(max(0.0, w.t0 + self.args.seconds - time.monotonic()))
        w.t1 = time.monotonic()
        w.server_cpu, w.client_cpu, w.teacher_cpu, w.machine_cpu = (
            b - a for a, b in zip(cpu0, self.cpu())
        )
        return w

    async def command_all(self, cmd: tuple) -> None:
        for pipe in self.pipes:
            pipe.send(cmd)
        for pipe in self.pipes:
            assert await asyncio.to_thread(pipe.recv) == "ready"

    def cpu(self) -> tuple[float, float, float, float]:
        return (
            cpu_seconds(self.server),
            sum(cpu_seconds(w) for w in self.workers),
            cpu_seconds(self.me),
            machine_cpu_seconds(),
        )

    async def sample_rss(self) -> None:
        while True:
            self.rss_max = max(self.rss_max, self.server.memory_info().rss)
            await asyncio.sleep(0.2)

    async def command(self, kind: str, url: str, n: int) -> None:
        await spread(self.pipes, kind, url, n)

    async def window(self, profile: str | None = None) -> Window:
        """Wait out the warm-up, then measure `--seconds`; `profile`: py-spy the server
        meanwhile into that file (collapsed stacks, idle threads left out)."""
        await asyncio.sleep(self.args.warmup)
        if profile:
            await profiler(self.server.pid, self.args.seconds, profile)
        cpu0 = self.cpu()
        w = Window(time.monotonic())
        await asyncio.sleep(self.args.seconds)
        w.t1 = time.monotonic()
        w.server_cpu, w.client_cpu, w.teacher_cpu, w.machine_cpu = (
            b - a for a, b in zip(cpu0, self.cpu())
        )
        return w

    async def main(self) -> tuple[Window, Window, list[Log], list[Log]]:
        rss = asyncio.create_task(self.sample_rss())
        async with connect(self.ws_url, **WS_OPTIONS) as ws:
            await recv_json(ws, "state")
            await ws.send(json.dumps({"type": "configure", "config": NETWORKS[self.args.network]}))
            await recv_json(ws, "state")
            await ws.send('{"type":"open_room"}')
            code = (await recv_json(ws, "room"))["code"]
            await ws.send(json.dumps({"type": "ui", "view": self.args.view}))
            await ws.send('{"type":"play","speed":1}')
            await recv_json(ws, "metrics")
            teacher = asyncio.create_task(record(ws, self.teacher, self.on_answers))
            room_url = f"{self.ws_url}?room={code}"
            await self.command("follow", room_url, self.args.followers)
            alone = await self.window(self.args.profile and f"{self.args.profile}.A.txt")
            self.asking_window = await self.asking(ws)
            await self.command("fork", room_url, self.args.forks)
            forked = await self.window(self.args.profile and f"{self.args.profile}.B.txt")
            for pipe in self.pipes:
                pipe.send(("stop",))
            results = [await asyncio.to_thread(pipe.recv) for pipe in self.pipes]
            await ws.send('{"type":"pause"}')
        await teacher
        rss.cancel()
        return (
            alone,
            forked,
            [lg for r in results for lg in r["follow"]],
            [lg for r in results for lg in r["fork"]],
        )


def in_window(log: Log, w: Window):
    """(time, size, step) of every message `log` holds from inside `w`."""
    return [(t, s, k) for t, s, k in zip(log.t, log.size, log.step) if w.t0 <= t < w.t1]


def figures(w: Window, teacher: Log, followers: list[Log], forks: list[Log]) -> dict:
    span = w.t1 - w.t0
    at_teacher = {k: t for t, k in zip(teacher.t, teacher.step) if k >= 0}
    fps, lags, volume, delivered = [], [], [], 0
    for log in followers:
        msgs = in_window(log, w)
        frames = [(t, k) for t, _, k in msgs if k >= 0]
        fps.append(len(frames) / span)
        volume.append(sum(s for _, s, _ in msgs) / span)
        lags += [(t - at_teacher[k]) * 1e3 for t, k in frames if k in at_teacher]
        delivered += len(frames)
    fork_fps = [sum(k >= 0 for _, _, k in in_window(log, w)) / span for log in forks]
    made = sum(k >= 0 for _, _, k in in_window(teacher, w))
    delivered += made + round(sum(fork_fps) * span)
    made += round(sum(fork_fps) * span)  # a fork's frames go to its one connection
    return {
        "teacher_fps": sum(k >= 0 for _, _, k in in_window(teacher, w)) / span,
        "fps_min": min(fps),
        "fps_p5": pct(fps, 5),
        "fps_median": statistics.median(fps),
        "lag_p50": pct(lags, 50),
        "lag_p99": pct(lags, 99),
        "lag_max": max(lags),
        "fork_min": min(fork_fps) if forks else None,
        "fork_p5": pct(fork_fps, 5) if forks else None,
        "fork_median": statistics.median(fork_fps) if forks else None,
        "cpu_per_made": w.server_cpu / made * 1e3,
        "cpu_per_delivered": w.server_cpu / delivered * 1e3,
        "server_cores": w.server_cpu / span,
        "kb_per_follower_s": statistics.median(volume) / 1e3,
        "client_cores": w.client_cpu / span,
        "teacher_cores": w.teacher_cpu / span,
        "other_cores": (w.machine_cpu - w.server_cpu - w.client_cpu - w.teacher_cpu) / span,
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_table(args, a: dict, b: dict, rss_mib: float) -> None:
    na = "—"

    def f(x, spec=".1f"):
        return na if x is None else format(x, spec)

    rows = [  # (measure, goal, A, B, verdict over both windows or None)
        ("teacher frames/s (made by the room)", "", f(a["teacher_fps"]), f(b["teacher_fps"]), None),
        (
            "follower frames/s, min",
            "≥ 20",
            f(a["fps_min"]),
            f(b["fps_min"]),
            min(a["fps_min"], b["fps_min"]) >= GOALS["follower_fps"],
        ),
        ("follower frames/s, p5", "", f(a["fps_p5"]), f(b["fps_p5"]), None),
        ("follower frames/s, median", "", f(a["fps_median"]), f(b["fps_median"]), None),
        ("lag behind teacher p50, ms", "", f(a["lag_p50"]), f(b["lag_p50"]), None),
        (
            "lag behind teacher p99, ms",
            "≤ 250",
            f(a["lag_p99"]),
            f(b["lag_p99"]),
            max(a["lag_p99"], b["lag_p99"]) <= GOALS["lag_p99_ms"],
        ),
        ("lag behind teacher max, ms", "", f(a["lag_max"]), f(b["lag_max"]), None),
        (
            "fork frames/s, min",
            "≥ 15",
            na,
            f(b["fork_min"]),
            b["fork_min"] is None or b["fork_min"] >= GOALS["fork_fps"],
        ),
        ("fork frames/s, p5", "", na, f(b["fork_p5"]), None),
        ("fork frames/s, median", "", na, f(b["fork_median"]), None),
        ("server RSS max over the run, MiB", "≤ 1024", f(rss_mib), "", rss_mib <= GOALS["rss_mib"]),
        (
            "server CPU per frame made, ms",
            "",
            f(a["cpu_per_made"], ".2f"),
            f(b["cpu_per_made"], ".2f"),
            None,
        ),
        (
            "server CPU per frame delivered, ms",
            "",
            f(a["cpu_per_delivered"], ".3f"),
            f(b["cpu_per_delivered"], ".3f"),
            None,
        ),
        ("server CPU, cores", "", f(a["server_cores"], ".2f"), f(b["server_cores"], ".2f"), None),
        (
            "KB per follower per second (median)",
            f"≤ {KB_GOALS[args.network]:.0f}",
            f(a["kb_per_follower_s"], ".0f"),
            f(b["kb_per_follower_s"], ".0f"),
            max(a["kb_per_follower_s"], b["kb_per_follower_s"]) <= KB_GOALS[args.network],
        ),
        (
            f"client CPU, cores ({args.processes} processes)",
            "",
            f(a["client_cores"], ".2f"),
            f(b["client_cores"], ".2f"),
            None,
        ),
        (
            "teacher process CPU, cores",
            "",
            f(a["teacher_cores"], ".2f"),
            f(b["teacher_cores"], ".2f"),
            None,
        ),
        (
            "anything else on the machine, cores",
            "",
            f(a["other_cores"], ".2f"),
            f(b["other_cores"], ".2f"),
            None,
        ),
    ]
    head = (
        "measure",
        "goal",
        f"A: {args.followers} followers",
        f"B: + {args.forks} forks",
        "verdict",
    )
    widths = (38, 7, 17, 15, 7)
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths))
    print(line, "-" * len(line), sep="\n")
    for name, goal, xa, xb, ok in rows:
        cells = (name, goal, xa, xb, "" if ok is None else verdict(ok))
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--followers", type=int, default=200)
    ap.add_argument("--forks", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=10.0, help="each measured window")
    ap.add_argument("--warmup", type=float, default=3.0, help="before each window")
    ap.add_argument("--processes", type=int, default=2, help="client processes")
    ap.add_argument(
        "--network",
        choices=sorted(NETWORKS),
        default="deep",
        help="the room's network: deep 7→[8×6]→1 or the default 2→[4,2]→1",
    )
    ap.add_argument(
        "--view",
        choices=["forward", "backward"],
        default="forward",
        help="the presenter's view (the backward one puts gradients on the wire)",
    )
    ap.add_argument(
        "--profile",
        metavar="PREFIX",
        help="py-spy the server in each window "
        "into PREFIX.A.txt and PREFIX.B.txt (collapsed stacks, for a flame graph)",
    )
    args = ap.parse_args()
    command = (
        f"python bench/classroom.py --followers {args.followers} --forks {args.forks} "
        f"--seconds {args.seconds:g} --warmup {args.warmup:g} "
        f"--processes {args.processes} --network {args.network} --view {args.view}"
    )
    proc, ws_url = start_server(
        BACKPROP_LAB_MAX_SESSIONS=str(max(64, args.forks + 8)),
        BACKPROP_LAB_MAX_FOLLOWERS=str(max(400, args.followers + args.forks + 8)),
    )
    started = time.monotonic()
    try:
        run = Run(args, proc, ws_url)
        alone, forked, followers, forks = asyncio.run(run.main())
    finally:
        proc.terminate()
        proc.wait(10)
    a = figures(alone, run.teacher, followers, [])
    b = figures(forked, run.teacher, followers, forks)
    shape = "7→[8×6]→1" if args.network == "deep" else "2→[4,2]→1"
    print(
        f"{command}\n1 teacher playing {shape} ({args.view} view) at speed 1; windows of "
        f"{args.seconds:g} s after {args.warmup:g} s warm-up; {psutil.cpu_count()} cores; "
        f"run took {time.monotonic() - started:.0f} s\n"
    )
    print_table(args, a, b, run.rss_max / 2**20)
    q = figures(run.asking_window, run.teacher, followers, [])
    print_asking(args, run, a, q, followers)


def print_asking(args, run: Run, a: dict, q: dict, followers: list[Log]) -> None:
    """The asking round beside window A (the same room without a question)."""
    sent = [lg.answered_at for lg in followers if lg.answered_at]
    last = max(sent) if sent else None
    counted = run.counted or None
    rows = [
        ("answers sent", "", f"{len(sent)} of {args.followers}"),
        (
            "ask → presenter's count reaches all, ms",
            "",
            "never" if counted is None else f"{(counted - run.asked) * 1e3:.0f}",
        ),
        (
            "last answer sent → count reaches all, ms",
            "≤ 500 (the tally's period)",
            "—" if counted is None or last is None else f"{(counted - last) * 1e3:.0f}",
        ),
        (
            "bytes of the round per follower (median)",
            "question, its answer confirmed, reveal",
            f"{statistics.median(lg.asking for lg in followers):.0f}",
        ),
    ]
    print(f"\nAsking round (Q): {args.followers} followers answer within one second")
    for name, note, value in rows:
        print(f"  {name.ljust(42)} {value.ljust(12)} {note}")
    print(f"\nThe room without (A) and with (Q) a question, each a window of {args.seconds:g} s:")
    for name, key, spec in (
        ("follower frames/s, min", "fps_min", ".1f"),
        ("follower frames/s, median", "fps_median", ".1f"),
        ("lag behind teacher p99, ms", "lag_p99", ".1f"),
        ("KB per follower per second (median)", "kb_per_follower_s", ".1f"),
        ("server CPU, cores", "server_cores", ".2f"),
    ):
        print(f"  {name.ljust(42)} A {format(a[key], spec).ljust(10)} Q {format(q[key], spec)}")


if __name__ == "__main__":
    sys.exit(main())
