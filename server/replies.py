"""The server's replies read off a trainer (`state`, `step`, `metrics`, compare mode's run B).
Called with the session's trainer lock held. (The engine's per-frame numbers are
engine/readouts.py: these messages carry them.)"""

from __future__ import annotations

from typing import Any

from .messages_out import CompareReadout, Metrics, RunB, State, StepMsg


def thin(history: list[dict], n: int) -> list[dict]:
    """At most n entries, evenly spaced, the first and the last always kept."""
    if len(history) <= n:
        return list(history)
    last = len(history) - 1
    return [history[round(i * last / (n - 1))] for i in range(n)]


def progress(trainer, fresh: bool = False) -> RunB:
    """Compare mode's run B: its metrics, from the last history entry when it is this step's
    (play, steps) unless `fresh` asks for a new evaluation, and why it stopped."""
    h = trainer.history
    m = h[-1] if h and not fresh and h[-1]["step"] == trainer.step_count else trainer.metrics()
    return RunB(**_now(trainer, m), stopped=trainer.stopped)


def compare_readout(run_b, changes: dict, history: int | None) -> CompareReadout:
    """Compare mode's run B for a `state`: its config, what differs, numbers, history."""
    return CompareReadout(
        config=run_b.config.to_dict(),
        model=run_b.model(),
        changes=dict(changes),
        metrics=progress(run_b, fresh=True),
        stop_message=run_b.stop_message,
        history=thin(run_b.history, history) if history else None,
    )


def state_message(
    trainer,
    *,
    playing: bool,
    speed: int,
    rate: float = 30.0,
    points: bool,
    history: int | None,
    run_b=None,
    b_changes: dict | None = None,
    effect: str | None = None,
) -> State:
    """`points` includes the data; `history` (a count) includes that many history entries;
    `run_b` is compare mode's trainer B, if any; `effect` what a `configure` just did."""
    return State(
        config=trainer.config.to_dict(),
        model=trainer.model(),
        params=trainer.parameters(),
        metrics=trainer.metrics(),
        playing=playing,
        speed=speed,
        rate=rate,
        phase=trainer.phase,
        stopped=trainer.stopped,
        stop_message=trainer.stop_message,
        can_step_back=trainer.can_step_back,
        points=trainer.points() if points else None,
        history=thin(trainer.history, history) if history else None,
        compare=None if run_b is None else compare_readout(run_b, b_changes or {}, history),
        effect=effect,
    )


def session_state(
    session, trainer, *, points: bool, history: int | None, effect: str | None = None
) -> State:
    """`state_message` for a session (its play state and compare mode's run B): lock held."""
    return state_message(
        trainer,
        playing=session.playing,
        speed=session.speed,
        rate=session.rate,
        points=points,
        history=history,
        run_b=session.run_b,
        b_changes=session.b_changes,
        effect=effect,
    )


def step_message(trainer, rec, count: int, playing: bool, run_b=None) -> StepMsg:
    """The `step` reply for record `rec` (None when training stopped before the last update
    of a multi-update step), after `count` updates or phases."""
    msg = _step_message(trainer, rec, count, playing)
    return msg if run_b is None else msg.model_copy(update={"compare": progress(run_b)})


def _now(trainer, m: dict[str, Any]) -> dict[str, Any]:
    """The metrics `m` of the trainer's current step (Trainer.metrics(), or the history entry
    made from it) under the trainer's counters: what every `step` and `metrics` carries."""
    return {**m, "step": trainer.step_count, "epoch": trainer.epoch}


def _step_message(trainer, rec, count: int, playing: bool) -> StepMsg:
    if rec is None:
        return StepMsg(
            **_now(trainer, trainer.metrics()),
            update_ratios=[],
            count=count,
            applied=True,
            phase=trainer.phase,
            record_step=trainer.step_count,
            batch=[],
            batch_loss=None,
            penalty=None,
            playing=playing,
            stopped=trainer.stopped,
        )
    # a half-shown phase step's record is the next update's: the readouts are this step's
    m: dict[str, Any] = rec.metrics if rec.metrics is not None else trainer.metrics()
    return StepMsg(
        **_now(trainer, m),
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


def metrics_message(trainer, updates: int, playing: bool, run_b=None) -> Metrics:
    """One play frame's numbers; reuses the history entry `run` just appended."""
    fresh = updates > 0 and trainer.history and trainer.history[-1]["step"] == trainer.step_count
    m = trainer.history[-1] if fresh else trainer.metrics()
    return Metrics(
        **_now(trainer, m),
        updates=updates,
        playing=playing,
        compare=None if run_b is None else progress(run_b),
    )


def _finite(x: float) -> float | None:
    x = float(x)
    return x if x - x == 0.0 else None
