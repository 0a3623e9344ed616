"""Fine-tuning data and stage: sessions made through the clickstream API become the TrainingSet.

Real app, real gpu worker, real MiniLM and Postgres; the Trainer is an in-memory fake of its port (the
real training run is tested with jobs/training).
"""

from __future__ import annotations

import pytest

from functions.context import Context
from functions.fine_tuning import handler
from functions.fine_tuning.messages import FineTuningRequest
from functions.fine_tuning.pairs import normalise_query
from functions.fine_tuning.split import query_draw
from jobs.stores.model_paths import resolve_model_path
from tests.support.data_plane import Client, new_index, parts_of, upsert
from tests.support.fine_tuning import FakeTrainer, searched_session, with_trainer
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
    text = {item["object_id"]: (await parts_of(ctx, blue.id, item["object_id"]))[0] for item in GARDEN}
    [example] = [e for e in data.train if normalise_query(e.query) == "gardening tips"]
    assert sorted(example.positives) == sorted([text[shown[2]], text[shown[3]]])
    # Skipped above the clicks, except what was clicked for the query in another session; then a mined one.
    assert set(example.negatives[:2]) == {text[shown[0]], text[shown[1]]}
    assert text[shown[2]] not in example.negatives
    assert len(example.negatives) == 3
    assert example.negatives[2] in {text[shown[4]], text[shown[5]]}
    queries = {normalise_query(e.query) for e in data.train} | {
        normalise_query(q.query) for q in data.eval_queries
    }
    assert queries == set(QUERIES)  # the irrelevant session's query is left out
    assert not {e.query for e in data.train} & {q.query for q in data.eval_queries}
    assert data.corpus == {oid: text[oid] for oid in sorted(text)}
    for query in data.eval_queries:
        assert set(query.relevant) <= set(data.corpus)
    assert result.train_queries == len(data.train)
    assert result.eval_queries == len(data.eval_queries)
    assert result.dataset_hash == data.dataset_hash
    assert (result.promoted, result.registered_version, result.trials_completed) == (True, "1", 3)
    assert result.challenger is not None
    assert result.challenger.ndcg_at_10 == 0.6
