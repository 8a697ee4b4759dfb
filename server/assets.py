"""Where the page's files are: inside the wheel, or at the repository root."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def asset_dirs(package_dir: Path = PACKAGE_DIR) -> tuple[Path, Path]:
    """(static, templates) directories.

    `pip install .` puts them in `server/_assets/` (hatch force-include, see pyproject);
    a checkout or `pip install -e .` has them beside `server/` at the repository root.
    """
    for base in (package_dir / "_assets", package_dir.parent):
        static, templates = base / "static", base / "templates"
        if static.is_dir() and (templates / "index.html").is_file():
            return static, templates
    raise FileNotFoundError(
        f"no static/ and templates/index.html in {package_dir / '_assets'} or "
        f"{package_dir.parent}: reinstall the package"
    )
