"""What each client message does: one handler per type, found through `HANDLERS`.

A handler runs trainer work through `session.call` (thread pool, lock held) and answers
through the connection. The engine's refusals become typed errors here: ConfigError →
`bad_config` with its field, TrainerError → `rejected`; both leave the trainer unchanged.
Answers that describe the session (state, steps, inspections) are shared with a room's
followers; a follower may only answer the presenter's question, export, fork or leave
(anything else is `forbidden`).
In compare mode every handler that moves the trainer moves run B the same way, and
every edit reaches it as compare.py says.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from engine import csv_points
from engine.config import LIVE_FIELDS, ConfigError
from engine.csv_points import CsvError
from engine.reconfigure import effect_of
from engine.trainer import SnapshotError, TrainerError

from . import compare, questions, replies
from . import messages_in as msgs
from . import messages_out as out
from .budgets import over_memory
from .protocol import CloseCode, ErrorCode, ProtocolError, encode
from .sessions import SessionsFull
from .store import address_key

log = logging.getLogger("backprop_lab.handlers")

if TYPE_CHECKING:
    from .client import Connection

HEAVY_STEPS = 20  # a `step` of more updates than this runs as a series of short jobs
LONG_STEP_CHUNK_S = 0.03  # CPU seconds of each of those jobs
READ_ONLY = frozenset(
    {
        "inspect",
        "export",
        "export_points",
        "gradcheck",
        "view",
        "ui",
        "fork",
        "open_room",
        "close_room",
    }
    | {"ask", "answer", "reveal"}
)
UNCHARGED = frozenset({"leave", "pause", "ui", "answer"})  # never wait for the address's CPU share
Handler = Callable[["Connection", object], Awaitable[None]]


async def dispatch(conn: Connection, msg) -> None:
    """Run the handler for `msg`; engine refusals are raised as ProtocolError."""
    if conn.role == "follower" and msg.type not in msgs.FOLLOWER_MESSAGES:
        room = conn.session.room
        raise ProtocolError(
            ErrorCode.FORBIDDEN,
            f"this tab follows room "
            f"{room.code if room else ''}; only the presenter can change it. "
            "Fork to experiment on your own copy.",
            None,
            msg.type,
        )
    if msg.type not in READ_ONLY:
        conn.session.pending_record = None  # a record not yet sent would be stale
    if conn.role == "owner":
        conn.session.changed = True  # play state, the shared view...: checkpoint it again
    try:
        await HANDLERS[msg.type](conn, msg)
    except ConfigError as e:
        raise ProtocolError(ErrorCode.BAD_CONFIG, str(e), e.field, msg.type) from None
    except TrainerError as e:
        raise ProtocolError(ErrorCode.REJECTED, str(e), None, msg.type) from None


async def send_state(
    conn: Connection,
    *,
    points: bool = False,
    history: bool = False,
    share: bool = True,
    effect: str | None = None,
) -> None:
    """Queue a `state` message, for the room too unless not `share`; points go out on a
    connection's first state regardless."""
    s = conn.session
    points = points or not conn.sent_points
    n_history = conn.settings.history_points if history else None
    state = await s.call(
        lambda t: encode(
            replies.session_state(s, t, points=points, history=n_history, effect=effect)
        )
    )
    conn.sent_points = True
    if share:
        s.share(state)
    else:
        conn.reply(state)


def _out_of_range(field: str, message: str, type_: str) -> ProtocolError:
    return ProtocolError(ErrorCode.OUT_OF_RANGE, f"`{field}`: {message}", field, type_)


async def on_configure(conn: Connection, msg: msgs.Configure | msgs.Set) -> None:
    """The client says what it wants changed; the engine decides what that does
    (reconfigure.effect_of) and the `state` says it: "none", "live" or "model" (the weights
    kept), "network" (a new network), "data" (new points too); null when nothing changed.
    History goes with it when the network was rebuilt, the points when the data was. `set`,
    the deprecated alias, first refuses any field whose change would not keep the weights."""
    changes = msg.config.model_dump()
    if msg.type == "set" and (rebuilds := [n for n in changes if n not in LIVE_FIELDS]):
        raise ProtocolError(
            ErrorCode.BAD_CONFIG,
            f"{rebuilds[0]}: not a live hyperparameter "
            "(changing it rebuilds the network); use configure",
            rebuilds[0],
            "set",
        )
    s = conn.session

    def job(t):
        effect = effect_of(t.config, changes)  # ConfigError, naming the field, if invalid
        return effect.value if compare.configure(s, t, changes) else None

    effect = await s.call(job)
    rebuilt = effect in ("network", "data")
    await send_state(conn, points=effect == "data", history=rebuilt, effect=effect)
    s.request_render()


on_set = on_configure  # `set` is `configure` refusing what would not keep the weights


async def on_step(conn: Connection, msg: msgs.Step) -> None:
    s, settings = conn.session, conn.settings
    cap = {"update": settings.max_step_count, "epoch": settings.max_step_epochs, "phase": 4}[
        msg.unit
    ]
    if msg.count > cap:
        raise _out_of_range("count", f"at most {cap} for unit {msg.unit!r}", "step")
    if s.playing:
        s.pause()
    if msg.unit == "phase" or (msg.unit == "update" and msg.count <= HEAVY_STEPS):
        reply, rec, stopped = await s.call(_step_job, msg.count, msg.unit, s, quick=True)
    else:
        reply, rec, stopped = await _long_step(conn, msg.count, msg.unit)
    s.share(reply)
    if stopped is not None:
        s.share(stopped)
    s.pending_record = rec  # its arrays go out with the next frame, newest wins
    s.request_render()


async def _long_step(conn: Connection, count: int, unit: str):
    """Many updates (or epochs) as a series of short jobs on the fast path, each about
    LONG_STEP_CHUNK_S of CPU, then one recorded update: between them the lock is free, frames
    and other sessions' jobs go on, and an address over its CPU share waits its turn."""
    s, budgets = conn.session, conn.manager.budgets
    left = await s.call(lambda t: t.updates_for(count, unit))
    chunk = 16
    while left > 1:
        n = min(chunk, left - 1)
        done, cpu, stopped = await s.call(_run_chunk, n, s, heavy=True)
        left -= done
        if stopped or done < n:
            break
        chunk = max(1, min(4096, int(n * LONG_STEP_CHUNK_S / max(cpu, 1e-6))))
        if wait := budgets.cpu_wait(conn.address):
            await asyncio.sleep(wait)
    return await s.call(_finish_step, count, s, heavy=True)


def _run_chunk(t, n: int, s) -> tuple[int, float, bool]:
    start = time.thread_time()
    done = t.run(n)
    if s.run_b is not None and done:
        s.run_b.run(done)
    return done, time.thread_time() - start, t.stopped is not None


def _finish_step(t, count: int, s):
    """The last update of a long step, recorded, unless training stopped on the way."""
    rec = t.step() if t.stopped is None else None
    if s.run_b is not None and rec is not None:
        s.run_b.run(1)
    return _step_reply(t, rec, count, s.run_b)


def _step_job(t, count: int, unit: str, s):
    """Lock held (Session.call): a few updates (the last recorded) or phases, run B's too
    (the same number, or the same phases)."""
    rec, before, run_b = None, t.step_count, s.run_b
    if unit == "phase":
        for _ in range(count):
            rec = t.phase_step()
            if run_b is not None:
                run_b.phase_step()
    else:
        if count > 1:
            t.run(count - 1)
        if count == 1 or t.stopped is None:
            rec = t.step()
        if run_b is not None and t.step_count > before:
            run_b.run(t.step_count - before)
    return _step_reply(t, rec, count, run_b)


def _step_reply(t, rec, count: int, run_b):
    """(step reply, last record, stopped event or None) after a step command."""
    reply = encode(replies.step_message(t, rec, count, playing=False, run_b=run_b))
    stopped = None
    if t.stopped is not None:
        stopped = encode(out.Stopped(reason=t.stopped, message=t.stop_message))
    return reply, rec, stopped


async def on_play(conn: Connection, msg: msgs.Play) -> None:
    settings = conn.settings
    if msg.rate is not None:
        top = settings.max_speed * settings.frame_rate
        if msg.rate > top:
            raise _out_of_range("rate", f"at most {top:g} updates a second", "play")
        if msg.rate >= settings.frame_rate:  # several updates a frame, frames at full rate
            speed, period = round(msg.rate / settings.frame_rate), 1.0 / settings.frame_rate
        else:  # one update a frame, fewer frames: each update is seen
            speed, period = 1, 1.0 / msg.rate
    else:
        if msg.speed > settings.max_speed:
            raise _out_of_range("speed", f"at most {settings.max_speed} updates a frame", "play")
        speed, period = msg.speed, 1.0 / settings.frame_rate
    conn.session.play(speed, period)
    await send_state(conn)


async def on_pause(conn: Connection, msg: msgs.Pause) -> None:
    conn.session.pause()
    await send_state(conn)
    conn.session.request_render()


async def on_reset(conn: Connection, msg: msgs.Reset) -> None:
    s = conn.session

    def job(t):
        t.reset(data=msg.data)
        compare.rebuild(s, t)

    await s.call(job)
    await send_state(conn, history=True, points=msg.data)
    s.request_render()


async def on_step_back(conn: Connection, msg: msgs.StepBack) -> None:
    s = conn.session
    if s.playing:
        s.pause()
    if not await s.call(lambda t: compare.step_back(s, t)):
        raise ProtocolError(
            ErrorCode.REJECTED, "there is no update to step back from", None, "step_back"
        )
    await send_state(conn, history=True)
    s.request_render()


async def on_inspect(conn: Connection, msg: msgs.Inspect) -> None:
    result = await conn.session.call(
        lambda t: t.explain(layer=msg.layer, j=msg.neuron, i=msg.source, example=msg.example)
    )
    conn.session.share(encode(out.Inspection(result=result)))


async def on_set_weight(conn: Connection, msg: msgs.SetWeight) -> None:
    s = conn.session

    def job(t):
        if msg.source is None:
            t.set_bias(msg.layer, msg.neuron, msg.value)
        else:
            t.set_weight(msg.layer, msg.source, msg.neuron, msg.value)

    await s.call(lambda t: compare.edit_weights(s, t, job))
    await send_state(conn, history=True)
    conn.session.request_render()


async def on_add_point(conn: Connection, msg: msgs.AddPoint) -> None:
    s = conn.session
    await s.call(
        lambda t: compare.edit_points(
            s, t, lambda u: u.add_point(msg.x1, msg.x2, msg.label, msg.split)
        )
    )
    await send_state(conn, points=True, history=True)
    conn.session.request_render()


async def on_remove_point(conn: Connection, msg: msgs.RemovePoint) -> None:
    s = conn.session
    await s.call(
        lambda t: compare.edit_points(s, t, lambda u: u.remove_point(msg.split, msg.index))
    )
    await send_state(conn, points=True, history=True)
    conn.session.request_render()


async def on_export(conn: Connection, msg: msgs.Export) -> None:
    """The session as JSON. Encoded once per state (a class asking for it costs one encode),
    and charged to the asker by its size: a big snapshot uses many messages' tokens."""
    s = conn.session
    await s.fresh()

    def job(t):
        key = (
            id(t),
            t.step_count,
            t.epoch,
            t.pos,
            len(t.history),
            len(t.edits),
            t.config,
            t.stopped,
            hashlib.blake2b(t.net.params.tobytes(), digest_size=16).digest(),
            hashlib.blake2b(t.net.buffers.tobytes(), digest_size=16).digest(),
        )
        cached = s.export_cache
        if cached is None or cached[0] != key:
            cached = s.export_cache = (key, encode(out.Snapshot(snapshot=t.snapshot())))
        return cached[1]

    text = await s.call(job)
    cost = len(text) / conn.settings.max_message_bytes
    if cost > 1 and not conn.bucket.take(cost - 1):
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            f"an export of {len(text) // 1024} KiB "
            "counts as many messages; wait a moment before the next",
            None,
            "export",
        )
    conn.reply(text)


async def on_import(conn: Connection, msg: msgs.Import) -> None:
    s = conn.session
    factory = s.trainer.__class__

    def load(_):
        # built and read in full before it replaces anything: a refusal changes nothing
        trainer = factory.from_snapshot(msg.snapshot.model_dump(mode="json"))
        replies.state_message(
            trainer, playing=False, speed=1, points=True, history=conn.settings.history_points
        )
        return trainer

    try:
        trainer = await s.call(load, heavy=True)
    except ConfigError as e:
        raise ProtocolError(
            ErrorCode.BAD_CONFIG,
            f"the snapshot's config: {e}"[:300],
            f"snapshot.config.{e.field}",
            "import",
        ) from None
    except SnapshotError as e:
        raise ProtocolError(
            ErrorCode.REJECTED, f"not a usable snapshot: {e}"[:300], f"snapshot.{e.field}", "import"
        ) from None
    except Exception as e:  # the snapshot is untrusted input: any failure is a refusal
        log.warning("an import was refused by an unexpected error", exc_info=True)
        raise ProtocolError(
            ErrorCode.REJECTED, f"not a usable snapshot: {e}"[:300], "snapshot", "import"
        ) from None
    await _replace_trainer(conn, trainer)


async def _replace_trainer(conn: Connection, trainer) -> None:
    """The session trains `trainer` from now on (a snapshot or a file loaded into a new one):
    paused, run B rebuilt beside it, and the page told the whole new state."""
    s = conn.session
    s.pause()

    def swap(_):
        compare.rebuild(s, trainer)
        s.trainer = trainer

    await s.call(swap)
    await send_state(conn, points=True, history=True)
    s.request_render()


async def on_import_points(conn: Connection, msg: msgs.ImportPoints) -> None:
    """A CSV file read (csv_points.parse) off the loop; previewed, or trained on from fresh
    weights by a new trainer that replaces the session's only once it is built (like
    `import`), so a refusal, run B's included, changes nothing."""
    s = conn.session
    factory = s.trainer.__class__

    def load(t):
        imported = csv_points.parse(msg.csv, msg.name)
        if not msg.apply:
            return imported, None
        trainer = factory(t.config)
        trainer.import_points(imported)
        if s.run_b is not None:
            compare.config_of_b(trainer.config, s.b_changes)  # B can follow, or ConfigError
        return imported, trainer

    try:
        imported, trainer = await s.call(load, heavy=True)
    except CsvError as e:
        raise ProtocolError(ErrorCode.REJECTED, str(e)[:300], "csv", "import_points") from None
    if trainer is None:
        conn.reply(encode(out.PointsPreview(preview=imported.preview())))
        return
    await _replace_trainer(conn, trainer)


async def on_export_points(conn: Connection, msg: msgs.ExportPoints) -> None:
    """The points as CSV, charged to the asker by its size like `export`."""
    s = conn.session
    await s.fresh()

    def job(t):
        source = t.data_source
        return source["name"] if source else f"{t.config.dataset}.csv", t.points_csv()

    name, text = await s.call(job)
    cost = len(text) / conn.settings.max_message_bytes
    if cost > 1 and not conn.bucket.take(cost - 1):
        raise ProtocolError(
            ErrorCode.RATE_LIMITED,
            f"the points' CSV of {len(text) // 1024} KiB counts as many messages; wait a moment",
            None,
            "export_points",
        )
    conn.reply(encode(out.PointsCsv(name=name, csv=text)))


async def on_gradcheck(conn: Connection, msg: msgs.Gradcheck) -> None:
    """A bounded check (engine/gradcheck.py) run a slice at a time in the long-jobs pool: each
    slice is charged to the asker's address as it ends, an address over its share waits
    between slices, every other job in the pool gets in between two slices, and when the
    tab goes (its worker is cancelled) no further slice runs."""
    s, budgets = conn.session, conn.manager.budgets
    job = await s.call(lambda t: t.gradcheck_job(), heavy=True)
    while not job.done:
        await s.call(job.run, heavy=True)
        if wait := budgets.cpu_wait(conn.address):
            await asyncio.sleep(wait)
    s.share(encode(out.GradcheckResult(result=job.result())))


async def on_view(conn: Connection, msg: msgs.View) -> None:
    await send_state(conn, share=False)


async def on_leave(conn: Connection, msg: msgs.Leave) -> None:
    if conn.role == "follower":  # stops following; the room goes on
        await conn.close(CloseCode.LEFT, "stopped following at the client's request")
        return
    await conn.manager.end(
        conn.session, CloseCode.LEFT, "the session ended at the client's request"
    )


async def on_set_params(conn: Connection, msg: msgs.SetParams) -> None:
    s = conn.session
    await s.call(
        lambda t: compare.edit_weights(s, t, lambda u: u.set_parameters(msg.weights, msg.biases))
    )
    await send_state(conn, history=True)
    conn.session.request_render()


async def on_open_room(conn: Connection, msg: msgs.OpenRoom) -> None:
    manager, cap = conn.manager, conn.settings.max_rooms_per_address
    if conn.session.room is None:
        if manager.cluster is not None:  # counted on every worker
            exempt = manager.budgets.exempt(conn.address)
            held = await manager.cluster.take_member(
                address_key("rooms", conn.address), conn.session.id, -1 if exempt else cap
            )
        else:
            held = sum(r.session.address == conn.address for r in manager.rooms.by_code.values())
            held = held if manager.budgets.over(conn.address, held, cap) else None
        if held is not None:
            raise ProtocolError(
                ErrorCode.REJECTED,
                f"your address already presents {held} room(s), the limit; close one first",
                None,
                "open_room",
            )
    room = await manager.rooms.open(conn.session)
    conn.reply(encode(room.message("presenter")))


async def on_close_room(conn: Connection, msg: msgs.CloseRoom) -> None:
    room = conn.session.room
    if room is not None:
        await conn.manager.rooms.close(room, "the presenter closed the room")

    conn.reply(encode(out.RoomInfo(code=None, role="solo")))


async def on_ui(conn: Connection, msg: msgs.UiShare) -> None:
    room = conn.session.room
    if room is None:
        raise ProtocolError(
            ErrorCode.REJECTED,
            "there is no room to share the view with; send open_room first",
            None,
            "ui",
        )
    for name in msg.model_fields_set - {"type"}:
        value = getattr(msg, name)
        room.ui[name] = (
            value.model_dump(exclude_none=True) if hasattr(value, "model_dump") else value
        )
    text = room.ui_message()
    for f in conn.session.followers:
        f.reply(text)


async def on_fork(conn: Connection, msg: msgs.Fork) -> None:
    if conn.role != "follower":
        raise ProtocolError(
            ErrorCode.REJECTED,
            "only a room's follower forks; this tab already drives its own session",
            None,
            "fork",
        )
    s = conn.session
    await s.fresh()
    snap, step = await s.call(lambda t: (t.snapshot(), t.step_count))
    factory = s.trainer.__class__
    try:
        fork = await conn.manager.create(lambda: factory.from_snapshot(snap), conn.address)
    except SessionsFull as e:
        raise ProtocolError(ErrorCode.REJECTED, f"no fork: {e}", None, "fork") from None
    conn.reply(encode(out.Forked(session=fork.id, step=step)))


async def on_compare(conn: Connection, msg: msgs.Compare) -> None:
    s = conn.session
    if msg.config is None:
        await s.call(lambda _: compare.stop(s))
    else:
        if s.run_b is None and (used := over_memory(conn.settings)):
            raise ProtocolError(
                ErrorCode.REJECTED,
                f"the server is at its memory budget ({used} MiB); compare later",
                None,
                "compare",
            )
        if s.playing:
            s.pause()
        await s.call(lambda t: compare.start(s, t, msg.config.model_dump(), msg.restart))
    await send_state(conn, history=True)
    s.request_render()


def _room_of(conn: Connection, type_: str):
    room = conn.session.room
    if room is None:
        raise ProtocolError(
            ErrorCode.REJECTED,
            "a question is asked of a room's class: open a room first",
            None,
            type_,
        )
    return room


async def on_ask(conn: Connection, msg: msgs.Ask) -> None:
    """The engine's answer is worked out now, for the next update (questions.py)."""
    room, s = _room_of(conn, "ask"), conn.session
    example = room.ui.get("example")
    posed = await s.call(lambda t: questions.pose(t, msg.question, example))
    await room.poll.ask(posed)


async def on_answer(conn: Connection, msg: msgs.Answer) -> None:
    if conn.role != "follower":
        raise ProtocolError(
            ErrorCode.REJECTED, "the class answers; the presenter reveals", None, "answer"
        )
    await _room_of(conn, "answer").poll.answer(conn, msg.question, msg.value)


async def on_reveal(conn: Connection, msg: msgs.Reveal) -> None:
    await _room_of(conn, "reveal").poll.reveal()


# `on_<type>` for each message messages_in.py lists, found by name: a message without its
# handler fails at import
HANDLERS: dict[str, Handler] = {t: globals()[f"on_{t}"] for t in msgs.CLIENT_TYPES}
assert set(HANDLERS) == set(msgs.CLIENT_TYPES), "every client message needs a handler"
