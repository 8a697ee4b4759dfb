"""The README's promises: its Python example runs, and .ci/run runs its test command."""

import re
import subprocess
import sys
from pathlib import Path

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
