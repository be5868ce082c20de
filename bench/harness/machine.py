"""What the figures were measured on: CPU, cores, memory, Python, engine and library versions, date,
and the load average (the machine is shared: a high load explains a noisy run)."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        return round(kib / 1024 / 1024, 1)
    except (OSError, AttributeError):
        return None


def _java() -> str | None:
    try:
        done = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=20)
        return (done.stderr or done.stdout).splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError, IndexError):
        return None


def _dynamodb_local() -> dict[str, str | None]:
    from notifications.local.dynamodb_local import install_dir

    release = package = None
    readme = install_dir() / "README.txt"
    if readme.exists():
        match = re.search(r"\((\d+\.\d+\.\d+)\)", readme.read_text(errors="replace"))
        release = match.group(1) if match else None
    pkg = install_dir().parent / "package.json"
    if pkg.exists():
        data = json.loads(pkg.read_text())
        package = f"{data.get('name')}@{data.get('version')}"
    return {"release": release, "npm_package": package}


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {"commit": git("rev-parse", "--short", "HEAD"), "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def describe() -> dict[str, Any]:
    return {
        "date_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "java": _java(),
        "dynamodb_local": _dynamodb_local(),
        "libraries": {n: _version(n) for n in ("moto", "boto3", "botocore", "chalice", "pynamodb")},
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "git": _git(),
    }
