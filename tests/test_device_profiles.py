"""Device profiles: the YAML, lookup errors and matching a device's properties to a profile."""

from __future__ import annotations

import subprocess
import sys

import pytest

from edgekit.device.profiles import GENERIC_ARM64, list_profiles, load_profile, match_profile
from edgekit.errors import ConfigError


def test_sd855_is_the_seed_phone() -> None:
    profile = load_profile("sd855")
    assert profile.soc == "Snapdragon 855"
    assert profile.board_platform == "msmnile"
    assert profile.abi == "arm64-v8a"
    assert [(c.core, c.count, c.ghz) for c in profile.cores] == [
        ("Cortex-A76", 1, 2.84), ("Cortex-A76", 3, 2.42), ("Cortex-A55", 4, 1.78)]
    assert profile.core_count == 8
    assert profile.opt_target == "arm"
    # The seed's conditions, power mode 0 being Paddle Lite's LITE_POWER_HIGH.
    assert profile.bench_defaults == {"input_shape": "1,3,224,224", "warmup": 10, "repeats": 30,
                                      "threads": 1, "power_mode": 0}


def test_every_required_profile_is_there_with_distinct_boards() -> None:
    profiles = {p.name: p for p in list_profiles()}
    assert {"sd855", "sd865", "sd845", "sd710", "sd625", GENERIC_ARM64} <= set(profiles)
    boards = [p.board_platform for p in profiles.values() if p.board_platform]
    assert len(boards) == len(set(boards))
    assert profiles["sd865"].board_platform == "kona"
    assert profiles["sd625"].cores[0].count == 8
    for profile in profiles.values():
        assert profile.bench_defaults["warmup"] == 10 and profile.bench_defaults["repeats"] == 30
        assert profile.to_dict()["name"] == profile.name


def test_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        load_profile("sd999")
    message = str(caught.value)
    assert "sd999" in message and "sd855" in message and "generic_arm64" in message
    assert "_seed_conditions" not in message


@pytest.mark.parametrize("props, expected", [
    ({"ro.board.platform": "msmnile", "ro.product.cpu.abi": "arm64-v8a"}, "sd855"),
    ({"ro.board.platform": "KONA"}, "sd865"),
    ({"ro.board.platform": "unknown", "ro.soc.model": "SDM710"}, "sd710"),
    ({"ro.hardware.chipname": "msm8953"}, "sd625"),
    ({"ro.board.platform": "mt6771", "ro.product.cpu.abi": "arm64-v8a"}, GENERIC_ARM64),
    ({"ro.board.platform": "mt6771", "ro.product.cpu.abi": "armeabi-v7a"}, None),
    ({"ro.edgekit.profile": "sd845", "ro.board.platform": "msmnile", "ro.product.cpu.abi": "x86_64"}, "sd845"),
    ({"ro.edgekit.profile": "nonsense", "ro.board.platform": "sdm845"}, "sd845"),
    ({}, None),
])
def test_match_profile(props: dict, expected: str) -> None:
    assert match_profile(props) == expected


def test_profiles_and_the_stages_that_read_them_do_not_import_adbutils():
    script = ("import sys; import edgekit.device.profiles as p, edgekit.bench.imports, edgekit.report; "
              "p.load_profile('sd855'); print(sorted(m for m in ('adbutils', 'edgekit.device.adb') "
              "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
    from edgekit.device import Device, load_profile as loaded  # the package's names still resolve, on first use

    assert Device.__module__ == "edgekit.device.adb" and loaded is load_profile
