"""Protocol messages read off a trainer. Called with the session's trainer lock held."""

from __future__ import annotations

from typing import Any

from .protocol import Loss, Metrics, State, StepMsg


def thin(history: list[dict], n: int) -> list[dict]:
    """At most n entries, evenly spaced, the first and the last always kept."""
    if len(history) <= n:
        return list(history)
    last = len(history) - 1
    return [history[round(i * last / (n - 1))] for i in range(n)]


def state_message(trainer, *, playing: bool, speed: int, view: dict[str, int],
                  points: bool, history: int | None) -> State:
    """`points` includes the data; `history` (a count) includes that many history entries."""
    return State(
        config=trainer.config.to_dict(),
        params=trainer.parameters(),
        metrics=trainer.metrics(),
        playing=playing,
        speed=speed,
        phase=trainer.phase,
        stopped=trainer.stopped,
        stop_message=trainer.stop_message,
        can_step_back=trainer.can_step_back,
        view=view,
        points=trainer.points() if points else None,
        history=thin(trainer.history, history) if history else None,
    )


def step_message(trainer, rec, count: int, playing: bool) -> StepMsg:
    """The `step` reply for record `rec` (None when training stopped before the last update
    of a multi-update step), after `count` updates or phases."""
    if rec is None:
        m = trainer.metrics()
        return StepMsg(step=trainer.step_count, epoch=trainer.epoch, loss=Loss(**m["loss"]),
                       accuracy=m["accuracy"], grad_norms=m["grad_norms"], update_ratios=[],
                       count=count, applied=True, phase=trainer.phase,
                       record_step=trainer.step_count, batch=[], batch_loss=None, penalty=None,
                       playing=playing, stopped=trainer.stopped)
    m: dict[str, Any] = rec.metrics if rec.metrics is not None else trainer.metrics()
    return StepMsg(
        step=trainer.step_count,
        epoch=trainer.epoch,
        loss=Loss(**m["loss"]),
        accuracy=m["accuracy"],
        grad_norms=rec.grad_norms,
        update_ratios=rec.update_ratios,
        count=count,
        applied=rec.applied,
        phase=trainer.phase,
        record_step=rec.step,
        batch=rec.batch.tolist(),
        batch_loss=_finite(rec.loss),
        penalty=_finite(rec.penalty),
        playing=playing,
        stopped=trainer.stopped,
    )


def metrics_message(trainer, updates: int, playing: bool) -> Metrics:
    """One play frame's numbers; reuses the history entry `run` just appended."""
    fresh = updates > 0 and trainer.history and trainer.history[-1]["step"] == trainer.step_count
    m = trainer.history[-1] if fresh else trainer.metrics()
    return Metrics(step=trainer.step_count, epoch=trainer.epoch, loss=Loss(**m["loss"]),
                   accuracy=m["accuracy"], grad_norms=m["grad_norms"], updates=updates,
                   playing=playing)


def _finite(x: float) -> float | None:
    x = float(x)
    return x if x - x == 0.0 else None
