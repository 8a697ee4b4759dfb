"""The server's layers, read off its import graph (ast): the cluster sits on top of the core.

Without `--redis` the server is one process and the cluster (cluster.py, Redis) is never
imported: the core (sessions, client, handlers, feeds, rooms, polls, store...) does not know
it exists, and only app.py (and the command line) import it, inside the function that
chooses it. The modules import one another without a cycle, so no import has to hide in a
function to break one; the few that stay in a function say why.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "server"
LAYER_CHOOSERS = {"server.app", "server.__main__"}  # where an optional layer is chosen


def _module_name(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer.split(".")[: -node.level] if node.level > 1 else ["server"]
    return ".".join(package + ([node.module] if node.module else []))


def imports(path: Path) -> list[tuple[str, int, str, str]]:
    """(imported module, line, where, source line) of every import in `path`; `where` is
    "module", "type_checking" (under `if TYPE_CHECKING:`) or "function"."""
    importer = "server." + path.stem
    text = path.read_text()
    lines = text.splitlines()
    found = []

    def walk(node: ast.AST, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = where
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = "function"
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = "type_checking" if where == "module" else where
            names = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = _module_name(importer, child)
                # `from . import handlers` imports the module server.handlers
                names = [f"{base}.{a.name}" for a in child.names] if not child.module else [base]
            for name in names:
                found.append((name, child.lineno, inner, lines[child.lineno - 1]))
            walk(child, inner)

    walk(ast.parse(text), "module")
    return found


def graph() -> dict[str, list[tuple[str, int, str, str]]]:
    return {"server." + p.stem: imports(p) for p in sorted(SERVER.glob("*.py"))}


def test_no_core_module_imports_the_cluster():
    reaches = [
        f"{m}:{line} ({where})"
        for m, found in graph().items()
        for name, line, where, _ in found
        if name == "server.cluster" and (m not in LAYER_CHOOSERS or where != "function")
    ]
    assert reaches == [], "the core imports server.cluster: " + ", ".join(reaches)


def test_the_server_modules_import_one_another_without_a_cycle():
    """Runtime imports (module or function level; `TYPE_CHECKING` ones never run)."""
    g = graph()
    edges = {
        m: sorted({n for n, _, where, _ in found if n in g and n != m and where != "type_checking"})
        for m, found in g.items()
    }
    cycles, state = [], {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = "open"
        for n in edges[m]:
            if state.get(n) == "open":
                cycles.append(path[path.index(n) :] + [n])
            elif n not in state:
                visit(n, path + [n])
        state[m] = "done"

    for m in edges:
        if m not in state:
            visit(m, [m])
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_every_import_inside_a_function_says_why():
    silent = [
        f"{m}:{line}: {source.strip()}"
        for m, found in graph().items()
        for _, line, where, source in found
        if where == "function" and "#" not in source
    ]
    assert silent == [], "an import in a function with no comment saying why: " + str(silent)


def test_no_server_module_reads_another_objects_private_fields():
    """`x._name` only on `self` or `cls`: other objects are used through their public face."""
    reaches = []
    for path in sorted(SERVER.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                reaches.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert reaches == []


@pytest.mark.parametrize("layer", ["server.cluster", "server.feeds"])  # redis: test_store.py
def test_one_process_loads_no_cluster_module(layer):
    code = (
        "import sys, server.app, server.__main__; "
        "server.app.create_app(); "
        f"print(sorted(m for m in sys.modules if m == {layer!r} or m.startswith({layer!r} + '.')))"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_the_cluster_gives_feeds_all_they_use_and_both_feeds_are_feeds():
    """feeds.py names what it uses of the cluster (`Relay`) without importing it: the
    Cluster has every one of those names; LocalFeed and RoomFeed both have the Feed's."""
    from server.cluster import Cluster
    from server.feed import Feed, LocalFeed
    from server.feeds import Relay, RoomFeed
    from server.settings import Settings

    cluster = Cluster("redis://127.0.0.1:1", Settings(), manager=None)  # connects on first use
    relay = set(Relay.__annotations__) | {n for n in vars(Relay) if not n.startswith("_")}
    assert relay and [n for n in sorted(relay) if not hasattr(cluster, n)] == []
    for feed in (LocalFeed, RoomFeed):
        assert [n for n in ("welcome", "refresh") if not hasattr(feed, n)] == [], feed
    assert {n for n in vars(Feed) if not n.startswith("_")} == {"welcome", "refresh"}
