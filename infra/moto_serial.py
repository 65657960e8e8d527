"""moto's server, handling one request at a time, without its model-instance leak.

moto applies a DynamoDB transaction without a lock (and restores a whole-table snapshot when
one is cancelled), so two transactions racing on one moto server can both pass a condition
that real DynamoDB would let only one pass. Served one request at a time, moto's transactions
are atomic like DynamoDB's, and the idempotency tests race for real. Same arguments as
`moto_server`.

moto also keeps every model object it ever creates in a class-level list (`BaseModel.__new__`
appends to `instances_tracked`, read only by its `/moto-api/data.json` introspection). Each
TransactWriteItems deep-copies the tables it touches for the rollback, so every transaction
leaked a full copy of those tables: about 3 MB per transaction on a 300-item table, and 22 GB
(killed by the kernel's OOM killer) after 45 minutes of `make fuzz`. Objects are created
untracked here; nothing this project runs reads that list.
"""

import sys

import moto.server
from moto.core.common_models import BaseModel

_run_simple = moto.server.run_simple


def _serial(*args, **kwargs):
    kwargs["threaded"] = False
    return _run_simple(*args, **kwargs)


moto.server.run_simple = _serial


def _untracked_new(cls, *args, **kwargs):
    return object.__new__(cls)


BaseModel.__new__ = staticmethod(_untracked_new)

if __name__ == "__main__":
    sys.exit(moto.server.main())
