"""The page's copy of the contract, generated: `static/js/contract.js`.

The server's models, enums and limits and the engine's field table are the sources; the page
imports what they say from one generated module instead of restating it by hand. The file is
checked in, so users need no build step:

    python -m server.contract           # write static/js/contract.js
    python -m server.contract --check   # exit 1, naming what differs, when it is stale

`tests/test_contract.py` fails when the file is stale. Every message (both directions) gets a
JSDoc `@typedef` made from its model's JSON schema, for the page's `// @ts-check` modules.
The output depends only on the sources: lists keep their declared order, typedefs are sorted.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from engine import config as engine_config
from engine.csv_points import MAX_CSV_CHARS, MAX_NAME_CHARS
from engine.trainer import Trainer

from . import frames, messages_out, payloads, protocol
from . import messages_in as msgs
from .settings import Settings

PATH = Path(__file__).resolve().parent.parent / "static" / "js" / "contract.js"
WIDTH = 100  # a JSON value shorter than this stays on one line


def _literal_choices(model: type[BaseModel], field: str) -> list:
    """The values of a `Literal[...]` field (optional or not) of a model, in declared order."""
    annotation = model.model_fields[field].annotation
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Literal:
            return list(typing.get_args(arg))
    raise TypeError(f"{model.__name__}.{field} is not a Literal")


def _config_fields() -> list[dict[str, Any]]:
    """engine.config's field table, each row with its effect; keys whose value is empty (no
    bounds, no choices, no help, not optional) are left out."""
    rows = []
    for row in engine_config.schema():
        empty = [k for k, v in row.items() if v is None or v is False or v in ([], "")]
        row = {k: v for k, v in row.items() if k == "default" or k not in empty}
        rows.append({**row, "effect": row["effect"]})
    return rows


def _optimizer_fields() -> dict[str, list[str]]:
    """Per optimizer, the config fields of the hyperparameters it uses, in its own order
    (engine.config.OPTIMIZER_FIELDS, declared beside each rule in engine/optimizers.py)."""
    return {name: list(fields) for name, fields in engine_config.OPTIMIZER_FIELDS.items()}


def _record_arrays() -> dict[str, list[str]]:
    """A record frame's array names, per weight layer and whole-batch, read off a real
    applied update of a small network (engine/records.py StepRecord.arrays)."""
    t = Trainer(engine_config.Config(n_points=20, hidden=(2,)))
    t.step()
    layer, top = [], []
    for entry, _ in t.last_record.arrays():
        names = layer if "layer" in entry else top
        if entry["name"] not in names:
            names.append(entry["name"])
    return {"layer": layer, "batch": top}


def _frame_layout() -> dict[str, Any]:
    return {
        "magic": frames.MAGIC.decode(),
        "version": frames.FORMAT_VERSION,
        "prefix_bytes": frames.PREFIX_BYTES,
        "header_align": frames.HEADER_ALIGN,
        "offset_align": frames.OFFSET_ALIGN,
        "kinds": list(frames.KINDS),
        "dtypes": list(frames.DTYPES),
        "weights_arrays": list(frames.WEIGHTS_ARRAYS),
        "param_parts": list(frames.PARAM_PARTS),
        "gradient_parts": list(frames.GRADIENT_PARTS),
        "record_arrays": _record_arrays(),
    }


def _limits() -> dict[str, Any]:
    """Every fixed cap the page must respect (the server's settings come in `hello.limits`)."""
    step = msgs.Step.model_fields
    return {
        "max_inputs": engine_config.MAX_INPUTS,
        "max_hidden_layers": engine_config.MAX_HIDDEN_LAYERS,
        "max_width": engine_config.MAX_WIDTH,
        "max_points": engine_config.MAX_POINTS,
        "max_classes": engine_config.MAX_CLASSES,
        "max_dropout": engine_config.MAX_DROPOUT,
        "max_index": payloads.MAX_INDEX,
        "max_json_int": msgs.MAX_JSON_INT,
        "max_containers": msgs.MAX_CONTAINERS,
        "weight_limit": msgs.WEIGHT_LIMIT,
        "max_csv_chars": MAX_CSV_CHARS,
        "max_name_chars": MAX_NAME_CHARS,
        "max_step_message_count": _bound(step["count"], "le"),
    }


def _bound(field, name: str):
    for m in field.metadata:
        if hasattr(m, name):
            return getattr(m, name)
    raise LookupError(name)


def _default_limits() -> dict[str, Any]:
    """The server's settings a page is told in `hello.limits`, at their defaults."""
    return Settings().limits()


def _fields(models) -> dict[str, list[str]]:
    """Message type → its fields besides `type`, in declared order."""
    out = {}
    for m in models:
        names = [f.serialization_alias or n for n, f in m.model_fields.items() if n != "type"]
        (type_,) = typing.get_args(m.model_fields["type"].annotation)
        out[type_] = names
    return out


# JSON schema → JSDoc types

_MODELS = {
    m.__name__: m
    for module in (payloads, msgs, messages_out, protocol)
    for m in vars(module).values()
    if isinstance(m, type) and issubclass(m, BaseModel)
}
# payloads that send only the fields they were given
SPARSE = {name for name, m in _MODELS.items() if issubclass(m, payloads.Sparse)}


def _omitted(name: str) -> set[str]:
    """A model's fields that are not sent while None (payloads.omitted)."""
    model = _MODELS.get(name)
    if model is None:
        return set()
    return {f.alias or n for n, f in model.model_fields.items() if f.exclude_if is not None}


def _type(s: dict[str, Any]) -> str:
    """The JSDoc (TypeScript) type of a JSON schema."""
    if "$ref" in s:
        return s["$ref"].rsplit("/", 1)[1]
    if "const" in s:
        return json.dumps(s["const"], ensure_ascii=False)
    if "enum" in s:
        return " | ".join(json.dumps(v, ensure_ascii=False) for v in s["enum"])
    for key in ("anyOf", "oneOf"):
        if key in s:
            parts = []
            for part in (_type(x) for x in s[key]):
                if part not in parts:
                    parts.append(part)
            return " | ".join(parts)
    t = s.get("type")
    if isinstance(t, list):
        return " | ".join(_type({**s, "type": x}) for x in t)
    if t == "string":
        return "string"
    if t in ("integer", "number"):
        return "number"
    if t == "boolean":
        return "boolean"
    if t == "null":
        return "null"
    if t == "array":
        if "prefixItems" in s:
            return "[" + ", ".join(_type(x) for x in s["prefixItems"]) + "]"
        inner = _type(s.get("items", {}))
        return f"Array<{inner}>"
    if t == "object" or "properties" in s:
        props = s.get("properties", {})
        extra = s.get("additionalProperties")
        if not props:
            value = _type(extra) if isinstance(extra, dict) else "any"
            return f"Object<string, {value}>"
        required = set(s.get("required", ()))
        items = [f"{k}{'' if k in required else '?'}: {_type(v)}" for k, v in props.items()]
        return "{" + ", ".join(items) + "}"
    return "any"


def _nullable(s: dict[str, Any]) -> bool:
    return any(x.get("type") == "null" for x in s.get("anyOf", ()))


def _summary(s: dict[str, Any]) -> str:
    """The first sentence of a model's docstring, without its leading JSON example."""
    text = " ".join((s.get("description") or "").split("\n\n")[0].split())
    text = re.sub(r"^`\{.*?\}`[:;,]?\s*(or `\{.*?\}`[:;,]?\s*)?", "", text)
    end = text.find(". ")
    text = text if end < 0 else text[: end + 1]
    if not text.strip(" .:"):
        return ""
    if len(text) > WIDTH - 8:
        text = text[: WIDTH - 9].rsplit(" ", 1)[0] + " …"
    return text[:1].upper() + text[1:]


def _wrap(text: str, first: str, indent: str) -> list[str]:
    """`first` + `text` filled at its spaces into lines of at most WIDTH."""
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=first,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def _typedef(name: str, s: dict[str, Any], outbound: bool) -> str:
    """One `@typedef` block. Outbound (server → client): every field is sent, except that a
    null may be left out (a room's followers get messages without their null fields), and
    a `Sparse` payload's optional fields."""
    outbound = outbound and name not in SPARSE
    if "properties" in s:
        required, omitted = set(s.get("required", ())), _omitted(name)
        props = []
        for key, prop in s["properties"].items():
            optional = key in omitted or (_nullable(prop) if outbound else key not in required)
            props.append(f"{key}{'?' if optional else ''}: {_type(prop)}")
        type_ = f"{{{', '.join(props)}}}"
    else:
        type_ = _type(s)
    return _comment(f"@typedef {{{type_}}} {name}", _summary(s))


def _comment(text: str, summary: str = "") -> str:
    """`/** summary` and `text` on the lines after it (or on the first), then `*/`."""
    if summary:
        return "\n".join([f"/** {summary}", *_wrap(text + " */", " * ", " *   ")])
    return "\n".join(_wrap(text + " */", "/** ", " *   "))


def _schemas(models, mode: str) -> dict[str, dict]:
    _, top = models_json_schema(
        [(m, mode) for m in models], ref_template="#/$defs/{model}", title="contract"
    )
    return top.get("$defs", {})


def _typedefs() -> str:
    inbound = _schemas(msgs.CLIENT_MODELS, "validation")
    server_models = typing.get_args(messages_out.ServerMessage)
    outbound = _schemas(server_models, "serialization")
    clash = {k for k in inbound.keys() & outbound.keys() if inbound[k] != outbound[k]}
    assert not clash, f"one name, two schemas: {sorted(clash)}"
    blocks = {name: _typedef(name, s, outbound=False) for name, s in inbound.items()}
    blocks |= {name: _typedef(name, s, outbound=True) for name, s in outbound.items()}
    unions = {
        "ClientMessage": [m.__name__ for m in msgs.CLIENT_MODELS],
        "ServerMessage": [m.__name__ for m in server_models],
    }
    out = [blocks[name] for name in sorted(blocks)]
    for name, members in unions.items():
        out.append(_comment(f"@typedef {{{' | '.join(members)}}} {name}"))
    return "\n".join(out)


# JavaScript text


def _js(value: Any, indent: int = 0, room: int = WIDTH) -> str:
    """JSON as JavaScript: on one line when it fits in `room`, else its items filled into
    lines of at most WIDTH (an item too long for a line broken the same way)."""
    flat = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if len(flat) <= room or not isinstance(value, (dict, list)) or not value:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        keys = [f"{json.dumps(k, ensure_ascii=False)}: " for k in value]
        items = [
            k + _js(v, indent + 2, WIDTH - indent - 2 - len(k))
            for k, v in zip(keys, value.values())
        ]
        opener, closer = "{", "}"
    else:
        items = [_js(v, indent + 2, WIDTH - indent - 2) for v in value]
        opener, closer = "[", "]"
    lines, line = [], pad
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        multi = "\n" in item
        if line.strip() and (multi or len(line) + len(piece) > WIDTH):
            lines.append(line.rstrip())
            line = pad
        line += piece + " "
        if multi:
            lines.append(line.rstrip())
            line = pad
    if line.strip():
        lines.append(line.rstrip())
    return opener + "\n" + "\n".join(lines) + "\n" + " " * indent + closer


def _constants() -> list[tuple[str, str, Any]]:
    """(name, one line of JSDoc, value) of every exported constant, in this order."""
    server_models = typing.get_args(messages_out.ServerMessage)
    return [
        ("PROTOCOL_VERSION", "server/protocol.py PROTOCOL_VERSION", protocol.PROTOCOL_VERSION),
        ("FRAME", "The binary frames' layout (server/frames.py)", _frame_layout()),
        ("ErrorCode", "error.code values (protocol.ErrorCode)", _enum(protocol.ErrorCode)),
        ("CloseCode", "WebSocket close codes (protocol.CloseCode)", _enum(protocol.CloseCode)),
        (
            "CLIENT_MESSAGES",
            "Every client → server message type and its fields (messages_in.py CLIENT_MODELS)",
            _fields(msgs.CLIENT_MODELS),
        ),
        (
            "SERVER_MESSAGES",
            "Every server → client message type and its fields (messages_out.py ServerMessage)",
            _fields(server_models),
        ),
        (
            "FOLLOWER_MESSAGES",
            "What a room's follower may send (messages_in.py FOLLOWER_MESSAGES)",
            sorted(msgs.FOLLOWER_MESSAGES),
        ),
        (
            "LARGE_MESSAGES",
            "Messages that may be over max_message_bytes, up to max_import_bytes",
            sorted(msgs.LARGE_MESSAGES),
        ),
        ("STEP_UNITS", "What a `step` counts", _literal_choices(msgs.Step, "unit")),
        ("SPLITS", "A point's split", _literal_choices(msgs.AddPoint, "split")),
        (
            "SELECTION_KINDS",
            "What an inspector selection is",
            _literal_choices(payloads.Selection, "kind"),
        ),
        ("VIEWS", "The presenter's pass shown", _literal_choices(msgs.UiShare, "view")),
        ("LOSS_SCALES", "The loss chart's scale", _literal_choices(msgs.UiShare, "loss_scale")),
        (
            "CHART_NAMES",
            "What `ui.charts` may name: all charts, or one readout's",
            _literal_choices(msgs.UiShare, "charts"),
        ),
        ("LESSON_IDS", "The lessons, by id", _literal_choices(msgs.UiShare, "lesson")),
        ("ROLES", "A connection's role", _literal_choices(messages_out.Hello, "role")),
        (
            "QUESTION_KINDS",
            "What a presenter may ask the class",
            list(msgs.QUESTION_KINDS),
        ),
        ("LIMITS", "Fixed caps of the engine and the protocol", _limits()),
        (
            "DEFAULT_LIMITS",
            "The server's limits at their default settings (`hello.limits` has the real ones)",
            _default_limits(),
        ),
        (
            "CONFIG_FIELDS",
            "The engine's config table (engine/config.py FIELDS), each field with its effect: "
            '"live" keeps the weights, "model" keeps them under another function (activation, '
            'head, loss), "network" draws new ones, "data" new points too (config.Effect)',
            _config_fields(),
        ),
        (
            "OPTIMIZER_FIELDS",
            "Per optimizer, the config fields of its hyperparameters (engine/optimizers.py)",
            _optimizer_fields(),
        ),
    ]


def _enum(e) -> dict[str, Any]:
    return {m.name: m.value for m in e}


HEADER = """\
// @ts-check
// GENERATED by `python -m server.contract` from the server's models and the engine's tables:
// do not edit (tests/test_contract.py fails when this file is stale). The page's one copy of
// the protocol's types, names, enums and limits, and of the binary frames' layout.
"""


def build() -> str:
    """The text of static/js/contract.js."""
    parts = [HEADER]
    for name, doc, value in _constants():
        head = f"export const {name} = "
        doc = "\n".join(_wrap(f"/** {doc}. */", "", " * "))
        parts.append(f"{doc}\n{head}{_js(value, 0, WIDTH - len(head) - 1)};\n")
    parts.append("// Message types, from the models' JSON schemas\n")
    parts.append(_typedefs() + "\n")
    return "\n".join(parts)


def _blocks(text: str) -> dict[str, str]:
    """Exported constants and typedefs by name (each with its comment), to say which
    differ."""
    chunks = re.split(r"\n(?=/\*\*)", text)
    out = {}
    for chunk in chunks:
        m = re.search(r"^export const (\w+)", chunk, re.M) or re.search(r"(\w+) \*/\s*$", chunk)
        out[m.group(1) if m else "(header)"] = chunk
    return out


def differences(old: str, new: str) -> list[str]:
    """What changed from `old` to `new`: names of constants and typedefs."""
    a, b = _blocks(old), _blocks(new)
    changed = [n for n in b if n in a and a[n] != b[n]]
    return (
        [f"changed: {n}" for n in changed]
        + [f"missing: {n}" for n in b if n not in a]
        + [f"extra: {n}" for n in a if n not in b]
    )


def main(argv: list[str]) -> int:
    text = build()
    if argv == ["--check"]:
        old = PATH.read_text(encoding="utf-8") if PATH.exists() else ""
        if old == text:
            return 0
        what = differences(old, text) or ["the text (whitespace or order)"]
        print(f"{PATH.name} is stale; run `python -m server.contract`:", file=sys.stderr)
        for line in what:
            print(f"  {line}", file=sys.stderr)
        return 1
    if argv:
        print("usage: python -m server.contract [--check]", file=sys.stderr)
        return 2
    PATH.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
