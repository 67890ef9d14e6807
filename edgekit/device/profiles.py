"""Device profiles (``opt_configs/devices.yaml``): what a phone is, and how to benchmark on it.

A profile names a SoC, the board platform Android reports for it (``ro.board.platform``), its
ABI and core clusters, and the benchmark defaults of the seed table. ``match_profile`` tells
which profile a connected device's properties belong to.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

from edgekit.config import config_dir, load_config
from edgekit.errors import ConfigError

CONFIG_NAME = "devices"
# The seed table's benchmark conditions: the YAML anchor the profiles' bench_defaults refer to.
SEED_CONDITIONS_KEY = "_seed_conditions"
# Devices that match no board but run 64-bit ARM fall back to this profile.
GENERIC_ARM64 = "generic_arm64"
REQUIRED_KEYS = ("soc", "board_platform", "abi", "cores", "android_version", "sdk", "opt_target",
                 "bench_defaults")


@dataclasses.dataclass(frozen=True)
class CoreCluster:
    core: str  # "Cortex-A76"
    count: int
    ghz: float  # maximum clock

    @property
    def max_freq_khz(self) -> int:
        """The value Linux reports in cpufreq/cpuinfo_max_freq for these cores."""
        return int(round(self.ghz * 1_000_000))

    def describe(self) -> str:
        return f"{self.count}x {self.core} @{self.ghz:.2f} GHz"


@dataclasses.dataclass(frozen=True)
class DeviceProfile:
    name: str
    soc: str
    board_platform: str
    abi: str
    cores: tuple[CoreCluster, ...]
    android_version: str
    sdk: int
    opt_target: str
    bench_defaults: dict
    soc_model: str = ""

    @property
    def core_count(self) -> int:
        """Number of cores, 0 when the profile does not know its layout (generic profiles)."""
        return sum(cluster.count for cluster in self.cores)

    def describe_cores(self) -> str:
        return " + ".join(cluster.describe() for cluster in self.cores) or "unknown"

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["cores"] = [dataclasses.asdict(c) for c in self.cores]
        return data


def _entries() -> dict[str, Any]:
    # Keys starting with "_" hold YAML anchors shared by the profiles, not profiles.
    return {k: v for k, v in load_config(CONFIG_NAME).items() if not str(k).startswith("_")}


def _parse_cluster(profile: str, raw: Any) -> CoreCluster:
    try:
        return CoreCluster(core=str(raw["core"]), count=int(raw["count"]), ghz=float(raw["ghz"]))
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"device profile {profile!r}: each cores entry needs core, count and ghz "
                          f"(got {raw!r})") from None


def _parse_profile(name: str, raw: Any) -> DeviceProfile:
    where = config_dir() / f"{CONFIG_NAME}.yaml"
    if not isinstance(raw, dict):
        raise ConfigError(f"device profile {name!r} in {where} must be a mapping")
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise ConfigError(f"device profile {name!r} in {where} lacks {', '.join(missing)}")
    if not isinstance(raw["cores"], list) or not isinstance(raw["bench_defaults"], dict):
        raise ConfigError(f"device profile {name!r} in {where}: cores must be a list and "
                          f"bench_defaults a mapping")
    try:
        sdk = int(raw["sdk"])
    except (TypeError, ValueError):
        raise ConfigError(f"device profile {name!r}: sdk must be an integer (got {raw['sdk']!r})") from None
    return DeviceProfile(
        name=name,
        soc=str(raw["soc"]),
        board_platform=str(raw["board_platform"] or ""),
        abi=str(raw["abi"]),
        cores=tuple(_parse_cluster(name, c) for c in raw["cores"]),
        android_version=str(raw["android_version"]),
        sdk=sdk,
        opt_target=str(raw["opt_target"]),
        bench_defaults=dict(raw["bench_defaults"]),
        soc_model=str(raw.get("soc_model") or ""),
    )


def seed_conditions() -> dict:
    """The seed table's benchmark conditions (input shape, warmup, repeats, threads, power mode),
    for devices that match no profile."""
    conditions = load_config(CONFIG_NAME).get(SEED_CONDITIONS_KEY)
    if not isinstance(conditions, dict):
        raise ConfigError(f"{config_dir() / (CONFIG_NAME + '.yaml')} lacks the mapping {SEED_CONDITIONS_KEY}")
    return dict(conditions)


def list_profiles() -> list[DeviceProfile]:
    """Every profile of devices.yaml, in file order."""
    return [_parse_profile(name, raw) for name, raw in _entries().items()]


def profile_names() -> list[str]:
    return list(_entries())


def load_profile(name: str) -> DeviceProfile:
    """The profile called ``name``; ConfigError naming the known ones when there is none."""
    entries = _entries()
    if name not in entries:
        raise ConfigError(f"unknown device profile {name!r} (known: {', '.join(entries)}; "
                          f"defined in {config_dir() / (CONFIG_NAME + '.yaml')})")
    return _parse_profile(name, entries[name])


def match_profile(props: Mapping[str, str]) -> Optional[str]:
    """The profile a device with these properties (``getprop``) belongs to, or None."""
    profiles = list_profiles()
    by_name = {p.name: p for p in profiles}
    declared = props.get("ro.edgekit.profile", "").strip()
    if declared in by_name:
        return declared
    board = props.get("ro.board.platform", "").strip().lower()
    for profile in profiles:
        if board and profile.board_platform and board == profile.board_platform.lower():
            return profile.name
    soc_models = {props.get(key, "").strip().lower() for key in ("ro.soc.model", "ro.hardware.chipname")}
    soc_models.discard("")
    for profile in profiles:
        if profile.soc_model and profile.soc_model.lower() in soc_models:
            return profile.name
    abis = props.get("ro.product.cpu.abi", "").strip()
    if abis == "arm64-v8a" and GENERIC_ARM64 in by_name:
        return GENERIC_ARM64
    return None
