"""Reading what Paddle Lite's benchmark tools print, in all three generations.

* **current** (v2.10 on, ``lite/api/tools/benchmark``): a sectioned report on stdout (and in
  ``--result_path``) ending with ``Time(unit: ms):`` and ``init/first/min/max/avg = …`` lines,
  optionally followed by ``Memory Usage(unit: MB|kB):``. Section rulers read
  ``======= Runtime Info =======`` (some scripts rewrite them as ``---------- X ----------``).
  ``first`` is the first run of all, i.e. the first warm-up run when ``warmup > 0``.
* **legacy** (v2.3–v2.9 ``lite/api/benchmark.cc``): one line per run appended to the result file,
  ``NAME  min = …  max = …  average = …``. From v2.3.0 to v2.8 the tool wrote the largest time as
  ``min`` and the smallest as ``max`` (fixed in v2.9, commit e4ef4337eb); see
  ``tests/data/benchmark_outputs/README.md``.
* **oldest** (v2.0–v2.2): ``-- NAME    avg = … ms``.

Result files written by ``benchmark.sh`` (Paddle Lite's and PaddleClas's) interleave header lines
such as ``Threads=1 Warmup=10 Repeats=30``; they give the settings of the lines below them.

The tools exit 0 even when they reject their flags, so "no timing found" is an error that quotes
the start of what the tool printed.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import PurePosixPath
from typing import Iterator, Optional

from edgekit.errors import BenchmarkError, UsageError

CURRENT = "current"
LEGACY = "legacy"
OLDEST = "oldest"

# Paddle Lite versions whose legacy benchmark_bin wrote min and max swapped: [2.3, 2.9).
SWAPPED_FROM = (2, 3)
SWAPPED_UNTIL = (2, 9)

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_SECTION = re.compile(r"^\s*(?:={3,}|-{3,})\s*(?P<name>[A-Za-z][\w ]*?)\s*(?:={3,}|-{3,})\s*$")
_TIME_HEADER = re.compile(r"^\s*Time\(unit:\s*(?P<unit>\w+)\)\s*:\s*$")
_MEMORY_HEADER = re.compile(r"^\s*Memory Usage\(unit:\s*(?P<unit>\w+)\)\s*:\s*$")
_ASSIGNMENT = re.compile(r"^\s*(?P<key>[A-Za-z_]\w*)\s*=\s*(?P<value>.*?)\s*$")
_KEY_VALUE = re.compile(r"^\s*(?P<key>[A-Za-z][\w ()/.-]*?)\s*:\s*(?P<value>.*?)\s*$")
_LEGACY_LINE = re.compile(
    rf"^\s*(?P<name>\S(?:.*?\S)?)\s+min\s*=\s*(?P<min>{_NUMBER})\s+max\s*=\s*(?P<max>{_NUMBER})"
    rf"\s+average\s*=\s*(?P<avg>{_NUMBER})\s*$")
_OLDEST_LINE = re.compile(rf"^\s*--\s+(?P<name>\S+)\s+avg\s*=\s*(?P<avg>{_NUMBER})\s*ms\s*$")
# "Threads=1 Warmup=10 Repeats=30", "-----Model=X Threads=1-----": settings for what follows.
_HEADER_TOKEN = re.compile(r"(?P<key>[A-Za-z_]\w*)=(?P<value>[^\s=-][^\s]*?)(?=-*\s|-*$)")
_ARCH_LINE = re.compile(r"^\s*run benchmark (?P<arch>armv7|armv8|arm64-v8a|armeabi-v7a)\s*$")

_TIME_UNITS_TO_MS = {"ms": 1.0, "us": 1e-3, "s": 1000.0}
_MEMORY_UNITS_TO_MB = {"MB": 1.0, "kB": 1 / 1024, "KB": 1 / 1024, "GB": 1024.0}
_RUNTIME_SETTINGS = {"threads": int, "power_mode": int, "warmup": int, "repeats": int}
_HEADER_SETTINGS = {"threads": "threads", "warmup": "warmup", "repeats": "repeats"}
_GENERIC_MODEL_STEMS = {"", "opt", "model", "inference", "__model__"}


@dataclasses.dataclass(frozen=True)
class Latency:
    """Milliseconds per inference; None where the tool did not print (or derive) the figure."""

    avg_ms: float
    min_ms: Optional[float] = None
    max_ms: Optional[float] = None
    first_ms: Optional[float] = None
    init_ms: Optional[float] = None
    std_ms: Optional[float] = None  # with --rounds N > 1: the sample standard deviation of the rounds' avgs
    samples_ms: Optional[tuple[float, ...]] = None  # with --rounds N: each round's avg, in order
    median_ms: Optional[float] = None  # with --rounds N: the median of the rounds' avgs
    round_min_ms: Optional[float] = None  # with --rounds N: the fastest and slowest round's avg
    round_max_ms: Optional[float] = None

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["samples_ms"] = list(self.samples_ms) if self.samples_ms is not None else None
        return data


@dataclasses.dataclass(frozen=True)
class ParsedRun:
    """One benchmark result read from a tool's output."""

    generation: str  # CURRENT, LEGACY or OLDEST
    model: Optional[str]  # as the output names it (None when it does not)
    latency: Latency
    memory_mb: Optional[dict]  # {"init": …, "peak": …} in MB, when printed with numbers
    tool_version: Optional[str]  # "benchmark_bin version: …" of the current tool
    settings: dict  # what the output states: threads, warmup, repeats, power_mode, input_shape, backend, …
    device: dict  # the current tool's "Device Info" section on Android (Brand, Model, …)
    minmax_swapped: bool  # True when a legacy line's min/max were exchanged to undo the v2.3–v2.8 bug
    line: int  # 1-based line of the timing block / result line

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["latency"] = self.latency.to_dict()
        return data


def parse_output(text: str, *, tool_version: Optional[str] = None) -> list[ParsedRun]:
    """Every result in ``text`` (stdout of a tool, or a result file), in order of appearance.

    ``tool_version`` is the Paddle Lite version of a legacy binary ("2.6", "v2.8.0"); it decides
    whether min/max are swapped. Without it, a legacy line with ``min > max`` is taken as swapped
    (the only way a v2.3–v2.8 line can look). Raises BenchmarkError when ``text`` holds no timing.
    """
    runs = list(_iter_runs(text.splitlines(), _swap_rule(tool_version)))
    if not runs:
        raise BenchmarkError(f"no benchmark timing found (no 'Time(unit: ms)' block or result line); "
                             f"the tool printed: {quote_start(text)}")
    return runs


def parse_single(text: str, *, tool_version: Optional[str] = None) -> ParsedRun:
    """The one result of a single benchmark run; BenchmarkError for none or several."""
    runs = parse_output(text, tool_version=tool_version)
    if len(runs) != 1:
        raise BenchmarkError(f"expected one benchmark result, found {len(runs)} "
                             f"(lines {', '.join(str(r.line) for r in runs)})")
    return runs[0]


def quote_start(text: str, limit: int = 400) -> str:
    """The start of a tool's output on one line (for error messages), printable characters only."""
    lines = [_printable(line).strip() for line in text[: limit * 4].splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return "(nothing)"
    joined = " | ".join(lines)
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


# What a failing tool says about why: a Python exception line (after a traceback), glog's fatal
# lines ("F1129 12:00:00.000 file.cc:12] ..."), Paddle Lite's CHECK messages, "Error: ...".
_CAUSE_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*(?:Error|Exception|Exit)\b.*|F\d{4} .*|.*Check failed.*|"
                         r".*\b(?:error|Error|ERROR)\b:.*)$")


def quote_failure(text: str, limit: int = 400) -> str:
    """Why a tool failed, on one line: the cause its output states (the exception after a Python
    traceback, a fatal log line, a failed check), else the start of its output."""
    lines = [_printable(line).strip() for line in text[-200_000:].splitlines()]
    causes = [line for line in lines if line and _CAUSE_LINE.match(line)]
    if "Traceback (most recent call last)" in text and causes:
        cause = causes[-1]  # the exception a traceback ends with
    elif causes:
        cause = causes[0]
    else:
        return quote_start(text, limit)
    return cause if len(cause) <= limit else cause[: limit - 3] + "..."


def _printable(text: str) -> str:
    """``text`` with control characters (NUL, escape sequences) shown as "?"."""
    return "".join(ch if ch.isprintable() or ch == "\t" else "?" for ch in text)


def version_tuple(version: str) -> tuple[int, ...]:
    """(2, 6, 0) for "v2.6.0", "2.6", "release/v2.6"; UsageError when there is no version number."""
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if not match:
        raise UsageError(f"cannot read a Paddle Lite version from {version!r} (expected e.g. 2.6 or v2.8.0)")
    return tuple(int(part) for part in match.groups() if part is not None)


def swaps_min_max(version: str) -> bool:
    """True for the legacy benchmark_bin versions that wrote min and max swapped (v2.3.0–v2.8)."""
    return SWAPPED_FROM <= version_tuple(version)[:2] < SWAPPED_UNTIL


# ------------------------------------------------------------------------------- internals


def _swap_rule(tool_version: Optional[str]) -> Optional[bool]:
    """None: decide per line by the values; True/False: what the stated version implies."""
    return None if tool_version is None else swaps_min_max(tool_version)


def _number(text: str, what: str, line_no: int) -> float:
    try:
        return float(text)
    except ValueError:
        raise BenchmarkError(f"line {line_no}: {what} is {text!r}, not a number") from None


@dataclasses.dataclass
class _Context:
    """What the lines above the next result said (sections of the current tool, script headers)."""

    header: dict = dataclasses.field(default_factory=dict)  # from Threads=… lines, kept across results
    section: Optional[str] = None
    sections: dict = dataclasses.field(default_factory=dict)  # section -> {key: value}, reset per result

    def reset_report(self) -> None:
        self.section = None
        self.sections = {}


def _iter_runs(lines: list[str], swap: Optional[bool]) -> Iterator[ParsedRun]:
    context = _Context()
    index = 0
    while index < len(lines):
        line = lines[index]
        if _TIME_HEADER.match(line):
            run, index = _read_current(lines, index, context)
            yield run
            context.reset_report()
            continue
        legacy = _LEGACY_LINE.match(line)
        if legacy:
            yield _legacy_run(legacy, index + 1, context, swap)
        else:
            oldest = _OLDEST_LINE.match(line)
            if oldest:
                yield _oldest_run(oldest, index + 1, context)
            else:
                _note_context(line, context)
        index += 1


def _note_context(line: str, context: _Context) -> None:
    section = _SECTION.match(line)
    if section:
        context.section = section.group("name").strip().lower()
        context.sections.setdefault(context.section, {})
        return
    arch = _ARCH_LINE.match(line)
    if arch:
        context.header = {"arch": arch.group("arch")}
        return
    tokens = dict((m.group("key").lower(), m.group("value")) for m in _HEADER_TOKEN.finditer(line))
    if tokens and _is_header_line(line):
        # each header line starts a new block of results; the architecture banner stays
        context.header = {**{k: v for k, v in context.header.items() if k == "arch"}, **tokens}
        return
    if context.section is not None:
        pair = _KEY_VALUE.match(line)
        if pair:
            context.sections[context.section][pair.group("key").strip()] = pair.group("value")


def _is_header_line(line: str) -> bool:
    """A line made only of KEY=VALUE tokens (optionally between rulers of dashes)."""
    stripped = _HEADER_TOKEN.sub("", line).strip().strip("-").strip()
    return stripped == ""


def _read_current(lines: list[str], index: int, context: _Context) -> tuple[ParsedRun, int]:
    """Read the Time block at ``lines[index]`` (and a Memory block after it)."""
    header_line = index + 1
    unit = _TIME_HEADER.match(lines[index]).group("unit")
    scale = _TIME_UNITS_TO_MS.get(unit)
    if scale is None:
        raise BenchmarkError(f"line {header_line}: unknown time unit {unit!r}")
    times, index = _read_assignments(lines, index + 1)
    if "avg" not in times:
        raise BenchmarkError(f"line {header_line}: the Time block has no 'avg' line "
                             f"(found: {', '.join(times) or 'nothing'})")
    memory = None
    next_index = _skip_blank(lines, index)
    if next_index < len(lines) and _MEMORY_HEADER.match(lines[next_index]):
        memory_unit = _MEMORY_HEADER.match(lines[next_index]).group("unit")
        values, index = _read_assignments(lines, next_index + 1)
        memory = _memory(values, memory_unit)
    latency = Latency(**{f"{key}_ms": _number(times[key], key, header_line) * scale
                         for key in ("avg", "min", "max", "first", "init") if key in times})
    runtime = context.sections.get("runtime info", {})
    run = ParsedRun(
        generation=CURRENT,
        model=_current_model_name(context),
        latency=latency,
        memory_mb=memory,
        tool_version=runtime.get("benchmark_bin version") or None,
        settings=_current_settings(context),
        device=dict(context.sections.get("device info", {})),
        minmax_swapped=False,
        line=header_line,
    )
    return run, index


def _read_assignments(lines: list[str], index: int) -> tuple[dict, int]:
    values = {}
    while index < len(lines):
        match = _ASSIGNMENT.match(lines[index])
        if not match:
            break
        values[match.group("key").lower()] = match.group("value")
        index += 1
    return values, index


def _skip_blank(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].strip():
        index += 1
    return index


def _memory(values: dict, unit: str) -> Optional[dict]:
    """MB figures; None when the tool printed "Not supported yet" (v2.10/v2.11)."""
    scale = _MEMORY_UNITS_TO_MB.get(unit)
    if scale is None:
        return None
    numeric = {}
    for key, value in values.items():
        try:
            numeric[key] = float(value) * scale
        except ValueError:
            continue
    return numeric or None


def _current_settings(context: _Context) -> dict:
    settings: dict = {}
    runtime = context.sections.get("runtime info", {})
    for key, kind in _RUNTIME_SETTINGS.items():
        if key in runtime:
            try:
                settings[key] = kind(runtime[key])
            except ValueError:
                pass
    model_info = context.sections.get("model info", {})
    if model_info.get("input_shape"):
        settings["input_shape"] = model_info["input_shape"]
    backend = context.sections.get("backend info", {})
    if backend.get("backend"):
        settings["backend"] = backend["backend"]
    if backend.get("cpu precision"):
        settings["cpu_precision"] = backend["cpu precision"]
    if "threads" not in settings and "threads" in context.header:
        settings.update(_header_settings(context.header))
    return settings


def _current_model_name(context: _Context) -> Optional[str]:
    if context.header.get("model"):
        return context.header["model"]
    path = context.sections.get("model info", {}).get("optimized_model_file", "")
    return _model_name_from_path(path)


def _model_name_from_path(path: str) -> Optional[str]:
    """"…/MobileNetV1.nb" → "MobileNetV1"; "…/MobileNetV1/opt.nb" → "MobileNetV1"."""
    pure = PurePosixPath(path.strip())
    stem = pure.name[: -len(".nb")] if pure.name.endswith(".nb") else pure.stem
    if stem.lower() not in _GENERIC_MODEL_STEMS:
        return stem
    return pure.parent.name or None


def _header_settings(header: dict) -> dict:
    settings = {}
    for key, name in _HEADER_SETTINGS.items():
        if key in header:
            try:
                settings[name] = int(header[key])
            except ValueError:
                pass
    if "arch" in header:
        settings["arch"] = header["arch"]
    return settings


def _legacy_run(match: re.Match, line_no: int, context: _Context, swap: Optional[bool]) -> ParsedRun:
    printed_min = _number(match.group("min"), "min", line_no)
    printed_max = _number(match.group("max"), "max", line_no)
    swapped = _decide_swap(printed_min, printed_max, swap, line_no)
    low, high = (printed_max, printed_min) if swapped else (printed_min, printed_max)
    return ParsedRun(
        generation=LEGACY,
        model=match.group("name"),
        latency=Latency(avg_ms=_number(match.group("avg"), "average", line_no), min_ms=low, max_ms=high),
        memory_mb=None,
        tool_version=None,
        settings=_header_settings(context.header),
        device={},
        minmax_swapped=swapped,
        line=line_no,
    )


def _decide_swap(printed_min: float, printed_max: float, swap: Optional[bool], line_no: int) -> bool:
    if swap is None:
        return printed_min > printed_max
    if swap and printed_min < printed_max:
        raise BenchmarkError(f"line {line_no}: min < max, but the stated tool version wrote min and max "
                             f"swapped (v2.3-v2.8); is the version right?")
    if not swap and printed_min > printed_max:
        raise BenchmarkError(f"line {line_no}: min > max, which only v2.3-v2.8 binaries print "
                             f"(they swapped min and max); is the stated tool version right?")
    return swap


def _oldest_run(match: re.Match, line_no: int, context: _Context) -> ParsedRun:
    return ParsedRun(
        generation=OLDEST,
        model=match.group("name"),
        latency=Latency(avg_ms=_number(match.group("avg"), "avg", line_no)),
        memory_mb=None,
        tool_version=None,
        settings=_header_settings(context.header),
        device={},
        minmax_swapped=False,
        line=line_no,
    )
