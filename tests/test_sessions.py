"""Where a session's work runs: cheap frames on the event loop's thread, the rest in pools."""

import asyncio
import math
import threading
import time

from server.playing import GIVE_WAY_TURNS
from server.pool import PriorityPool
from server.sessions import INLINE_QUICK_S, Session
from server.settings import Settings


def where(trainer):
    return threading.current_thread()


def costly(trainer):
    start = time.thread_time()
    while time.thread_time() - start < 2 * INLINE_QUICK_S:
        pass
    return threading.current_thread()


def session():
    return Session("s" * 16, object(), Settings(), PriorityPool(1, "t"), PriorityPool(1, "h"))


def test_cheap_frames_run_on_the_loop_and_costly_ones_in_the_pool():
    s = session()

    async def main():
        loop_thread = threading.current_thread()
        assert await s.call(where, quick=True) is loop_thread
        assert await s.call(costly, quick=True) is loop_thread  # not known to be costly yet
        assert await s.call(where, quick=True) is not loop_thread  # the last one was
        assert await s.call(where, quick=True) is loop_thread  # ...and this one was cheap
        assert await s.call(where) is not loop_thread  # commands always go to a pool
        assert await s.call(where, heavy=True) is not loop_thread

    asyncio.run(main())


def test_a_frame_never_blocks_the_loop_on_a_lock_a_long_job_holds():
    s = session()

    async def main():
        loop_thread, ticks = threading.current_thread(), []
        holding = threading.Event()

        def long_job():
            with s.lock:
                holding.set()
                time.sleep(0.3)

        threading.Thread(target=long_job).start()
        holding.wait(5)

        async def ticker():
            while True:
                ticks.append(time.monotonic())
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        t0 = time.monotonic()
        ran_on = await s.call(where, quick=True)  # waits for the lock in a pool thread
        tick_task.cancel()
        assert ran_on is not loop_thread and time.monotonic() - t0 > 0.2
        assert len(ticks) >= 10  # the loop went on meanwhile

    asyncio.run(main())


def test_a_faster_play_speed_makes_its_first_frame_in_the_pool():
    s = session()

    async def main():
        loop_thread = threading.current_thread()
        assert await s.call(where, quick=True) is loop_thread
        s.play(50)  # no client attached: only the speed and the estimate change
        assert await s.call(where, quick=True) is not loop_thread
        assert await s.call(where, quick=True) is loop_thread  # measured cheap after all
        s.play(10)  # slower: the estimate stands
        assert await s.call(where, quick=True) is loop_thread

    asyncio.run(main())


def test_a_private_session_gives_way_to_a_room_whose_frame_is_due():
    ticks: dict = {}
    fork = Session("f" * 16, object(), Settings(), PriorityPool(1, "t"), room_ticks=ticks)
    room = object()  # stands for a room's session

    async def main():
        loop = asyncio.get_running_loop()
        order = []

        async def room_frame():
            order.append("room")
            ticks[room] = math.inf  # made; the next one is not due yet

        ticks[room] = loop.time()  # due now, its task not started yet
        loop.create_task(room_frame())
        await fork._give_way(loop)
        order.append("fork")
        assert order == ["room", "fork"]
        # a room that never gets to run holds a fork up for a few turns only
        ticks[room] = loop.time()
        turns, counting = [0], [True]

        def count_turns():
            turns[0] += 1
            if counting[0]:
                loop.call_soon(count_turns)

        loop.call_soon(count_turns)
        await fork._give_way(loop)
        counting[0] = False
        assert turns[0] <= GIVE_WAY_TURNS + 1, turns
        # and nothing due holds nobody
        ticks[room] = loop.time() + 10
        ran = []
        loop.call_soon(ran.append, 1)
        await fork._give_way(loop)
        assert ran == []  # returned without yielding

    asyncio.run(main())
