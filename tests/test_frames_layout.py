"""Binary frames as docs/protocol.md describes them (issue 21 item 8): every array's offset a
multiple of 4, in float16 followers' frames too (their `grads` once sat at 2 mod 4 after an
odd count of params), and `unpack` reads back what `pack` wrote."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from engine.trainer import Trainer
from server import frames

DOCS = Path(__file__).parent.parent / "docs" / "protocol.md"


@pytest.mark.parametrize("hidden", [[4, 2], [3], [5, 3, 2], []])
@pytest.mark.parametrize("floats_as", ["float32", "float16"])
def test_every_offset_is_a_multiple_of_4_and_reads_back(hidden, floats_as):
    t = Trainer({"dataset": "xor", "hidden": hidden, "batch_norm": bool(hidden)})
    t.step()
    layers, grads = t.eval_arrays(), t.last_gradients()
    frame = frames.weights_frame(layers, {"step": 1}, grads, layers, floats_as=floats_as)
    header, arrays = frames.unpack(frame)
    assert [e["name"] for e in header["arrays"]] == ["params", "grads", "compare_params"]
    assert all(e["offset"] % 4 == 0 for e in header["arrays"]), header["arrays"]
    want = [
        frames._flat(layers),
        frames._flat_gradients(grads),
        frames._flat(layers),
    ]
    for got, w in zip(arrays, want, strict=True):
        np.testing.assert_array_equal(got, w.astype(floats_as))


def test_an_odd_float16_array_before_another_is_padded():
    a, b = np.arange(5, dtype=np.float64), np.arange(3, dtype=np.float64) + 0.5
    header, (ga, gb) = frames.unpack(
        frames.pack("frame", {}, [({"name": "a"}, a), ({"name": "b"}, b)], "float16")
    )
    assert [e["offset"] for e in header["arrays"]] == [0, 12]
    np.testing.assert_array_equal(ga, a.astype("float16"))
    np.testing.assert_array_equal(gb, b.astype("float16"))


def test_the_docs_and_the_page_name_this_format():
    docs = DOCS.read_text()
    assert f"u16 format version, {frames.FORMAT_VERSION} |" in docs
    assert "every offset is a multiple of 4" in docs
    # the page's one copy is the generated contract (protocol.js reads FRAME from it)
    page = (DOCS.parent.parent / "static" / "js" / "contract.js").read_text()
    assert re.search(
        rf'export const FRAME = \{{\n  "magic": "BPLF", "version": {frames.FORMAT_VERSION},', page
    )
