"""A room's poll: the open question, the followers' answers and the presenter's tally.

The presenter asks (questions.py works out the engine's answer at once); everyone in the
room gets the `question`, joiners too. Each follower has one answer, kept under its voter
id (the page makes one per tab and reconnects with it, `/ws?room=<code>&voter=<id>`): a
changed answer replaces the earlier one, a follower that reconnects keeps its answer, one
that comes back on another worker is not counted twice. An address has at most
`max_followers_per_address` voters per question (the same cap as its follower sockets),
and a follower at most BURST answers at once and RATE a second. The presenter gets the
counts (no voters, no addresses) at most twice a second; the reveal closes the answers, so
an answer after it is refused, and everyone gets the engine's answer and the distribution.

In one process the answers are a dict (`LocalBallot`); in cluster mode a hash in Redis per
question (`RedisBallot`), which every worker writes and the holder of the room reads, and
which the reveal closes in one step with reading it. On a follower's worker the question is
known from the room's channel (`RelayedPoll`, fed by feeds.py).
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import TYPE_CHECKING

from . import questions
from .messages_out import Answers
from .protocol import ErrorCode, ProtocolError, encode
from .store import key

if TYPE_CHECKING:
    from .client import Connection
    from .questions import Posed

TALLY_PERIOD_S = 0.5  # the presenter's counts, at most this often
BURST, RATE = 4, 2.0  # a follower's answers: at once, then a second
VOTER = re.compile(r"[A-Za-z0-9_-]{16,64}")

_CLOSED = "the answers to this question are closed: the presenter has revealed it"


def _too_many(n: int) -> ProtocolError:
    return ProtocolError(
        ErrorCode.REJECTED,
        f"{n} tabs at your address have answered already, the limit",
        None,
        "answer",
    )


class LocalBallot:
    """One question's answers in this process: voter → value."""

    def __init__(self) -> None:
        self.answers: dict[str, str | float] = {}
        self.voters: dict[str | None, set[str]] = {}  # by address
        self.closed = False

    async def cast(self, voter: str, address: str | None, value, cap: int) -> None:
        if self.closed:
            raise ProtocolError(ErrorCode.REJECTED, _CLOSED, "question", "answer")
        mine = self.voters.setdefault(address, set())
        if cap >= 0 and voter not in mine and len(mine) >= cap:
            raise _too_many(len(mine))
        mine.add(voter)
        self.answers[voter] = value

    async def get(self, voter: str):
        return self.answers.get(voter)

    async def values(self) -> list:
        return list(self.answers.values())

    async def close(self) -> list:
        self.closed = True
        return list(self.answers.values())


# a vote: refused (-1) if the question is closed, else (-2) taken unless the address has
# `cap` other voters already (then their count)
_CAST = """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local cap = tonumber(ARGV[3])
if cap >= 0 and redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 0 then
  local n = redis.call('SCARD', KEYS[3])
  if n >= cap then return n end
end
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return -2
"""
_CLOSE = """
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
return redis.call('HVALS', KEYS[1])
"""


class RedisBallot:
    """One question's answers in Redis (cluster mode): `ans:<code>:<id>` voter → value,
    `ansc:…` once closed, `ansa:…:<address>` each address's voters."""

    def __init__(self, cluster, code: str, qid: str):
        self.cluster, self.redis = cluster, cluster.redis
        self.answers_key, self.closed_key = key("ans", code, qid), key("ansc", code, qid)
        self.address_key = lambda a: key("ansa", code, qid, a or "")
        self.ttl = max(1, int(cluster.settings.room_ttl_s))

    async def cast(self, voter: str, address: str | None, value, cap: int) -> None:
        keys = [self.answers_key, self.closed_key, self.address_key(address)]
        n = await self._run(_CAST, keys, [voter, json.dumps(value), cap, self.ttl])
        if n == -1:
            raise ProtocolError(ErrorCode.REJECTED, _CLOSED, "question", "answer")
        if n >= 0:
            raise _too_many(n)

    async def get(self, voter: str):
        v = await self._call(self.redis.hget(self.answers_key, voter))
        return None if v is None else json.loads(v)

    async def values(self) -> list:
        return [json.loads(v) for v in await self._call(self.redis.hvals(self.answers_key))]

    async def close(self) -> list:
        got = await self._run(_CLOSE, [self.answers_key, self.closed_key], [self.ttl])
        return [json.loads(v) for v in got]

    async def _run(self, script: str, keys: list, args: list):
        return await self._call(self.redis.eval(script, len(keys), *keys, *args))

    async def _call(self, awaitable):
        try:
            return await awaitable
        except self.cluster.down_errors:
            raise ProtocolError(
                ErrorCode.REJECTED,
                "the server cannot reach its shared store for a moment; answer again",
                None,
                "answer",
            ) from None


class Voting:
    """What a follower's `answer` needs: the open question's id and choices, its ballot,
    and whether it was revealed; shared by the holder's poll and a relayed one."""

    def __init__(self) -> None:
        self.qid: str | None = None
        self.choices: tuple[str, ...] | None = None
        self.ballot: LocalBallot | RedisBallot | None = None
        self.revealed: str | None = None  # the reveal's text, once shown

    async def answer(self, conn: Connection, qid: str, value) -> None:
        """Count `conn`'s answer (replacing its earlier one) and confirm it to `conn`."""
        if self.qid is None or qid != self.qid:
            raise ProtocolError(
                ErrorCode.REJECTED,
                "there is no open question with that id (the presenter may have asked another)",
                "question",
                "answer",
            )
        if self.revealed is not None:
            raise ProtocolError(ErrorCode.REJECTED, _CLOSED, "question", "answer")
        value = questions.checked(self.choices, value)
        if not conn.answers.take():
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"at most {RATE:g} answers a second; your last answer counts",
                None,
                "answer",
            )
        budgets, cap = conn.manager.budgets, conn.settings.max_followers_per_address
        await self.ballot.cast(
            conn.voter, conn.address, value, -1 if budgets.exempt(conn.address) else cap
        )
        conn.reply(self._question(await self.ballot.get(conn.voter)))

    async def texts(self, conn) -> list[str]:
        """What a joiner (or a presenter back online) is told: the question with its own
        answer, and the reveal if it was shown."""
        if self.qid is None:
            return []
        mine = None
        if conn.role == "follower":
            try:
                mine = await self.ballot.get(conn.voter)
            except ProtocolError:
                mine = None  # Redis away: the page keeps the answer it shows
        return [self._question(mine)] + ([self.revealed] if self.revealed is not None else [])

    async def greet(self, conn) -> None:
        for text in await self.texts(conn):
            conn.reply(text)

    def _question(self, answer) -> str:
        raise NotImplementedError


class Poll(Voting):
    """The room's question on the worker that holds its session: asked, tallied for the
    presenter, revealed, and kept in the session's checkpoint."""

    def __init__(self, room) -> None:
        super().__init__()
        self.room = room
        self.posed: Posed | None = None
        self._tally: asyncio.Task | None = None
        self._told: str | None = None  # the last counts sent to the presenter

    def _ballot(self, qid: str):
        room = self.room
        return LocalBallot() if room.cluster is None else RedisBallot(room.cluster, room.code, qid)

    async def ask(self, posed: Posed) -> None:
        """`posed` replaces the open question; everyone in the room gets it."""
        self._start(posed, self._ballot(posed.id), None)
        self.room.session.share(encode(posed.message()))

    def _start(self, posed: Posed, ballot, revealed: str | None) -> None:
        self.posed, self.qid, self.choices = posed, posed.id, posed.choices
        self.ballot, self.revealed, self._told = ballot, revealed, None
        if self._tally is not None:
            self._tally.cancel()
        self._tally = None
        if revealed is None:
            self._tally = asyncio.get_running_loop().create_task(self._tally_loop())

    async def reveal(self) -> None:
        if self.posed is None:
            raise ProtocolError(
                ErrorCode.REJECTED, "there is no question to reveal; ask one first", None, "reveal"
            )
        if self.revealed is None:
            if self._tally is not None:
                self._tally.cancel()
            values = await self.ballot.close()
            self.revealed = encode(self.posed.reveal(values, self.room.followers))
            self.room.session.changed = True
        self.room.session.share(self.revealed)

    def _question(self, answer) -> str:
        return encode(self.posed.message(answer))

    def presenter_back(self) -> None:
        self._told = None  # the next tally goes to the new connection whatever it says

    async def _tally_loop(self) -> None:
        """The counts for the presenter, at most every TALLY_PERIOD_S, when they changed."""
        posed, room = self.posed, self.room
        while True:
            client = room.session.client
            if client is not None:
                try:
                    values = await self.ballot.values()
                except ProtocolError:
                    values = None  # Redis away: the next turn tries again
                if values is not None:
                    counts, bins = posed.tally(values)
                    text = encode(
                        Answers(
                            id=posed.id,
                            counts=counts,
                            bins=bins,
                            answered=len(values),
                            followers=room.followers,
                        )
                    )
                    if text != self._told and room.session.client is client:
                        client.reply(text)
                        self._told = text
            await asyncio.sleep(TALLY_PERIOD_S)

    def record(self) -> dict | None:
        """The poll for a checkpoint (the answers themselves are in Redis)."""
        if self.posed is None:
            return None
        return {"posed": self.posed.record(), "revealed": self.revealed}

    def restore(self, record: dict | None) -> None:
        if record:
            posed = questions.Posed.from_record(record["posed"])
            self._start(posed, self._ballot(posed.id), record.get("revealed"))

    def stop(self) -> None:
        if self._tally is not None:
            self._tally.cancel()


class RelayedPoll(Voting):
    """A room's question on a worker that relays it (cluster mode), as its channel said."""

    def __init__(self, cluster, code: str):
        super().__init__()
        self.cluster, self.code = cluster, code
        self.text: str | None = None

    def note(self, text: str) -> None:
        """A `question` or `reveal` relayed from the room's holder."""
        msg = json.loads(text)
        if msg["type"] == "question" and msg["id"] != self.qid:
            self.qid, self.text, self.revealed = msg["id"], text, None
            self.choices = None if msg["choices"] is None else tuple(msg["choices"])
            self.ballot = RedisBallot(self.cluster, self.code, msg["id"])
        elif msg["type"] == "reveal" and msg["id"] == self.qid:
            self.revealed = text

    def restore(self, record: dict) -> None:
        """The question a checkpoint holds, unless the channel told of it (or a newer) already."""
        posed = questions.Posed.from_record(record["posed"])
        if self.qid is None:
            self.note(encode(posed.message()))
        if posed.id == self.qid and self.revealed is None:
            self.revealed = record.get("revealed")

    def _question(self, answer) -> str:
        msg = json.loads(self.text)
        msg["answer"] = answer
        return json.dumps(msg, allow_nan=False, separators=(",", ":"))
