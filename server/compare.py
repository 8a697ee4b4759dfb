"""Compare mode: run B, a second trainer beside the session's run A, moved in lockstep.

B's config is always A's with the compared `changes` on top, and B trains on A's very points
with A's seed. The changes may be live fields (LIVE_FIELDS: the optimizer, the learning
rate, the activation, dropout...) or structural ones (STRUCTURE_FIELDS: input features,
hidden layers, initialisation, batch norm, residual), never data fields (SAME_FIELDS: the
data set, its size, noise, split, classes and the seed), so the two runs differ only in
what is compared. How B is built depends on which differ:

* live only: B is a copy of A (weights, optimizer state, counters) with the changes;
* structural: B is a new network drawn from the seed on A's points (`Trainer.variant`), so A
  restarts from the seed too and both stand at step 0.

When A is edited while comparing, B follows (each function below says how):

| edit of A                                      | B                                        |
|------------------------------------------------|------------------------------------------|
| live fields (`configure`)                      | the same, except its compared fields     |
| data or structure (`configure`), `reset`,      | rebuilt from A with its changes (so a    |
| `import`                                       | structural B restarts both runs)         |
| a point added or removed                       | the same edit: each run keeps its weights|
| weights (`set_weight`, `set_params`)           | a copy of A again if live only; a        |
|                                                | structural B keeps its own network       |

Every function runs with the session's lock held (inside `Session.call`) and checks B's side
before it changes anything, so a refusal leaves both runs as they were. Only this module
writes `Session.run_b` and `Session.b_changes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.config import (
    DATA_FIELDS,
    FIELD_BY_NAME,
    LIVE_FIELDS,
    NETWORK_FIELDS,
    Config,
    ConfigError,
)
from engine.errors import TrainerError

if TYPE_CHECKING:
    from engine.trainer import Trainer

    from .sessions import Session

SAME_FIELDS = frozenset(DATA_FIELDS)  # B shares them with A
STRUCTURE_FIELDS = frozenset(NETWORK_FIELDS)  # B's own network: both runs restart
assert (
    SAME_FIELDS | STRUCTURE_FIELDS | LIVE_FIELDS == FIELD_BY_NAME.keys()
    and not SAME_FIELDS & STRUCTURE_FIELDS
    and not LIVE_FIELDS & (SAME_FIELDS | STRUCTURE_FIELDS)
)


def config_of_b(a_config: Config, changes: dict[str, Any]) -> Config:
    """A's config with B's changes; a ConfigError says when B cannot follow A there."""
    try:
        return a_config.replace(**changes)
    except ConfigError as e:
        raise ConfigError(
            e.field, f"run B (compare mode) cannot follow this change ({e}); stop comparing first"
        ) from None


def is_structural(a_config: Config, b_config: Config) -> bool:
    """Whether B's network differs from A's, so that B cannot share A's weights."""
    return bool(a_config.changed_fields(b_config) & STRUCTURE_FIELDS)


def start(s: Session, a: Trainer, changes: dict[str, Any], restart: bool) -> None:
    """Compare A with B = A's config + `changes`. Refuses a data field (ConfigError naming
    it), an invalid B (ConfigError) and, when B's network differs, `restart` false
    (TrainerError: B cannot continue from A's weights)."""
    if same := sorted(changes.keys() & SAME_FIELDS):
        raise ConfigError(
            same[0],
            "run B shares run A's data and seed, so that the runs "
            "differ only in what is compared; change it on A (B follows)",
        )
    b_config = a.config.replace(**changes)
    structural = is_structural(a.config, b_config)
    if structural and not restart:
        raise TrainerError(
            "run B's network differs from A's, so it cannot continue from A's "
            "weights: both runs restart from the seed (send restart: true)"
        )
    if restart:
        a.reset()
    values = b_config.to_dict()
    s.b_changes = {name: values[name] for name in changes}  # in the config's own form
    s.run_b = _build(a, s.b_changes, structural)


def stop(s: Session) -> None:
    s.run_b, s.b_changes = None, {}


def configure(s: Session, a: Trainer, changes: dict[str, Any]) -> set[str]:
    """A.configure(changes) (a `configure`); returns what changed. B follows:
    live changes reach it except its compared fields; a data or structure change rebuilds
    it. A change B cannot take (batch size 1 beside B's batch norm, a head that no longer
    fits B's changes) is refused as a ConfigError naming the field, before A changes."""
    b = s.run_b
    if b is None:
        return a.configure(changes)
    target = config_of_b(a.config.replace(**changes), s.b_changes)
    changed = a.configure(changes)
    if not changed <= LIVE_FIELDS:
        rebuild(s, a)
    elif follow := target.changed_fields(b.config):
        values = target.to_dict()
        b.configure({name: values[name] for name in follow})
    return changed


def rebuild(s: Session, a: Trainer) -> None:
    """After A was rebuilt, reset or replaced (call it before A replaces the session's
    trainer: it may refuse): B starts again from A with its changes (when B's network
    differs, A restarts from the seed too)."""
    if s.run_b is None:
        return
    structural = is_structural(a.config, config_of_b(a.config, s.b_changes))
    if structural:
        a.reset()
    s.run_b = _build(a, s.b_changes, structural)


def edit_points(s: Session, a: Trainer, edit: Callable[[Trainer], Any]) -> None:
    """`edit(a)`, a point added or removed, then the same edit on B: both keep their
    weights and train on the same points (the edit cannot fail on B where it passed on A:
    the points are the same)."""
    edit(a)
    if s.run_b is not None:
        edit(s.run_b)


def edit_weights(s: Session, a: Trainer, edit: Callable[[Trainer], Any]) -> None:
    """`edit(a)`, A's weights set by hand; a B of the same network becomes a copy of A with
    its changes again (the runs compare from the same weights), a structural B keeps its
    own network and weights."""
    edit(a)
    b = s.run_b
    if b is not None and not is_structural(a.config, b.config):
        s.run_b = _build(a, s.b_changes, False)


def step_back(s: Session, a: Trainer) -> bool:
    """Undo the last update of both runs, or of neither (False)."""
    b = s.run_b
    if b is not None and not b.can_step_back:
        return False
    if not a.step_back():
        return False
    if b is not None:
        b.step_back()
    return True


def _build(a: Trainer, changes: dict[str, Any], structural: bool) -> Trainer:
    if structural:
        return a.variant(changes)
    b = a.__class__.from_snapshot(a.snapshot())
    b.configure(dict(changes))
    return b
