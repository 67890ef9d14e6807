"""A device's thermal state: its thermal zones' temperatures and each CPU's frequencies (sysfs).

``Device.thermal_snapshot()`` runs SNAPSHOT_SCRIPT (one shell call, one ``grep`` process) and
``parse_snapshot`` reads its lines:

* ``/sys/class/thermal/thermal_zone*/{type,temp}``: temperatures in millidegrees Celsius (a few
  drivers report whole degrees; values of magnitude below 200 are taken as such). A zone whose
  temp cannot be read (some are disabled and answer EINVAL) is left out.
* ``/sys/devices/system/cpu/cpu*/cpufreq/{scaling_cur_freq,cpuinfo_max_freq,scaling_max_freq}``
  in kHz: the current clock, the hardware's maximum, and the maximum the kernel allows now.

``throttled`` is true when some CPU's allowed maximum is below its hardware maximum (a thermal
or power governor capped it). A snapshot cannot tell a clock that is low under load from one
that is low at rest, so ``cur_khz`` is recorded but not judged.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Optional

_ZONES = "/sys/class/thermal/thermal_zone*"
_CPUFREQ = "/sys/devices/system/cpu/cpu[0-9]*/cpufreq"
# One process reads every file: grep prints "PATH:VALUE" per file (-H), nothing for a file it
# cannot read (-s: a disabled zone answers EINVAL; a pattern that matched nothing stays literal).
SNAPSHOT_SCRIPT = (f"grep -sH . {_ZONES}/type {_ZONES}/temp {_CPUFREQ}/scaling_cur_freq "
                   f"{_CPUFREQ}/cpuinfo_max_freq {_CPUFREQ}/scaling_max_freq; true")
_LINE = re.compile(r"^/sys/(?:class/thermal/thermal_zone(?P<zone>\d+)/(?P<zfile>type|temp)"
                   r"|devices/system/cpu/cpu(?P<cpu>\d+)/cpufreq/(?P<cfile>\w+)):(?P<value>.*)$")
_CPU_FIELDS = {"scaling_cur_freq": "cur_khz", "cpuinfo_max_freq": "max_khz", "scaling_max_freq": "scaling_max_khz"}

WHOLE_DEGREES_BELOW = 200  # |temp| below this is whole degrees, else millidegrees


@dataclasses.dataclass(frozen=True)
class CpuFreq:
    cpu: int
    cur_khz: Optional[int]
    max_khz: Optional[int]  # cpuinfo_max_freq: what the hardware can do
    scaling_max_khz: Optional[int]  # scaling_max_freq: what the kernel allows now

    @property
    def capped(self) -> bool:
        """The allowed maximum is below the hardware's (thermal or power throttling)."""
        return bool(self.max_khz and self.scaling_max_khz and self.scaling_max_khz < self.max_khz)


@dataclasses.dataclass(frozen=True)
class ThermalSnapshot:
    zones: dict[str, float]  # zone type (e.g. "cpu0-silver-usr", "battery") → °C
    cpus: list[CpuFreq]
    # host time, seconds since the epoch (ms resolution, as stored)
    taken_at: float = dataclasses.field(default_factory=lambda: round(time.time(), 3))

    @property
    def hottest_c(self) -> Optional[float]:
        return max(self.zones.values()) if self.zones else None

    @property
    def hottest_zone(self) -> Optional[str]:
        return max(self.zones, key=self.zones.__getitem__) if self.zones else None

    @property
    def throttled_cpus(self) -> list[int]:
        return [c.cpu for c in self.cpus if c.capped]

    @property
    def throttled(self) -> bool:
        return bool(self.throttled_cpus)

    def to_dict(self) -> dict:
        return {"taken_at": self.taken_at, "zones": dict(self.zones),
                "cpus": [dataclasses.asdict(c) for c in self.cpus], "hottest_c": self.hottest_c,
                "hottest_zone": self.hottest_zone, "throttled": self.throttled,
                "throttled_cpus": self.throttled_cpus}

    @classmethod
    def from_dict(cls, data: dict) -> "ThermalSnapshot":
        cpus = [CpuFreq(**{k: c.get(k) for k in ("cpu", "cur_khz", "max_khz", "scaling_max_khz")})
                for c in data.get("cpus", [])]
        return cls({str(k): float(v) for k, v in data.get("zones", {}).items()}, cpus,
                   float(data.get("taken_at", 0.0)))


def _int(text: str) -> Optional[int]:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else None


def _celsius(raw: int) -> float:
    return float(raw) if abs(raw) < WHOLE_DEGREES_BELOW else raw / 1000.0


def parse_snapshot(text: str) -> ThermalSnapshot:
    """The snapshot in SNAPSHOT_SCRIPT's output; lines it cannot read are skipped."""
    types: dict[int, str] = {}
    temps: dict[int, int] = {}
    cpus: dict[int, dict[str, Optional[int]]] = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        value = match["value"].strip()
        if match["zone"] is not None:
            zone = int(match["zone"])
            if match["zfile"] == "type":
                types[zone] = value
            elif _int(value) is not None:
                temps[zone] = _int(value)
        elif match["cfile"] in _CPU_FIELDS:
            cpus.setdefault(int(match["cpu"]), {})[_CPU_FIELDS[match["cfile"]]] = _int(value)
    zones: dict[str, float] = {}
    for zone in sorted(temps):
        name = types.get(zone) or f"thermal_zone{zone}"
        if name in zones:  # several zones of one type (e.g. two "battery" sensors)
            name = f"{name}#{zone}"
        zones[name] = _celsius(temps[zone])
    freqs = [CpuFreq(cpu, values.get("cur_khz"), values.get("max_khz"), values.get("scaling_max_khz"))
             for cpu, values in sorted(cpus.items())]
    return ThermalSnapshot(zones, freqs)
