"""Lazy, mutation-aware storage of one stream's records.

A :class:`Table` holds ``size`` *base* records that exist only as a formula: record ``i``
is generated on demand from (seed, stream, i), in blocks, and recently used blocks are
cached. Mutations are layered on top (appended records, replaced records, deleted indices),
so a stream of 250,000 records costs a few megabytes until someone reads it, and reading it
never needs the whole stream in memory.

Index order is creation order: creation times are non-decreasing in the index, and records
added later get the next indices with a creation time of "now".

A :class:`ChildTable` does the same for the rows under each parent record (shop product
images, reviews, ...), numbering rows globally ("ordinals") so ids are unique across all
parents.
"""

from __future__ import annotations

import bisect
import copy
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

from tap_commerce_sandbox.jsonenc import dumps, dumps_each

from .ids import IdScheme, IntIds
from .rand import Rng, mix64, unit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

#: one generated record (a JSON object)
Record = dict[str, Any]
_Item = TypeVar("_Item")
_Value = TypeVar("_Value")

#: Generated data spans this many days back from the anchor.
HISTORY_DAYS = 3 * 365
_MS_PER_DAY = 86_400_000
_BLOCK = 64  # records generated per Rng seeding (seeding costs ~50 draws)
#: Encoded records kept per table, so re-reading a stream costs no generation (~bytes).
JSON_CACHE_BYTES = 160 * 1024 * 1024


@dataclass(frozen=True)
class StreamSpec:
    """What the generator needs to know about one stream of the contract's tables."""

    api: str
    name: str
    size: int  # records at scale 1.0
    build: Callable[[Rng, Row], Record]  # one complete record
    # What an "updated" mutation changes (it also gets "now"); None: records never change.
    touch: Callable[[Rng, Record, str], None] | None
    fmt: Callable[[int], str]  # the API's timestamp format
    ids: IdScheme = field(default_factory=lambda: IntIds(1000))
    key: str = "id"
    created: str | None = None  # field holding the creation time
    modified: str | None = None  # field set to "now" when a record is updated
    resolution_ms: int = 1  # 1000 for APIs whose timestamps have whole seconds
    modified_share: float = 0.35  # share of base records modified after creation
    parent: str | None = None  # child streams: the parent stream's name
    fixed_size: int | None = None  # reference data: row count independent of scale
    mutable: bool = True  # False: fixed reference data, never added to


class TimeFields(TypedDict, total=False):
    """The fields of a `StreamSpec` that name a stream's time fields."""

    created: str | None
    modified: str | None


class Timing(TimeFields, total=False):
    """`TimeFields` and their resolution."""

    resolution_ms: int


class SpecOptions(TimeFields, total=False):
    """The optional fields of a `StreamSpec` but ``resolution_ms`` (what an API module
    passes through to it).
    """

    ids: IdScheme
    key: str
    modified_share: float
    parent: str | None
    fixed_size: int | None
    mutable: bool


class Row:
    """Context handed to a builder: the record's identity, times and its API's tables."""

    __slots__ = (
        "_created",
        "anchor_ms",
        "created_ms",
        "fmt",
        "id",
        "index",
        "modified_ms",
        "parent",
        "refs",
    )

    def __init__(  # noqa: PLR0917 - made per record: positional arguments are the cheapest
        self,
        index: int,
        id_: Any,
        created_ms: int,
        modified_ms: int,
        fmt: Callable[[int], str],
        refs: Refs,
        anchor_ms: int,
        parent: Record | None = None,
    ) -> None:
        """Record ``index`` (id ``id_``) of a stream, created and last modified at those
        epoch milliseconds, its times spelt by ``fmt``; ``parent``: a child row's parent.
        """
        self.index = index
        self.id = id_
        self.created_ms = created_ms
        self.modified_ms = modified_ms
        self.fmt = fmt
        self.refs = refs
        self.anchor_ms = anchor_ms
        self.parent = parent  # the parent record, for child rows
        self._created: str | None = None

    @property
    def created(self) -> str:
        """The creation time, spelt as the API does (made once)."""
        if self._created is None:
            self._created = self.fmt(self.created_ms)
        return self._created

    @property
    def modified(self) -> str:
        """The time of the last modification, spelt as the API does."""
        # Most records were never modified: reuse the formatted creation time.
        return self.created if self.modified_ms == self.created_ms else self.fmt(self.modified_ms)

    @property
    def parent_record(self) -> Record:
        """The parent record of a child row (TypeError for a top-level record)."""
        parent = self.parent
        if parent is None:
            msg = "a top-level record has no parent record"
            raise TypeError(msg)
        return parent

    def at(self, ms: int) -> str:
        """An instant spelt as the API does (the creation time's text reused)."""
        return self.created if ms == self.created_ms else self.fmt(ms)

    def between(self, rng: Rng) -> int:
        """A random instant between creation and last modification (e.g. ``paid_at``)."""
        return self.created_ms + int(rng.random() * (self.modified_ms - self.created_ms))


class Refs:
    """Read access to the other tables of one API, so records can reference each other."""

    def __init__(self) -> None:
        """No tables yet: the dataset adds them."""
        self.tables: dict[str, Table] = {}

    def pick_id(self, rng: Rng, stream: str) -> Any:
        """The id of a random base record of ``stream`` (``None`` if it is empty)."""
        table = self.tables[stream]
        if table.size == 0:
            return None
        return table.id_at(int(rng.random() * table.size))

    def pick_original(self, rng: Rng, stream: str) -> Record | None:
        """A random base record of ``stream`` as generated (``None`` if it is empty)."""
        table = self.tables[stream]
        if table.size == 0:
            return None
        return table.original(int(rng.random() * table.size))


class _BlockCache:
    """A small thread-safe LRU of generated blocks, bounded by total weight."""

    def __init__(self, max_weight: int, weigh: Callable[[list[Any]], int] = len) -> None:
        self._max_weight = max_weight
        self._weigh = weigh
        self._weight = 0
        self._items: OrderedDict[int, tuple[list[Any], int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: int) -> list[Any] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: int, value: list[Any]) -> None:
        weight = self._weigh(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._weight -= old[1]
            self._items[key] = (value, weight)
            self._weight += weight
            while self._weight > self._max_weight and len(self._items) > 1:
                _, (_, dropped) = self._items.popitem(last=False)
                self._weight -= dropped


def _unchanged(_rng: Rng, _record: Record, _now: str) -> None:
    """The ``touch`` of a stream whose records never change (none is chosen to be)."""


def _text_weight(fragments: list[str]) -> int:
    return sum(map(len, fragments)) + 80 * len(fragments)  # + per-str overhead


def _round_down(ms: int, resolution: int) -> int:
    return ms - ms % resolution


class Table:
    """One top-level stream: base records by formula, plus mutations."""

    def __init__(self, spec: StreamSpec, size: int, salt: int, anchor_ms: int, refs: Refs) -> None:
        """``size`` base records of ``spec``, salted ``salt``, made up to ``anchor_ms``;
        ``refs``: the API's tables, for references between records.
        """
        self.spec = spec
        self.size = size
        self.salt = salt
        self.anchor_ms = anchor_ms
        self.refs = refs
        self._start_ms = anchor_ms - HISTORY_DAYS * _MS_PER_DAY
        # Mutations, layered over the base records:
        self._extra: list[tuple[int, int, Record]] = []  # (created, modified, record), i >= size
        self._born: list[Record] = []  # records as first added (updates replace copies)
        self._changed: dict[int, tuple[int, int, Record]] = {}  # base index -> replacement
        self._deleted: set[int] = set()
        self.version = 0  # bumped by every mutation; views and caches key on it
        self._lock = threading.RLock()
        self._blocks = _BlockCache(256 * _BLOCK)  # record dicts, for records() and mutations
        self._json_blocks = _BlockCache(JSON_CACHE_BYTES, _text_weight)  # what pages are made of
        self._views: dict[str, tuple[int, Any]] = {}

    # Identity and time ---------------------------------------------------------------

    @property
    def total(self) -> int:
        """Indices ever allocated (deleted ones included)."""
        return self.size + len(self._extra)

    def id_at(self, index: int) -> Any:
        """The id of record ``index``."""
        return self.spec.ids.make(self.salt, index)

    def index_of(self, key: Any) -> int | None:
        """The live index whose id is ``key``."""
        index = self.spec.ids.find(self.salt, key)
        if index is None or index >= self.total or index in self._deleted:
            return None
        return index

    def _base_times(self, index: int) -> tuple[int, int]:
        """Creation and modification time of a base record, from its index alone.

        Creation times follow ``1 - (1-u)**1.5`` over the history, u = (index + jitter) / size:
        monotonic in the index (so index order is creation order) and denser towards the
        anchor, as a growing shop's are — about a fifth of the records fall in the last
        90 days.
        """
        h = mix64(self.salt ^ (index << 8))
        u = (index + unit(h)) / self.size
        span = self.anchor_ms - self._start_ms
        created = self._start_ms + int(span * (1.0 - (1.0 - u) ** 1.5))
        created = _round_down(created, self.spec.resolution_ms)
        # The low 11 bits of h (unused by unit()) decide whether it was modified since.
        if self.spec.modified and (h & 0x7FF) < self.spec.modified_share * 0x800:
            gap = int(unit(mix64(h)) * (self.anchor_ms - created))
            return created, _round_down(created + gap, self.spec.resolution_ms)
        return created, created

    def times(self, index: int) -> tuple[int, int]:
        """Creation and last modification time of record ``index``."""
        if index >= self.size:
            created, modified, _ = self._extra[index - self.size]
            return created, modified
        changed = self._changed.get(index)
        if changed is not None:
            return changed[0], changed[1]
        return self._base_times(index)

    def created_ms(self, index: int) -> int:
        """Creation time of record ``index``."""
        return self.times(index)[0]

    # Records -------------------------------------------------------------------------

    def _generate(self, block_no: int) -> list[Record]:
        rng = Rng(mix64(self.salt ^ (block_no << 20) ^ 0xB10C))
        fmt, refs, anchor = self.spec.fmt, self.refs, self.anchor_ms
        block: list[Record] = []
        for index in range(block_no * _BLOCK, min((block_no + 1) * _BLOCK, self.size)):
            created, modified = self._base_times(index)
            row = Row(index, self.id_at(index), created, modified, fmt, refs, anchor)
            block.append(self.spec.build(rng, row))
        return block

    def _block(self, block_no: int) -> list[Record]:
        block = self._blocks.get(block_no)
        if block is None:
            block = self._generate(block_no)
            self._blocks.put(block_no, block)
        return block

    def _json_block(self, block_no: int) -> list[str]:
        fragments = self._json_blocks.get(block_no)
        if fragments is None:
            # Not via the dict cache: a 250k-record stream must not keep 250k dicts alive.
            block = self._blocks.get(block_no) or self._generate(block_no)
            fragments = dumps_each(block)
            self._json_blocks.put(block_no, fragments)
        return fragments

    def record(self, index: int) -> Record:
        """The current record at ``index`` (shared: do not modify it)."""
        if index >= self.size:
            return self._extra[index - self.size][2]
        changed = self._changed.get(index)
        if changed is not None:
            return changed[2]
        return self._block(index // _BLOCK)[index % _BLOCK]

    def original(self, index: int) -> Record:
        """The record as it was generated or added, ignoring later updates: what child rows
        derive from, so they do not depend on when a parent was updated.
        """
        if index >= self.size:
            return self._born[index - self.size]
        return self._block(index // _BLOCK)[index % _BLOCK]

    def records(self, indices: Iterable[int]) -> list[Record]:
        """Records at ``indices``, fetching each generated block once per run of indices."""
        return self._gather(indices, self._block, self.record)

    def fragments(self, indices: Iterable[int]) -> list[str]:
        """The records at ``indices`` as encoded JSON text (what list pages are made of)."""
        return self._gather(indices, self._json_block, lambda index: dumps(self.record(index)))

    def _gather(
        self,
        indices: Iterable[int],
        block_of: Callable[[int], list[_Item]],
        changed: Callable[[int], _Item],
    ) -> list[_Item]:
        """Items at ``indices``: unchanged generated ones from their block (``block_of``),
        added or updated ones through ``changed``.
        """
        out: list[_Item] = []
        block_no = -1
        block: list[_Item] = []  # replaced before use: no block number is -1
        for index in indices:
            if index < self.size and index not in self._changed:
                if index // _BLOCK != block_no:
                    block_no = index // _BLOCK
                    block = block_of(block_no)
                out.append(block[index % _BLOCK])
            else:
                out.append(changed(index))
        return out

    def warm(self, live: Sequence[int], start: int, count: int) -> None:
        """Encode now the base blocks holding ``live[start:start+count]``.

        The server calls this right after answering a page, on the same connection's
        thread: while the client parses the page, the next one is generated, and the
        client's next request finds it ready (no extra thread competing for the GIL).
        """
        upcoming = live[start : start + count]
        if not upcoming or upcoming[0] >= self.size:
            return
        for block_no in range(
            upcoming[0] // _BLOCK, min(upcoming[-1], self.size - 1) // _BLOCK + 1
        ):
            self._json_block(block_no)

    # Views (cached per version) ------------------------------------------------------

    def _view(self, name: str, build: Callable[[], _Value]) -> _Value:
        with self._lock:
            cached = self._views.get(name)
            if cached is not None and cached[0] == self.version:
                view: _Value = cached[1]  # what `build` of this name made
                return view
            version = self.version
        value = build()
        with self._lock:
            if self.version == version:
                self._views[name] = (version, value)
        return value

    def live(self) -> Sequence[int]:
        """Live indices in creation order."""
        if not self._deleted:
            return range(self.total)
        return self._view("live", lambda: [i for i in range(self.total) if i not in self._deleted])

    def positions(self, indices: Iterable[int]) -> list[int]:
        """The 0-based position of each live index in :meth:`live` (the stream's full,
        unfiltered list in creation order): the index itself unless records were deleted.
        """
        if not self._deleted:
            return list(indices)
        live = self.live()
        return [bisect.bisect_left(live, index) for index in indices]

    def by_modified(self) -> tuple[list[int], list[int]]:
        """Live ``(modified_ms, index)`` pairs sorted ascending, as two parallel lists."""

        def build() -> tuple[list[int], list[int]]:
            pairs = sorted((self.times(i)[1], i) for i in self.live())
            return [p[0] for p in pairs], [p[1] for p in pairs]

        return self._view("by_modified", build)

    def created_between(self, lo_ms: int | None, hi_ms: int | None) -> Sequence[int]:
        """Live indices created in ``[lo_ms, hi_ms]``, in creation order (binary search:
        creation time is monotonic in the index).
        """
        live = self.live()
        lo = 0 if lo_ms is None else bisect.bisect_left(live, lo_ms, key=self.created_ms)
        hi = len(live) if hi_ms is None else bisect.bisect_right(live, hi_ms, key=self.created_ms)
        return live[lo:hi]

    # Mutation ------------------------------------------------------------------------

    def _sample_live(self, rng: Rng, k: int) -> list[int]:
        live = self.live()
        return rng.sample(live, min(k, len(live)))

    def mutate(
        self, rng: Rng, now_ms: int, added: int, updated: int, deleted: int
    ) -> dict[str, list[Any]]:
        """Update, delete and add records; returns the ids touched."""
        spec = self.spec
        touch = spec.touch
        if touch is None:
            touch, updated = _unchanged, 0
        now_ms = _round_down(now_ms, spec.resolution_ms)
        now = spec.fmt(now_ms)
        with self._lock:
            chosen = self._sample_live(rng, updated + deleted)
            to_update, to_delete = chosen[:updated], chosen[updated:]
            for index in to_update:
                created, modified = self.times(index)
                record = copy.deepcopy(self.record(index))
                touch(rng, record, now)
                if spec.modified:
                    record[spec.modified] = now
                    modified = now_ms
                if index >= self.size:
                    self._extra[index - self.size] = (created, modified, record)
                else:
                    self._changed[index] = (created, modified, record)
            self._deleted.update(to_delete)
            new_ids = []
            for _ in range(added):
                index = self.total
                row = Row(
                    index, self.id_at(index), now_ms, now_ms, spec.fmt, self.refs, self.anchor_ms
                )
                record = spec.build(rng, row)
                self._extra.append((now_ms, now_ms, record))
                self._born.append(record)
                new_ids.append(row.id)
            self.version += 1
        return {
            "added": new_ids,
            "updated": [self.id_at(i) for i in to_update],
            "deleted": [self.id_at(i) for i in to_delete],
        }


class ChildTable:
    """Rows under each record of a parent table, e.g. the images of every shop product.

    Each parent gets 0-8 rows (a count derived from its index). Rows are numbered globally
    in creation order ("ordinals"); ids derive from ordinals, so they are unique across all
    parents. Parents added by mutations get their base rows allocated on first use.
    """

    MAX_ROWS = 8

    def __init__(self, spec: StreamSpec, parent: Table, salt: int, anchor_ms: int) -> None:
        """The rows of ``spec`` under the records of ``parent``, salted ``salt``."""
        self.spec = spec
        self.parent = parent
        self.salt = salt
        self.anchor_ms = anchor_ms
        self._counts: list[int] = []  # base rows per parent index
        self._starts: list[int] = []  # first ordinal of each parent's base rows
        self._next = 0  # next free ordinal
        self._added: dict[int, list[int]] = {}  # parent index -> ordinals added by mutations
        self._extra: dict[int, Record] = {}  # ordinal -> row added by a mutation
        self._changed: dict[int, Record] = {}  # ordinal -> replacement row
        self._deleted: set[int] = set()
        self._lock = threading.RLock()
        self._cache = _BlockCache(4096, lambda rows: len(rows) + 1)

    def _ensure_parents(self) -> None:
        """Allocate base-row ordinals for parents that appeared since the last call."""
        with self._lock:
            for p in range(len(self._counts), self.parent.total):
                # Skewed towards few rows, as real catalogues are.
                count = int((self.MAX_ROWS + 1) * unit(mix64(self.salt ^ (p << 4))) ** 1.3)
                self._counts.append(count)
                self._starts.append(self._next)
                self._next += count

    def _base_rows(self, p: int) -> list[Record]:
        rows = self._cache.get(p)
        if rows is None:
            rng = Rng(mix64(self.salt ^ (p << 12) ^ 0xC41D))
            parent_record = self.parent.original(p)
            parent_created = self.parent.created_ms(p)
            span = max(self.anchor_ms - parent_created, 0)
            count, start = self._counts[p], self._starts[p]
            rows = []
            for j in range(count):
                ordinal = start + j
                # Spread over the parent's lifetime, ascending within the parent.
                offset = int(span * (j + unit(mix64(self.salt ^ ordinal))) / count)
                created = parent_created + offset - offset % self.spec.resolution_ms
                row = Row(
                    ordinal,
                    self.id_at(ordinal),
                    created,
                    created,
                    self.spec.fmt,
                    self.parent.refs,
                    self.anchor_ms,
                    parent=parent_record,
                )
                rows.append(self.spec.build(rng, row))
            self._cache.put(p, rows)
        return rows

    def id_at(self, ordinal: int) -> Any:
        """The id of row ``ordinal``."""
        return self.spec.ids.make(self.salt, ordinal)

    def rows(self, p: int) -> list[Record]:
        """Live rows of parent index ``p``, oldest first (``[]`` for a parent without rows)."""
        self._ensure_parents()
        out = []
        start = self._starts[p]
        for j, row in enumerate(self._base_rows(p)):
            ordinal = start + j
            if ordinal not in self._deleted:
                out.append(self._changed.get(ordinal, row))
        out.extend(
            self._changed.get(ordinal, self._extra[ordinal])
            for ordinal in self._added.get(p, ())
            if ordinal not in self._deleted
        )
        return out

    def fragments(self, p: int, offset: int, limit: int) -> list[str]:
        """One page of parent ``p``'s rows as encoded JSON text."""
        return dumps_each(self.rows(p)[offset : offset + limit])

    def _ordinals(self, p: int) -> list[int]:
        start = self._starts[p]
        base = range(start, start + self._counts[p])
        return [o for o in (*base, *self._added.get(p, ())) if o not in self._deleted]

    def _row_at(self, p: int, ordinal: int) -> Record:
        if ordinal in self._changed:
            return self._changed[ordinal]
        if ordinal in self._extra:
            return self._extra[ordinal]
        return self._base_rows(p)[ordinal - self._starts[p]]

    def mutate(
        self, rng: Rng, now_ms: int, added: int, updated: int, deleted: int
    ) -> dict[str, list[Any]]:
        """Add rows to random live parents; update and delete random live rows."""
        spec = self.spec
        touch = spec.touch
        if touch is None:
            touch, updated = _unchanged, 0
        now_ms = _round_down(now_ms, spec.resolution_ms)
        now = spec.fmt(now_ms)
        with self._lock:
            self._ensure_parents()
            parents = self.parent.live()
            # Choose rows among a bounded sample of parents, so huge catalogues stay cheap.
            sample = rng.sample(parents, min(len(parents), 4 * (updated + deleted) + 16))
            candidates = [(p, o) for p in sample for o in self._ordinals(p)]
            chosen = rng.sample(candidates, min(len(candidates), updated + deleted))
            to_update, to_delete = chosen[:updated], chosen[updated:]
            for p, ordinal in to_update:
                changed = copy.deepcopy(self._row_at(p, ordinal))
                touch(rng, changed, now)
                self._changed[ordinal] = changed
            self._deleted.update(o for _, o in to_delete)
            new_ids = []
            for _ in range(added if len(parents) else 0):
                p = parents[int(rng.random() * len(parents))]
                ordinal = self._next
                self._next += 1
                row = Row(
                    ordinal,
                    self.id_at(ordinal),
                    now_ms,
                    now_ms,
                    spec.fmt,
                    self.parent.refs,
                    self.anchor_ms,
                    parent=self.parent.original(p),
                )
                self._extra[ordinal] = spec.build(rng, row)
                self._added.setdefault(p, []).append(ordinal)
                new_ids.append(row.id)
        return {
            "added": new_ids,
            "updated": [self.id_at(o) for _, o in to_update],
            "deleted": [self.id_at(o) for _, o in to_delete],
        }

    def all_rows(self) -> Mapping[Any, list[Record]]:
        """``{parent id: rows}`` for every live parent, in parent creation order."""
        return {self.parent.id_at(p): self.rows(p) for p in self.parent.live()}
