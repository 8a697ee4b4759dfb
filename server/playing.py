"""Playing: a session's play loop, and the frames it and each discrete change send.

Play mode is one task per session: at most `frame_rate` times a second it runs
`trainer.run(speed)`, reads the metrics and the weights, and encodes ONE frame: a `metrics`
text and a binary weights frame (frames.py: the parameters, the last gradients and, in
compare mode, run B's parameters; the page computes its heatmaps from them). The frame goes
to the attached connection's newest-wins outbox and, within their byte budget, to the
followers' (fanout.py). After a discrete change (a `step`, a `set`...) one weights frame is
rendered soon, at most `frame_rate` a second; after a `step` the step's record frame (its
arrays, frames.record_frame) goes before it. A detached session keeps its play state, with
its loop paused until a connection `resume`s it.

Frames, the hot path, are `quick` jobs (sessions.Session.call): cheap ones run on the event
loop's thread. When the loop is saturated, a room's due frame goes before private
sessions' (`_give_way`): a class watching one session outweighs any one fork.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from . import frames, replies
from .messages_out import Stopped
from .protocol import encode

if TYPE_CHECKING:
    from .budgets import Budgets
    from .fanout import Attached
    from .settings import Settings

log = logging.getLogger("backprop_lab.sessions")
GIVE_WAY_TURNS = 4  # loop turns a room's due frame needs to start (its timer, then its task)


def cancel(task: asyncio.Task | None) -> None:
    if task is not None and not task.done():
        task.cancel()


class Playing:
    """Mixed into sessions.Session: play mode and the frames after discrete changes."""

    # of the Session this is mixed into (fanout.FanOut gives `followers`, `share`, `_fan`)
    id: str
    settings: Settings
    address: str | None
    budgets: Budgets | None
    client: Attached | None
    followers: set
    room: Any
    run_b: Any
    call: Callable[..., Awaitable[Any]]
    cost_unknown: Callable[[], None]
    share: Callable[[str | bytes], None]
    _fan: Callable[..., None]

    def _init_playing(self, room_ticks: dict | None) -> None:
        self.playing = False
        self.speed = 1
        self.period = 1.0 / self.settings.frame_rate  # seconds between play frames
        self._play_task: asyncio.Task | None = None
        self._render_task: asyncio.Task | None = None
        self._render_wanted = False
        self.pending_record = None  # the last `step` command's StepRecord, not yet sent
        # when each playing room's next frame is due (loop time), shared by all sessions
        self._room_ticks = room_ticks if room_ticks is not None else {}

    @property
    def rate(self) -> float:
        """Updates a second while playing."""
        return self.speed / self.period

    def play(self, speed: int, period: float | None = None) -> None:
        """Play `speed` updates a frame, a frame every `period` seconds (1/frame_rate)."""
        if speed > self.speed:  # a frame's cost is not known at this speed: measure it in the pool
            self.cost_unknown()
        self.playing, self.speed = True, speed
        self.period = period or 1.0 / self.settings.frame_rate
        if self.client is not None:
            self._start_play_loop()

    def pause(self) -> None:
        self.playing = False
        cancel(self._play_task)
        self._play_task = None

    def resume(self) -> None:
        """Play on, if the session was playing, now that its connection has the state."""
        if self.playing and self.client is not None:
            self._start_play_loop()

    def _stop_loops(self, render: bool = True) -> None:
        """Its connection changed: no frame goes until it has the state (`playing` stays)."""
        cancel(self._play_task)
        self._play_task = None
        if render:
            cancel(self._render_task)
            self._render_task = None

    def _start_play_loop(self) -> None:
        if self._play_task is None or self._play_task.done():
            self._play_task = asyncio.get_running_loop().create_task(self._play_loop())

    async def _play_loop(self) -> None:
        loop = asyncio.get_running_loop()
        tick = loop.time()
        try:
            while self.playing and self.client is not None:
                if self.budgets is not None and (wait := self.budgets.cpu_wait(self.address)):
                    await asyncio.sleep(wait)  # over its address's CPU share: fewer frames
                    tick = loop.time()
                if self.room is None:
                    await self._give_way(loop)
                else:
                    self._room_ticks[self] = math.inf  # making it now
                payloads, stopped = await self.call(self._play_frame, self.speed, quick=True)
                if self.client is None:
                    return
                self._fan(*payloads, metered=True)
                if stopped is not None:
                    self.playing = False
                    self.share(stopped)
                    return
                tick += self.period
                delay = tick - loop.time()
                if delay < 0:  # late: start a fresh schedule rather than burst to catch up
                    tick, delay = loop.time(), 0.0
                if self.room is not None:
                    self._room_ticks[self] = tick
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("play loop of session %s failed; playing stops", self.id)
            self.playing = False
        finally:
            self._room_ticks.pop(self, None)

    async def _give_way(self, loop) -> None:
        """A private session's frame waits a few turns of the loop while a room's is due: when
        the server is saturated, a class watching one session outweighs any one fork (with
        equal shares, 200 followers and 40 forks playing got 19 frames/s each)."""
        for _ in range(GIVE_WAY_TURNS):
            now = loop.time()
            if not any(t <= now for t in self._room_ticks.values()):
                return
            await asyncio.sleep(0)

    def _play_frame(self, trainer, speed: int) -> tuple[tuple, str | None]:
        """Runs with the lock held: `speed` updates, then one frame (the page's, and the
        followers' when a room follows)."""
        updates = trainer.run(speed)
        run_b = self.run_b
        if run_b is not None and updates:
            run_b.run(updates)
        message = replies.metrics_message(trainer, updates, playing=True, run_b=run_b)
        metrics = encode(message)
        own, room = self._weights(trainer)
        stopped = None
        if trainer.stopped is not None:
            stopped = encode(Stopped(reason=trainer.stopped, message=trainer.stop_message))
        if room is None:
            return ((metrics, own), None), stopped
        # the same numbers, shorter: built once, encoded twice (an evaluation is not cheap)
        return ((metrics, own), (encode(message, digits=6), room)), stopped

    def _weights(self, trainer, for_room: bool | None = None) -> tuple[bytes, bytes | None]:
        """Lock held: the weights frame for the session's own page (float32) and, when a room
        follows (or `for_room`), its followers' (float16: a classroom's Wi-Fi is shared; the
        gradients only while the presenter shows the backward view, which draws them)."""
        room = self.followers if for_room is None else for_room
        shown = self.room is not None and self.room.ui.get("view") == "backward"
        return frames.session_weights(trainer, self.run_b, bool(room), room_grads=shown)

    def followers_frame(self, trainer) -> bytes:
        """Lock held: the followers' weights frame of the session as it is now."""
        return self._weights(trainer, for_room=True)[1]

    # frames after discrete changes

    def _render_frame(self, trainer, rec) -> tuple[tuple[bytes, ...], tuple[bytes, ...] | None]:
        """Lock held (Session.call: inline or in the pool): the record frame of `rec` (if any),
        then a weights frame; for the session's page and for its room's followers."""
        own, room = self._weights(trainer)
        if rec is None:
            return (own,), (room,) if room is not None else None
        meta = {"step": rec.step, "applied": rec.applied, "phase": trainer.phase}
        record = frames.record_frame(rec, meta)
        return (record, own), (record, room) if room is not None else None

    async def current_frame(self) -> tuple[bytes, ...]:
        """A followers' weights frame of the session as it is now (for one who just joined)."""
        return await self.call(lambda t: (self.followers_frame(t),), quick=True)

    def request_render(self) -> None:
        """Send a fresh weights frame soon (after the pending step's record frame, if any);
        requests are coalesced to ≤ frame_rate a second."""
        if self.client is None or (self.playing and self._play_task is not None):
            return
        self._render_wanted = True
        if self._render_task is None or self._render_task.done():
            self._render_task = asyncio.get_running_loop().create_task(self._render_loop())

    async def _render_loop(self) -> None:
        try:
            while self._render_wanted and self.client is not None:
                self._render_wanted = False
                rec, self.pending_record = self.pending_record, None
                payloads = await self.call(self._render_frame, rec, quick=True)
                if self.client is not None:
                    self._fan(*payloads)
                await asyncio.sleep(1.0 / self.settings.frame_rate)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("rendering a frame for session %s failed", self.id)
