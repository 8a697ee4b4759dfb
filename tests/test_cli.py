"""The command line speaks to people: bad start-up input is one line and a non-zero exit,
never a traceback; `--help` lists the BACKPROP_LAB_* variables."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from server import __main__ as launcher
from server.settings import Settings


def launch(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`python -m server ARGS` as a user would run it, with extra environment variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BACKPROP_LAB_")}
    return subprocess.run(
        [sys.executable, "-m", "server", "--no-browser", *args],
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_refusal(run: subprocess.CompletedProcess) -> str:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("backprop-lab: "), run.stderr
    return lines[0]


def test_a_port_in_use_is_named_and_port_0_suggested():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line_refusal(launch("--port", str(port)))
    assert f"port {port}" in line and "in use" in line and "--port 0" in line


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_port_out_of_range_is_refused_by_the_settings_rules(port):
    line = one_line_refusal(launch("--port", port))
    assert "--port" in line and port in line
    line = one_line_refusal(launch(BACKPROP_LAB_PORT=port))
    assert "BACKPROP_LAB_PORT" in line


def test_a_host_that_does_not_resolve_is_named():
    line = one_line_refusal(launch("--host", "no-such-host.invalid"))
    assert "no-such-host.invalid" in line and "resolve" in line


def test_a_bad_environment_variable_is_named():
    line = one_line_refusal(launch(BACKPROP_LAB_MAX_SESSIONS="many"))
    assert "BACKPROP_LAB_MAX_SESSIONS" in line and "many" in line


def test_help_lists_every_environment_variable():
    run = subprocess.run(
        [sys.executable, "-m", "server", "--help"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0
    for name in Settings.model_fields:
        assert f"BACKPROP_LAB_{name.upper()}" in run.stdout, name
    assert "comma-separated" in run.stdout


@pytest.mark.parametrize(
    "value, expected",
    [
        ("http://a.example", ["http://a.example"]),
        ("http://a.example, http://b.example", ["http://a.example", "http://b.example"]),
        ('["http://a.example", "http://b.example"]', ["http://a.example", "http://b.example"]),
        ("", []),
    ],
)
def test_a_list_variable_takes_commas_or_json(monkeypatch, value, expected):
    monkeypatch.setenv("BACKPROP_LAB_ALLOW_ORIGINS", value)
    monkeypatch.setenv("BACKPROP_LAB_TRUSTED_HOSTS", value)
    s = Settings()
    assert s.allow_origins == expected and s.trusted_hosts == expected


def test_the_command_line_adds_to_the_environment(monkeypatch):
    monkeypatch.setenv("BACKPROP_LAB_ALLOW_ORIGINS", "http://a.example")
    monkeypatch.setenv("BACKPROP_LAB_PORT", "9001")
    s = launcher.settings_from(launcher.parse_args(["--allow-origin", "http://b.example"]))
    assert s.allow_origins == ["http://a.example", "http://b.example"] and s.port == 9001
    s = launcher.settings_from(launcher.parse_args(["--port", "0"]))
    assert s.port == 0


def test_no_browser_says_where_to_go(live_server, monkeypatch, capsys):
    monkeypatch.setattr(launcher.webbrowser, "open", lambda url: False)
    launcher.open_when_ready(live_server + "/")
    assert f"open {live_server}/ yourself" in capsys.readouterr().out
