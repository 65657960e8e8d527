"""The peer of `ingest` for `make bench`: its first request, written the common way in Python.

`infra/coldstart` runs this module as Lambda's Python runtime does (`python -m awslambdaric
ingest_peer.handler` in the task root, `AWS_LAMBDA_RUNTIME_API` pointing at its local Runtime
API) with the same environment and event as the `ingest` binary, and compares the two.

What a request does: read the API Gateway HTTP API (payload 2.0) event, parse the JSON body
(one event, as events/ingest.json sends), take the producer from the IAM authorizer, and write
one entry item to the events table with a conditional PutItem (the local moto, through
`AWS_ENDPOINT_URL`); answer 201 with the entry's id, as ingest does. The item has the shape
ingest writes (keys, type index, TTL, the entry's JSON), so the functions that read the table
afterwards can read it. Unlike ingest it claims no idempotency marker and validates little:
it does less work, so the comparison does not flatter ours.

The client is built at import, during init, as Lambda's guidance says and as ingest builds its
client before the first `next`.
"""

import json
import os
import secrets
import time
from datetime import datetime, timedelta, timezone

import boto3

TABLE = os.environ["EVENTS_TABLE"]
RETENTION_DAYS = int(os.environ.get("RETENTION_DAYS", "365"))
dynamodb = boto3.client("dynamodb")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid():
    """A ULID (48-bit milliseconds, 80 random bits), as ingest's entry ids are."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def parse_time(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def rfc3339(instant):
    return instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sortable(instant):
    """Fixed-width UTC text whose order is time order (the sort key's prefix)."""
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond * 1000:09d}Z"


def answer(status, body):
    return {
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def handler(event, context):
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    producer = iam.get("userArn")
    if not producer:
        return answer(403, {"error": "the request carries no verified IAM principal"})
    try:
        body = json.loads(event.get("body") or "")
        account = body["account_id"]
        event_type = body["type"]
        actor = body["actor"]
        occurred = parse_time(body["occurred_at"])
    except (ValueError, KeyError, TypeError) as error:
        return answer(400, {"error": f"invalid event: {error}"})

    now = datetime.now(timezone.utc)
    entry_id = new_ulid()
    entry = {
        "id": entry_id,
        "type": event_type,
        "occurred_at": rfc3339(occurred),
        "actor": {k: actor[k] for k in ("id", "name", "email") if k in actor},
        "details": body.get("details") or {},
        "summary": event_type.replace(".", " ").capitalize(),
        "received_at": rfc3339(now),
        "producer": producer,
    }
    for optional in ("ip", "user_agent", "event_id"):
        if body.get(optional) is not None:
            entry[optional] = body[optional]
    expires_at = int((now + timedelta(days=RETENTION_DAYS)).timestamp())
    dynamodb.put_item(
        TableName=TABLE,
        Item={
            "pk": {"S": account},
            "sk": {"S": f"{sortable(occurred)}#{entry_id}"},
            "gsi1pk": {"S": f"{account}#{event_type}"},
            "actor_id": {"S": actor["id"]},
            "expires_at": {"N": str(expires_at)},
            "entry": {"S": json.dumps(entry, separators=(",", ":"))},
        },
        ConditionExpression="attribute_not_exists(pk)",
    )
    return answer(201, {"events": [{"id": entry_id, "duplicate": False}]})
