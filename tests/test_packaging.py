"""A non-editable install carries what edgekit reads outside the package: opt_configs/ and the demo app.

edgekit.config and edgekit.app.sources look for them under ``<prefix>/share/edgekit`` when not
run from a checkout; setup.cfg's ``[options.data_files]`` puts them there, one line per folder,
so a file in a new folder would silently be left out of wheels. (Checked by hand with a wheel:
``pip wheel .`` then ``pip install --no-deps`` into a fresh venv finds both folders.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARE = "share/edgekit"
SHIPPED = ("opt_configs/", "android_demo/")
NOT_SHIPPED = ("android_demo/src/test/",)  # the demo's JVM tests: the APK build does not read them


def _tracked_files() -> list[str]:
    try:
        listed = subprocess.run(["git", "ls-files", *SHIPPED], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [f for f in listed if not f.startswith(NOT_SHIPPED)]


def _installed_paths() -> dict[str, str]:
    """Source file → where setup.cfg's data_files install it (relative to the prefix)."""
    from setuptools.config.setupcfg import read_configuration

    data_files = read_configuration(str(REPO / "setup.cfg"))["options"].get("data_files", [])
    return {source: f"{folder}/{Path(source).name}" for folder, sources in data_files for source in sources}


def test_every_config_and_demo_file_is_installed_where_edgekit_looks():
    installed = _installed_paths()
    files = _tracked_files()
    assert "opt_configs/targets.yaml" in files and "android_demo/AndroidManifest.xml" in files
    missing = [f for f in files if f not in installed]
    assert missing == [], f"add these to [options.data_files] in setup.cfg: {missing}"
    misplaced = {f: installed[f] for f in files if installed[f] != f"{SHARE}/{f}"}
    assert misplaced == {}  # the layout under share/edgekit is the checkout's
