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

And moto routes every request by listing its own package directory (`backends.list_of_moto_modules`:
a stat per service, hundreds per request, twice) before it matches the host against its URL patterns.
The answer depends on the host alone, and moto lists a handler class's methods with
`inspect.getmembers` on every request: `_remembered` caches both (functools.cache). And
werkzeug writes a log line per request to stderr, which nobody reads (`_quiet_requests`).

An index Query walks every item of the table (`_cheap_queries` below only narrows a table's own
partition): `_cheap_queries` also narrows an index query to the items whose index key attributes
equal the query's, before moto's own matching, sorting and paging (the same answers, by
construction: moto drops every other item at its first check). moto then sorts the candidates with
DynamoType's comparisons, which recompute each value's cast per comparison (a string key is compared
as it is instead), and deep-copies the answer's items before it projects them into new ones: inside a
Query nothing writes them before the answer is written, so a list copy does.

And Python's cyclic garbage collector walks every live object in its full collections: with a
simulated year's tables (over 1 GB) a pause can outlast the SDK's 2 s request timeout (a full run once
ended on such a timeout).
`_frozen_tables` moves what has lived through a thousand requests (the stored items, moto's models) out
of the collector's sight with `gc.freeze()`; each request's own garbage is still collected young.

And moto measures an item (`Item.size`, for the 1 MB page and 16 MB batch limits, twice per item a
Query returns) by re-wrapping every nested value in a new DynamoType, recursively: a map of maps is
rebuilt at every level, and measuring a token record costs more than answering it. `_cheap_sizes`
computes the same sum (attribute names' and values' UTF-8 bytes, a number's digits, 1 for a boolean or
null) by walking the values as they are.

And moto's ListSecrets describes every secret in the account (`to_dict`: its versions, its tags) for
every page, then keeps the page's hundred: the sweep's reconciliation lists every token's secret each
day, so a 1,000-token world paid ten pages × 1,000 descriptions a day. `_paged_secret_lists` filters
and pages first and describes only the page (the same pages, the same bodies).

And moto finds a secret by walking every secret in the account, for each lookup (`SecretsStore`:
`GetSecretValue` looks the same secret up several times): with the bench's 10,000 token secrets that
walk cost more than the answer. `_named_secret_lookups` finds a secret asked for by its name under
that name, as moto files it (an ARN, or a store holding an entry filed otherwise, still walks).

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
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.utilities import bytesize
import moto.dynamodb.models.table as table_module
from moto.dynamodb.models.table import SecondaryIndex, Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import BaseWSGIServer, run_simple

# Capped by the kernel's net.core.somaxconn (4096 on current Linux).
LISTEN_BACKLOG = 2048

# The keys the running transaction writes, by the table name it gives (one request at a time: a global is enough).
_touched: dict[str, list[dict[str, Any]]] = {}
# Its rollback point per table, taken at moto's first ask.
_snapshots: dict[str, Table] = {}


def _snapshot(value: Any, memo: Any = None) -> Any:
    """moto's rollback point of a table: its own item maps (a rollback puts them back as they were), with
    copies of the partitions and deep copies of the items the transaction writes (an update changes its
    item in place); the other partitions are shared, as nothing writes them. Anything else, or a table
    named otherwise than by its name, is deep-copied as moto does. moto asks once per transaction item:
    every ask of one transaction gets the same point (nothing is written before the last)."""
    if not isinstance(value, Table) or value.name not in _touched:
        return copy.deepcopy(value, memo)
    if value.name in _snapshots:
        return _snapshots[value.name]
    clone = copy.copy(value)
    # dict(...) of a dict keeps the stored hashes: DynamoType's own __hash__ is not called per partition.
    clone.items = defaultdict(dict, value.items) if isinstance(value.items, defaultdict) else dict(value.items)
    for key in _touched[value.name]:
        hash_value = DynamoType(key[value.hash_key_attr])
        if value.range_key_attr is not None:
            range_value = DynamoType(key[value.range_key_attr])
            partition = value.items.get(hash_value)
            if partition is None:
                continue
            if clone.items[hash_value] is partition:
                clone.items[hash_value] = dict(partition)
            item = partition.get(range_value)
            if item is not None:
                clone.items[hash_value][range_value] = copy.deepcopy(item)
        elif hash_value in value.items:
            clone.items[hash_value] = copy.deepcopy(value.items[hash_value])
    _snapshots[value.name] = clone
    return clone


def _cheap_transaction_snapshots() -> None:
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        _touched.clear()
        _snapshots.clear()
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
            _snapshots.clear()

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    # Only the transaction's `copy.deepcopy(table)` sees the snapshot; moto's other copies stay deep.
    dynamodb_models.copy = SimpleNamespace(deepcopy=_snapshot, copy=copy.copy)  # type: ignore[attr-defined]


# The items a running Query may walk: nothing outside a query (moto's own all_items), else (table, the
# partition key it names or None for an index query, the index key conditions it gives). One request at
# a time: a global is enough.
_query_scope: list[Any] = []


def _equal(found: Any, expected: DynamoType) -> bool:
    """moto's own test of an index key (`not found or found != expected` drops the item); a string
    compares as it is (DynamoType's cast_value is the costly part of the comparison)."""
    if not found:
        return False
    if found.type == "S" and expected.type == "S":
        return found.value == expected.value
    return not found != expected


def _sort_value(value: DynamoType) -> Any:
    """What DynamoType's ordering compares (its cast_value), read once."""
    return value.value if value.type == "S" else value.cast_value


def _cheap_queries() -> None:
    original_query = Table.query
    original_all_items = Table.all_items
    bind = inspect.signature(original_query).bind

    def all_items(self: Table) -> list[Any]:
        if not _query_scope or _query_scope[-1][0] is not self:
            return original_all_items(self)
        _, hash_key, index_key = _query_scope[-1]
        if hash_key is not None:
            partition = self.items.get(hash_key)
            if partition is None:
                return []
            return list(partition.values()) if self.range_key_attr else [partition]
        items = [item for by_range in self.items.values() for item in by_range.values()] if self.range_key_attr else list(self.items.values())
        if len(index_key) == 1 and index_key[0][1].type == "S":
            name, want = index_key[0][0], index_key[0][1].value
            return [item for item in items if (found := item.attrs.get(name)) is not None and found.type == "S" and found.value == want]
        if index_key:
            items = [item for item in items if all(_equal(item.attrs.get(name), value) for name, value in index_key)]
        return items

    def query(self: Table, *args: Any, **kwargs: Any) -> Any:
        bound = bind(self, *args, **kwargs)
        index_name = bound.arguments.get("index_name")
        # The table's own key: moto keeps only that partition's items under it; an index: the items whose
        # index key attributes equal the query's (moto's own first check), or every item.
        index_key = list(bound.arguments.get("hash_key_conditions") or []) if index_name else []
        _query_scope.append((self, None if index_name else bound.arguments.get("hash_key"), index_key))
        try:
            return original_query(self, *args, **kwargs)
        finally:
            _query_scope.pop()

    def sorted_items(self: Table, hash_key_attrs: list[str], range_key_attrs: list[Any], items: list[Any]) -> list[Any]:
        attrs = self._generate_attr_to_sort_by(hash_key_attrs, range_key_attrs)
        items.sort(key=lambda item: tuple(_sort_value(item.attrs[name]) for name in attrs))
        return items

    original_project = SecondaryIndex.project

    def index_project(self: SecondaryIndex, item: Any) -> Any:
        # KEYS_ONLY and INCLUDE keep top-level attributes by name: picked as they are, instead of moto's
        # round trip of the whole item through plain JSON and back.
        projection_type = (self.projection or {}).get("ProjectionType")
        if projection_type not in ("KEYS_ONLY", "INCLUDE"):
            return original_project(self, item)
        names = self.table_key_attrs + [key["AttributeName"] for key in self.schema]
        if projection_type == "INCLUDE":
            names = names + list(self.projection.get("NonKeyAttributes", []))
        projected = Item(hash_key=item.hash_key, range_key=item.range_key, attrs={})
        for name in dict.fromkeys(names):
            if name in item.attrs:
                # Shared with the stored item: a Query's answer is written before anything writes again.
                projected.attrs[name] = item.attrs[name]
        return projected

    def query_copy(value: Any, memo: Any = None) -> Any:
        if _query_scope and isinstance(value, list):
            return list(value)
        return copy.deepcopy(value, memo)

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table.sorted_items = sorted_items  # type: ignore[method-assign]
    SecondaryIndex.project = index_project  # type: ignore[method-assign]
    table_module.copy = SimpleNamespace(deepcopy=query_copy, copy=copy.copy)  # type: ignore[attr-defined]


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


def _remembered() -> None:
    """Routing by host and a handler class's method names: the same answer for the same argument."""
    import functools

    import moto.core.responses as core_responses

    DomainDispatcherApplication.get_backend_for_host = functools.cache(DomainDispatcherApplication.get_backend_for_host)  # type: ignore[method-assign]
    core_responses.method_names_from_class = functools.cache(core_responses.method_names_from_class)  # type: ignore[assignment]


def _quiet_requests() -> None:
    from werkzeug.serving import WSGIRequestHandler

    WSGIRequestHandler.log_request = lambda *_args, **_kwargs: None  # type: ignore[method-assign]


FREEZE_EVERY = 1000


_SET_MEMBER = {"SS": "S", "NS": "N", "BS": "B"}


def _value_size(value: Any) -> int:
    """moto's `DynamoType.size` of a DynamoType (or of the raw `{type: value}` it wraps), without re-wrapping."""
    if not isinstance(value, DynamoType):
        value = DynamoType(value)
    kind, inner = value.type, value.value
    if kind == "N":
        return len(str(inner))
    member = _SET_MEMBER.get(kind)
    if member is not None:
        return sum(len(str(v)) if member == "N" else bytesize(v) for v in inner)
    if kind == "L":
        return sum(_value_size(v) for v in inner)
    if kind == "M":
        return sum(bytesize(k) + _value_size(v) for k, v in inner.items())
    if isinstance(inner, bool):
        return 1
    return bytesize(inner)


def _cheap_sizes() -> None:
    DynamoType.size = _value_size  # type: ignore[method-assign]
    Item.size = lambda self: sum(bytesize(k) + _value_size(v) for k, v in self.attrs.items())  # type: ignore[method-assign]


def _paged_secret_lists() -> None:
    from moto.secretsmanager import models as secrets_models

    def list_secrets(
        self: Any,
        filters: list[dict[str, Any]],
        max_results: int = secrets_models.MAX_RESULTS_DEFAULT,
        next_token: str | None = None,
        include_planned_deletion: bool = False,
    ) -> tuple[list[dict[str, Any]], str | None]:
        listed = [
            secret
            for secret in self.secrets.values()
            if not (getattr(secret, "deleted_date", None) and not include_planned_deletion)
            and secrets_models._matches(secret, filters)
        ]
        page, token = self._get_secret_values_page_and_next_token(listed, max_results, next_token)
        return [secret.to_dict() for secret in page], token

    secrets_models.SecretsManagerBackend.list_secrets = list_secrets  # type: ignore[method-assign]


def _named_secret_lookups() -> None:
    """A secret looked up by its name is the store's entry under that name, found without a walk."""
    from moto.secretsmanager.models import SecretsStore

    stock_set = SecretsStore.__setitem__
    stock_get_item = SecretsStore.__getitem__
    stock_contains = SecretsStore.__contains__
    stock_get = SecretsStore.get
    stock_pop = SecretsStore.pop

    # moto files a secret under its name (a replica under its ARN). While every entry is filed under its
    # own name, an entry whose name is the key is the one under the key, and a key that is no ARN can
    # match nothing else: moto's walk and a dict lookup give the same answer.
    def by_name(store: Any, key: Any) -> bool:
        return isinstance(key, str) and not key.startswith("arn:") and not getattr(store, "_filed_otherwise", False)

    def set_item(self: Any, key: str, value: Any) -> None:
        if getattr(value, "name", None) != key:
            self._filed_otherwise = True
        stock_set(self, key, value)

    def get_item(self: Any, key: str) -> Any:
        return dict.__getitem__(self, key) if by_name(self, key) else stock_get_item(self, key)

    def contains(self: Any, key: object) -> bool:
        return dict.__contains__(self, key) if by_name(self, key) else stock_contains(self, key)

    def get(self: Any, key: str) -> Any:
        return dict.get(self, key) if by_name(self, key) else stock_get(self, key)

    def pop(self: Any, key: str) -> Any:
        return dict.pop(self, key, None) if by_name(self, key) else stock_pop(self, key)

    SecretsStore.__setitem__ = set_item  # type: ignore[method-assign]
    SecretsStore.__getitem__ = get_item  # type: ignore[method-assign]
    SecretsStore.__contains__ = contains  # type: ignore[method-assign]
    SecretsStore.get = get  # type: ignore[method-assign]
    SecretsStore.pop = pop  # type: ignore[method-assign]


def _frozen_tables() -> None:
    import gc

    original = DomainDispatcherApplication.__call__
    served = [0]

    def call(self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Any) -> Any:
        served[0] += 1
        if served[0] % FREEZE_EVERY == 0:
            gc.freeze()
        return original(self, environ, start_response)

    DomainDispatcherApplication.__call__ = call  # type: ignore[method-assign]


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    # moto builds some resource URLs (SQS queue URLs) from this.
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _cheap_transaction_snapshots()
    _cheap_queries()
    _plain_item_answers()
    _remembered()
    _quiet_requests()
    _frozen_tables()
    _cheap_sizes()
    _paged_secret_lists()
    _named_secret_lookups()
    BaseWSGIServer.request_queue_size = LISTEN_BACKLOG
    run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False, processes=1)


if __name__ == "__main__":
    main()
