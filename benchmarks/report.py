"""What every benchmark prints the same way: plain-text tables and the machine it ran on.

Imported by the benchmark scripts, which are run as `python benchmarks/NAME.py` (so this folder
is on the import path).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
from pathlib import Path


def render_table(header: list[str], rows: list[list[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = [cells[0].ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def render_pairs(pairs: list[tuple[str, str]]) -> str:
    width = max(len(key) for key, _ in pairs)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in pairs)


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for entry in Path("/proc/cpuinfo").read_text().splitlines():
            if entry.startswith("model name"):
                return entry.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> str:
    """1, 5 and 15-minute load: above about 1 here means something else shared the two cores."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def machine_basics() -> list[tuple[str, str]]:
    """The lines every benchmark's "Machine" block starts with; each adds its own versions."""
    return [
        ("date", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("cpu", cpu_model()),
        ("nproc", f"{len(os.sched_getaffinity(0))} usable of {os.cpu_count()}"),
        ("load average at start", load_average()),
        ("os", platform.platform()),
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
    ]
