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

Usage: python3 local/moto_server.py HOST PORT
"""
import copy
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


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    # moto builds some resource URLs (SQS queue URLs) from this.
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _cheap_transaction_snapshots()
    BaseWSGIServer.request_queue_size = LISTEN_BACKLOG
    run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False, processes=1)


if __name__ == "__main__":
    main()
