"""The least-privilege roles against the calls the code really makes (tests/iam_recorder.py).

Runs after every other test of the session (marker `last`): each DynamoDB, DynamoDB Streams and
SQS request any function made while the unit, compat and fuzz tiers ran must be allowed by that
function's role in the synthesized template, on both stages. What a role allows that nothing used
is printed at the end of the run, not failed: a short run exercises less.
"""
from __future__ import annotations

import re

import pytest

from tests import iam_recorder


@pytest.mark.last
def test_every_recorded_call_is_allowed_by_its_functions_role(templates):
    records = iam_recorder.SESSION
    if not records:
        pytest.skip("no function made an AWS call in this session (run it with tests/unit and tests/compat; "
                    "IAM_RECORD=0 turns recording off)")
    outcomes = {stage: iam_recorder.check(templates[stage].to_json(), records) for stage in ("dev", "prod")}
    prod = outcomes["prod"]
    report = ["recorded (function, IAM action, resource (operations x calls)):"]
    report += ["  " + line for line in iam_recorder.table(records)]
    if prod.unrecorded_functions:
        report.append(f"no call recorded for: {', '.join(prod.unrecorded_functions)}")
    report.append("allowed (prod) but used by nothing recorded:")
    for role, lines in sorted(prod.unused.items()):
        report += [f"  {re.sub(r'[0-9A-F]{8}$', '', role)}: {line}" for line in lines]
    report.append("allowed for the event source mappings (Lambda uses them, not the code):")
    for role, lines in sorted(prod.by_event_source.items()):
        report += [f"  {re.sub(r'[0-9A-F]{8}$', '', role)}: {line}" for line in lines]
    if iam_recorder.MISSING_CACHES:
        report.append(f"caches not kept per function (not found): {', '.join(iam_recorder.MISSING_CACHES)}")
    denied = sorted({f"[{stage}] {line}" for stage, o in outcomes.items() for line in o.denied})
    if denied:
        report.append("DENIED:")
        report += ["  " + line for line in denied]
    iam_recorder.REPORT[:] = report
    assert not denied, "calls the functions' roles do not allow:\n" + "\n".join(denied)
