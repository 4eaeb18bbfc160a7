"""Fixtures for integration tests against a real Apache Kafka broker.

Every test under tests/integration/ is marked ``integration`` automatically.

Broker selection (``kafka_bootstrap``):

* ``KAFKA_BOOTSTRAP_SERVERS`` set: use that (PLAINTEXT) cluster. It must be reachable,
  otherwise every test using it errors with a clear message.
* otherwise: start a private single-node broker with ``deploy/kafka/kafka.sh up`` in a
  pytest temp directory, on 127.0.0.1 port ``KAFKA_TEST_PORT`` (default 19092; when
  unset, the next free block of ports is used if 19092 is taken), and stop it at the
  end of the session.

These fixtures never skip: if no broker can be had, the tests error, with the tail of
the broker log in the message.
"""

from __future__ import annotations

import atexit
import os
import re
import socket
import subprocess
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient

from tests.integration.workers import Deployment

INTEGRATION_DIR = Path(__file__).resolve().parent
REPO_ROOT = INTEGRATION_DIR.parents[1]
KAFKA_SH = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"

DEFAULT_TEST_PORT = 19092
# kafka.sh up: maven download on a cold cache + up to 90 s broker start.
UP_TIMEOUT_S = 900
DOWN_TIMEOUT_S = 90
# Env vars of kafka.sh that must not leak from the developer's shell into test brokers.
_KAFKA_SH_ENV = (
    "KAFKA_PORT",
    "KAFKA_CONTROLLER_PORT",
    "KAFKA_SASL_SSL_PORT",
    "KAFKA_SECURITY",
    "KAFKA_SASL_USER",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_DATA_DIR",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


# --------------------------------------------------------------------------- brokers


@dataclass
class LocalBroker:
    """A broker run by deploy/kafka/kafka.sh for this test session."""

    data_dir: Path
    port: int
    security: str = "plaintext"
    sasl_user: str = "rw"
    sasl_password: str = "rw-secret"
    running: bool = field(default=False, init=False)

    @property
    def bootstrap(self) -> str:
        """PLAINTEXT bootstrap servers."""
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_ssl_bootstrap(self) -> str:
        return f"127.0.0.1:{self.port + 2}"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "ca.pem"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    def sasl_ssl_client_config(self, password: str | None = None) -> dict[str, Any]:
        """kafka-python keyword arguments for the SASL_SSL listener."""
        return {
            "bootstrap_servers": self.sasl_ssl_bootstrap,
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": self.sasl_user,
            "sasl_plain_password": self.sasl_password if password is None else password,
            "ssl_cafile": str(self.ca_file),
        }

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _KAFKA_SH_ENV}
        env.update(
            KAFKA_PORT=str(self.port),
            KAFKA_CONTROLLER_PORT=str(self.port + 1),
            KAFKA_SASL_SSL_PORT=str(self.port + 2),
            KAFKA_SECURITY=self.security,
            KAFKA_SASL_USER=self.sasl_user,
            KAFKA_SASL_PASSWORD=self.sasl_password,
            KAFKA_DATA_DIR=str(self.data_dir),
        )
        return env

    def _run(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(KAFKA_SH), command],
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return f"(no broker log at {self.log_file})"
        return "\n".join(text.splitlines()[-lines:])

    def up(self) -> None:
        self.running = True  # from here on, down() is needed even if up fails half-way
        try:
            result = self._run("up", UP_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            self.down()
            pytest.fail(
                f"`kafka.sh up` did not finish within {UP_TIMEOUT_S}s "
                f"(data dir {self.data_dir}).\n{exc.output or ''}\n"
                f"--- broker log tail ---\n{self.log_tail()}",
                pytrace=False,
            )
        if result.returncode != 0:
            self.down()
            log = (
                ""
                if "----- last" in result.stdout
                else f"\n--- broker log tail ---\n{self.log_tail()}"
            )
            pytest.fail(
                f"Could not start a local Kafka broker with `{KAFKA_SH} up` "
                f"(KAFKA_PORT={self.port}, KAFKA_SECURITY={self.security}, "
                f"data dir {self.data_dir}); exit code {result.returncode}.\n"
                f"--- kafka.sh output ---\n{result.stdout}{log}",
                pytrace=False,
            )

    def down(self) -> None:
        if not self.running:
            return
        try:
            result = self._run("down", DOWN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            warnings.warn(f"`kafka.sh down` timed out for {self.data_dir}", stacklevel=1)
            return
        if result.returncode == 0:
            self.running = False
        else:
            warnings.warn(f"`kafka.sh down` failed: {result.stdout}", stacklevel=1)


def _ports_free(first: int, count: int) -> bool:
    for port in range(first, first + count):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def pick_ports(preferred: int, count: int = 3, attempts: int = 40) -> int:
    """First port p >= preferred (in steps of 10) with p .. p+count-1 all free."""
    for i in range(attempts):
        port = preferred + 10 * i
        if port + count <= 65535 and _ports_free(port, count):
            return port
    pytest.fail(
        f"No {count} free consecutive ports on 127.0.0.1 from {preferred} "
        f"(tried {attempts} blocks); set KAFKA_TEST_PORT",
        pytrace=False,
    )


class BrokerPool:
    """Starts LocalBrokers on demand; stops all of them at session end (or exit)."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._tmp = tmp_path_factory
        self._brokers: list[LocalBroker] = []

    def start(
        self,
        name: str,
        *,
        port: int | None = None,
        preferred_port: int = DEFAULT_TEST_PORT,
        security: str = "plaintext",
    ) -> LocalBroker:
        broker = LocalBroker(
            data_dir=self._tmp.mktemp(f"kafka-{name}"),
            port=port if port is not None else pick_ports(preferred_port),
            security=security,
        )
        self._brokers.append(broker)
        broker.up()
        return broker

    def stop_all(self) -> None:
        for broker in self._brokers:
            broker.down()


@pytest.fixture(scope="session")
def local_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerPool]:
    """Factory for private brokers (kafka.sh in a temp data dir). Use for special setups
    such as ``security="sasl_ssl"``; plain tests should use ``kafka_bootstrap``."""
    pool = BrokerPool(tmp_path_factory)
    atexit.register(pool.stop_all)  # also on abnormal interpreter exit paths
    try:
        yield pool
    finally:
        pool.stop_all()


def _check_reachable(bootstrap: str) -> None:
    problems = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=5):
                pass
        except (OSError, ValueError) as exc:
            problems.append(f"{server.strip()}: {exc}")
    if len(problems) == len(bootstrap.split(",")):
        pytest.fail(
            f"KAFKA_BOOTSTRAP_SERVERS={bootstrap!r} is not reachable: {'; '.join(problems)}. "
            "Start that broker, or unset KAFKA_BOOTSTRAP_SERVERS to let the tests run "
            "their own (deploy/kafka/kafka.sh).",
            pytrace=False,
        )
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="restrictwatch-tests-probe",
            bootstrap_timeout_ms=15000,
            request_timeout_ms=15000,
        )
        try:
            admin.list_topics()
        finally:
            admin.close()
    except Exception as exc:
        pytest.fail(
            f"KAFKA_BOOTSTRAP_SERVERS={bootstrap!r} accepts TCP connections but does not "
            f"answer Kafka admin requests over PLAINTEXT: {type(exc).__name__}: {exc}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def kafka_bootstrap(local_kafka: BrokerPool) -> str:
    """Bootstrap servers (PLAINTEXT) of a running broker; see the module docstring."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        _check_reachable(external)
        return external
    explicit = os.environ.get("KAFKA_TEST_PORT", "").strip()
    if explicit:
        broker = local_kafka.start("plain", port=int(explicit))
    else:
        broker = local_kafka.start("plain", preferred_port=DEFAULT_TEST_PORT)
    return broker.bootstrap


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="restrictwatch-tests")
    try:
        yield admin
    finally:
        admin.close()


_UNSAFE_TOPIC_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@pytest.fixture
def make_topic(
    kafka_admin: KafkaAdminClient, request: pytest.FixtureRequest
) -> Iterator[Callable[..., str]]:
    """``make_topic(prefix=None, partitions=1, configs=None) -> str``: create a topic
    with a unique name (prefix defaults to the test name), wait until it has a leader,
    and delete it after the test."""
    created: list[str] = []

    def _make(
        prefix: str | None = None, partitions: int = 1, configs: dict[str, str] | None = None
    ) -> str:
        base = _UNSAFE_TOPIC_CHARS.sub("-", prefix or request.node.name).strip("-.")[:60]
        name = f"{base or 'test'}-{uuid.uuid4().hex[:10]}"
        kafka_admin.create_topics(
            {
                name: {
                    "num_partitions": partitions,
                    "replication_factor": 1,
                    "configs": dict(configs or {}),
                }
            },
            wait_for_metadata=True,
        )
        created.append(name)
        return name

    yield _make
    if created:
        try:
            kafka_admin.delete_topics(created, raise_errors=False)
        except Exception as exc:
            warnings.warn(f"could not delete test topics {created}: {exc}", stacklevel=1)


@pytest.fixture
def deployment(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Deployment]:
    """Topics created on the shared broker, and whatever workers a test starts, stopped after."""
    d = Deployment(kafka_bootstrap, tmp_path)
    d.create_topics()
    yield d
    d.stop_all()
