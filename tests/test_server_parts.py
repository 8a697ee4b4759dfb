"""The server's pieces on their own: protocol models, frame bytes, assets, origins, hosts,
the newest-wins outbox, the token bucket and the launcher's URLs."""

from __future__ import annotations

import asyncio
import inspect
import json
import struct
import typing

import numpy as np
import pytest

from engine.config import FEATURES
from engine.trainer import Trainer
from server import frames, messages_in, messages_out, protocol
from server.__main__ import page_urls, parse_args
from server.assets import asset_dirs
from server.client import Outbox, TokenBucket
from server.handlers import HANDLERS
from server.security import origin_allowed, trusted_hosts
from server.settings import Settings
from tests.helpers import maps

DEEP = dict(features=list(FEATURES), hidden=[8] * 6)


# protocol


def test_every_client_type_has_a_model_and_a_handler():
    # derived here from the parser's own union, not from CLIENT_TYPES (a second list)
    union, _discriminator = typing.get_args(messages_in.ClientMessage)
    models = typing.get_args(union)
    parsed = {typing.get_args(m.model_fields["type"].annotation)[0] for m in models}
    assert len(parsed) == len(models) == 27
    assert parsed == set(messages_in.CLIENT_TYPES), parsed ^ set(messages_in.CLIENT_TYPES)
    assert parsed == set(HANDLERS), parsed ^ set(HANDLERS)
    assert all(inspect.iscoroutinefunction(h) for h in HANDLERS.values())
    # and each type the parser accepts reaches its handler's model
    for m in models:
        (type_,) = typing.get_args(m.model_fields["type"].annotation)
        try:
            assert isinstance(messages_in.parse_client_message(json.dumps({"type": type_})), m)
        except protocol.ProtocolError as e:  # a required field is missing, not the type
            assert e.code != protocol.ErrorCode.UNKNOWN_TYPE, (type_, e)


def test_bare_step_parses_to_one_update():
    m = messages_in.parse_client_message('{"type": "step"}')
    assert isinstance(m, messages_in.Step) and m.count == 1 and m.unit == "update"


@pytest.mark.parametrize(
    ("text", "code", "field"),
    [
        ('{"type": "play", "speed": 1.5}', "wrong_type", "speed"),
        ('{"type": "add_point", "x1": 0, "x2": 0, "label": true}', "wrong_type", "label"),
        ('{"type": "set_weight", "layer": 0, "neuron": 0, "value": -Infinity}', "not_finite", None),
        ('{"type": "inspect", "layer": 0}', "missing_field", "neuron"),
        ('{"type": "ui", "reveal": 65}', "out_of_range", "reveal"),
        ('{"type": "ui", "reveal": 1.5}', "wrong_type", "reveal"),
        (
            '{"type": "import", "snapshot": {"a": [1, 99999999999999999999]}}',
            "not_finite",
            "snapshot.a.1",
        ),
    ],
)
def test_parse_errors_name_the_code_and_field(text, code, field):
    with pytest.raises(protocol.ProtocolError) as e:
        messages_in.parse_client_message(text)
    assert e.value.code.value == code and e.value.field == field


def test_encode_refuses_nan_rather_than_send_it():
    ok = protocol.encode(messages_out.Stopped(reason="diverged", message="x"))
    assert json.loads(ok) == {"type": "stopped", "reason": "diverged", "message": "x"}
    with pytest.raises(ValueError):
        protocol.encode(messages_out.Inspection(result={"x": float("nan")}))


def test_close_codes_are_in_the_application_range():
    assert all(4000 <= c <= 4999 for c in protocol.CloseCode)


# frames


def test_frame_prefix_and_alignment_are_as_documented():
    data = frames.pack(
        "frame",
        {"step": 3},
        [
            ({"name": "m"}, np.arange(5, dtype=np.uint8)),
            ({"name": "w"}, np.array([[1.5, -2.0]])),
        ],
    )
    magic, version, reserved, n = struct.unpack_from("<4sHHI", data)
    assert (magic, version, reserved) == (b"BPLF", frames.FORMAT_VERSION, 0) and (12 + n) % 8 == 0
    header = json.loads(data[12 : 12 + n])
    assert header["kind"] == "frame" and header["step"] == 3
    w, m = header["arrays"]  # floats first, at offset 0, so Float32Array can view them
    assert w == {"name": "w", "shape": [1, 2], "dtype": "float32", "offset": 0}
    assert m == {"name": "m", "shape": [5], "dtype": "uint8", "offset": 8}
    payload = data[12 + n :]
    assert np.frombuffer(payload[:8], "<f4").tolist() == [1.5, -2.0]
    assert payload[8:] == bytes(range(5))


def test_a_float16_block_is_padded_to_4_bytes():
    data = frames.pack(
        "frame",
        {},
        [
            ({"name": "m"}, np.arange(3, dtype=np.uint8)),
            ({"name": "w"}, np.array([1.5, -2.0, 65504.0])),
        ],
        floats_as=np.float16,
    )
    n = struct.unpack_from("<4sHHI", data)[3]
    w, m = json.loads(data[12 : 12 + n])["arrays"]
    assert w == {"name": "w", "shape": [3], "dtype": "float16", "offset": 0}
    assert m == {"name": "m", "shape": [3], "dtype": "uint8", "offset": 8}  # 6 bytes, then 2
    payload = data[12 + n :]
    assert np.frombuffer(payload[:6], "<f2").tolist() == [1.5, -2.0, 65504.0]
    assert payload[6:8] == b"\0\0" and payload[8:] == bytes(range(3))
    assert len(data) == 12 + n + 8 + 3


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_non_finite_floats_are_clamped_in_frames(dtype):
    _, (a,) = frames.unpack(
        frames.pack(
            "record", {}, [({"name": "x"}, np.array([np.nan, np.inf, 1e300]))], floats_as=dtype
        )
    )
    assert a.dtype == dtype and a[0] == 0 and a[1] == a[2] == np.finfo(dtype).max


WEIGHTS_CONFIGS = [
    {},
    DEEP,
    {"hidden": []},
    {"dataset": "blobs", "n_classes": 5, "hidden": [8, 8]},
    {"batch_norm": True, "residual": True, "hidden": [4, 4], "activation": "relu"},
    {"dataset": "plane", "output_activation": "linear", "activation": "elu"},
    {"dataset": "xor", "output_activation": "sigmoid", "loss": "bce", "activation": "leaky_relu"},
    {
        "features": ["x1", "x2", "x1_sq", "sin_x2"],
        "hidden": [6, 6, 6],
        "batch_norm": True,
        "residual": True,
        "activation": "swish",
    },
    {
        "features": list(FEATURES),
        "hidden": [32] * 8,
        "batch_norm": True,
        "optimizer": "adam",
        "activation": "relu",
    },
]


@pytest.mark.parametrize("config", WEIGHTS_CONFIGS, ids=lambda c: json.dumps(c)[:60])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_a_weights_frame_carries_the_engines_arrays_and_they_make_its_maps(config, dtype):
    t = Trainer(config)
    t.run(20)
    model = t.model()
    data = frames.weights_frame(
        t.eval_arrays(), {"step": t.step_count}, t.last_gradients(), floats_as=dtype
    )
    header, arrays = frames.unpack(data)
    got = maps.frame_arrays(header, arrays)
    assert list(got) == ["params", "grads"] and header["step"] == 20
    params = maps.params_of(got["params"], model)
    maps.assert_arrays_are(params, maps.engine_params(t.eval_arrays()), dtype)
    maps.assert_arrays_are(
        maps.grads_of(got["grads"], model), maps.engine_grads(t.last_gradients()), dtype
    )
    # nothing but the header and the numbers: 4 (or 2, padded to 4) bytes each
    count = got["params"].size + got["grads"].size
    size = 4 * count if dtype == "float32" else 2 * count + 2 * count % 4
    assert len(data) == 12 + struct.unpack_from("<I", data, 8)[0] + size
    if dtype == "float32":  # a page's float32 pass over these weights is the engine's
        maps.assert_maps_match(params, model, t)
    else:  # a follower's maps: the same to float16 precision
        maps.assert_maps_match(params, model, t, atol=2e-2)


def test_a_weights_frame_has_no_gradients_before_the_first_update_and_compare_params_after():
    t = Trainer()
    b = Trainer({"hidden": [3], "batch_norm": True})
    header, arrays = frames.unpack(
        frames.weights_frame(t.eval_arrays(), {}, t.last_gradients(), b.eval_arrays())
    )
    got = maps.frame_arrays(header, arrays)
    assert list(got) == ["params", "compare_params"]  # no update yet, so no gradients
    maps.assert_arrays_are(
        maps.params_of(got["compare_params"], b.model()),
        maps.engine_params(b.eval_arrays()),
        np.float32,
    )


def test_record_frame_carries_the_update():
    t = Trainer(DEEP)
    rec = t.step()
    header, arrays = frames.unpack(frames.record_frame(rec, {"step": rec.step}))
    got = {(e["name"], e.get("layer")): a for e, a in zip(header["arrays"], arrays, strict=True)}
    for l in range(7):
        dW, db = rec.layer_arrays(rec.grads, l)
        np.testing.assert_allclose(got[("dW", l)], dW, rtol=1e-5, atol=1e-12)
        np.testing.assert_allclose(got[("db", l)], db, rtol=1e-5, atol=1e-12)
        W, _ = rec.layer_arrays(rec.params_after, l)
        np.testing.assert_allclose(got[("W", l)], W, rtol=1e-6)
    assert got[("per_example_loss", None)].shape == (10,)


# assets, origins, hosts


def _layout(root, *dirs):
    for d in dirs:
        (root / d / "static").mkdir(parents=True)
        (root / d / "templates").mkdir(parents=True)
        (root / d / "templates" / "index.html").write_text("<!doctype html>")


def test_assets_resolve_for_a_wheel_and_for_a_checkout(tmp_path):
    pkg = tmp_path / "site" / "server"
    _layout(tmp_path / "site", "server/_assets")
    assert asset_dirs(pkg) == (pkg / "_assets" / "static", pkg / "_assets" / "templates")
    repo_pkg = tmp_path / "repo" / "server"
    repo_pkg.mkdir(parents=True)
    _layout(tmp_path / "repo", ".")
    static, templates = asset_dirs(repo_pkg)
    assert static.resolve() == (tmp_path / "repo" / "static").resolve()
    with pytest.raises(FileNotFoundError):
        asset_dirs(tmp_path / "nowhere" / "server")


def test_this_checkout_serves_its_own_assets():
    static, templates = asset_dirs()
    assert (templates / "index.html").is_file() and static.is_dir()


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        (None, "127.0.0.1:8000", [], True),
        ("http://127.0.0.1:8000", "127.0.0.1:8000", [], True),
        ("http://LOCALHOST:8000", "localhost:8000", [], True),
        ("http://localhost", "localhost:80", [], True),
        ("http://127.0.0.1:8001", "127.0.0.1:8000", [], False),
        ("http://evil.example", "127.0.0.1:8000", [], False),
        ("null", "127.0.0.1:8000", [], False),
        ("file://", "127.0.0.1:8000", [], False),
        ("http://127.0.0.1:8000.evil.example", "127.0.0.1:8000", [], False),
        ("https://lab.school.example", "10.0.0.5:8000", ["https://lab.school.example"], True),
        ("https://lab.school.example:444", "10.0.0.5:8000", ["https://lab.school.example"], False),
    ],
)
def test_origin_check(origin, host, allowed, ok):
    assert origin_allowed(origin, host, allowed) is ok


def test_trusted_hosts_never_include_a_wildcard():
    local = trusted_hosts(Settings())
    assert {"127.0.0.1", "localhost"} <= set(local) and "*" not in local
    lan = trusted_hosts(Settings(host="0.0.0.0", trusted_hosts=["*", "lab.local"]))
    assert "*" not in lan and "lab.local" in lan and "0.0.0.0" not in lan


def test_launcher_urls_and_arguments():
    assert page_urls("127.0.0.1", 8123) == ("http://127.0.0.1:8123/", [])
    url, lan = page_urls("0.0.0.0", 8123)
    assert url == "http://127.0.0.1:8123/" and all(u.endswith(":8123/") for u in lan)
    a = parse_args(
        ["--port", "0", "--no-browser", "--allow-origin", "http://a", "--allow-origin", "http://b"]
    )
    assert a.port == 0 and a.no_browser and a.allow_origin == ["http://a", "http://b"]
    assert parse_args([]).host is None  # so Settings (and BACKPROP_LAB_HOST) decide


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("BACKPROP_LAB_MAX_SESSIONS", "7")
    monkeypatch.setenv("BACKPROP_LAB_ALLOW_ORIGINS", '["http://x.example"]')
    s = Settings()
    assert s.max_sessions == 7 and s.allow_origins == ["http://x.example"]
    assert s.ws_max_size > s.max_import_bytes > s.max_message_bytes == 65536


# outbox and bucket


def test_outbox_keeps_replies_in_order_and_only_the_newest_frame():
    async def scenario():
        box = Outbox(max_replies=100)
        box.reply("a")
        box.frame(("f1", b"1"))
        box.reply("b")
        box.frame(("f2", b"2"))
        box.frame(("f3", b"3"))
        got = [await box.get() for _ in range(3)]
        return got, box.replaced_frames, len(box)

    got, replaced, left = asyncio.run(scenario())
    assert got == [("a",), ("b",), ("f3", b"3")] and replaced == 2 and left == 0


def test_outbox_memory_is_bounded_for_a_client_that_never_reads():
    box = Outbox(max_replies=8)
    for i in range(1000):
        box.reply(f"r{i}")
        box.frame((b"x" * 1000,))
    assert len(box) <= 9 and box.dropped_replies > 900


def test_outbox_bytes_are_bounded_too_and_the_newest_reply_kept():
    async def scenario():
        box = Outbox(max_replies=1000, max_bytes=10_000)
        for i in range(100):
            box.reply(f"{i:04d}" + "x" * 996)  # 1 kB each
            box.frame((b"f",))
        size = sum(len(x) for x in box._items if isinstance(x, str))
        got = [await box.get() for _ in range(len(box))]
        return size, got, box.dropped_replies

    size, got, dropped = asyncio.run(scenario())
    assert size <= 10_000 and dropped == 90
    replies = [g[0][:4] for g in got if isinstance(g[0], str)]
    assert replies == [f"{i:04d}" for i in range(90, 100)] and got[-1] == (b"f",)


def test_token_bucket_allows_the_burst_then_the_rate(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("server.client.time.monotonic", lambda: now[0])
    b = TokenBucket(burst=3, rate=2.0)
    assert [b.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert [b.take(), b.take()] == [True, False]
