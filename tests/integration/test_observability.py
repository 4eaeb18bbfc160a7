"""A real Prometheus scraping a real worker through the pk-2023-12-17 incident on the real broker.

Prometheus runs with the shipped config and rules (scrape and evaluation every second). The
records are produced in two parts: up to the middle of the incident, where RestrictionActive
must fire for PK, then the rest, after which it must clear. Then every PromQL expression of the
rules and the dashboards must parse and have returned data over the run.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tests.deploy.promql import (
    BUILTINS,
    PROMETHEUS_DIR,
    dashboard_queries,
    dashboards,
    label_values_selector,
    rule_files,
    rules,
    tool,
)
from tests.integration.api_process import Api
from tests.integration.workers import Deployment, pk_lines

JOB = "restrictwatch"
API_JOB = "restrictwatch-api"
WATCH = "traffic:*:-:-,traffic:PK:*:-,traffic:PK:-:*,reachability:PK:*:*,traffic:PK-*:-:-"
# Two regions' totals beside the country's (shares of it), so the regional panels have data.
REGIONS = (("PK-PB", 0.6), ("PK-SD", 0.4))


def with_regions(lines: list[bytes]) -> list[bytes]:
    out = []
    for raw in lines:
        out.append(raw)
        rec = orjson.loads(raw)
        if rec["signal"] == "traffic" and "asn" not in rec and "platform" not in rec:
            for region, share in REGIONS:
                regional = {**rec, "region": region, "value": round(rec["value"] * share, 2)}
                out.append(orjson.dumps(regional))
    return out


# The last is a batch (schemas/batch.v1.schema.json) of three records, each dead-lettered on its
# own: five bad records in all, four of them failing the schema.
BAD_LINES = [b"not json at all", b'{"signal": "traffic", "country": "PK"}', b"[1, 2, 3]"]
BAD_RECORDS = 5
PK_PLATFORMS = "facebook,instagram,x,youtube"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PromQLError(AssertionError):
    pass


@dataclass
class Prometheus:
    """A private Prometheus server and a small client for its HTTP API."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.time)

    def api(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode(params, doseq=True)
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{query}", timeout=30) as r:
                body = json.load(r)
        except urllib.error.HTTPError as exc:
            body = json.load(exc)
        if body["status"] != "success":
            raise PromQLError(f"{body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=expr)["result"]
        return result

    def query_range(self, expr: str, step: float = 1.0) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api(
            "query_range", query=expr, start=self.started, end=time.time(), step=step
        )["result"]
        return result

    def label_values(self, label: str, selector: str) -> list[str]:
        values: list[str] = self.api(
            f"label/{label}/values", **{"match[]": selector, "start": self.started}
        )
        return values

    def alerts(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.api("alerts")["alerts"] if a["labels"]["alertname"] == name]

    def wait(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = check()
            if got:
                return got
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited: {self.log.read_text()[-3000:]}")
            time.sleep(0.5)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Callable[[str, str], Prometheus]]:
    """Start Prometheus with the shipped config and rules, scraping a worker and an events API
    every second."""
    binary = tool("prometheus")
    servers: list[Prometheus] = []

    def start(target: str, api_target: str) -> Prometheus:
        config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
        config["global"].update(scrape_interval="1s", evaluation_interval="1s")
        config["rule_files"] = [str(p) for p in rule_files()]
        worker_job, api_job = config["scrape_configs"]
        assert (worker_job["job_name"], api_job["job_name"]) == (JOB, API_JOB)
        worker_job["static_configs"] = [{"targets": [target]}]
        api_job["static_configs"] = [{"targets": [api_target]}]
        path = tmp_path / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        port = free_port()
        log = tmp_path / "prometheus.log"
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={path}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        server = Prometheus(f"http://127.0.0.1:{port}", proc, log)
        servers.append(server)

        def ready() -> bool:
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        server.wait("prometheus to be ready", ready, timeout=60)
        server.started = time.time()
        return server

    yield start
    for server in servers:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


def restriction_alerts(prom: Prometheus) -> list[dict[str, Any]]:
    return [
        a
        for a in prom.alerts("RestrictionActive")
        if a["labels"].get("country") == "PK" and a["state"] == "firing"
    ]


def gauge(prom: Prometheus, expr: str) -> float | None:
    result = prom.query(expr)
    return float(result[0]["value"][1]) if result else None


def signal_of(alert_expr: str) -> str:
    """`<signal> <op> <threshold>` -> `<signal>` (what the alert compares)."""
    m = re.fullmatch(r"(.+?)\s*(>|<|>=|<=|==|!=)\s*[\d.e+-]+\s*", alert_expr.strip(), re.S)
    assert m, alert_expr
    return m.group(1)


def test_prometheus_follows_the_pk_incident_and_every_rule_and_panel_has_data(
    deployment: Deployment, start_prometheus: Callable[[str, str], Prometheus]
) -> None:
    metrics_port = free_port()
    # The state store is not what this test is about: the in-memory one keeps it quick.
    worker = deployment.start_worker(
        RW_METRICS_PORT=str(metrics_port), RW_METRICS_WATCH=WATCH, RW_STORE="memory://"
    )
    api = Api(deployment, deployment.tmp / "api" / "events.sqlite3", free_port())
    api.start()
    try:
        prom = start_prometheus(f"127.0.0.1:{metrics_port}", f"127.0.0.1:{api.port}")
        follow_the_incident(deployment, worker, prom)
    finally:
        api.stop()


def follow_the_incident(
    deployment: Deployment, worker: subprocess.Popen[bytes], prom: Prometheus
) -> None:
    lines = with_regions(pk_lines())
    cut = next(
        i for i, raw in enumerate(lines) if orjson.loads(raw)["ts"] >= "2023-12-17T18:00:00Z"
    )

    def alive(check: Callable[[], Any]) -> Callable[[], Any]:
        def checked() -> Any:
            if worker.poll() is not None:
                raise AssertionError(f"worker exited {worker.returncode}:\n{deployment.log()}")
            return check()

        return checked

    prom.wait("the worker to be scraped", alive(lambda: gauge(prom, f'up{{job="{JOB}"}}') == 1), 90)

    # Up to the middle of the incident (15:00-22:00), with a few records to dead-letter.
    deployment.produce(lines[: cut // 2] + BAD_LINES + lines[cut // 2 : cut])
    firing = prom.wait(
        "RestrictionActive to fire for PK", alive(lambda: restriction_alerts(prom)), 180
    )
    (alert,) = firing
    assert alert["labels"]["kind"] == "platform_restriction"
    assert alert["labels"]["platforms"] == PK_PLATFORMS
    assert "asns" not in alert["labels"]  # country-wide
    assert alert["labels"]["severity"] == "info"
    active = 'rw_active_restrictions{country="PK", kind="platform_restriction"}'
    assert gauge(prom, active) == 1

    deployment.produce(lines[cut:])
    prom.wait(
        "RestrictionActive to clear for PK",
        alive(lambda: not restriction_alerts(prom) and gauge(prom, active) == 0),
        timeout=120,
    )
    assert gauge(prom, 'sum(rw_events_total{country="PK", status="resolved"})') == 1
    assert gauge(prom, 'sum(rw_records_dead_lettered_total{reason="json"})') == 1
    assert gauge(prom, 'sum(rw_records_dead_lettered_total{reason="schema"})') == 4
    total = len(lines) + BAD_RECORDS
    prom.wait(
        f"all {total} records to be consumed",
        alive(lambda: gauge(prom, "sum(rw_records_consumed_total)") == total),
        timeout=120,
    )
    config_version = prom.query("rw_build_info")[0]["metric"]["config_version"]
    assert config_version.startswith("default")
    time.sleep(3)  # a few more evaluations, so rate windows span the end of the run

    missing = []
    for rule in rules():
        if "record" in rule:
            if not prom.query_range(rule["record"]):
                missing.append(f"record {rule['record']}")
            continue
        prom.query(rule["expr"])  # parses
        if not prom.query_range(signal_of(rule["expr"])):
            missing.append(f"alert {rule['alert']}: {signal_of(rule['expr'])}")

    for name, board in dashboards().items():
        values = {"country": "PK", **BUILTINS}
        for variable in board["templating"]["list"]:
            if variable["name"] in values or variable["type"] != "query":
                continue  # the datasource and the runbook's address are not queries
            selector = substitute(label_values_selector(variable), values)
            label = variable["query"]["query"].rsplit(",", 1)[1].strip(" )")
            found = prom.label_values(label, selector)
            assert found, f"{name}: variable {variable['name']} has no values"
            values[variable["name"]] = found[0]
        for where, expr in dashboard_queries(board):
            if not prom.query_range(substitute(expr, values)):
                missing.append(f"{name} {where}: {expr}")
    assert not missing, "no data:\n" + "\n".join(missing)


def substitute(expr: str, values: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        assert name in values, f"no value for ${name} in {expr}"
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", one, expr)
