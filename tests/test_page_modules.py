"""The page's modules keep their jobs apart (issue 25): main.js only wires, the heatmap maths
does not reach the wire decoder, the DOM helper has its own module, the store keeps one copy
of the weights, and a config change is always a `configure` (the server decides what it
keeps). Read off the sources: the import graph and the names each module defines."""

import json
import re
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent.parent / "static" / "js"
IMPORT = re.compile(r'^import\s+(?:\{([^}]*)\}\s+from\s+)?"\./([\w.]+)";', re.M)


def source(name: str) -> str:
    return (JS / name).read_text(encoding="utf-8")


def imports(name: str) -> dict[str, set[str]]:
    """{module: names} that `name` imports."""
    out: dict[str, set[str]] = {}
    for names, module in IMPORT.findall(source(name)):
        out.setdefault(module, set()).update(n.strip() for n in names.split(",") if n.strip())
    return out


def reachable(name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        for module in imports(todo.pop()):
            if module not in seen:
                seen.add(module)
                todo.append(module)
    return seen


@pytest.mark.parametrize("path", sorted(JS.glob("*.js")), ids=lambda p: p.name)
def test_every_module_is_at_most_600_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 600


def test_every_import_names_an_export():
    for path in JS.glob("*.js"):
        for module, names in imports(path.name).items():
            text = source(module)
            for n in names:
                n = n.split(" as ")[0].strip()
                assert re.search(
                    rf"export (?:async )?(?:function\*?|class|const|let) {n}\b", text
                ), f"{path.name} imports {n} from {module}, which does not export it"


def test_the_heatmap_maths_does_not_reach_the_wire_decoder():
    assert "protocol.js" not in reachable("heatmaps.js")
    assert "state.js" not in reachable("heatmaps.js")


def test_the_dom_helper_has_its_own_module():
    assert re.search(r"export function h\(", source("dom.js"))
    for path in JS.glob("*.js"):
        if path.name != "dom.js":
            assert not re.search(r"export function h\(", path.read_text(encoding="utf-8")), (
                path.name
            )
            assert "h" not in imports(path.name).get("inspector_view.js", set()), path.name


def test_main_only_wires():
    """No side effect decided in main.js: no branch on an action's type (each module
    subscribes to the actions it follows with store.on), no message built from state."""
    main = source("main.js")
    assert "a.type ===" not in main and ".includes(a.type)" not in main
    assert len(main.splitlines()) < 200


def test_the_store_keeps_one_copy_of_the_weights():
    """state.weights is written by the reducers; params and paramsStep are read off it."""
    state = source("state.js")
    written = set(re.findall(r"\bs\.(\w+) = ", state))
    assert "weights" in written
    assert not written & {"params", "paramsStep", "wire"}, written & {
        "params",
        "paramsStep",
        "wire",
    }
    assert "get params()" in state and "get paramsStep()" in state


def test_a_config_change_is_always_a_configure():
    """The page does not decide whether a change keeps the weights: no `set` message, no
    live-field check before sending."""
    assert not re.search(r"^\s*set: ", source("protocol.js"), re.M)
    for path in JS.glob("*.js"):
        text = path.read_text(encoding="utf-8")
        assert "onlyLiveFields" not in text and "messages.set(" not in text, path.name


def test_the_page_keeps_no_copy_of_the_contract():
    """What contract.js holds (generated from the server and the engine) is imported from it,
    not restated: the versions, close codes, the frames' magic and part order, optimizer
    fields, default limits."""
    contract = source("contract.js")
    for name in ("PROTOCOL_VERSION", "FRAME", "CloseCode", "OPTIMIZER_FIELDS", "DEFAULT_LIMITS"):
        assert re.search(rf"^export const {name} = ", contract, re.M), name
    for path in JS.glob("*.js"):
        if path.name == "contract.js":
            continue
        text = path.read_text(encoding="utf-8")
        assert not re.search(
            r"\b(?:const|let) (?:PROTOCOL_VERSION|FRAME_VERSION|CloseCode|OPTIMIZER_FIELDS)\b", text
        ), path.name
        assert "BPLF" not in text and not re.search(r"\b400[0-6]\b", text), path.name
    assert {"CloseCode", "FRAME", "PROTOCOL_VERSION"} <= imports("protocol.js")["contract.js"]
    assert "FRAME" in imports("frame_layout.js")["contract.js"]
    assert "OPTIMIZER_FIELDS" in imports("controls.js")["contract.js"]
    assert "CONFIG_FIELDS" in imports("compare_view.js")["contract.js"]


def contract_table(name: str) -> dict:
    """A JSON table of contract.js (`export const NAME = {...};`)."""
    text = source("contract.js")
    start = text.index(f"export const {name} = ") + len(f"export const {name} = ")
    return json.loads(text[start : text.index("};", start) + 1])


def test_the_messages_the_page_builds_and_reads_are_the_contracts():
    protocol = source("protocol.js")
    builders = protocol[protocol.index("export const messages = {") : protocol.index("\n};")]
    built = set(re.findall(r'type: "(\w+)"', builders))
    assert built and built <= contract_table("CLIENT_MESSAGES").keys(), built
    decoder = protocol[protocol.index("export class Decoder") :]
    read = set(re.findall(r'case "(\w+)":', decoder))
    assert read and read <= contract_table("SERVER_MESSAGES").keys(), read
