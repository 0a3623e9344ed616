"""Reads a task's data through the FeedbackDataStore port and assembles the TrainingSet.

Texts are the stored chunks, never a loader's: for training, each object's part most similar to the
query's vector (the passage the search matched; part 0 when the session has no usable vector); for the
evaluation corpus, every part of each object (the evaluation scores an object by its best part, as
search does: ranking by part 0 alone judged a different ranking from the one users get).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from functions.config import AppConfig, FineTuningPreset, Sources
from functions.fine_tuning import corpus_pairs, logic
from functions.fine_tuning.messages import FineTuningRequest
from functions.fine_tuning.pairs import QueryFeedback, negatives_for
from functions.ports import FeedbackDataStore, Progress
from functions.records import (
    Collection,
    EvalQuery,
    Example,
    FeedbackSession,
    Filter,
    SessionWindow,
    TrainingSet,
)


async def read_sessions(
    req: FineTuningRequest, store: FeedbackDataStore, config: AppConfig, progress: Progress
) -> list[FeedbackSession]:
    """The index's relevant sessions in [since, until), oldest first, at most max_sessions."""
    cfg = config.fine_tuning
    out: list[FeedbackSession] = []
    after: tuple[datetime, str] | None = None
    while len(out) < cfg.max_sessions:
        await progress.check_cancelled()
        limit = min(cfg.session_page, cfg.max_sessions - len(out))
        window = SessionWindow(index=req.index, since=req.since, until=req.until, after=after, limit=limit)
        page = await store.sessions(window)
        out.extend(page)
        if len(page) < limit:
            break
        after = (page[-1].created_at, page[-1].session_id)
    return out


async def _mined(
    fb: QueryFeedback, store: FeedbackDataStore, collection: Collection, preset: FineTuningPreset
) -> list[str]:
    """Hard negatives: the objects nearest the query's vector that are neither its positives nor
    already its skipped negatives."""
    k = preset.hard_negatives_per_query
    if k == 0 or fb.vector is None or len(fb.vector) != collection.dim:
        return []
    return await store.nearest(collection, fb.vector, k, sorted(fb.positives.keys() | fb.skipped))


async def build(
    train_fb: Sequence[QueryFeedback],
    eval_fb: Sequence[QueryFeedback],
    *,
    store: FeedbackDataStore,
    collection: Collection,
    preset: FineTuningPreset,
    config: AppConfig,
    seed: int,
    progress: Progress,
    benchmark: Sequence[EvalQuery] = (),
    stored_vectors: bool = False,
    sources: Sources | None = None,
    exclude: Filter | None = None,
) -> TrainingSet:
    """Examples of the train queries and of the corpus (as `sources` weigh them), the eval queries
    (held-out clicks; without any, held-out objects' spans) and the corpus both models are ranked on
    (the benchmark's judged objects included); with `stored_vectors` (the collection's model is the
    champion) the corpus parts' pre-feedback vectors too, read with the texts."""
    max_chars = config.fine_tuning.text_max_chars
    cap = preset.max_negatives_per_example
    examples: list[Example] = []
    total = len(train_fb) + len(eval_fb) + 1
    for i, fb in enumerate(train_fb):
        await progress.report(i, total, f"preparing query {i + 1} of {len(train_fb)}")
        negatives = negatives_for(fb, await _mined(fb, store, collection, preset), cap)
        ids = [*sorted(fb.positives), *negatives]
        vector = fb.vector if fb.vector is not None and len(fb.vector) == collection.dim else None
        texts = await store.texts(collection, ids, vector, max_chars)
        found = logic.example(fb, negatives, texts, preset.min_positive_weight)
        if found is not None:
            examples.append(found)
    click_pairs = sum(len(e.positives) for e in examples)
    budget = corpus_pairs.corpus_budget(click_pairs, sources or preset.sources, preset.corpus)
    corpus_evals: list[EvalQuery] = []
    if budget > 0:
        await progress.report(len(train_fb), total, f"sampling {budget} corpus pairs")
        # Held-out clicks judge when there are any (users' queries, not a proxy for them).
        adapted, corpus_evals = await _corpus(
            store, collection, preset, seed, max_chars, budget, exclude, hold_out=not eval_fb
        )
        examples += adapted
    wanted: set[str] = set()
    for judged in corpus_evals:
        wanted |= judged.relevant.keys()
    for fb in eval_fb:
        wanted |= fb.positives.keys()
        wanted.update(await _mined(fb, store, collection, preset))
    for judged in benchmark:
        wanted |= judged.relevant.keys()
    # The sample is every object while the collection is within the limit.
    wanted.update(await store.sample_ids(collection, preset.eval_corpus_limit, seed))
    await progress.report(total - 1, total, f"reading {len(wanted)} corpus objects' parts")
    vectors = None
    if stored_vectors:
        corpus, vectors = await store.embedded_parts(collection, sorted(wanted), max_chars)
    else:
        corpus = await store.parts(collection, sorted(wanted), max_chars)
    evals = [q for q in (logic.eval_query(fb, corpus) for fb in eval_fb) if q is not None]
    evals += [q for q in corpus_evals if q.relevant.keys() <= corpus.keys()]
    sessions = sum(fb.sessions for fb in [*train_fb, *eval_fb])
    return logic.training_set(examples, _used(evals), corpus, sessions, benchmark, vectors)


async def _corpus(
    store: FeedbackDataStore,
    collection: Collection,
    preset: FineTuningPreset,
    seed: int,
    max_chars: int,
    budget: int,
    exclude: Filter | None,
    *,
    hold_out: bool,
) -> tuple[list[Example], list[EvalQuery]]:
    """`budget` corpus pairs from a seeded sample of the objects (never those `exclude` matches), and
    with `hold_out` the spans of held-out objects no pair comes from."""
    policy = preset.corpus
    limit = budget + (policy.eval_queries if hold_out else 0)
    objects = await store.objects(collection, limit, seed, max_chars, exclude)
    train, held = corpus_pairs.held_out(objects, policy, seed) if hold_out else (list(objects), [])
    return corpus_pairs.sample_pairs(train, policy, budget, seed), corpus_pairs.eval_queries(
        held, policy, seed
    )


def _used(evals: list[EvalQuery]) -> list[EvalQuery]:
    """Eval queries sorted by id (the set hashes the same whatever order sessions came in)."""
    return sorted(evals, key=lambda q: q.query_id)
