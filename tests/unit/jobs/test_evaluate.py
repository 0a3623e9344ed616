"""The fine-tuning evaluation ranks objects by their best part, as search does."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np
import numpy.typing as npt

from functions.records import EvalQuery, TrainingSet
from jobs.training.evaluate import EncodedCorpus, best_part_rankings, evaluations

AXES = {"wing": 0, "shock": 1, "heat": 2, "flutter": 3}


class WordModel:
    """Encodes a text as its normalised counts of a few words (a model the test can reason about)."""

    def __init__(self) -> None:
        self.max_seq_length = 128
        self.encoded_at: set[int] = set()

    def encode(self, texts: Sequence[str], **_: object) -> npt.NDArray[np.float32]:
        self.encoded_at.add(self.max_seq_length)
        out = np.full((len(texts), len(AXES) + 1), 0.01, dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.split():
                if word in AXES:
                    out[i, AXES[word]] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def unit(*xs: float) -> list[float]:
    v = np.asarray(xs, dtype=np.float32)
    return list(v / np.linalg.norm(v))


def test_an_object_scores_its_best_part_not_its_first() -> None:
    queries = np.asarray([unit(1, 0), unit(0, 1)], dtype=np.float32)
    parts = np.asarray([unit(0, 1), unit(1, 0.1), unit(1, 0.5), unit(0.2, 1)], dtype=np.float32)
    # a's second part is the nearest to query 0, though its first part is the farthest.
    ranked = best_part_rankings(queries, parts, ["a", "a", "b", "b"], k=5)
    assert ranked == [["a", "b"], ["a", "b"]]
    assert best_part_rankings(queries, parts, ["a", "a", "b", "b"], k=1) == [["a"], ["a"]]
    assert best_part_rankings(queries, parts[:0], [], k=3) == [[], []]


def test_equal_scores_keep_object_order_across_blocks() -> None:
    queries = np.asarray([unit(1, 0)] * 5, dtype=np.float32)
    parts = np.asarray([unit(0, 1), unit(1, 1), unit(1, 1), unit(1, 0)], dtype=np.float32)
    ranked = best_part_rankings(queries, parts, ["d", "c", "b", "a"], k=4, block=2)
    assert ranked == [["a", "b", "c", "d"]] * 5


def test_the_evaluation_judges_the_ranking_search_gives() -> None:
    """A relevant object whose matching text is its second part ranks first; by part 0 alone it would
    rank below `other` (whose first part says "wing")."""
    corpus = {
        "report": ["heat transfer tables", "wing flutter wing flutter measurements"],
        "other": ["wing shock", "heat heat"],
        "third": ["shock shock heat"],
    }
    query = EvalQuery(query_id="q", query="wing flutter", relevant={"report": 1.0})
    data = TrainingSet(train=[], eval_queries=[query], corpus=corpus, dataset_hash="h", session_count=1)
    model = WordModel()
    [evaluation] = evaluations(model, data, [data.eval_queries], max_seq_length=256)
    assert evaluation.ranked["q"] == ["report", "other", "third"]
    assert evaluation.scores.ndcg_at_10 == 1.0
    # Embedded at the serving length it was given, then back to the length it trains at.
    assert (model.encoded_at, model.max_seq_length) == ({256}, 128)


def test_stored_champion_vectors_rank_as_embedding_the_corpus_does() -> None:
    """The champion's stored part vectors (any scale: normalised here) stand in for embedding the
    corpus; a set missing some part's vector falls back to embedding (None)."""
    corpus = {"a": ["wing shock", "heat"], "b": ["flutter flutter wing"], "c": ["shock heat heat"]}
    queries = [
        EvalQuery(query_id="q1", query="wing flutter", relevant={"b": 1.0}),
        EvalQuery(query_id="q2", query="heat", relevant={"c": 1.0}),
    ]
    model = WordModel()
    stored = {oid: 3.0 * model.encode(texts) for oid, texts in corpus.items()}
    data = TrainingSet(
        train=[],
        eval_queries=queries,
        corpus=corpus,
        dataset_hash="h",
        session_count=1,
        champion_parts=stored,
    )
    read = EncodedCorpus.stored(data, max_seq_length=256)
    assert read is not None
    embedded = EncodedCorpus.embedded(model, data, max_seq_length=256)
    assert np.allclose(read.parts, embedded.parts)
    assert read.owners == embedded.owners == ["a", "a", "b", "c"]
    assert read.evaluate(model, queries).ranked == embedded.evaluate(model, queries).ranked
    short = msgspec.structs.replace(data, champion_parts={**stored, "a": stored["a"][:1]})
    assert EncodedCorpus.stored(short) is None
    assert EncodedCorpus.stored(msgspec.structs.replace(data, champion_parts=None)) is None
