"""Every worker answers for every issue: it asks every worker of the consumer group for the
issues of that worker's partitions (scatter-gather) and puts the answers together.

Why scatter-gather, not faust's table routing: a list (``?street=...``) needs every partition
anyway, so one mechanism serves both the list and the single issue; and the partition an issue
lives on is the one its event was produced to, chosen by the *upstream* producer's
partitioner, which faust's router (``key_store``: faust's own murmur2 partitioner) cannot know
(librdkafka's default, for one, hashes with CRC32). So a worker looks up an id in its own
partitions first and, if it is not there, asks the others.

The members and their partitions come from faust's assignor (``tables_metadata()``: the
changelog partitions each member's URL holds, from the group's assignment), the URL of each
being its ``canonical_url`` (``http://WHISTLE_WEB_HOST:WHISTLE_WEB_PORT``). A worker answers
for its partitions only while it is ready (recovered, not rebalancing), and says which
partitions it answered for; an answer is given only when those cover every partition exactly
once, else 503: during a rebalance, or with a worker unreachable, no partial list passes for a
whole one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import structlog

from engine.web.issues import Answer, Query
from engine.web.models import Issue

log = structlog.get_logger("whistle.web")

PEER_TIMEOUT = 5.0  # seconds a worker waits for another's answer


class Incomplete(Exception):
    """Not every partition answered; ``detail`` says which did not and why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Lookup:
    """One worker's answer for one id: the issue if it holds it, whether its state retired."""

    issue: Issue | None
    retired: bool
    partitions: list[int]

    def to_json(self) -> dict[str, Any]:
        return {"issue": None if self.issue is None else self.issue.model_dump(mode="json"),
                "retired": self.retired, "partitions": self.partitions}

    @staticmethod
    def from_json(doc: dict[str, Any]) -> Lookup:
        issue = doc.get("issue")
        return Lookup(issue=None if issue is None else Issue.model_validate(issue),
                      retired=bool(doc["retired"]),
                      partitions=[int(p) for p in doc["partitions"]])


Get = Callable[[str, Mapping[str, str]], Awaitable[tuple[int, Any]]]


@dataclass
class Cluster:
    """The group's members and how to ask them. ``members()``: URL -> partitions held."""

    self_url: str
    partitions: int
    members: Callable[[], dict[str, set[int]]]
    get: Get | None = None  # (url, params) -> (status, JSON body); aiohttp unless given
    timeout: float = PEER_TIMEOUT
    _session: Any = field(default=None, repr=False)

    async def _get(self, url: str, params: Mapping[str, str]) -> tuple[int, Any]:
        if self.get is not None:
            return await self.get(url, params)
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout))
        async with self._session.get(url, params=dict(params)) as r:
            body = await r.json(content_type=None)
            return r.status, body

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def others(self) -> list[str]:
        return sorted(u for u in self.members() if u.rstrip("/") != self.self_url.rstrip("/"))

    async def _ask(self, url: str, path: str, params: Mapping[str, str]
                   ) -> tuple[str, Any | None, str]:
        """(url, body or None, why not)."""
        try:
            status, body = await self._get(url.rstrip("/") + path, {**params, "scope": "local"})
        except (TimeoutError, OSError, ValueError) as exc:
            return url, None, f"{url}: {type(exc).__name__}"
        except Exception as exc:  # aiohttp's ClientError and friends: not reachable
            return url, None, f"{url}: {type(exc).__name__}"
        if status != 200 or not isinstance(body, dict):
            return url, None, f"{url}: HTTP {status}"
        return url, body, ""

    def _covered(self, answered: list[list[int]], why: list[str]) -> None:
        seen: list[int] = [p for parts in answered for p in parts]
        missing = sorted(set(range(self.partitions)) - set(seen))
        twice = sorted({p for p in seen if seen.count(p) > 1})
        if missing or twice:
            parts = []
            if missing:
                parts.append(f"partitions {missing} did not answer")
            if twice:
                parts.append(f"partitions {twice} answered twice (a rebalance)")
            reasons = "; ".join(why)
            raise Incomplete("; ".join(parts) + (f" ({reasons})" if reasons else "")
                             + "; retry shortly")

    async def issues(self, query: Query, local: Callable[[], Answer | None]) -> list[Answer]:
        """Every worker's answer to ``query``; ``Incomplete`` unless they cover every
        partition once."""
        asked = [self._ask(u, "/api/issues", query.params()) for u in self.others()]
        mine = local()
        answers = [] if mine is None else [mine]
        why = [] if mine is not None else [f"{self.self_url}: not ready"]
        for url, body, reason in await asyncio.gather(*asked):
            if body is None:
                why.append(reason)
                continue
            try:
                answers.append(Answer.from_json(body))
            except (KeyError, TypeError, ValueError):
                why.append(f"{url}: an answer this version cannot read")
        self._covered([a.partitions for a in answers], why)
        return answers

    async def issue(self, issue_id: str, local: Callable[[], Lookup | None]) -> Lookup:
        """The issue from whichever worker holds it; a Lookup without one (and ``retired``
        if its state retired) when every partition answered that it does not."""
        mine = local()
        if mine is not None and mine.issue is not None:
            return mine
        path = "/api/issues/" + quote(issue_id, safe="")
        found = [] if mine is None else [mine]
        why = [] if mine is not None else [f"{self.self_url}: not ready"]
        for url, body, reason in await asyncio.gather(*[self._ask(u, path, {})
                                                        for u in self.others()]):
            if body is None:
                why.append(reason)
                continue
            try:
                lookup = Lookup.from_json(body)
            except (KeyError, TypeError, ValueError):
                why.append(f"{url}: an answer this version cannot read")
                continue
            if lookup.issue is not None:
                return lookup
            found.append(lookup)
        self._covered([f.partitions for f in found], why)
        return Lookup(issue=None, retired=any(f.retired for f in found),
                      partitions=sorted(p for f in found for p in f.partitions))
