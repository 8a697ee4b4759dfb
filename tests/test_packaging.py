"""Both install modes serve the page: a wheel (`pip install .`) and the checkout that an
editable install (`pip install -e .`) points at."""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVE_CHECK = """
from fastapi.testclient import TestClient
from server.app import create_app
from server.settings import Settings
import server.app as served
app = create_app(Settings())
with TestClient(app, base_url="http://127.0.0.1:8000") as c:
    page = c.get("/")
    js = c.get("/static/js/main.js")
    assert page.status_code == 200 and 'type="module"' in page.text, page.status_code
    assert js.status_code == 200 and "import" in js.text, js.status_code
print("served from", served.__file__)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    return next(out.glob("backprop_lab-*.whl"))


def test_wheel_holds_the_page(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (
        "server/_assets/templates/index.html",
        "server/_assets/static/js/main.js",
        "server/_assets/static/js/protocol.js",
        "engine/trainer.py",
        "server/app.py",
    ):
        assert path in names, path
    assert not any(n.startswith(("tests/", "bench/")) for n in names)


def venv_with_our_dependencies(path: Path) -> Path:
    """A new venv that sees the packages of the interpreter running the tests (fastapi and
    the rest), but not its editable install of this checkout. `--system-site-packages`
    would not do: inside a venv it shows the base interpreter's packages, not the venv's."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    py = path / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    # a .pth line adds a directory only: the .pth files inside it (the editable install's
    # path to this checkout) are not read
    (Path(site) / "outer_dependencies.pth").write_text("\n".join(ours) + "\n")
    return py


def test_installed_wheel_serves_the_page(wheel, tmp_path):
    venv = tmp_path / "venv"
    py = venv_with_our_dependencies(venv)
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True
    )
    run = subprocess.run([str(py), "-c", SERVE_CHECK], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert str(venv) in run.stdout  # the wheel's copy, not the checkout


def test_checkout_serves_the_page(tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", SERVE_CHECK], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert str(ROOT / "server") in run.stdout
