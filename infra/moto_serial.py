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

Below, in order: a transaction backs up the items it names, not whole tables; a Query reads its
partition, not the whole table; reads are answered in the wire form they are kept in; an item's
size is summed once, a condition parsed once, a Query's page neither copied nor sized twice;
and Python's full collections skip what survived the last one. Each gives moto's answers and
errors: `make check-stack` (infra/test_moto_serial.py) sends the same requests to this server
and to moto as it ships, and compares them.
"""

import os
import sys
import time

import moto.server
from moto.core.common_models import BaseModel

_run_simple = moto.server.run_simple


def _serial(*args, **kwargs):
    kwargs["threaded"] = False
    profile = os.environ.get("MOTO_PROFILE")
    if profile:
        args = list(args)
        args[2] = _Profiled(args[2], profile)
    return _run_simple(*args, **kwargs)


class _Profiled:
    """With MOTO_PROFILE=<file> (a diagnostic, off by default): the requests served and the time
    spent on them, per operation (`X-Amz-Target`, or SQS's action), rewritten to <file> as TSV
    every 5 s. Served one at a time, their sum is how busy this stack is, and what for."""

    def __init__(self, app, path):
        self.app, self.path = app, path
        self.stats = {}
        self.written = time.monotonic()

    def __call__(self, environ, start_response):
        target = environ.get("HTTP_X_AMZ_TARGET") or environ.get("QUERY_STRING", "")[:40] or (
            environ.get("REQUEST_METHOD", "") + " " + environ.get("PATH_INFO", "")[:40]
        )
        started = time.monotonic()
        try:
            return list(self.app(environ, start_response))
        finally:
            now = time.monotonic()
            count, spent = self.stats.get(target, (0, 0.0))
            self.stats[target] = (count + 1, spent + now - started)
            if now - self.written > 5:
                self.written = now
                stats = dict(self.stats)
                stats["gc: full collections"] = (
                    _full_collections["count"],
                    _full_collections["seconds"],
                )
                rows = sorted(stats.items(), key=lambda kv: -kv[1][1])
                with open(self.path, "w") as out:
                    for name, (n, secs) in rows:
                        out.write(f"{name}\t{n}\t{secs:.3f}\n")


moto.server.run_simple = _serial


def _untracked_new(cls, *args, **kwargs):
    return object.__new__(cls)


BaseModel.__new__ = staticmethod(_untracked_new)


# moto backs up every table a TransactWriteItems touches with a deep copy, to restore it if the
# transaction is cancelled: its cost grows with the table (about 200 ms per transaction on a
# table of 300 entries), where DynamoDB's does not. Here a transaction keeps only what it can
# change: the items it names and the length of each touched table's stream; a cancelled one
# puts those items back and drops the stream records it added. moto's own copy becomes a no-op
# while it runs (the "copy" is the live table, which moto then assigns back to itself).
import copy  # noqa: E402

from moto.dynamodb.models import DynamoDBBackend  # noqa: E402
from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: E402
from moto.dynamodb.models.table import Table  # noqa: E402

_in_transaction = False
_table_deepcopy = getattr(Table, "__deepcopy__", None)


def _table_copy(self, memo):
    if _in_transaction:
        return self
    if _table_deepcopy is not None:
        return _table_deepcopy(self, memo)
    clone = Table.__new__(Table)
    memo[id(self)] = clone
    for name, value in self.__dict__.items():
        setattr(clone, name, copy.deepcopy(value, memo))
    return clone


Table.__deepcopy__ = _table_copy


def _key_of(table, op_type, op):
    attrs = op["Item"] if op_type == "Put" else op["Key"]
    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = None
    if table.range_key_attr is not None:
        range_value = DynamoType(attrs[table.range_key_attr])
    return hash_value, range_value


def _restore(table, hash_value, range_value, original):
    if range_value is not None:
        if original is None:
            table.items.get(hash_value, {}).pop(range_value, None)
        else:
            table.items[hash_value][range_value] = original
    elif original is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = original


_transact = DynamoDBBackend.transact_write_items


def _transact_with_item_backups(self, transact_items):
    global _in_transaction
    backups = []
    streams = {}
    for item in transact_items:
        try:
            op_type, op = next(iter(item.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            hash_value, range_value = _key_of(table, op_type, op)
        except Exception:
            continue  # moto reports the malformed item itself
        current = table.get_item(hash_value, range_value)
        # Only an Update changes the stored item in place; a Put or a Delete swaps it for
        # another (or none), so the item itself is the backup, and a ConditionCheck writes none.
        if op_type == "Update":
            current = copy.deepcopy(current)
        backups.append((table, hash_value, range_value, current))
        if table.stream_shard is not None:
            streams.setdefault(id(table), (table, len(table.stream_shard.items)))
    _in_transaction = True
    try:
        return _transact(self, transact_items)
    except Exception:
        for table, hash_value, range_value, original in reversed(backups):
            _restore(table, hash_value, range_value, original)
        for table, length in streams.values():
            del table.stream_shard.items[length:]
        raise
    finally:
        _in_transaction = False


DynamoDBBackend.transact_write_items = _transact_with_item_backups


# moto answers every Query by sorting the whole table (`all_items`), then keeping the queried
# partition: about 220 ms per Query at 20,000 items, so a load test measures moto's sort. A
# table Query here reads only its partition; an index Query still looks at every item (moto
# keeps no index) but skips the table-wide sort, since it sorts its matches itself. The
# results are the same items in the same order.
#
# An index whose partition key is the table's own (the events table's `by_log_index`: `pk`,
# `log_index`) can only match items of the queried table partition, so its Query looks at that
# partition alone: without this every stream run's read of the log scanned the whole events
# table under `make load`. Its own filter (the index's sort key present) and sort still apply.
_query = Table.query
_all_items = Table.all_items
_partition = None  # (table, hash key, sorted?) of the Query in progress, if one partition
_sizes = {}  # id(item) -> size, for the Query in progress only (items do not change in it)


def _items_for_query(self):
    if _partition is not None and _partition[0] is self:
        items = list(self.items.get(_partition[1], {}).values())
        if _partition[2]:
            items.sort(key=lambda item: item.range_key)
        return items
    if _partition is not None:  # an index Query on this table: its own sort follows
        if self.range_key_attr:
            return [item for part in self.items.values() for item in part.values()]
        return list(self.items.values())
    return _all_items(self)


def _keyed_by_table_partition(table, index_name):
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    if index is None:
        return False  # moto reports the unknown index itself
    hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    return hashes == [table.hash_key_attr]


def _query_one_partition(self, hash_key, *args, **kwargs):
    global _partition
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if hash_key is None or not self.range_key_attr:
        _partition = (None, None, False)
    elif index_name is None:
        _partition = (self, hash_key, True)
    elif _keyed_by_table_partition(self, index_name):
        _partition = (self, hash_key, False)
    else:
        _partition = (None, None, False)
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        _partition = None
        _sizes.clear()


Table.all_items = _items_for_query
Table.query = _query_one_partition


# moto turns each DynamoDB answer into JSON through its generic, model-driven serializer, which
# walks every attribute of every item: about 60% of moto's time once the dashboards page through
# lists. The items of a read are already in DynamoDB's wire form (`{"S": ...}`), so the reads'
# answers are dumped as they are; anything json cannot dump goes the generic way.
import json  # noqa: E402

from moto.dynamodb.responses import DynamoResult  # noqa: E402

_READS = {"Query", "Scan", "GetItem", "BatchGetItem"}
_execute_result = DynamoResult.execute_result


def _execute_read_result(self, context):
    if context.operation_model.name in _READS:
        try:
            body = json.dumps(self.result)
        except (TypeError, ValueError):
            pass
        else:
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, body
    return _execute_result(self, context)


DynamoResult.execute_result = _execute_read_result


# The streams' GetRecords goes through the same serializer: every attribute of both images of up
# to 1,000 records a call, most of moto's remaining time once a stream reader keeps up with a
# burst (py-spy, `make load`). Its records are wire-form dicts too, but for the creation time
# (a datetime, sent as epoch seconds), so they are dumped as they are.
import datetime  # noqa: E402

from moto.dynamodbstreams.responses import DynamoDBStreamsHandler  # noqa: E402

_get_records = DynamoDBStreamsHandler.get_records


def _epoch_seconds(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _get_records_dumped(self):
    arn = self._get_param("ShardIterator")
    limit = self._get_param("Limit")
    result = self.backend.get_records(arn, 1000 if limit is None else limit)
    body = json.dumps(result, default=_epoch_seconds)
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, body


DynamoDBStreamsHandler.get_records = _get_records_dumped

# Three costs of moto's per item and per request work that DynamoDB does not have, each replaced
# by one that gives the same answers and the same errors:
#
# - An item's attributes are a `LimitedSizeDict`, whose every insert re-sums the size of all the
#   attributes before it (the 400 KB limit): building an item of n attributes costs n^2 sizes, a
#   tenth of moto's time under `make load`. Sizes are never negative, so checking the total once
#   refuses exactly the items moto refuses, with the same error.
# - Every condition expression is lexed and parsed each time it is met, twice per item of a
#   transaction (the transaction's check, then the put's or update's own): a parse, for one text
#   with the same names and values, now happens once. The parsed tree is only read when it is
#   evaluated, and the names and values it found are handed back as moto's parser sets them.
# - Every request lists moto's package folder to tell a service's name from a host name.
from moto import backends as _backends  # noqa: E402
from moto.dynamodb.comparisons import ConditionExpressionParser  # noqa: E402
from moto.dynamodb.exceptions import ItemSizeTooLarge  # noqa: E402
from moto.dynamodb.models.dynamo_type import Item, LimitedSizeDict  # noqa: E402
from moto.dynamodb.models.utilities import bytesize  # noqa: E402

_ITEM_SIZE_LIMIT = 405000  # moto's LimitedSizeDict limit


def _item_init(self, hash_key, range_key, attrs):
    self.hash_key = hash_key
    self.range_key = range_key
    converted = {key: DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in converted.items()) > _ITEM_SIZE_LIMIT:
        raise ItemSizeTooLarge
    self.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.update(self.attrs, converted)


Item.__init__ = _item_init

_parse = ConditionExpressionParser.parse
_parsed = {}  # (expression, names, values) -> (tree, names found, values found)
_PARSED_MAX = 4096


def _parse_once(self):
    key = (
        self.condition_expression,
        repr(self.expression_attribute_names),
        repr(self.expression_attribute_values),
    )
    hit = _parsed.get(key)
    if hit is not None:
        tree, names_found, values_found = hit
        self.expr_attr_names_found.extend(names_found)
        self.expr_attr_values_found.extend(values_found)
        return tree
    tree = _parse(self)
    if len(_parsed) >= _PARSED_MAX:
        _parsed.clear()
    _parsed[key] = (tree, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
    return tree


ConditionExpressionParser.parse = _parse_once

_moto_modules = tuple(_backends.list_of_moto_modules())
_backends.list_of_moto_modules = lambda: _moto_modules

# A Query's own per item work, each part with the same answers:
#
# - moto deep-copies the page it found before answering, though nothing on the way to the
#   answer changes the items (projections build new ones); here the page is the items.
# - Each item of the page has its size computed twice (the 1 MB page limit); here once per Query.
# - The answer is turned into plain dicts by a converter that imports and type-tests at every
#   node of every attribute; here plain attributes are converted directly, anything else by
#   moto's converter.
import moto.dynamodb.models.table as _table_module  # noqa: E402
from moto.dynamodb.models.utilities import dynamo_to_dict as _dynamo_to_dict  # noqa: E402



def _querying():
    return _partition is not None  # set by `_query_one_partition` for every Query


class _QueryCopy:
    """table.py's `copy` module: its one deep copy inside a Query is the page of results."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if _querying() else copy.deepcopy(value, memo)

    def __getattr__(self, name):
        return getattr(copy, name)


_table_module.copy = _QueryCopy()
_item_size = Item.size


def _size_once_per_query(self):
    if not _querying():
        return _item_size(self)
    size = _sizes.get(id(self))
    if size is None:
        size = _sizes[id(self)] = _item_size(self)
    return size


Item.size = _size_once_per_query

_PLAIN = (str, int, float, bool, type(None))


def _to_dict(value):
    kind = type(value)
    if kind is dict or kind is LimitedSizeDict:
        return {key: _to_dict(v) for key, v in value.items()}
    if kind is list:
        return [_to_dict(v) for v in value]
    if kind is DynamoType and value.type not in ("B", "BS"):
        return {value.type: _to_dict(value.value)}
    if kind in _PLAIN:
        return value
    return _dynamo_to_dict(value)


def _result_init(self, result):
    super(DynamoResult, self).__init__(_to_dict(result))


DynamoResult.__init__ = _result_init


# Python's full collections scan every object moto holds (each attribute of each item is a few
# objects), so each one paused moto, and with it every request, longer as the tables grew: 64 ms
# at the start of `make load`, 527 ms after 60 s, one every few seconds, stalling all the
# streams at once (their lag's p99). So once a request in which one ran is answered, what is
# alive is frozen (`gc.freeze`): later collections skip it. A collection first clears what that
# request left (it scans only what is not frozen yet): frozen garbage would never be freed, and
# freezing after every request without it grew moto by 10 KB a request. What dies later without
# a cycle is still freed at once by its reference count.
import gc  # noqa: E402

from werkzeug.serving import WSGIRequestHandler  # noqa: E402

_full_collections = {"count": 0, "seconds": 0.0}
_collection_started = 0.0
_freeze_due = False


def _on_collection(phase, info):
    global _collection_started, _freeze_due
    if info["generation"] != 2:
        return
    if phase == "start":
        _collection_started = time.monotonic()
    else:
        _full_collections["count"] += 1
        _full_collections["seconds"] += time.monotonic() - _collection_started
        _freeze_due = True


gc.callbacks.append(_on_collection)
_handle_one_request = WSGIRequestHandler.handle_one_request


def _handle_then_freeze(self):
    global _freeze_due
    try:
        return _handle_one_request(self)
    finally:
        if _freeze_due:
            gc.collect()
            gc.freeze()
            _freeze_due = False


WSGIRequestHandler.handle_one_request = _handle_then_freeze


if __name__ == "__main__":
    sys.exit(moto.server.main())
