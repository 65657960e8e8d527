"""schemathesis extensions for `infra/fuzz.sh` (loaded through SCHEMATHESIS_HOOKS).

Two jobs, nothing else:

1. Authentication of the ingest route: every `POST /v1/events` is signed with AWS SigV4
   (botocore's `SigV4Auth`, service `execute-api`, region `us-east-1`, access key `local`, secret
   `local`, as the local server expects; FUZZ_SIGV4_* override them). The signature is computed at
   send time over the request as it goes on the wire (method, path, query, `host`, `x-amz-date`,
   `content-type`, SHA-256 of the body). It is a request-level auth, so schemathesis's
   `ignored_auth` check removes it from its probes: those are sent unsigned, or with a forged
   `Authorization`, and must get 403. The dashboard routes get their bearer tokens from the
   identities file of `schemathesis.toml` (`[auth.wfc]`, written by fuzz.sh).

2. The few rules of openapi.yaml that JSON Schema cannot express. For each, a *schema-valid*
   (positive) test case is adjusted just before it is sent, so that `positive_data_acceptance`
   keeps its meaning ("the server accepts what the schema allows"); negative cases are never
   touched, and no server answer is ever excused. Each rule is in its own function:

   - `occurred_at` at most 5 minutes in the future, and not before 1970-01-01T00:00:00Z once its
     offset is applied (`fix_occurred_at`);
   - `details` at most 8 KiB serialized and 32 levels deep (`fix_details`);
   - `from` not after `to`, in the list query and the export body (`fix_range`);
   - a cursor must carry the server's HMAC and be replayed with the filters it was issued for
     (`fix_cursor`): a positive case keeps a `cursor` only if the server issued it in this run
     (recorded by `after_call`), and then carries that page's filters; a made-up one is dropped.
     Real cursors reach requests through the `NextPage` links of openapi.yaml.
   - a new webhook stream (`fix_stream`): its host must be or resolve only to public addresses,
     and its auth header name must not be one the service reserves. A positive case's `url` is
     replaced by a loopback one on a closed port (the local server admits loopback), so no case
     sends a DNS query or makes the service connect off the machine; a reserved header name
     becomes `X-Fuzz-Token`.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time

import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCESS_KEY = os.environ.get("FUZZ_SIGV4_ACCESS_KEY", "local")
SECRET_KEY = os.environ.get("FUZZ_SIGV4_SECRET_KEY", "local")
REGION = os.environ.get("FUZZ_SIGV4_REGION", "us-east-1")
SERVICE = "execute-api"

INGEST = "POST /v1/events"
LIST_LOGS = "GET /v1/logs"
LIST_EXPORTS = "GET /v1/exports"
CREATE_EXPORT = "POST /v1/exports"
CREATE_STREAM = "POST /v1/streams"

# Rules of the service (shared/src/domain): see openapi.yaml.
MAX_FUTURE_NS = 5 * 60 * 10**9
# The server reads its clock after the request arrives; a minute of margin keeps a case generated
# right at the bound from depending on how long the request takes.
FUTURE_MARGIN_NS = 60 * 10**9
MAX_DETAILS_BYTES = 8 * 1024
MAX_DETAILS_DEPTH = 32
LOG_CURSOR_FILTERS = ("from", "to", "type", "actor")
# shared/src/domain/stream/auth_header.rs
RESERVED_HEADERS = {"host", "connection", "keep-alive", "te", "trailer", "transfer-encoding",
                    "upgrade", "expect", "cookie"}
RESERVED_HEADER_PREFIXES = ("proxy-", "content-", "security-logs-")
# Port 9 (discard) on loopback: nothing listens there, so a delivery attempt is refused at once.
FUZZ_WEBHOOK_URL = "https://127.0.0.1:9/fuzz"


# ---------------------------------------------------------------- SigV4


class SigV4(requests.auth.AuthBase):
    """Signs a prepared request in place, as an AWS SDK would for API Gateway."""

    def __init__(self) -> None:
        self.signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), SERVICE, REGION)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = {}
        if "Content-Type" in request.headers:
            headers["Content-Type"] = request.headers["Content-Type"]
        aws = AWSRequest(method=request.method, url=request.url, data=body, headers=headers)
        self.signer.add_auth(aws)
        request.headers["Authorization"] = aws.headers["Authorization"]
        request.headers["X-Amz-Date"] = aws.headers["X-Amz-Date"]
        return request


@schemathesis.hook
def after_load_schema(context, schema) -> None:
    # On the schema, next to the two dashboard identities of schemathesis.toml (`[auth.wfc]`).
    # schemathesis applies the first provider that has something for a case, so the signer goes
    # first: it answers only for the ingest route, and the identities get everything else.
    schema.auth.set_from_requests(SigV4()).apply_to(path="/v1/events", method="POST")
    schema.auth.providers.insert(0, schema.auth.providers.pop())


# ---------------------------------------------------------------- time

_RFC3339 = re.compile(
    r"^(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})[Tt]"
    r"(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,9}))?"
    r"(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))$"
)


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (year 0 included)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def instant_ns(text: object) -> int | None:
    """Nanoseconds since the epoch of a schema-valid RFC 3339 text, or None for anything else."""
    if not isinstance(text, str):
        return None
    m = _RFC3339.match(text)
    if m is None:
        return None
    second = min(int(m["s"]), 59)  # a leap second reads as :59, as jiff does
    seconds = (
        _days_from_civil(int(m["y"]), int(m["mo"]), int(m["d"])) * 86400
        + int(m["h"]) * 3600
        + int(m["mi"]) * 60
        + second
    )
    if m["sign"]:
        offset = int(m["oh"]) * 3600 + int(m["om"]) * 60
        seconds -= offset if m["sign"] == "+" else -offset
    return seconds * 10**9 + int((m["f"] or "0").ljust(9, "0"))


def fix_occurred_at(event: dict) -> None:
    """Past the clock-bound window, move the year into 2000-2003 (same leap-ness), else keep it."""
    value = event.get("occurred_at")
    at = instant_ns(value)
    if at is None:
        return
    latest = time.time_ns() + MAX_FUTURE_NS - FUTURE_MARGIN_NS
    if 0 <= at <= latest:
        return
    year = int(value[:4])
    # A leap year maps to 2000 (a leap year), the others to 2001-2003: the date stays valid.
    event["occurred_at"] = f"{2000 + year % 4:04d}{value[4:]}"


def fix_range(container: dict) -> None:
    """`from` after `to` is a 400 naming `to`: swap them."""
    start, end = instant_ns(container.get("from")), instant_ns(container.get("to"))
    if start is not None and end is not None and start > end:
        container["from"], container["to"] = container["to"], container["from"]


# ---------------------------------------------------------------- details


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def details_size(details: object) -> int:
    """Bytes of compact JSON, numbers as sent: what the service measures."""
    text = json.dumps(details, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return len(text.encode("utf-8", "surrogatepass"))


def fix_details(event: dict) -> None:
    details = event.get("details")
    if isinstance(details, dict) and (
        _depth(details) > MAX_DETAILS_DEPTH or details_size(details) > MAX_DETAILS_BYTES
    ):
        event["details"] = {}


def ingest_events(body: object) -> list[dict]:
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        return [event for event in body["events"] if isinstance(event, dict)]
    return [body] if isinstance(body, dict) else []


# ---------------------------------------------------------------- cursors

_issued_lock = threading.Lock()
# cursor -> the filters of the request whose response carried it (None for export cursors)
_issued: dict[str, dict | None] = {}


def fix_cursor(label: str, query: dict) -> None:
    cursor = query.get("cursor")
    if cursor is None:
        return
    with _issued_lock:
        known = cursor in _issued
        filters = _issued.get(cursor)
    if not known:
        del query["cursor"]
        return
    if label == LIST_LOGS and filters is not None:
        for name in LOG_CURSOR_FILTERS:
            query.pop(name, None)
        query.update(filters)


@schemathesis.hook
def after_call(context, case, response) -> None:
    label = case.operation.label
    if label not in (LIST_LOGS, LIST_EXPORTS) or response.status_code != 200:
        return
    try:
        cursor = json.loads(response.content).get("next_cursor")
    except (ValueError, AttributeError):
        return
    if not isinstance(cursor, str):
        return
    query = case.query if isinstance(case.query, dict) else {}
    filters = None
    if label == LIST_LOGS:
        filters = {name: query[name] for name in LOG_CURSOR_FILTERS if name in query}
    with _issued_lock:
        _issued[cursor] = filters


# ---------------------------------------------------------------- streams


def fix_stream(body: dict) -> None:
    if body.get("kind") != "webhook":
        return
    if isinstance(body.get("url"), str):
        body["url"] = FUZZ_WEBHOOK_URL
    header = body.get("auth_header")
    if isinstance(header, dict) and isinstance(header.get("name"), str):
        name = header["name"].lower()
        if name in RESERVED_HEADERS or name.startswith(RESERVED_HEADER_PREFIXES):
            header["name"] = "X-Fuzz-Token"


# ---------------------------------------------------------------- the hook


def _is_positive(case) -> bool:
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_positive


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    if not _is_positive(case):
        return
    label = case.operation.label
    if label == INGEST:
        for event in ingest_events(case.body):
            fix_occurred_at(event)
            fix_details(event)
    elif label in (LIST_LOGS, LIST_EXPORTS) and isinstance(case.query, dict):
        fix_cursor(label, case.query)
        if label == LIST_LOGS:
            fix_range(case.query)
    elif label == CREATE_EXPORT and isinstance(case.body, dict):
        fix_range(case.body)
    elif label == CREATE_STREAM and isinstance(case.body, dict):
        fix_stream(case.body)
