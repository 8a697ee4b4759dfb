"""The priority pool: urgent jobs overtake queued normal ones; results, errors, shutdown."""

import threading

import pytest

from server.pool import NORMAL, URGENT, PriorityPool


def test_urgent_jobs_overtake_queued_ones_and_order_is_fifo_within_a_priority():
    pool = PriorityPool(1, "t")
    gate, ran = threading.Event(), []
    blocker = pool.submit(gate.wait)  # holds the only thread while the queue fills
    futures = [pool.submit(ran.append, f"n{i}", priority=NORMAL) for i in range(3)]
    futures += [pool.submit(ran.append, f"u{i}", priority=URGENT) for i in range(2)]
    gate.set()
    for f in [blocker, *futures]:
        f.result(timeout=5)
    assert ran == ["u0", "u1", "n0", "n1", "n2"]
    pool.shutdown()


def test_results_and_exceptions_reach_the_caller():
    pool = PriorityPool(2)
    assert pool.submit(sum, [1, 2, 3]).result(timeout=5) == 6
    with pytest.raises(ZeroDivisionError):
        pool.submit(lambda: 1 / 0).result(timeout=5)
    assert pool.submit(pow, 2, 10).result(timeout=5) == 1024  # the thread survived the error
    pool.shutdown()


def test_shutdown_cancels_queued_jobs_and_refuses_new_ones():
    pool = PriorityPool(1)
    started, gate = threading.Event(), threading.Event()
    running = pool.submit(lambda: started.set() or gate.wait())
    assert started.wait(5)
    queued = pool.submit(lambda: "never")
    pool.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled()
    gate.set()
    assert running.result(timeout=5) is True
    with pytest.raises(RuntimeError):
        pool.submit(print)
    for t in pool._threads:
        t.join(timeout=5)
        assert not t.is_alive()
