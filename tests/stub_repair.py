"""Make the machine-generated ``tensorrt-stubs`` parseable, so mypy can check against them.

The published stubs (10.x) contain two kinds of invalid Python in ``def`` lines: parameters
named ``in`` (a keyword) and parameters without a default after ones with a default. Both are
repaired in a copy; nothing else changes, so the types mypy checks against are NVIDIA's.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

STUB_PACKAGES = ("tensorrt", "tensorrt_bindings")


def split_top_level(params: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in params:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current] if current.strip() else parts


def repair_def(line: str) -> str:
    match = re.match(r"^(\s*def \w+\()(.*)(\)\s*->.*:\s*)$", line)
    if not match:
        return line
    head, params, tail = match.groups()
    fixed, defaulted = [], False
    for param in split_top_level(params):
        param = re.sub(r"^(\s*)in:", r"\1in_:", param)
        if "=" in param:
            defaulted = True
        elif defaulted and not param.strip().startswith("*"):
            param += " = ..."
        fixed.append(param)
    return head + ",".join(fixed) + tail


def repaired_copy(site_packages: Path, destination: Path) -> Path:
    """Copy the stub packages into ``destination`` with invalid ``def`` lines repaired."""
    for package in STUB_PACKAGES:
        shutil.copytree(site_packages / package, destination / package)
        for stub in (destination / package).glob("*.pyi"):
            lines = [repair_def(line) for line in stub.read_text().splitlines()]
            stub.write_text("\n".join(lines) + "\n")
            ast.parse(stub.read_text())
    return destination
