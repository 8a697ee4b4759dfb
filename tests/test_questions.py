"""Ask the class (issue 27) over a real server: the presenter asks, followers answer, the
engine reveals.

Oracles: the session's own exact weights before and after the update the question was about
(`view` answers with the float64 `state.params`), its losses before and after, the inspector's
numbers for that update, and a forward pass written here in NumPy for a point's class.
"""

from __future__ import annotations

import contextlib
import secrets

import numpy as np

from tests.helpers.tabs import LiveTab

LINK = {"kind": "link", "layer": 0, "i": 1, "j": 2}


def voter() -> str:
    return secrets.token_urlsafe(16)


def open_room(ws) -> dict:
    ws.send('{"type": "open_room"}')
    return ws.recv_json("room")


def follow(live, code: str, voter_id: str | None = None, **kw):
    q = f"&voter={voter_id}" if voter_id else ""
    return LiveTab.open(f"{live.ws_url}?room={code}{q}", leave=False, **kw)


def exact_state(tab) -> dict:
    tab.send('{"type": "view"}')
    return tab.recv_json("state")


def counts_reach(teacher, want: dict, timeout: float = 10.0) -> dict:
    """The presenter's `answers` once they say `want` (a later tally may be needed)."""
    return teacher.recv_until(
        lambda m: m.get("type") == "answers" and all(m[k] == v for k, v in want.items()),
        timeout,
    )


def ask(teacher, question: dict) -> dict:
    teacher.send({"type": "ask", "question": question})
    return teacher.recv_json("question")


def error_of(tab, timeout: float = 5.0) -> dict:
    return tab.recv_until(lambda m: m.get("type") == "error", timeout)


def test_thirty_followers_answer_and_the_reveal_is_the_sign_of_the_real_update(live):
    with contextlib.ExitStack() as stack:
        teacher = stack.enter_context(LiveTab.open(live.ws_url))
        teacher.send({"type": "configure", "config": {"dataset": "xor", "hidden": [4]}})
        teacher.recv_json("state")
        teacher.send('{"type": "step", "count": 3}')
        teacher.recv_json("step")
        code = open_room(teacher)["code"]
        students = [stack.enter_context(follow(live, code, voter())) for _ in range(30)]
        before = exact_state(teacher)
        q = ask(teacher, {"kind": "update_sign", "target": LINK})
        assert q["choices"] == ["up", "down", "unchanged"] and q["step"] == 4
        assert "truth" not in q and q["answer"] is None
        for s in students:
            assert s.recv_json("question")["id"] == q["id"]
        # 15 say up, 15 down; then 5 of the "up"s change their mind: counts replace, never add
        for k, s in enumerate(students):
            s.send({"type": "answer", "question": q["id"], "value": "up" if k < 15 else "down"})
            assert s.recv_json("question")["answer"] == ("up" if k < 15 else "down")
        for s in students[:5]:
            s.send({"type": "answer", "question": q["id"], "value": "down"})
            assert s.recv_json("question")["answer"] == "down"
        tally = counts_reach(teacher, {"answered": 30, "counts": [10, 20, 0]})
        assert tally["followers"] == 30 and set(tally) == {
            "type",
            "id",
            "counts",
            "bins",
            "answered",
            "followers",
        }  # counts only: no voters, no addresses
        # the oracle: the session's real update of that weight, made after the question
        teacher.send('{"type": "step"}')
        teacher.recv_json("step")
        after = exact_state(teacher)
        w0 = before["params"]["weights"][0][1][2]
        w1 = after["params"]["weights"][0][1][2]
        assert w1 != w0
        sign = "up" if w1 > w0 else "down"
        teacher.send('{"type": "reveal"}')
        shown = teacher.recv_json("reveal")
        assert shown["truth"] == sign and shown["id"] == q["id"]
        np.testing.assert_allclose(shown["value"], w1 - w0, rtol=1e-9, atol=1e-15)
        assert shown["counts"] == [10, 20, 0] and shown["answered"] == 30
        assert shown["right"] == (10 if sign == "up" else 20)
        for s in students:
            assert s.recv_json("reveal") == shown
        # a late answer is refused, with the reason, and counts nothing
        students[0].send({"type": "answer", "question": q["id"], "value": "up"})
        late = error_of(students[0])
        assert (
            late["code"] == "rejected" and late["re"] == "answer" and "revealed" in late["message"]
        )
        # a follower may not ask or reveal
        students[1].send({"type": "ask", "question": {"kind": "loss_direction"}})
        assert error_of(students[1])["code"] == "forbidden"
        students[1].send('{"type": "reveal"}')
        assert error_of(students[1])["code"] == "forbidden"
        # a late joiner sees the question and its reveal at once
        with follow(live, code, voter()) as late_joiner:
            assert late_joiner.recv_json("question")["id"] == q["id"]
            assert late_joiner.recv_json("reveal")["truth"] == sign


def test_a_follower_who_reconnects_keeps_its_answer_and_counts_once(live):
    with LiveTab.open(live.ws_url) as teacher:
        code = open_room(teacher)["code"]
        q = ask(teacher, {"kind": "loss_direction"})
        me = voter()
        with follow(live, code, me) as s:
            s.recv_json("question")
            s.send({"type": "answer", "question": q["id"], "value": "down"})
            s.recv_json("question")
        counts_reach(teacher, {"answered": 1, "counts": [0, 1, 0]})
        with follow(live, code, me) as s:
            again = s.recv_json("question")
            assert again["id"] == q["id"] and again["answer"] == "down"
            s.send({"type": "answer", "question": q["id"], "value": "up"})
            assert s.recv_json("question")["answer"] == "up"
            counts_reach(teacher, {"answered": 1, "counts": [1, 0, 0]})
        # another tab is another voter
        with follow(live, code, voter()) as other:
            other.recv_json("question")
            other.send({"type": "answer", "question": q["id"], "value": "up"})
            other.recv_json("question")
            counts_reach(teacher, {"answered": 2, "counts": [2, 0, 0]})


def test_bad_questions_and_answers_get_typed_errors(live):
    with LiveTab.open(live.ws_url) as teacher:
        teacher.send({"type": "ask", "question": {"kind": "loss_direction"}})
        assert error_of(teacher)["code"] == "rejected"  # no room yet
        code = open_room(teacher)["code"]
        teacher.send('{"type": "reveal"}')
        assert error_of(teacher)["code"] == "rejected"  # nothing asked
        for bad, want in (
            ({"kind": "no_such_kind"}, "out_of_range"),
            ({"kind": "update_sign"}, "rejected"),  # no link
            (
                {"kind": "update_sign", "target": {"kind": "link", "layer": 0, "i": 9, "j": 0}},
                "rejected",
            ),
            ({"kind": "class_of_point", "x1": 1.0}, "rejected"),
            ({"kind": "delta_value", "target": {"kind": "neuron", "layer": 0, "j": 0}}, "rejected"),
            (
                {
                    "kind": "delta_value",
                    "target": {"kind": "neuron", "layer": 1, "j": 0},
                    "tolerance": -1,
                },
                "out_of_range",
            ),
        ):
            teacher.send({"type": "ask", "question": bad})
            assert error_of(teacher)["code"] == want, bad
        teacher.send('{"type": "ask", "question": {"kind": "loss_direction"}, "x": 1}')
        assert error_of(teacher)["code"] == "unknown_field"
        q = ask(teacher, {"kind": "loss_direction"})
        teacher.send({"type": "answer", "question": q["id"], "value": "up"})
        assert error_of(teacher)["code"] == "rejected"  # the presenter does not answer
        with follow(live, code, voter()) as s:
            s.recv_json("question")
            for bad, want in (
                ({"question": "00000000", "value": "up"}, "rejected"),
                ({"question": q["id"], "value": "sideways"}, "out_of_range"),
                ({"question": q["id"], "value": 0.5}, "out_of_range"),
                ({"question": q["id"], "value": ["up"]}, "wrong_type"),
                ({"question": "not-an-id", "value": "up"}, "wrong_type"),
                ({"question": q["id"], "value": "x" * 17}, "out_of_range"),
            ):
                s.send({"type": "answer", **bad})
                got = error_of(s)
                assert got["code"] == want, (bad, got)
            # answers are rate limited: a burst past the bucket is refused, the last kept counts
            for _ in range(12):
                s.send({"type": "answer", "question": q["id"], "value": "down"})
            limited = s.recv_until(
                lambda m: m.get("type") == "error" and m["code"] == "rate_limited"
            )
            assert limited["re"] == "answer"
            counts_reach(teacher, {"answered": 1, "counts": [0, 1, 0]})


def test_delta_and_loss_and_class_questions_reveal_the_engines_numbers(live):
    with LiveTab.open(live.ws_url) as teacher:
        teacher.send(
            {"type": "configure", "config": {"dataset": "xor", "hidden": [4], "activation": "tanh"}}
        )
        teacher.recv_json("state")
        teacher.send('{"type": "step", "count": 2}')
        teacher.recv_json("step")
        code = open_room(teacher)["code"]
        with follow(live, code, voter()) as s:
            # δ of a hidden neuron on the traced example: the inspector's number once stepped
            q = ask(
                teacher,
                {
                    "kind": "delta_value",
                    "target": {"kind": "neuron", "layer": 1, "j": 2},
                    "tolerance": 0.01,
                },
            )
            assert q["choices"] is None and q["tolerance"] == 0.01
            s.recv_json("question")
            s.send({"type": "answer", "question": q["id"], "value": 0.25})
            s.recv_json("question")
            before = exact_state(teacher)["metrics"]["loss"]["train"]
            teacher.send('{"type": "step"}')
            after = teacher.recv_json("step")["loss"]["train"]
            teacher.send({"type": "inspect", "layer": 0, "neuron": 2})
            delta = teacher.recv_json("inspection")["result"]["neuron"]["delta"]
            teacher.send('{"type": "reveal"}')
            shown = teacher.recv_json("reveal")
            np.testing.assert_allclose(shown["truth"], delta, rtol=1e-12)
            assert shown["right"] == int(abs(0.25 - delta) <= 0.01)
            assert sum(shown["counts"]) == 1 and len(shown["bins"]) == len(shown["counts"]) + 1
            assert shown["bins"][0] <= min(0.25, delta) and shown["bins"][-1] >= max(0.25, delta)
            # the loss: up or down after the next update, as the session's own loss went
            q = ask(teacher, {"kind": "loss_direction"})
            before = exact_state(teacher)["metrics"]["loss"]["train"]
            teacher.send('{"type": "step"}')
            after = teacher.recv_json("step")["loss"]["train"]
            teacher.send('{"type": "reveal"}')
            assert teacher.recv_json("reveal")["truth"] == ("up" if after > before else "down")
            # a point's class: a forward pass of the exact weights, written here
            state = exact_state(teacher)
            W, b = state["params"]["weights"], state["params"]["biases"]
            for x1, x2 in ((2.0, 2.0), (-2.0, 2.0), (0.3, -4.0)):
                q = ask(teacher, {"kind": "class_of_point", "x1": x1, "x2": x2})
                assert q["choices"] == ["0", "1"]
                h = np.tanh(np.array([x1, x2]) @ np.array(W[0]) + b[0])
                y = np.tanh(h @ np.array(W[1]) + b[1])[0]
                teacher.send('{"type": "reveal"}')
                assert teacher.recv_json("reveal")["truth"] == ("1" if y > 0 else "0")
