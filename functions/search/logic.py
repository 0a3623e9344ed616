"""Pure search rules: request checks, candidate sizing, best part per object, distance to score."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from functions.config import SearchConfig
from functions.errors import InvalidInput
from functions.records import Collection, Metric, ObjectHit, PartHit, SearchRecord, Vectors, filters
from functions.search.messages import PayloadSearchRequest, SearchRequest

# Parts fetched per wanted object at first: objects with several near parts use up candidates.
PARTS_PER_OBJECT = 4
# pgvector's default hnsw.max_scan_tuples: an iterative scan stops there anyway.
MAX_CANDIDATE_PARTS = 20_000


def page_size(req: SearchRequest, cfg: SearchConfig) -> int:
    """Check the request against the rules config sets; return the limit to use."""
    if (req.query is None) == (req.vector is None):
        raise InvalidInput("give exactly one of query and vector", field="query")
    if req.query is not None and not req.query.strip():
        raise InvalidInput("query is blank", field="query")
    limit = cfg.default_limit if req.limit is None else req.limit
    if limit > cfg.max_limit:
        raise InvalidInput(f"limit is {limit}; at most {cfg.max_limit}", field="limit")
    if req.offset + limit > cfg.max_limit:
        raise InvalidInput(f"offset + limit is {req.offset + limit}; at most {cfg.max_limit}", field="offset")
    check_filter(req.filter)
    return limit


def payload_page_size(req: PayloadSearchRequest, cfg: SearchConfig) -> int:
    """Check a payload search (no ranking, so pages may go deeper, up to max_offset); the limit."""
    limit = cfg.default_limit if req.limit is None else req.limit
    if limit > cfg.max_limit:
        raise InvalidInput(f"limit is {limit}; at most {cfg.max_limit}", field="limit")
    if req.offset > cfg.max_offset:
        raise InvalidInput(f"offset is {req.offset}; at most {cfg.max_offset}", field="offset")
    check_filter(req.filter)
    return limit


def check_filter(f: filters.Filter | None) -> None:
    """A filter's rules beyond its shape (depth, size, values), checked before any work."""
    if f is not None:
        filters.check(f)


FLOAT32_MAX = float(np.finfo(np.float32).max)
FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # the smallest normal float32


def query_vector(vector: Sequence[float], dim: int) -> Vectors:
    """A caller's vector, checked against the collection's dimension and what pgvector can score:
    finite float32 components and a length whose square float32 holds (cosine divides by it)."""
    if len(vector) != dim:
        raise InvalidInput(f"vector has {len(vector)} dimensions; this index has {dim}", field="vector")
    wide = np.asarray(vector, dtype=np.float64)
    bad = np.flatnonzero(~(np.abs(wide) <= FLOAT32_MAX))  # NaN compares false: caught here too
    if bad.size:
        i, value = int(bad[0]), float(wide[bad[0]])
        if not np.isfinite(value):
            raise InvalidInput(f"vector[{i}] is not a finite number", field="vector")
        raise InvalidInput(f"vector[{i}] is {value:g}, outside the float32 range (±3.4e38)", field="vector")
    array = wide.astype(np.float32)
    if not np.any(array):
        # Its cosine with anything is 0/0: pgvector answers NaN, so there is no ranking to give.
        raise InvalidInput("vector is all zeros: it has no direction to search by", field="vector")
    squared = float(np.dot(wide, wide))
    if not FLOAT32_TINY <= squared <= FLOAT32_MAX:
        raise InvalidInput(
            f"vector's squared length ({squared:g}) is outside the float32 range: scale it", field="vector"
        )
    return array


def first_candidates(needed: int) -> int:
    """How many parts to fetch first to find `needed` distinct objects."""
    return min(max(1, needed) * PARTS_PER_OBJECT, MAX_CANDIDATE_PARTS)


def next_candidates(k: int, fetched: int, distinct: int, needed: int) -> int | None:
    """A larger fetch when `k` parts held too few objects; None when there is no point asking again
    (enough objects, the collection ran out of parts, or the cap was reached)."""
    if distinct >= needed or fetched < k or k >= MAX_CANDIDATE_PARTS:
        return None
    return min(k * PARTS_PER_OBJECT, MAX_CANDIDATE_PARTS)


def best_per_object(parts: Sequence[PartHit]) -> list[PartHit]:
    """Each object once, represented by its nearest part, nearest first (ties keep scan order)."""
    best: dict[str, PartHit] = {}
    for part in parts:
        current = best.get(part.object_id)
        if current is None or part.distance < current.distance:
            best[part.object_id] = part
    return sorted(best.values(), key=lambda p: p.distance)


def merge_personal(shared: Sequence[PartHit], personal: Sequence[PartHit]) -> list[PartHit]:
    """best_per_object over both, where an object the user has personal vectors for is ranked by
    those alone (its shared parts are left out)."""
    mine = {p.object_id for p in personal}
    return best_per_object([*(p for p in shared if p.object_id not in mine), *personal])


def settled(best: Sequence[PartHit], found: Sequence[PartHit]) -> int:
    """How many leading objects of `best` are surely in place: none nearer than the farthest shared
    part fetched can hide among the parts not fetched yet (personal hits beyond it may)."""
    if not found:
        return len(best)
    frontier = max(p.distance for p in found)
    return sum(1 for p in best if p.distance <= frontier)


def merge_personal_objects(shared: Sequence[ObjectHit], personal: Sequence[ObjectHit]) -> list[ObjectHit]:
    """Objects nearest first, those with personal vectors by their personal average only."""
    mine = {o.object_id for o in personal}
    merged = [*(o for o in shared if o.object_id not in mine), *personal]
    return sorted(merged, key=lambda o: o.distance)


def score(metric: Metric, distance: float) -> float:
    """Higher is nearer. cosine: 1 - cosine distance; dot: the inner product (pgvector's <#> is its
    negation); l2: 1 - d²/2, which equals cosine similarity for the unit vectors we store."""
    if metric == "cosine":
        return 1.0 - distance
    if metric == "dot":
        return -distance
    return 1.0 - distance * distance / 2.0


def record(
    req: SearchRequest,
    search_id: str,
    collection: Collection,
    object_ids: list[str],
    vector: list[float] | None,
) -> SearchRecord:
    """The log entry of this search: what was asked, where, and the ids shown."""
    return SearchRecord(
        search_id=search_id,
        index_name=req.index,
        collection_id=collection.id,
        user_id=req.user_id,
        query=req.query,
        mode=req.mode,
        offset=req.offset,
        object_ids=object_ids,
        query_vector=vector,
    )
