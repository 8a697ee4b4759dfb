"""CONTRIBUTING.md's recipes are true: every file they name exists, the activation recipe
names every place an activation lives (each of the engine's activations appears in each of
its files), so following it is enough and a place it misses fails here, and the readout
recipe's two lists agree (the page charts exactly the readouts the engine lists)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.activations import ACTIVATIONS
from engine.config import BINARY_DATASETS, MULTICLASS_DATASETS, REGRESSION_DATASETS
from engine.readouts import READOUT_NAMES

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
RECIPE = re.compile(r"<!-- recipe: (\w+) -->(.*?)<!-- /recipe -->", re.S)
RECIPES = {name: body for name, body in RECIPE.findall(GUIDE)}
PATH = re.compile(r"`((?:engine|server|static|templates|docs|tests)/[\w/<>.-]+)`")


def files(recipe: str) -> list[str]:
    return PATH.findall(RECIPES[recipe])


def test_the_guide_has_the_five_recipes():
    assert set(RECIPES) == {"activation", "dataset", "readout", "message", "view"}


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_every_file_a_recipe_names_exists(recipe):
    named = files(recipe)
    assert named, recipe
    for path in named:
        if "<" in path:  # a new file's pattern: its folder exists
            assert (ROOT / path).parent.is_dir(), path
        else:
            assert (ROOT / path).is_file(), path


def test_the_activation_recipe_names_every_place_an_activation_lives():
    named = files("activation")
    labels = "static/js/labels.js"  # only names that read otherwise have a label
    for path in (p for p in named if p != labels):
        text = (ROOT / path).read_text(encoding="utf-8")
        missing = [a for a in ACTIVATIONS if not re.search(rf"\b{a}\b", text)]
        assert not missing, (path, missing)
    # and no other source file knows every activation by name
    sources = [p for p in (ROOT / "engine").glob("*.py")] + list((ROOT / "static/js").glob("*.js"))
    for p in sources:
        rel = str(p.relative_to(ROOT))
        text = p.read_text(encoding="utf-8")
        if rel not in named and all(re.search(rf"\b{a}\b", text) for a in ACTIVATIONS):
            pytest.fail(f"{rel} names every activation but the recipe does not name it")


def test_the_dataset_recipe_names_the_files_that_know_each_data_set():
    for path in ("static/js/dataset_icons.js", "static/js/labels.js"):
        assert path in files("dataset")
    icons = (ROOT / "static/js/dataset_icons.js").read_text(encoding="utf-8")
    for name in (*BINARY_DATASETS, *REGRESSION_DATASETS, *MULTICLASS_DATASETS):
        assert re.search(rf"\b{name}\b", icons), name


def test_the_readout_recipe_charts_every_readout_the_engine_lists():
    named = files("readout")
    assert "engine/readouts.py" in named and "static/js/charts_view.js" in named
    charts = (ROOT / "static/js/charts_view.js").read_text(encoding="utf-8")
    table = charts[
        charts.index("export const READOUT_CHARTS = [") : charts.index(
            "\n];", charts.index("export const READOUT_CHARTS = [")
        )
    ]
    keys = re.findall(r'\{ key: "(\w+)"', table)
    assert tuple(keys) == READOUT_NAMES
    protocol = (ROOT / "docs/protocol.md").read_text(encoding="utf-8")
    assert '"readouts": [' + ", ".join(f'"{n}"' for n in READOUT_NAMES) + "]" in protocol


def test_the_config_field_places_exist_and_cover_the_fields_own_files():
    """ "Add a config field" names real files, among them the two that declare a field."""
    body = re.search(r"<!-- field places -->(.*?)<!-- /field places -->", GUIDE, re.S).group(1)
    named = PATH.findall(body)
    assert {"engine/config.py", "engine/optimizers.py", "static/js/contract.js"} <= set(named)
    for path in named:
        assert (ROOT / path).is_file(), path
