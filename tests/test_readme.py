"""The README's promises: its Python example runs, and .ci/run runs its test command."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", section, re.S)]


def test_quick_start_is_two_commands_and_ci_runs_the_second():
    run, test = quick_start_commands()
    assert "backprop-lab" in run and "\n" not in run and "\n" not in test
    ci = (ROOT / ".ci" / "run").read_text()
    assert test in ci.splitlines()


def test_python_example_runs(capsys):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "after 200 Adam steps" in out and "g = ∂L/∂w = " in out and "δ₁ = " in out


def test_ruff_formats_every_file():
    """`ruff format` is the house style (CONTRIBUTING.md): an unformatted file fails the suite."""
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "--no-cache", str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_finds_nothing():
    """The linter is part of the test command: a finding fails the suite."""
    run = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _layout() -> dict[str, str]:
    """The README's "How it fits together" block, folder → its text."""
    section = README.split("## How it fits together", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    out: dict[str, str] = {}
    folder = None
    for line in block.splitlines():
        if m := re.match(r"(\S+/)\s", line):
            folder = m.group(1)
            line = line[len(folder) :]
        if folder:
            out[folder] = out.get(folder, "") + " " + line
    return out


@pytest.mark.parametrize(
    ("folder", "pattern"),
    [("engine/", "engine/*.py"), ("server/", "server/*.py"), ("static/js/", "static/js/*.js")],
)
def test_the_readme_layout_names_every_module(folder, pattern):
    """A new contributor finds each module in the README's layout, under its folder."""
    text = _layout()[folder]
    names = [p.stem for p in sorted(ROOT.glob(pattern)) if p.stem != "__init__"]
    missing = [n for n in names if not re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", text)]
    assert not missing, f"{folder} modules the README's layout does not name: {missing}"


def test_the_readme_and_the_guide_give_the_suite_one_time():
    """One figure for how long `python -m pytest` takes, said the same in both places."""
    guide = (ROOT / "CONTRIBUTING.md").read_text()
    said = [re.findall(r"about (\d+) minutes on 2 cores", text) for text in (README, guide)]
    assert all(said) and len({m for found in said for m in found}) == 1, said
