"""Thermal snapshots (edgekit.device.thermal): the sysfs reading, and the virtual device's thermal
zones and CPU clocks, which tests can set."""

from __future__ import annotations

from edgekit.device import Device, ThermalSnapshot, select_device
from edgekit.device.thermal import SNAPSHOT_SCRIPT, CpuFreq, parse_snapshot


def device_of(virtual_device) -> Device:
    return select_device(serial=virtual_device.serial, adb_servers=[virtual_device.adb_server])


def test_parse_units_duplicates_and_unreadable_lines() -> None:
    zone, cpu = "/sys/class/thermal/thermal_zone", "/sys/devices/system/cpu/cpu"
    text = (f"{zone}0/type:cpu0-silver-usr\n{zone}0/temp:41300\n"
            f"{zone}1/type:battery\n{zone}1/temp:31\n"         # a driver reporting whole degrees
            f"{zone}2/type:battery\n{zone}2/temp:30500\n"      # a second zone of the same type
            f"{zone}3/temp:-2000\n"                            # no type: the zone's folder name
            f"{zone}4/type:pa-therm\n"                         # temp unreadable (EINVAL): left out
            f"{zone}5/type:odd: name\n{zone}5/temp:not-a-number\n"
            f"{cpu}1/cpufreq/scaling_cur_freq:1000000\n{cpu}1/cpufreq/cpuinfo_max_freq:1780000\n"
            f"{cpu}1/cpufreq/scaling_max_freq:1780000\n"
            f"{cpu}0/cpufreq/scaling_cur_freq:300000\n{cpu}0/cpufreq/cpuinfo_max_freq:1780000\n"
            f"{cpu}0/cpufreq/scaling_max_freq:1000000\n"
            f"{cpu}7/cpufreq/cpuinfo_max_freq:2840000\n{cpu}7/cpufreq/scaling_governor:schedutil\n"
            "garbage line\n")
    snapshot = parse_snapshot(text)
    assert snapshot.zones == {"cpu0-silver-usr": 41.3, "battery": 31.0, "battery#2": 30.5, "thermal_zone3": -2.0}
    assert [c.cpu for c in snapshot.cpus] == [0, 1, 7]
    assert snapshot.cpus[0] == CpuFreq(0, 300000, 1780000, 1000000) and snapshot.cpus[0].capped
    assert snapshot.cpus[2] == CpuFreq(7, None, 2840000, None) and not snapshot.cpus[2].capped  # some unreadable
    assert (snapshot.hottest_c, snapshot.hottest_zone, snapshot.throttled, snapshot.throttled_cpus) == \
        (41.3, "cpu0-silver-usr", True, [0])
    assert ThermalSnapshot.from_dict(snapshot.to_dict()) == snapshot
    empty = parse_snapshot("")
    assert (empty.hottest_c, empty.throttled, empty.to_dict()["zones"]) == (None, False, {})


def test_the_virtual_devices_thermal_state(virtual_device) -> None:
    device = device_of(virtual_device)
    device.info
    calls = []
    shell = device.shell
    device.shell = lambda *args, **kwargs: calls.append(args) or shell(*args, **kwargs)  # count round trips
    snapshot = device.thermal_snapshot()
    assert calls == [(SNAPSHOT_SCRIPT,)]  # one shell call
    # sd855: little cores first, as Linux numbers them; every clock at its maximum, nothing capped
    assert [c.max_khz for c in snapshot.cpus] == [1780000] * 4 + [2420000] * 3 + [2840000]
    assert all(c.cur_khz == c.max_khz == c.scaling_max_khz for c in snapshot.cpus) and not snapshot.throttled
    assert {"cpu0-silver-usr", "cpu4-gold-usr", "cpu7-gold-usr", "gpu-usr", "battery", "xo-therm"} <= set(snapshot.zones)
    assert all(25 < t < 45 for t in snapshot.zones.values())

    virtual_device.set_thermal(zone_temps={"cpu7-gold-usr": 71.5, "skin-therm": 40.0},
                               cpu_max_khz={7: 1_800_000}, cpu_cur_khz={7: 1_200_000})
    hot = device.thermal_snapshot()
    assert (hot.hottest_c, hot.hottest_zone) == (71.5, "cpu7-gold-usr") and hot.zones["skin-therm"] == 40.0
    assert hot.throttled and hot.throttled_cpus == [7]
    assert hot.cpus[7] == CpuFreq(7, 1_200_000, 2_840_000, 1_800_000)
    record = hot.to_dict()
    assert record["throttled"] and record["hottest_c"] == 71.5 and record["cpus"][7]["scaling_max_khz"] == 1_800_000
