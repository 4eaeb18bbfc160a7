"""deploy/compose.yaml: the services the README promises, and every file it mounts exists."""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

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


def test_the_compose_broker_is_the_version_the_local_scripts_run() -> None:
    """The tests run deploy/kafka's broker: compose users must get the same Kafka."""
    pom = ElementTree.parse(DEPLOY / "kafka" / "pom.xml").getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    local = pom.findtext("m:properties/m:kafka.version", namespaces=ns)
    assert local and re.fullmatch(r"\d+\.\d+\.\d+", local), local
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    image = doc["services"]["kafka"]["image"]
    assert image == f"apache/kafka:{local}", (image, local)


def test_the_events_api_keeps_its_database_and_stays_on_loopback() -> None:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    api = doc["services"]["api"]
    assert api["command"] == ["api"]
    assert api["environment"]["RW_BOOTSTRAP_SERVERS"] == "kafka:9092"
    db = api["environment"]["RW_API_DB"]
    (volume,) = api["volumes"]
    name, mount = volume.split(":")[:2]
    assert name in doc["volumes"] and db.startswith(mount + "/")
    assert all(port.startswith("127.0.0.1:") for port in api["ports"])


def test_every_mounted_file_exists() -> None:
    doc = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    named = set(doc.get("volumes") or {})
    for name, service in doc["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source in named:
                continue
            assert (DEPLOY / source).exists(), f"{name}: {source}"
        build = service.get("build")
        if build:
            assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_long_running_services_come_back_and_say_whether_they_are_healthy() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    for name, port, path in (("worker", 9464, "/metrics"), ("api", 8080, "/healthz")):
        service = services[name]
        assert service["restart"] == "unless-stopped"
        probe = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{port}{path}" in probe
        # the probed port is the one the service listens on inside its container
        assert any(p.split(":")[-1] == str(port) for p in service["ports"])
