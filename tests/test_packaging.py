"""Installed names live under one namespace (issue 2 item 1): ekita.core, ekita.hub,
ekita.plugins.<name>; nothing generic lands in site-packages."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

import ekita.core
import ekita.hub
import ekita.plugins

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"core": "ekita.core", "hub": "ekita.hub", "plugins": "ekita.plugins"}


def source_packages() -> set[str]:
    found = set()
    for folder, name in SOURCES.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *rel)))
    return found


def test_every_source_package_is_listed_in_pyproject():
    """A package missing from [tool.setuptools] packages would be missing from the wheel."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    assert source_packages() == listed


def test_editable_install_maps_the_namespace():
    """`pip install -e .` serves ekita.* from the source folders."""
    assert Path(ekita.core.__file__).parent == ROOT / "core"
    assert Path(ekita.hub.__file__).parent == ROOT / "hub"
    assert Path(ekita.plugins.__file__).parent == ROOT / "plugins"
    site = Path(sysconfig.get_paths()["purelib"])
    assert not any((site / generic).exists() for generic in ("core", "hub", "plugins"))


def test_generic_names_are_not_importable_outside_the_repo(tmp_path):
    probe = "import importlib.util as u; print([u.find_spec(n) for n in ('core','hub','plugins')])"
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "[None, None, None]"


@pytest.mark.slow
def test_wheel_holds_only_the_ekita_namespace(tmp_path):
    """A built wheel contains ekita/... and its metadata, with data files and migrations."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(tmp_path), str(ROOT)], check=True)
    (wheel,) = tmp_path.glob("ekita_hub-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"ekita", next(t for t in tops if t.endswith(".dist-info"))}
    for required in ("ekita/core/data/dresden_stadtteile.csv",
                     "ekita/core/db/migrations/env.py",
                     "ekita/core/db/migrations/script.py.mako",
                     "ekita/core/db/migrations/versions/0001_initial_schema.py",
                     "ekita/hub/hookspecs.py",
                     "ekita/plugins/meso/__init__.py",
                     "ekita/plugins/meso/README.md"):
        assert required in names, required
    assert "ekita/__init__.py" not in names  # ekita is a namespace package
