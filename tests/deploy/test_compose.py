"""deploy/compose.yaml: the services the README promises, and every file it mounts exists."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_compose_has_kafka_worker_simulator_prometheus_grafana() -> None:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = doc["services"]
    assert {"kafka", "worker", "simulator", "prometheus", "grafana"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["worker"]["command"][0] == "worker"
    assert services["worker"]["environment"]["RW_BOOTSTRAP_SERVERS"] == "kafka:9092"


def test_every_mounted_file_exists() -> None:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in doc["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (DEPLOY / source).exists(), f"{name}: {source}"
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()
