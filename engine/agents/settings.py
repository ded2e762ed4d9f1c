"""Runtime settings: environment variables (``WHISTLE_*``), overridden by command-line flags.

| variable | default | meaning |
|---|---|---|
| WHISTLE_BROKER | (none: embedded) | bootstrap servers, e.g. ``kafka1:9092,kafka2:9092`` |
| WHISTLE_RULES | the shipped Xishan sample | rules directory |
| WHISTLE_WEB_PORT | 6066 | ``/healthz``, ``/readyz``, ``/metrics`` |
| WHISTLE_WEB_HOST | 127.0.0.1 | interface the web port binds to |
| WHISTLE_TOPIC_PREFIX | (empty) | prefix of every topic name |
| WHISTLE_PARTITIONS | 4 | partitions of every topic (created if missing) |
| WHISTLE_REPLICATION_FACTOR | 1 | replication factor of created topics |
| WHISTLE_APP_ID | whistle | consumer group and internal topic names |
| WHISTLE_SECURITY_PROTOCOL | PLAINTEXT | PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL |
| WHISTLE_SASL_MECHANISM | PLAIN | PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 |
| WHISTLE_SASL_USERNAME / WHISTLE_SASL_PASSWORD | | SASL credentials (never logged) |
| WHISTLE_TLS_CAFILE / _CERTFILE / _KEYFILE | | TLS trust and client certificate |
| WHISTLE_TICK_SECONDS | 0.25 | how often each owned partition is ticked (bounds deadline lag) |
| WHISTLE_SESSION_TIMEOUT | 10 | consumer session timeout, seconds |
| WHISTLE_DATA_DIR | ./.whistle | worker data (Faust's own files, the RocksDB store) |
| WHISTLE_STORE | see below | the table's local store: ``memory`` or ``rocksdb`` |
| WHISTLE_PINNING | entry | ``entry`` or ``follow`` (see the README: rules changes) |
| WHISTLE_RULES_WATCH_SECONDS | 2 | how often the rule files are checked for changes |
| WHISTLE_BROKER_QUIRKS | (empty) | ``tansu``: a configured broker is Tansu, apply its adapter |
| WHISTLE_BATCH_MAX | 500 | most messages decided in one batch |
| WHISTLE_BATCH_WITHIN | 0.05 | seconds a batch waits to fill before it is processed |
| WHISTLE_DELIVERY_ATTEMPTS | 5 | sends of a batch's records before the worker stops |
| WHISTLE_STATE_CACHE | 100000 | decoded issue states kept in memory (most recently used) |
| WHISTLE_RETAIN_CLOSED | 7d | how long a closed issue's state is kept before it retires |
| WHISTLE_REMEMBER_RETIRED | 90d | how long a retired issue's marker is kept after that |

``WHISTLE_STORE``: ``rocksdb`` (kept on disk across restarts, under ``WHISTLE_DATA_DIR``) by
default with a configured broker; ``memory`` with the embedded broker, which keeps nothing
across runs itself (a kept local store would then be ahead of it).

Durations are a number with a unit (``s``, ``m``, ``h``, ``d``), e.g. ``7d`` or ``90s``; a bare
number is seconds.

Invalid values (an unknown ``WHISTLE_PINNING``, a number that does not parse, a batch of 0) are
a startup error (``SettingsError``), never a silent default.

The embedded broker always gets the Tansu adapter.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from engine.agents.retention import DEFAULT_REMEMBER, DEFAULT_RETAIN
from engine.agents.topics import Topics

SAMPLE_RULES = Path(__file__).resolve().parent.parent / "sample" / "xishan"


PINNING = ("entry", "follow")
STORES = ("memory", "rocksdb")
PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")


class SettingsError(ValueError):
    """A setting that cannot be used; the worker does not start."""


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m``, ``90s`` or a bare number of seconds."""
    text = text.strip()
    unit = _UNITS.get(text[-1:].lower())
    number = float(text[:-1] if unit else text)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(text)
    return timedelta(seconds=number * (unit or 1))


duration.what = "duration (e.g. 7d, 12h, 30m, 90s)"  # type: ignore[attr-defined]  # named in errors


@dataclass(frozen=True)
class Settings:
    broker: str | None = None
    rules: Path = SAMPLE_RULES
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    topic_prefix: str = ""
    partitions: int = 4
    replication_factor: int = 1
    app_id: str = "whistle"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str | None = field(default=None, repr=False)
    sasl_password: str | None = field(default=None, repr=False)
    tls_cafile: str | None = None
    tls_certfile: str | None = None
    tls_keyfile: str | None = None
    tick_seconds: float = 0.25
    session_timeout: float = 10.0
    data_dir: Path = Path(".whistle")
    embedded: bool = False  # set when the broker is the embedded one (Tansu quirks apply)
    broker_quirks: str = ""
    pinning: str = "entry"
    store: str = ""  # "": rocksdb with a configured broker, memory with the embedded one
    rules_watch_seconds: float = 2.0
    batch_max: int = 500
    batch_within: float = 0.05
    delivery_attempts: int = 5
    state_cache: int = 100_000
    retain_closed: timedelta = DEFAULT_RETAIN
    remember_retired: timedelta = DEFAULT_REMEMBER

    def __post_init__(self) -> None:
        problems = []
        if self.pinning not in PINNING:
            problems.append(f"WHISTLE_PINNING must be one of {', '.join(PINNING)} "
                            f"(got {self.pinning!r})")
        if self.store and self.store not in STORES:
            problems.append(f"WHISTLE_STORE must be one of {', '.join(STORES)} "
                            f"(got {self.store!r})")
        if self.security_protocol not in PROTOCOLS:
            problems.append(f"WHISTLE_SECURITY_PROTOCOL must be one of {', '.join(PROTOCOLS)} "
                            f"(got {self.security_protocol!r})")
        for name in ("partitions", "replication_factor", "batch_max", "delivery_attempts",
                     "state_cache"):
            if getattr(self, name) < 1:
                problems.append(f"WHISTLE_{name.upper()} must be at least 1")
        for name in ("tick_seconds", "session_timeout", "batch_within", "rules_watch_seconds"):
            if not getattr(self, name) > 0:
                problems.append(f"WHISTLE_{name.upper()} must be more than 0")
        for name in ("retain_closed", "remember_retired"):
            if not getattr(self, name) > timedelta(0):
                problems.append(f"WHISTLE_{name.upper()} must be more than 0")
        if problems:
            raise SettingsError("; ".join(problems))

    @property
    def table_store(self) -> str:
        """The local store in force (``WHISTLE_STORE``, or the default for the broker)."""
        return self.store or ("memory" if self.embedded or self.broker is None else "rocksdb")

    @property
    def topics(self) -> Topics:
        return Topics.with_prefix(self.topic_prefix)

    @property
    def changelog(self) -> str:
        """The issues table's changelog topic (faust's name: ``<app id>-<table>-changelog``)."""
        return f"{self.app_id}-issues-changelog"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = e.get(f"WHISTLE_{name}")
            return value if value else None

        kw: dict[str, Any] = {}
        for name, conv in (
            ("broker", str), ("rules", Path), ("web_port", int), ("web_host", str),
            ("topic_prefix", str), ("partitions", int), ("replication_factor", int),
            ("app_id", str), ("security_protocol", str), ("sasl_mechanism", str),
            ("sasl_username", str), ("sasl_password", str), ("tls_cafile", str),
            ("tls_certfile", str), ("tls_keyfile", str), ("tick_seconds", float),
            ("session_timeout", float), ("data_dir", Path), ("broker_quirks", str),
            ("pinning", str), ("store", str), ("rules_watch_seconds", float), ("batch_max", int),
            ("batch_within", float), ("delivery_attempts", int), ("state_cache", int),
            ("retain_closed", duration), ("remember_retired", duration),
        ):
            value = get(name.upper())
            if value is not None:
                try:
                    kw[name] = conv(value)
                except ValueError:
                    raise SettingsError(f"WHISTLE_{name.upper()}: {value!r} is not a valid "
                                        f"{getattr(conv, 'what', conv.__name__)}") from None
        return cls(**kw)

    def override(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def bootstrap(self) -> list[str]:
        assert self.broker is not None
        return [b.strip().removeprefix("kafka://") for b in self.broker.split(",") if b.strip()]

    def ssl_context(self) -> ssl.SSLContext | None:
        if "SSL" not in self.security_protocol:
            return None
        ctx = ssl.create_default_context(cafile=self.tls_cafile)
        if self.tls_certfile:
            ctx.load_cert_chain(self.tls_certfile, self.tls_keyfile)
        return ctx

    def kafka_python_config(self) -> dict[str, Any]:
        """Connection settings for kafka-python clients (publish, tail, admin)."""
        cfg: dict[str, Any] = {"bootstrap_servers": self.bootstrap,
                               "security_protocol": self.security_protocol}
        if "SASL" in self.security_protocol:
            cfg.update(sasl_mechanism=self.sasl_mechanism,
                       sasl_plain_username=self.sasl_username,
                       sasl_plain_password=self.sasl_password)
        if "SSL" in self.security_protocol:
            cfg.update(ssl_cafile=self.tls_cafile, ssl_certfile=self.tls_certfile,
                       ssl_keyfile=self.tls_keyfile)
        return cfg
