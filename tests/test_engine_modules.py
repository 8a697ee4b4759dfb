"""The engine's modules keep to their own fields: none reaches into another object's private
fields (`x._name` where x is not self or cls), none passes 600 lines, none imports the
server; and no server module reaches into the trainer's private fields."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINE = sorted((ROOT / "engine").glob("*.py"))
SERVER = sorted((ROOT / "server").rglob("*.py"))


def private_reaches(path: Path, names: set[str] | None = None) -> list[str]:
    """Each `x._name` in the file (no dunders) whose x is not `self` or `cls`; only those
    named in `names` when given."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__"):
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        if names is None or name in names:
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def trainer_private_names() -> set[str]:
    """The Trainer's private methods and attributes (`self._name` in engine/trainer.py)."""
    tree = ast.parse((ROOT / "engine" / "trainer.py").read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("_"):
            out.add(node.name)
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and node.attr.startswith("_")
        ):
            out.add(node.attr)
    return {n for n in out if not n.startswith("__")}


def test_no_engine_module_reaches_into_private_fields():
    reaches = [r for path in ENGINE for r in private_reaches(path)]
    assert not reaches, "\n".join(reaches)


def test_no_server_module_reaches_into_the_trainers_private_fields():
    names = trainer_private_names()
    assert {"_apply", "_model_key", "_grad_norms"} <= names  # the walk finds them
    reaches = [r for path in SERVER for r in private_reaches(path, names)]
    assert not reaches, "\n".join(reaches)


def test_every_engine_module_is_at_most_600_lines():
    sizes = {p.name: len(p.read_text().splitlines()) for p in ENGINE}
    assert {n: s for n, s in sizes.items() if s > 600} == {}


def test_the_engine_imports_nothing_from_the_server():
    for path in ENGINE:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert (node.module or "").split(".")[0] != "server", path.name
            elif isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] != "server" for a in node.names), path.name
