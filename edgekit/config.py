"""Locating and reading the YAML files of ``opt_configs/`` (opt targets, quantization presets,
device profiles).

Search order for the folder: $EDGEKIT_CONFIG_DIR, the repository's ``opt_configs/`` (an editable
install or a checkout), then the copy installed under ``<prefix>/share/edgekit/opt_configs``.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

from edgekit.errors import ConfigError

CONFIG_ENV = "EDGEKIT_CONFIG_DIR"


def config_dir() -> Path:
    candidates = []
    if os.environ.get(CONFIG_ENV):
        candidates.append(Path(os.environ[CONFIG_ENV]))
    candidates.append(Path(__file__).resolve().parent.parent / "opt_configs")
    candidates.append(Path(sys.prefix) / "share" / "edgekit" / "opt_configs")
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"no opt_configs folder found (looked in {', '.join(map(str, candidates))}); "
                      f"set {CONFIG_ENV}")


@functools.lru_cache(maxsize=None)
def _load(path: Path) -> Any:
    import yaml  # cheap, but only needed here

    try:
        with open(path) as f:
            return yaml.safe_load(f)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from None


def load_config(name: str) -> dict:
    """The mapping in ``opt_configs/<name>.yaml``."""
    path = config_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"missing configuration file {path}")
    data = _load(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at the top level")
    return data


def config_section(name: str, key: str, kind: str) -> dict:
    """One named entry of a config file, e.g. a preset or a device profile, with a clear error."""
    entries = load_config(name)
    if key not in entries:
        known = ", ".join(sorted(entries))
        raise ConfigError(f"unknown {kind} {key!r} (known: {known}; defined in {config_dir() / (name + '.yaml')})")
    entry = entries[key]
    if not isinstance(entry, dict):
        raise ConfigError(f"{kind} {key!r} in {name}.yaml must be a mapping")
    return entry
