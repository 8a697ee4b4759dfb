"""The README's test command, run as a new machine would: from a fresh clone of this repository's
HEAD (so nothing uncommitted and nothing installed by hand helps), timed.

    python bench/fresh_clone.py                 # inside an outer venv, as a developer would
    python bench/fresh_clone.py --no-venv       # the interpreter on PATH, no venv (as CI runs it)
    python bench/fresh_clone.py --runs 3        # three runs in a row

Each run prints its wall time and pytest's summary line; the exit status is non-zero if any
run failed or pytest reported an error or a warning.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_test_command() -> str:
    """The second command of the README's Quick start (tests/test_readme.py reads it alike)."""
    section = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)[1].strip()


def one_run(outer_venv: bool, keep: bool) -> tuple[bool, float, str]:
    work = Path(tempfile.mkdtemp(prefix="fresh-"))
    clone = work / "backprop-lab"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    if outer_venv:
        subprocess.run([sys.executable, "-m", "venv", str(work / "outer")], check=True)
        env["VIRTUAL_ENV"] = str(work / "outer")
        env["PATH"] = f"{work / 'outer' / 'bin'}{os.pathsep}{env['PATH']}"
    t0 = time.monotonic()
    run = subprocess.run(
        ["bash", "-c", readme_test_command()], cwd=clone, env=env, capture_output=True, text=True
    )
    took = time.monotonic() - t0
    lines = [ln for ln in run.stdout.splitlines() if re.search(r"\d+ (passed|failed)", ln)]
    summary = lines[-1].strip("= ") if lines else (run.stdout + run.stderr)[-2000:]
    clean = run.returncode == 0 and not re.search(r"error|failed|warning", summary)
    if not clean or keep:
        log = work / "run.log"
        log.write_text(run.stdout + "\n--- stderr ---\n" + run.stderr)
        print(f"  log: {log}")
    if not keep:
        subprocess.run(["rm", "-rf", str(clone), str(work / "outer")], check=False)
    return clean, took, summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--no-venv",
        action="store_true",
        help="run with the interpreter on PATH, no outer venv (as CI runs it)",
    )
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--keep", action="store_true", help="keep the clone and its log")
    args = p.parse_args()
    print(f"command: {readme_test_command()}")
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(f"mode: {'no outer venv' if args.no_venv else 'inside an outer venv'}; HEAD {head}")
    ok = True
    for i in range(args.runs):
        clean, took, summary = one_run(not args.no_venv, args.keep)
        ok &= clean
        print(
            f"run {i + 1}: {'clean' if clean else 'NOT CLEAN'} in {took:.0f} s wall: {summary}",
            flush=True,
        )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
