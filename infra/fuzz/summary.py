#!/usr/bin/env python3
"""One line out of a schemathesis run's reports (its --report-dir with the ndjson and json reports):

    fuzz: 10432 requests, 0 failures, 0 server errors (12m 3s, seed 1234)

requests: every HTTP request schemathesis sent (test cases and the probes its checks send).
failures: distinct failures schemathesis found, plus errors (e.g. a request it could not send).
server errors: responses with a 5xx status.
Also lists, per operation and status, what the server answered. Exit 1 when any figure but the
request count is not zero, or when nothing was sent at all.
"""

from __future__ import annotations

import collections
import glob
import json
import os
import sys


def latest(directory: str, kind: str) -> str:
    found = sorted(glob.glob(os.path.join(directory, f"{kind}-*.{kind}")))
    if not found:
        raise SystemExit(f"fuzz: no {kind} report in {directory}")
    return found[-1]


def duration(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m {seconds}s" if minutes else f"{seconds}s"


def route_of(path: str) -> str:
    """The route a request's path matched, its id replaced by `{id}`."""
    parts = path.split("/")
    if len(parts) >= 3 and parts[:2] in (["v1", "exports"], ["v1", "streams"]):
        parts[2] = "{id}"
    return "/".join(parts)


def main(directory: str) -> int:
    requests = 0
    server_errors = 0
    statuses: collections.Counter[tuple[str, str]] = collections.Counter()
    with open(latest(directory, "ndjson"), encoding="utf-8") as f:
        for line in f:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if not finished:
                continue
            recorder = finished.get("recorder") or {}
            for interaction in (recorder.get("interactions") or {}).values():
                requests += 1
                request = interaction.get("request") or {}
                response = interaction.get("response")
                status = response["status_code"] if response else "no response"
                path = request.get("uri", "").split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
                route = "/" + route_of(path)
                statuses[(f"{request.get('method', '?')} {route}", str(status))] += 1
                if response and response["status_code"] >= 500:
                    server_errors += 1
    with open(latest(directory, "json"), encoding="utf-8") as f:
        report = json.load(f)
    failures = int(report["test_cases"]["unique_failures"]) + len(report.get("errors") or [])

    by_route: dict[str, list[str]] = collections.defaultdict(list)
    for (route, status), count in sorted(statuses.items()):
        by_route[route].append(f"{status}: {count}")
    for route, counts in sorted(by_route.items()):
        print(f"  {route:<28} {', '.join(counts)}")
    print(
        f"fuzz: {requests} requests, {failures} failures, {server_errors} server errors "
        f"({duration(report.get('running_time', 0))}, seed {report.get('seed')})"
    )
    return 0 if requests > 0 and failures == 0 and server_errors == 0 else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
