"""Reading what the capture hook (capture/sitecustomize.py) logged: capacity units per table and
index, and requests per operation, between two marks."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

CAPTURE_DIR = Path(__file__).resolve().parent / "capture"
READ_OPS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}


def service_env(log_path: Path, switch_path: Path, base_pythonpath: str) -> dict[str, str]:
    """Environment for a service whose DynamoDB calls are captured (while the switch file exists)."""
    return {"BENCH_CAPACITY_LOG": str(log_path), "BENCH_CAPACITY_SWITCH": str(switch_path),
            "PYTHONPATH": os.pathsep.join([str(CAPTURE_DIR), base_pythonpath])}


@dataclass
class Usage:
    """Capacity and requests seen between two marks."""

    read_units: float = 0.0
    write_units: float = 0.0
    by_target: dict[str, float] = field(default_factory=dict)  # "table" / "table:index" -> units
    requests: dict[str, int] = field(default_factory=dict)  # operation -> calls
    units_by_op: dict[str, float] = field(default_factory=dict)  # operation -> units
    rule_write_units: float = 0.0  # writes with transactions recomputed by DynamoDB's documented rules
    rule_by_target: dict[str, float] = field(default_factory=dict)
    missing: int = 0  # calls that returned no ConsumedCapacity

    def add(self, op: str, consumed, actions=None, index_keys: dict | None = None) -> None:
        self.requests[op] = self.requests.get(op, 0) + 1
        if op == "TransactWriteItems" and actions is not None:
            for target, units in transaction_units(actions, index_keys or {}).items():
                self.rule_write_units += units
                self.rule_by_target[target] = self.rule_by_target.get(target, 0.0) + units
        elif op not in READ_OPS and consumed:
            for entry in consumed if isinstance(consumed, list) else [consumed]:
                self.rule_write_units += float(entry.get("CapacityUnits") or 0)
        if not consumed:
            if op not in ("DescribeTable", "ListTables", "DescribeStream", "GetRecords", "GetShardIterator",
                          "ListStreams"):
                self.missing += 1
            return
        for entry in consumed if isinstance(consumed, list) else [consumed]:
            units = float(entry.get("CapacityUnits") or 0)
            self.units_by_op[op] = self.units_by_op.get(op, 0.0) + units
            if op in READ_OPS:
                self.read_units += units
            else:
                self.write_units += units
            table = entry.get("TableName", "?").rsplit("-", 1)[-1]  # the kind: inbox, counters...
            parts = [(table, entry.get("Table", {}).get("CapacityUnits"))]
            for group in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
                for index, value in (entry.get(group) or {}).items():
                    parts.append((f"{table}:{index}", value.get("CapacityUnits")))
            if len(parts) == 1:
                parts = [(table, units)]
            for target, value in parts:
                if value:
                    self.by_target[target] = self.by_target.get(target, 0.0) + float(value)
                    if op not in READ_OPS and op != "TransactWriteItems":
                        self.rule_by_target[target] = self.rule_by_target.get(target, 0.0) + float(value)

    def minus(self, other: "Usage", times: float) -> "Usage":
        """This usage less `times` x another (e.g. the bench's own status polls, which only read)."""
        out = Usage(self.read_units - other.read_units * times, self.write_units - other.write_units * times,
                    dict(self.by_target), dict(self.requests), dict(self.units_by_op),
                    self.rule_write_units - other.rule_write_units * times, dict(self.rule_by_target), self.missing)
        for mine, theirs in ((out.by_target, other.by_target), (out.requests, other.requests),
                             (out.units_by_op, other.units_by_op), (out.rule_by_target, other.rule_by_target)):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) - value * times
        return out

    def per(self, count: float) -> dict:
        """This usage divided by `count` (per recipient, per call...)."""
        return {"read_units": self.read_units / count, "write_units_engine": self.write_units / count,
                "write_units": self.rule_write_units / count,
                "by_target": {k: v / count for k, v in sorted(self.rule_by_target.items()) if abs(v) > 1e-9},
                "by_target_engine": {k: v / count for k, v in sorted(self.by_target.items()) if abs(v) > 1e-9},
                "requests": {k: v / count for k, v in sorted(self.requests.items()) if abs(v) > 1e-9},
                "calls_without_capacity": self.missing}


def transaction_units(actions: list, index_keys: dict[str, dict[str, list[str]]]) -> dict[str, float]:
    """Write units of one TransactWriteItems by DynamoDB's documented rules: 2 WCU per KB per item
    (prepare + commit). Index entries are counted at 1 WCU per KB (as a standard write: the rules do
    not say they double). A Put's item size is known; an Update's or Delete's stored item is taken
    as <= 1 KB (true of every item but message bodies here) and as present in every index of its
    table (so an inbox update rewrites its by_activity, by_tenant and unread entries)."""
    units: dict[str, float] = {}

    def add(target: str, value: float) -> None:
        units[target] = units.get(target, 0.0) + value

    for kind, table, size, attrs in actions:
        kb = math.ceil((size or 1024) / 1024)
        if kind == "ConditionCheck":
            continue  # read units, not writes
        add(table, 2 * kb)
        for index, keys in index_keys.get(table, {}).items():
            if kind == "Put" and not set(keys) <= set(attrs or ()):
                continue  # a sparse index the new item is not in
            add(f"{table}:{index}", kb)
    return units


class CapacityLog:
    """The log file and its on/off switch."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "capacity.jsonl"
        self.switch = directory / "capacity.on"
        self.path.write_text("")

    def enable(self) -> None:
        self.switch.write_text("on")

    def disable(self) -> None:
        self.switch.unlink(missing_ok=True)

    def mark(self) -> int:
        return self.path.stat().st_size

    def since(self, mark: int, index_keys: dict | None = None) -> Usage:
        """Usage logged since `mark`; `index_keys` ({table kind: {index: key attributes}}) lets
        transactions be recomputed by the documented rules."""
        usage = Usage()
        with open(self.path, "rb") as f:
            f.seek(mark)
            for line in f.read().decode().splitlines():
                if line.strip():
                    record = json.loads(line)
                    usage.add(record["op"], record.get("cc"), record.get("actions"), index_keys)
        return usage
