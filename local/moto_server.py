"""moto's server app served by a single-threaded werkzeug.

`moto_server` runs werkzeug threaded, and moto's conditional writes are not atomic across threads: two
parallel UpdateItems with one condition on one item can both win. DynamoDB never lets that happen, so
the local stack, the tests and the bench serve moto one request at a time (HTTP/1.0, one connection per
request), which keeps every conditional write and transaction atomic, as in AWS. Connections wait in
the kernel's accept queue meanwhile: werkzeug listens with a backlog of 128, and a local gateway hosting
hundreds of invocations in one process (`npm run bench`'s load) opens more at once; past the backlog the
kernel drops their SYNs and the SDK's 1 s connection timeout fires. `LISTEN_BACKLOG` lets them queue.

moto also deep-copies every table a transaction names, whole, as its rollback point: a cost that grows
with the table (seconds per TransactWriteItems once it holds tens of thousands of items, as in
`npm run simulate`). `_cheap_transaction_snapshots` keeps the rollback exact at a fraction of it.

And moto answers every Query by sorting the whole table (`Table.all_items`), even a query of one
partition: tens of milliseconds per query once the table holds thousands of items, whatever the
answer's size. `_cheap_queries` walks only the queried partition (the table's own key) or the unsorted
items (an index, which moto sorts by the index's keys afterwards): the same answers.

Most of moto's fixed cost per DynamoDB request is its generic response serializer, which walks the
botocore output shape for every attribute of every item (~10 ms for a 100-item BatchGetItem page of
token records, ~1 ms per GetItem). `_plain_item_answers` writes the data-plane answers (whose result is
already DynamoDB's wire JSON) with json.dumps instead: the same body, parsed the same by the SDK.

Usage: python3 local/moto_server.py HOST PORT
"""
import base64
import copy
import inspect
import json
import os
import signal
import sys
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, run_simple

# Capped by the kernel's net.core.somaxconn (4096 on current Linux).
LISTEN_BACKLOG = 2048

# The keys the running transaction writes, by the table name it gives (one request at a time: a global is enough).
_touched: dict[str, list[dict[str, Any]]] = {}


def _snapshot(value: Any, memo: Any = None) -> Any:
    """moto's rollback point of a table: its own item maps (a rollback puts them back as they were), with
    deep copies of the items the transaction writes (an update changes its item in place). Anything
    else, or a table named otherwise than by its name, is deep-copied as moto does."""
    if not isinstance(value, Table) or value.name not in _touched:
        return copy.deepcopy(value, memo)
    clone = copy.copy(value)
    if value.range_key_attr is not None:
        clone.items = defaultdict(dict, {h: dict(by_range) for h, by_range in value.items.items()})
    else:
        clone.items = defaultdict(dict, value.items) if isinstance(value.items, defaultdict) else dict(value.items)
    for key in _touched[value.name]:
        hash_value = DynamoType(key[value.hash_key_attr])
        if value.range_key_attr is not None:
            range_value = DynamoType(key[value.range_key_attr])
            item = value.items.get(hash_value, {}).get(range_value)
            if item is not None:
                clone.items[hash_value][range_value] = copy.deepcopy(item)
        elif hash_value in value.items:
            clone.items[hash_value] = copy.deepcopy(value.items[hash_value])
    return clone


def _cheap_transaction_snapshots() -> None:
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        _touched.clear()
        try:
            for entry in transact_items:
                for op_type, op in entry.items():
                    table = self.tables.get(op.get("TableName"))
                    if table is None:
                        continue
                    key = op.get("Key") if op_type != "Put" else {
                        attr: op["Item"][attr] for attr in (table.hash_key_attr, table.range_key_attr) if attr is not None and attr in op["Item"]
                    }
                    if key:
                        _touched.setdefault(op["TableName"], []).append(key)
            return original(self, transact_items)
        finally:
            _touched.clear()

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    # Only the transaction's `copy.deepcopy(table)` sees the snapshot; moto's other copies stay deep.
    dynamodb_models.copy = SimpleNamespace(deepcopy=_snapshot, copy=copy.copy)  # type: ignore[attr-defined]


# The items a running Query may walk: None outside a query (moto's own all_items), else the partition
# key it names (None for an index query: every item). One request at a time: a global is enough.
_query_scope: list[Any] = []


def _cheap_queries() -> None:
    original_query = Table.query
    original_all_items = Table.all_items
    bind = inspect.signature(original_query).bind

    def all_items(self: Table) -> list[Any]:
        if not _query_scope or _query_scope[-1][0] is not self:
            return original_all_items(self)
        hash_key = _query_scope[-1][1]
        if hash_key is not None:
            partition = self.items.get(hash_key)
            if partition is None:
                return []
            return list(partition.values()) if self.range_key_attr else [partition]
        if self.range_key_attr:
            return [item for by_range in self.items.values() for item in by_range.values()]
        return list(self.items.values())

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        bound = bind(self, *args, **kwargs)
        index_name = bound.arguments.get("index_name")
        # The table's own key: moto keeps only that partition's items under it; an index: every item.
        _query_scope.append((self, None if index_name else bound.arguments.get("hash_key")))
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _query_scope.pop()

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]


# Answers that are DynamoDB's wire JSON as moto builds them (items of AttributeValues, counts, keys).
_PLAIN_ANSWERS = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
}


def _without_nulls(value: Any) -> Any:
    """The shape serializer leaves out members whose value is None; so does this."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _binary(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def _plain_item_answers() -> None:
    from moto.dynamodb.responses import DynamoResult

    original = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        if context.operation_model.name not in _PLAIN_ANSWERS or not isinstance(self.result, dict):
            return original(self, context)
        body = json.dumps(_without_nulls(self.result), default=_binary, separators=(",", ":"))
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, body

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    # moto builds some resource URLs (SQS queue URLs) from this.
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _cheap_transaction_snapshots()
    _cheap_queries()
    _plain_item_answers()
    BaseWSGIServer.request_queue_size = LISTEN_BACKLOG
    run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False, processes=1)


if __name__ == "__main__":
    main()
