"""The peer's venv (.cache/bench-peer: Django < 5.1 + django-notifications-hq 1.8.3) and its worker."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.harness.progress import say
from bench.harness.rpc import Worker

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".cache" / "bench-peer"
REQUIREMENTS = ["Django<5.1", "django-notifications-hq==1.8.3"]


def python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> Path:
    """Create the venv once (`python3 -m venv` + pip install); later runs reuse it."""
    marker = VENV / ".bench-ready"
    if marker.exists() and python().exists():
        return python()
    say(f"peer: creating {VENV} ({', '.join(REQUIREMENTS)})")
    subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS],
                   check=True)
    marker.write_text(" ".join(REQUIREMENTS) + "\n")
    return python()


def _db_dir(work_dir: Path) -> Path:
    """Where the peer's SQLite file goes: tmpfs (/dev/shm) when there is one. The peer commits each
    notification on its own (one fsync each on a disk): on tmpfs it is measured for its own work,
    not for this virtual disk's sync latency. That is its best case, so ours/peer errs in its favour."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else work_dir


class Peer:
    """One peer worker process with its own SQLite database file."""

    def __init__(self, work_dir: Path) -> None:
        exe = ensure_venv()
        db = _db_dir(work_dir) / f"bench-peer-{os.getpid()}.sqlite3"
        db.unlink(missing_ok=True)
        self.db = db
        self.worker = Worker([str(exe), str(Path(__file__).with_name("peer_worker.py"))],
                             env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}, cwd=work_dir,
                             log_path=work_dir / "peer.log")
        self.versions = self.worker.call("configure", db_path=str(db))
        self.versions["database"] = f"SQLite file on {'tmpfs' if str(db).startswith('/dev/shm') else 'disk'}"
        self._groups: set[str] = set()

    def group(self, name: str, size: int) -> None:
        if name not in self._groups:
            self.worker.call("make_group", name=name, size=size)
            self._groups.add(name)

    def fanout(self, group: str, size: int, verb: str) -> float:
        """Seconds notify.send took for the Group; checks every member got a row."""
        result = self.worker.call("fanout", group=group, verb=verb)
        if result["written"] != size:
            raise RuntimeError(f"peer wrote {result['written']} of {size} for {verb}")
        return result["seconds"]

    def call(self, op: str, **kwargs):
        return self.worker.call(op, **kwargs)

    def close(self) -> None:
        self.worker.close()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)


def maybe_peer(work_dir: Path, enabled: bool) -> tuple[Peer | None, str | None]:
    """The peer, or None and why not (the report says so instead of failing the run)."""
    if not enabled:
        return None, "disabled (--no-peer)"
    try:
        return Peer(work_dir), None
    except Exception as exc:  # noqa: BLE001 - no network, no python3-venv...: report, carry on
        return None, f"unavailable: {type(exc).__name__}: {str(exc)[:300]}"


if __name__ == "__main__":  # `python bench/harness/peer.py`: just make the venv
    sys.path.insert(0, str(ROOT))
    print(ensure_venv())
