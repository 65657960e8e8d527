"""moto's server, handling one request at a time.

moto applies a DynamoDB transaction without a lock (and restores a whole-table snapshot when
one is cancelled), so two transactions racing on one moto server can both pass a condition
that real DynamoDB would let only one pass. Served one request at a time, moto's transactions
are atomic like DynamoDB's, and the idempotency tests race for real. Same arguments as
`moto_server`.
"""

import sys

import moto.server

_run_simple = moto.server.run_simple


def _serial(*args, **kwargs):
    kwargs["threaded"] = False
    return _run_simple(*args, **kwargs)


moto.server.run_simple = _serial

if __name__ == "__main__":
    sys.exit(moto.server.main())
