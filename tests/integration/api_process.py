"""Run a real `restrictwatch api` process against the test broker and query it over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tests.integration.workers import Deployment


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Api:
    """One `restrictwatch api` process (restartable on the same database)."""

    deployment: Deployment
    db: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0

    def start(self, **extra: str) -> None:
        log = (self.deployment.tmp / f"api-{self.runs}.log").open("ab")
        self.runs += 1
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "restrictwatch.streams.cli", "api", "--db", str(self.db)],
            env={
                **os.environ,
                **self.deployment.env,
                "RW_API_PORT": str(self.port),
                **extra,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.wait(lambda: self.get("/healthz")[0] == 200, "the API to answer")

    def log(self) -> str:
        return "\n".join(
            (self.deployment.tmp / f"api-{i}.log").read_text(errors="replace")[-3000:]
            for i in range(self.runs)
        )

    def get(self, path: str, **params: str) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.port}{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def json(self, path: str, **params: str) -> Any:
        status, body = self.get(path, **params)
        assert status == 200, (path, params, status, body)
        return orjson.loads(body)

    def stored(self) -> int:
        status, body = self.get("/healthz")
        return int(orjson.loads(body)["stored"]["messages"]) if status == 200 else -1

    def wait(self, done: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"the API exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout} s for {what};\n{self.log()}")
            time.sleep(0.2)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill(signal.SIGTERM)
