"""A device's thermal state: its thermal zones' temperatures and each CPU's frequencies (sysfs).

``Device.thermal_snapshot()`` runs SNAPSHOT_SCRIPT (one shell call) and ``parse_snapshot`` reads
its lines:

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
import time
from typing import Optional

SNAPSHOT_SCRIPT = r"""for z in /sys/class/thermal/thermal_zone*; do
  t=$(cat "$z/temp" 2>/dev/null) || continue
  printf 'Z\t%s\t%s\t%s\n' "${z##*/}" "$(cat "$z/type" 2>/dev/null)" "$t"
done
for c in /sys/devices/system/cpu/cpu[0-9]*; do
  f="$c/cpufreq"
  [ -d "$f" ] || continue
  printf 'C\t%s\t%s\t%s\t%s\n' "${c##*/cpu}" "$(cat "$f/scaling_cur_freq" 2>/dev/null)" \
    "$(cat "$f/cpuinfo_max_freq" 2>/dev/null)" "$(cat "$f/scaling_max_freq" 2>/dev/null)"
done
true"""

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
    zones: dict[str, float] = {}
    cpus: list[CpuFreq] = []
    for line in text.splitlines():
        fields = line.split("\t")
        if fields[0] == "Z" and len(fields) == 4:
            raw = _int(fields[3])
            if raw is None:
                continue
            name = fields[2].strip() or fields[1]
            if name in zones:  # several zones of one type (e.g. two "battery" sensors)
                name = f"{name}#{fields[1].removeprefix('thermal_zone')}"
            zones[name] = _celsius(raw)
        elif fields[0] == "C" and len(fields) == 5 and fields[1].isdigit():
            cpus.append(CpuFreq(int(fields[1]), _int(fields[2]), _int(fields[3]), _int(fields[4])))
    cpus.sort(key=lambda c: c.cpu)
    return ThermalSnapshot(zones, cpus)
