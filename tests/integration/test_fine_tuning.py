"""Fine-tuning data and stage: sessions made through the clickstream API become the TrainingSet.

Real app, real gpu worker, real MiniLM and Postgres; the Trainer is an in-memory fake of its port (the
real training run is tested with jobs/training).
"""

from __future__ import annotations

import asyncpg
import numpy as np
import pytest
from pgvector.asyncpg import register_vector

from functions.config import Sources
from functions.context import Context
from functions.errors import InvalidInput
from functions.fine_tuning import handler
from functions.fine_tuning.messages import FineTuningRequest
from functions.fine_tuning.pairs import normalise_query
from functions.fine_tuning.split import query_draw
from functions.records import Eq
from jobs.embedding.model_paths import resolve_model_path
from tests.support.data_plane import Client, new_index, parts_of, upsert
from tests.support.fakes import FakeTrainer
from tests.support.fine_tuning import searched_session, with_trainer
from tests.support.improvement import GARDEN

pytestmark = [pytest.mark.integration, pytest.mark.model]
QUERIES = ("gardening tips", "spring flowers", "fruit trees")


def seed_training(query: str) -> int:
    """A seed whose split (eval_fraction 0.5) trains on `query` and holds another query out."""
    keys = [normalise_query(q) for q in QUERIES]
    for seed in range(1000):
        draws = {k: query_draw(seed, k) for k in keys}
        if draws[normalise_query(query)] >= 0.5 and min(draws.values()) < 0.5:
            return seed
    raise AssertionError("no seed")


async def test_sessions_become_examples_eval_queries_and_corpus(client: Client, ctx: Context) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, GARDEN)
    shown = await searched_session(client, index, "gardening tips")  # no click: no feedback
    await searched_session(client, index, "gardening tips", shown[3])
    await searched_session(client, index, "Gardening  TIPS", shown[2])  # shown[2] was skipped above
    await searched_session(client, index, "spring flowers", "tulips")
    await searched_session(client, index, "fruit trees", "trees")
    await searched_session(client, index, "lawn mowing", "lawn", irrelevant=True)
    trainer = FakeTrainer()
    # The skipped-above policy (tiny's own is unclicked negatives, unit-tested in tests/unit/fine_tuning).
    overrides = {
        "min_sessions": 4,
        "eval_fraction": 0.5,
        "hard_negatives_per_query": 1,
        "negatives": "skipped_above",
    }
    req = FineTuningRequest(
        index=index, preset="tiny", overrides=overrides, seed=seed_training("gardening tips")
    )
    result = await handler.run(req, with_trainer(ctx, trainer))

    assert result.status == "trained"
    assert (result.sessions, result.needed) == (4, 4)
    [(plan, data)] = trainer.calls
    assert data.session_count == 4
    assert plan.registered_model_name == f"embedloop-{index}"
    assert plan.base_model_path == resolve_model_path(ctx.config.model.path)  # the champion: base, v1
    assert plan.base_version == "1"
    assert plan.n_trials == 1
    blue = await ctx.collections.blue(index)
    assert blue is not None
    stored = {item["object_id"]: await parts_of(ctx, blue.id, item["object_id"]) for item in GARDEN}
    text = {oid: parts[0] for oid, parts in stored.items()}
    [example] = [e for e in data.train if normalise_query(e.query) == "gardening tips"]
    assert sorted(example.positives) == sorted([text[shown[2]], text[shown[3]]])
    # Skipped above the clicks, except what was clicked for the query in another session; then a mined one.
    assert set(example.negatives[:2]) == {text[shown[0]], text[shown[1]]}
    assert text[shown[2]] not in example.negatives
    assert len(example.negatives) == 3
    assert example.negatives[2] in {text[shown[4]], text[shown[5]]}
    queries = {normalise_query(e.query) for e in data.train if e.kind == "clicks"} | {
        normalise_query(q.query) for q in data.eval_queries
    }
    assert queries == set(QUERIES)  # the irrelevant session's query is left out
    assert not {e.query for e in data.train} & {q.query for q in data.eval_queries}
    assert data.corpus == {oid: stored[oid] for oid in sorted(stored)}  # every part, in order
    # The blue collection was embedded by the champion (v1): its stored vectors come along, a row a part.
    assert data.champion_parts is not None
    assert {oid: len(rows) for oid, rows in data.champion_parts.items()} == {
        oid: len(parts) for oid, parts in data.corpus.items()
    }
    for query in data.eval_queries:
        assert set(query.relevant) <= set(data.corpus)
    # tiny mixes in corpus pairs (half a pair per click pair), which train in their own batches.
    clicks = [e for e in data.train if e.kind == "clicks"]
    assert result.train_queries == len(clicks)
    assert result.pairs["clicks"] == sum(len(e.positives) for e in clicks)
    assert sum(n for kind, n in result.pairs.items() if kind != "clicks") == round(result.pairs["clicks"] / 2)
    assert result.evaluated_on == "clicks"
    assert result.eval_queries == len(data.eval_queries)
    assert result.dataset_hash == data.dataset_hash
    assert (result.promoted, result.registered_version, result.trials_completed) == (True, "1", 3)
    assert result.challenger is not None
    assert result.challenger.ndcg_at_10 == 0.6


async def test_the_evaluation_corpus_holds_every_part_in_order(client: Client, ctx: Context) -> None:
    """An object's parts all reach the evaluation (it scores the best, as search does), cut to max_chars."""
    index = await new_index(client)
    sand = " ".join(f"Dunes {i}: sand, sandworms and spice on the desert planet Arrakis." for i in range(60))
    dune = {"object_id": "dune", "content": {"title": "Dune", "body": sand}, "payload": {}}
    await upsert(client, ctx, index, [dune, *GARDEN[:2]])
    blue = await ctx.collections.blue(index)
    assert blue is not None
    assert ctx.feedback is not None
    stored = {oid: await parts_of(ctx, blue.id, oid) for oid in ("dune", "roses", "tulips")}
    assert len(stored["dune"]) > 2
    found = await ctx.feedback.parts(blue, ["tulips", "dune", "missing", "roses", "dune"], 2000)
    assert found == stored
    cut = await ctx.feedback.parts(blue, ["dune"], 10)
    assert cut == {"dune": [part[:10] for part in stored["dune"]]}
    assert await ctx.feedback.parts(blue, [], 10) == {}


async def test_the_corpus_vectors_are_the_stored_ones_before_feedback(client: Client, ctx: Context) -> None:
    """embedded_parts reads each part's vector with its text: the stored one, or its original where
    improvement moved it (what the champion embedded, which its evaluation then need not recompute)."""
    index = await new_index(client)
    await upsert(client, ctx, index, GARDEN[:3])
    blue = await ctx.collections.blue(index)
    assert blue is not None
    assert ctx.feedback is not None
    ids = [item["object_id"] for item in GARDEN[:3]]
    conn = await asyncpg.connect(ctx.config.database.url)
    try:
        await register_vector(conn)
        parts, originals = f'"c_{blue.id}_parts"', f'"c_{blue.id}_originals"'
        rows = await conn.fetch(f"SELECT object_id, vector FROM {parts} ORDER BY object_id, part_index")
        stored = {r["object_id"]: np.asarray(r["vector"].to_numpy()) for r in rows}
        # Feedback moved the first object's part 0: the table keeps the original, the part a new vector.
        moved = ids[0]
        await conn.execute(
            f"INSERT INTO {originals} (object_id, part_index, vector) SELECT object_id, part_index, vector "
            f"FROM {parts} WHERE object_id = $1 AND part_index = 0",
            moved,
        )
        await conn.execute(f"UPDATE {parts} SET vector = $2 WHERE object_id = $1", moved, -stored[moved])
    finally:
        await conn.close()

    texts, vectors = await ctx.feedback.embedded_parts(blue, [*reversed(ids), "missing"], 2000)

    assert texts == await ctx.feedback.parts(blue, ids, 2000)
    assert sorted(vectors) == sorted(ids)
    for oid in ids:
        assert vectors[oid].shape == (1, blue.dim)
        assert vectors[oid].dtype == np.float32
        assert np.allclose(vectors[oid][0], stored[oid])  # the moved one's original, not -original
    assert await ctx.feedback.embedded_parts(blue, [], 10) == ({}, {})


PLAIN = [
    {
        "object_id": f"note{i}",
        "content": f"Compost heap number {i} needs turning. Greens and browns balance it. "
        f"Water it in dry weeks. It is ready in a year.",
    }
    for i in range(6)
]
NOISE = {
    "object_id": "promo",
    "content": "Big sale today only. Click here to win. Offer ends soon. Terms apply.",
    "payload": {"noise": True},
}


async def test_a_corpus_only_task_needs_no_click_and_leaves_noise_out(client: Client, ctx: Context) -> None:
    index = await new_index(client)
    await upsert(client, ctx, index, [*GARDEN, *PLAIN, NOISE])
    trainer = FakeTrainer()
    req = FineTuningRequest(
        index=index,
        preset="tiny",
        sources=Sources(corpus=1.0, clicks=0.0),
        corpus_exclude=Eq(path="noise", value=True),
        seed=5,
    )
    result = await handler.run(req, with_trainer(ctx, trainer))

    assert (result.status, result.sessions, result.train_queries) == ("trained", 0, 0)
    [(_, data)] = trainer.calls
    assert {e.kind for e in data.train} == {"title", "inverse_cloze", "crop"}
    # Titles of the garden pages (body without the title), clozes of the multi-sentence notes.
    titles = {e.query: e.positives[0] for e in data.train if e.kind == "title"}
    by_title = {item["content"]["title"]: item["content"]["body"] for item in GARDEN}
    assert titles
    assert all(by_title[t] == body for t, body in titles.items())
    texts = " ".join(t for e in data.train for t in [e.query, *e.positives])
    assert "sale" not in texts
    assert "Compost" in texts
    # No click judges: held-out objects' spans do, each relevant to its own object, none trained on.
    assert result.evaluated_on == "corpus"
    assert data.eval_queries
    assert all(len(q.relevant) == 1 for q in data.eval_queries)
    held = {oid for q in data.eval_queries for oid in q.relevant}
    assert held <= set(data.corpus)
    assert not any(q.query in texts for q in data.eval_queries)
    assert result.pairs == {k: sum(e.kind == k for e in data.train) for k in result.pairs} | {"clicks": 0}
    assert result.sources == Sources(corpus=1.0, clicks=0.0)


async def test_clicks_weighing_nothing_against_corpus_nothing_is_refused(
    client: Client, ctx: Context
) -> None:
    index = await new_index(client)
    req = FineTuningRequest(index=index, preset="tiny", sources=Sources(corpus=0.0, clicks=0.0))
    with pytest.raises(InvalidInput) as caught:
        await handler.run(req, ctx)
    assert caught.value.field == "sources"
