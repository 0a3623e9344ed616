"""The `make up` supervisor: Procfile parsing and the restart backoff."""

from __future__ import annotations

import pytest

from scripts.services.supervise import parse_procfile, restart_delay


def test_procfile_lines_in_order_without_comments() -> None:
    text = "# the stack\nweb: python -m scripts.web\n\nworker: python -m jobs.cpu  \nmlflow: a: b\n"
    assert parse_procfile(text) == {
        "web": "python -m scripts.web",
        "worker": "python -m jobs.cpu",
        "mlflow": "a: b",
    }


@pytest.mark.parametrize("line", ["web python", ": cmd", "web:   "])
def test_a_line_without_name_or_command_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_procfile(line)


@pytest.mark.parametrize(
    ("failures", "uptime_s", "delay"),
    [(1, 0.5, 1.0), (2, 0.5, 2.0), (3, 0.5, 4.0), (6, 0.5, 30.0), (9, 0.5, 30.0), (9, 30.0, 1.0)],
)
def test_restart_delay_doubles_to_the_cap_and_resets_after_a_healthy_run(
    failures: int, uptime_s: float, delay: float
) -> None:
    assert restart_delay(failures, uptime_s, 1.0, 30.0, 30.0) == delay
