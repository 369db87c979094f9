"""Packaging metadata: one source for the version, the typing marker and the license ship."""

from __future__ import annotations

import importlib.metadata
import json
import re
import urllib.parse
from pathlib import Path

import pytest

import tritonlpc

ROOT = Path(__file__).resolve().parents[1]


def _project_config(expand: bool = True) -> dict:
    pyprojecttoml = pytest.importorskip("setuptools.config.pyprojecttoml")
    return pyprojecttoml.read_configuration(ROOT / "pyproject.toml", expand=expand)


def test_version_has_one_source():
    """pyproject.toml takes the version from ``tritonlpc.__version__`` (nowhere else)."""
    raw = _project_config(expand=False)
    assert "version" not in raw["project"], "pyproject.toml writes a version; use tritonlpc.__version__"
    assert "version" in raw["project"]["dynamic"]
    assert raw["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "tritonlpc.__version__"}
    assert _project_config()["project"]["version"] == tritonlpc.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", tritonlpc.__version__)


def test_installed_metadata_matches_when_installed_from_this_tree():
    """``pip install [-e] .`` of this tree records ``tritonlpc.__version__`` as its version."""
    try:
        dist = importlib.metadata.distribution("tritonlpc")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("tritonlpc is not installed (run from the source tree)")
    url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")  # PEP 610
    source = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path)) if url.startswith("file:") else None
    if source is None or source.resolve() != ROOT:
        pytest.skip(f"the installed tritonlpc is not from this tree ({url or 'no direct_url.json'})")
    assert dist.version == tritonlpc.__version__


def test_package_data_ships_py_typed():
    assert (ROOT / "tritonlpc" / "py.typed").is_file()
    package_data = _project_config()["tool"]["setuptools"].get("package-data", {})
    assert "py.typed" in package_data.get("tritonlpc", [])


def test_license_and_changelog():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert f"## [{tritonlpc.__version__}]" in changelog, "CHANGELOG.md has no section for the current version"
