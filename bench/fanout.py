"""Broadcast send latency for an audience of 10 vs 10,000 (interleaved, one run), and the
fan-out rate (members per second) of the stream handler driven by the local poller."""
from __future__ import annotations

import sys
import time

from common import client, headers, interleaved, median_ms, start_engine

AUDIENCES = {"org10": 10, "org10k": 10_000}


def seed_members(org: str, count: int) -> None:
    from chalicelib.store.directory import DirectoryItem

    with DirectoryItem.batch_write() as batch:
        for i in range(count):
            user = f"{org}-u{i:06d}"
            batch.save(DirectoryItem(f"dev#org#{org}", f"m#{user}", mkey=f"dev#{user}", role="Standard User",
                                     banned=False, is_api=False, joined=0))


def main() -> int:
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    stop, engine = start_engine()
    try:
        from chalicelib.local.runtime import start_poller
        from chalicelib.store.bootstrap import ensure_tables

        ensure_tables()
        for org, size in AUDIENCES.items():
            seed_members(org, size)
        seed_members("rate", members)
        h = headers()
        with client() as c:
            sends = {org: (lambda org=org: c.http.post("/v1/notifications", headers=h, body=(
                f'{{"organization": "{org}", "type": "Bench", "message": "m"}}'))) for org in AUDIENCES}
            samples = interleaved(sends, repeat=15)
            print(f"engine: {engine}")
            print("send to an organization (answers 202 before fan-out):")
            for org, size in AUDIENCES.items():
                print(f"  {size:>6} members: median {median_ms(samples[org]):.1f} ms")
            print(f"  ratio 10,000 / 10: {median_ms(samples['org10k']) / median_ms(samples['org10']):.2f}")
            # The queued broadcasts above are left unprocessed: the rate is measured on its own.
            from chalicelib.store.broadcasts import BroadcastItem

            for item in BroadcastItem.scan():
                item.delete()
            poller = start_poller()
            time.sleep(1.0)  # let the poller skip past the deleted items' records
            start = time.perf_counter()
            r = c.http.post("/v1/notifications", headers=h,
                            body='{"organization": "rate", "type": "Bench", "message": "m"}')
            import json

            bid = json.loads(r.body)["broadcastId"]
            while True:
                status = json.loads(c.http.get(f"/v1/broadcasts/{bid}", headers=h).body)
                if status["status"] in ("complete", "failed"):
                    break
                time.sleep(0.1)
            elapsed = time.perf_counter() - start
            poller.stop()
            print(f"fan-out of {members} members: {status['status']}, delivered {status['delivered']} "
                  f"in {elapsed:.1f} s = {status['delivered'] / elapsed:.0f} members/s "
                  f"(chunk {__import__('chalicelib.settings', fromlist=['x']).get_settings().fanout_chunk_size})")
    finally:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
