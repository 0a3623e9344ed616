"""The lifecycle's report: one line per step as it runs, the quality table, a JSON file and a chart."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

METRICS = ("ndcg10", "mrr10", "recall100")
SETS = {"test": "held-out test queries", "seen": "clicked train queries"}


@dataclass
class Report:
    """What the run did: steps (name, seconds, figure), quality per stage and query set, headline figures."""

    started: float = field(default_factory=time.monotonic)
    steps: list[dict[str, Any]] = field(default_factory=list)
    quality: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # stage -> set -> metric
    figures: dict[str, Any] = field(default_factory=dict)

    def step(self, name: str, figure: str) -> None:
        """Print and keep one line: step, time since start, key figure."""
        elapsed = time.monotonic() - self.started
        self.steps.append({"step": name, "at_s": round(elapsed, 1), "figure": figure})
        print(f"[{elapsed:7.1f}s] {name:<12} {figure}", flush=True)

    def measure(self, stage: str, by_set: dict[str, dict[str, float]]) -> None:
        """Keep the quality of one stage."""
        self.quality[stage] = by_set

    def minutes(self) -> float:
        """Wall time so far."""
        return (time.monotonic() - self.started) / 60

    def table(self) -> str:
        """Quality per stage and query set, as a text table."""
        stages = list(self.quality)
        lines = [f"{'queries':<24}{'metric':<11}" + "".join(f"{s:>14}" for s in stages)]
        for key, label in SETS.items():
            for metric in METRICS:
                cells = "".join(
                    f"{self.quality[s].get(key, {}).get(metric, float('nan')):>14.4f}" for s in stages
                )
                lines.append(f"{label:<24}{metric:<11}{cells}")
        return "\n".join(lines)

    def headlines(self) -> dict[str, Any]:
        """The headline figures, printed last as `name: value` lines (what the demo's test reads)."""
        base, final = self.quality["base"], self.quality.get("final", self.quality["base"])

        def gain(key: str) -> float:
            before = base[key]["ndcg10"]
            return 100 * (final[key]["ndcg10"] - before) / before if before else 0.0

        adapted = self.quality.get("adapted")
        adapt = {}
        if adapted is not None:  # the corpus adaptation cycle, before any click trained anything
            before = base["test"]["ndcg10"]
            after = adapted["test"]["ndcg10"]
            adapt["lifecycle_adapt_ndcg10_gain_pct"] = (
                f"{100 * (after - before) / before if before else 0:.2f}"
            )
        return adapt | {
            "lifecycle_ndcg10_base": f"{base['test']['ndcg10']:.4f}",
            "lifecycle_ndcg10_final": f"{final['test']['ndcg10']:.4f}",
            "lifecycle_ndcg10_gain_pct": f"{gain('test'):.2f}",
            "lifecycle_seen_ndcg10_gain_pct": f"{gain('seen'):.2f}",
            "lifecycle_minutes": f"{self.minutes():.2f}",
            "lifecycle_failed_searches": str(self.figures.get("failed_searches", 0)),
            "lifecycle_skipped_searches": str(
                sum(sum(by.values()) for by in self.figures.get("skipped_searches", {}).values())
            ),
        }

    def write(self, folder: Path, meta: dict[str, Any]) -> tuple[Path, Path]:
        """Write `<stamp>.json` and `<stamp>.png` under `folder` (and `latest.*` copies); their paths."""
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        body = {"meta": meta, "steps": self.steps, "quality": self.quality, "figures": self.figures}
        data = json.dumps(body, indent=2, default=str)
        json_path = folder / f"lifecycle-{stamp}.json"
        json_path.write_text(data)
        (folder / "latest.json").write_text(data)
        png_path = folder / f"lifecycle-{stamp}.png"
        curve = ((self.figures.get("experiment") or {}).get("tally") or {}).get("win_share_curve")
        _chart(self.quality, png_path, curve or None)
        (folder / "latest.png").write_bytes(png_path.read_bytes())
        return json_path, png_path


def _chart(
    quality: dict[str, dict[str, dict[str, float]]], path: Path, curve: list[list[float]] | None = None
) -> None:
    """Quality per step for each query set; with an experiment, the candidate's cumulative win share."""
    import matplotlib

    matplotlib.use("Agg")  # no display; and never the user's interactive backend
    import matplotlib.pyplot as plt

    stages = list(quality)
    panels = len(SETS) + (curve is not None)
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6))
    for ax, (key, label) in zip(axes, SETS.items(), strict=False):
        for metric in METRICS:
            values = [quality[s].get(key, {}).get(metric, float("nan")) for s in stages]
            ax.plot(stages, values, marker="o", label=metric)
        ax.set_title(label)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="lower right")
    if curve is not None:
        ax = axes[-1]
        ax.plot([p[0] for p in curve], [p[1] for p in curve], color="tab:purple")
        ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
        ax.set_title("experiment: candidate's win share")
        ax.set_xlabel("sessions with a credited click")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    fig.suptitle("embedloop lifecycle: quality per step")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
