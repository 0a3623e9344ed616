"""tritonserver's argv: triton/server.yaml's flags rendered as Triton spells them, then this machine's."""

from __future__ import annotations

from pathlib import Path

from scripts.services.triton import TritonSettings, command


def test_the_settings_file_and_the_machine_make_one_argv(tmp_path: Path) -> None:
    settings = TritonSettings(
        host="127.0.0.1",
        http_port=8010,
        grpc_port=8011,
        exit_timeout_s=10,
        data_dir=tmp_path,
        repository=tmp_path / "models",
    )
    argv = command(settings, Path("/bundle"), tmp_path / "backends")
    assert argv[0] == "/bundle/tritonserver/bin/tritonserver"
    assert "--model-control-mode=explicit" in argv
    assert "--strict-readiness=false" in argv  # a YAML boolean, spelled as tritonserver reads it
    assert "--pinned-memory-pool-byte-size=0" in argv
    assert f"--model-repository={tmp_path / 'models'}" in argv
    assert argv[-2:] == ["--grpc-address=127.0.0.1", "--grpc-port=8011"]
