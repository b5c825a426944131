"""Online reads of the reputation totals: straight from Feast's online-store layout, one round trip.

Every scored e-mail not in the serving cache needs the totals of its sender and its domain.
Through the Feast SDK (``get_online_features``) that costs a third of a millisecond on SQLite
and more than a millisecond on Redis, nearly all of it Python around a store access of a few
tens of microseconds. The readers here go to the same data the same way Feast's own online
stores do, and nothing else:

* **keys**: the entity key as Feast serializes it (``entity_key_serialization_version`` of the
  repository; the encoder is derived from ``feast.infra.key_encoding_utils.serialize_entity_key``
  and checked against it when the reader is prepared);
* **Redis** (``feast.infra.online_stores.redis``): one hash per entity, key = serialized entity
  key + project, fields = ``mmh3("<view>:<feature>")`` (``helpers._mmh3``), values serialized
  ``ValueProto``; one pipeline with one ``HMGET`` per entity (senders and domains alike) — one
  round trip — on the client Feast itself builds from the connection string;
* **SQLite** (``feast.infra.online_stores.sqlite``): table ``<project>_<view>``, one row per
  (entity key, feature name); one statement over both tables on one persistent connection
  (the statement cache of ``sqlite3`` keeps it prepared: list lengths are rounded up to powers
  of two, at most ``SQLITE_CHUNK`` per view and statement).

The layout comes from the registry once (the views, their join keys, Int64 fields) and is
checked: the feature views must be those of :mod:`spam_core.reputation.repo`, with TTL 0
(never expires; Feast 0.49 applies no TTL on online reads, and neither does this reader). A
repository whose layout differs (:class:`LayoutMismatch`), or an online store other than SQLite
or Redis, is read through the SDK instead (:class:`SdkReader`, also what the parity tests
compare with). Missing entities and missing values read as 0, as the SDK's ``None`` does for
the callers. Event timestamps are not read: serving needs none; the feedback ledger, which
needs them, reads through the SDK.

Errors of the store (connection refused, no such table, a registry without the views) are
raised to the caller: :class:`~spam_core.reputation.online.OnlineReputation` turns them into
its defaults-and-``degraded`` policy.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

import structlog

from spam_core.reputation.repo import COUNT_FIELDS, DOMAIN_KEY, DOMAIN_VIEW, SENDER_KEY, SENDER_VIEW

if TYPE_CHECKING:
    from feast import FeatureStore

log = structlog.get_logger("spam_core.reputation")

Totals = tuple[int, int]
"""(messages, spam) of one entity."""

SQLITE_CHUNK = 256
"""Most keys of one view in one SQLite statement (SQLite's oldest limit is 999 parameters)."""

_SIDES = ((SENDER_VIEW, SENDER_KEY), (DOMAIN_VIEW, DOMAIN_KEY))
_PROBE = "prøbe+ключ@例え.example"
"""A non-ASCII value the key encoder is checked with against Feast's serializer."""


class LayoutMismatch(Exception):
    """The repository's views are not the layout the fast readers know: read through the SDK."""


class ReputationReader(Protocol):
    """Totals of senders and domains from the online store, in the order asked; 0 when absent."""

    kind: str

    def read(
        self, senders: Sequence[str], domains: Sequence[str]
    ) -> tuple[list[Totals], list[Totals]]: ...


# --------------------------------------------------------------------------- the Feast SDK
class SdkReader:
    """``FeatureStore.get_online_features`` of both views in one call (the reference)."""

    kind = "sdk"

    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self._refs = [f"{view}:{f}" for view, _ in _SIDES for f in COUNT_FIELDS]

    def read(
        self, senders: Sequence[str], domains: Sequence[str]
    ) -> tuple[list[Totals], list[Totals]]:
        n = max(len(senders), len(domains))
        if n == 0:
            return [], []
        rows = [
            {
                SENDER_KEY: senders[i] if i < len(senders) else "",
                DOMAIN_KEY: domains[i] if i < len(domains) else "",
            }
            for i in range(n)
        ]
        response = self.store.get_online_features(
            features=self._refs, entity_rows=rows, full_feature_names=True
        ).to_dict()
        out: list[list[Totals]] = []
        for (view, _), wanted in zip(_SIDES, (len(senders), len(domains)), strict=True):
            messages, spam = (response[f"{view}__{f}"] for f in COUNT_FIELDS)
            out.append([(int(messages[i] or 0), int(spam[i] or 0)) for i in range(wanted)])
        return out[0], out[1]


# --------------------------------------------------------------------------- the layout
def entity_key_encoder(join_key: str, version: int) -> Callable[[str], bytes]:
    """``value -> serialize_entity_key({join_key: value})`` for a one-key STRING entity, without
    building protos per call; checked against Feast's serializer."""
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    def feast_key(value: str) -> bytes:
        return serialize_entity_key(
            EntityKey(join_keys=[join_key], entity_values=[Value(string_val=value)]),
            entity_key_serialization_version=version,
        )

    empty = feast_key("")
    length = struct.Struct("<I")
    if not empty.endswith(length.pack(0)):
        raise LayoutMismatch(f"entity key serialization v{version}: unknown layout")
    prefix = empty[: -length.size]  # everything up to the value's length
    pack = length.pack

    def encode(value: str) -> bytes:
        raw = value.encode("utf-8")
        return prefix + pack(len(raw)) + raw

    for probe in ("", "a@b.example", _PROBE):
        if encode(probe) != feast_key(probe):
            raise LayoutMismatch(f"entity key serialization v{version}: unknown layout")
    return encode


@dataclass(frozen=True, slots=True)
class _View:
    name: str
    encode: Callable[[str], bytes]
    fields: tuple[str, ...]


def _views(store: FeatureStore) -> tuple[_View, _View]:
    """The two reputation views as the registry has them, checked (raises the registry's
    errors, or :class:`LayoutMismatch`)."""
    from feast.types import Int64

    version = store.config.entity_key_serialization_version
    views = []
    for name, join_key in _SIDES:
        view = store.get_feature_view(name, allow_registry_cache=True)
        if list(view.join_keys) != [join_key]:
            raise LayoutMismatch(f"{name}: join keys {view.join_keys}, want [{join_key!r}]")
        dtypes = {f.name: f.dtype for f in view.features}
        for field in COUNT_FIELDS:
            if dtypes.get(field) != Int64:
                raise LayoutMismatch(f"{name}.{field}: {dtypes.get(field)}, want Int64")
        if view.ttl not in (None, timedelta(0)):
            raise LayoutMismatch(f"{name}: ttl {view.ttl}, the fast readers know TTL 0 only")
        views.append(_View(name, entity_key_encoder(join_key, version), COUNT_FIELDS))
    return views[0], views[1]


def _decode(raw: bytes | None) -> int:
    """A serialized ``ValueProto`` of an Int64 feature -> int; absent or null -> 0."""
    if not raw:
        return 0
    from feast.protos.feast.types.Value_pb2 import Value

    value = Value.FromString(raw)
    kind = value.WhichOneof("val")
    if kind in ("int64_val", "int32_val"):
        return int(getattr(value, kind))
    if kind in (None, "null_val"):
        return 0
    raise ValueError(f"reputation value of type {kind}, want int64_val")


class _FastReader:
    """Layout read from the registry on first use (retried until it succeeds)."""

    kind = "fast"

    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self._views: tuple[_View, _View] | None = None
        self._prepare_lock = threading.Lock()

    def _layout(self) -> tuple[_View, _View]:
        if self._views is None:
            with self._prepare_lock:
                if self._views is None:
                    views = _views(self.store)
                    self._prepare(views)
                    self._views = views
        return self._views

    def _prepare(self, views: tuple[_View, _View]) -> None:
        raise NotImplementedError


# --------------------------------------------------------------------------- Redis
class RedisReader(_FastReader):
    kind = "redis"

    def _prepare(self, views: tuple[_View, _View]) -> None:
        from feast.infra.online_stores.helpers import _mmh3
        from feast.infra.online_stores.redis import RedisOnlineStore

        config = self.store.config
        self._suffix = config.project.encode("utf-8")
        self._fields = [[_mmh3(f"{v.name}:{f}") for f in v.fields] for v in views]
        # Feast's own client for this connection string (redis, redis_cluster, sentinel)
        self._client = RedisOnlineStore()._get_client(config.online_store)

    def read(
        self, senders: Sequence[str], domains: Sequence[str]
    ) -> tuple[list[Totals], list[Totals]]:
        sender_view, domain_view = self._layout()
        suffix = self._suffix
        with self._client.pipeline(transaction=False) as pipe:
            for values, view, fields in (
                (senders, sender_view, self._fields[0]),
                (domains, domain_view, self._fields[1]),
            ):
                for value in values:
                    pipe.hmget(view.encode(value) + suffix, fields)
            replies = pipe.execute()
        totals = [(_decode(m), _decode(s)) for m, s in replies]
        return totals[: len(senders)], totals[len(senders) :]


# --------------------------------------------------------------------------- SQLite
def _bucket(n: int) -> int:
    """n rounded up to a power of two (0 stays 0): few distinct statements to keep prepared."""
    return 0 if n == 0 else 1 << (n - 1).bit_length()


class SqliteReader(_FastReader):
    kind = "sqlite"

    def _prepare(self, views: tuple[_View, _View]) -> None:
        import sqlite3

        from feast.infra.online_stores.sqlite import SqliteOnlineStore

        config = self.store.config
        path = SqliteOnlineStore._get_db_path(config)
        tables = [f"{config.project}_{v.name}" for v in views]  # sqlite._table_id
        self._select = [
            f'SELECT {i}, entity_key, feature_name, value FROM "{table}" WHERE entity_key IN '
            for i, table in enumerate(tables)
        ]
        self._field_index = [{f: j for j, f in enumerate(v.fields)} for v in views]
        # opened as Feast opens it (a read-only open could not roll back a writer's hot
        # journal), then made read-only; shared by the threads that read, one at a time
        self._conn = sqlite3.connect(path, check_same_thread=False, cached_statements=256)
        self._conn.execute("PRAGMA query_only = ON")
        self._lock = threading.Lock()

    def _sql(self, n_senders: int, n_domains: int) -> str:
        return " UNION ALL ".join(
            f"{select}({','.join('?' * n)})"
            for select, n in zip(self._select, (n_senders, n_domains), strict=True)
        )

    def read(
        self, senders: Sequence[str], domains: Sequence[str]
    ) -> tuple[list[Totals], list[Totals]]:
        views = self._layout()
        out = ([[0, 0] for _ in senders], [[0, 0] for _ in domains])
        for start in range(0, max(len(senders), len(domains), 1), SQLITE_CHUNK):
            params: list[bytes] = []
            positions: list[dict[bytes, list[int]]] = []
            sizes = []
            for values, view in zip((senders, domains), views, strict=True):
                chunk = values[start : start + SQLITE_CHUNK]
                keys: dict[bytes, list[int]] = {}
                for offset, value in enumerate(chunk):
                    keys.setdefault(view.encode(value), []).append(start + offset)
                size = _bucket(len(keys))
                padded = list(keys) + [next(iter(keys), b"")] * (size - len(keys))
                params += padded
                positions.append(keys)
                sizes.append(size)
            if not params:
                continue
            with self._lock:
                rows = self._conn.execute(self._sql(*sizes), params).fetchall()
            for side, key, feature, raw in rows:
                j = self._field_index[side].get(feature)
                if j is None:
                    continue
                value = _decode(raw)
                for i in positions[side].get(key, ()):
                    out[side][i][j] = value
        return [(m, s) for m, s in out[0]], [(m, s) for m, s in out[1]]


# --------------------------------------------------------------------------- choosing
class AutoReader:
    """The fast reader of the store's type; the SDK for another store type or when the
    repository's layout is not the one the fast readers know (logged once)."""

    def __init__(self, store: FeatureStore) -> None:
        from feast.infra.online_stores.redis import RedisOnlineStoreConfig
        from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig

        self.store = store
        online = store.config.online_store
        self.reader: RedisReader | SqliteReader | SdkReader
        if isinstance(online, RedisOnlineStoreConfig):
            self.reader = RedisReader(store)
        elif isinstance(online, SqliteOnlineStoreConfig):
            self.reader = SqliteReader(store)
        else:
            self.reader = SdkReader(store)
            log.info("reputation reads through the Feast SDK", online_store=type(online).__name__)

    @property
    def kind(self) -> str:
        return self.reader.kind

    def read(
        self, senders: Sequence[str], domains: Sequence[str]
    ) -> tuple[list[Totals], list[Totals]]:
        try:
            return self.reader.read(senders, domains)
        except LayoutMismatch as exc:
            log.warning("reputation reads through the Feast SDK", reason=str(exc))
            self.reader = SdkReader(self.store)
            return self.reader.read(senders, domains)


def open_reader(store: FeatureStore, kind: str = "auto") -> ReputationReader:
    """``auto``: :class:`AutoReader` (what serving uses); ``sdk``: :class:`SdkReader`."""
    if kind == "auto":
        return AutoReader(store)
    if kind == "sdk":
        return SdkReader(store)
    raise ValueError(f"reader {kind!r}: want 'auto' or 'sdk'")
