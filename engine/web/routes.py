"""The faust views of the API and the operator page; ``install`` is the one call from
``engine.agents.app``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import faust

from engine.agents.codec import peek
from engine.agents.store import IssueStore, Quarantined
from engine.agents.topics import Topics
from engine.domain.ruleset import Ruleset
from engine.domain.state import IssueState
from engine.web.feed import Feed
from engine.web.gather import Cluster, Incomplete, Lookup
from engine.web.issues import MAX_LIMIT, Answer, BadQuery, Query, answer, merge, parse_query, view
from engine.web.models import Issue
from engine.web.page import View, render_main, render_page

PAGE_READS = 20  # pages of MAX_LIMIT open issues the operator page reads at most


@dataclass
class Web:
    """What the views read: this worker's store and partitions, the cluster, the feed."""

    store: IssueStore
    owned: Callable[[], set[int]]  # this worker's active partitions of issues.events
    ready: Callable[[], bool]
    now: Callable[[], datetime]
    rules: Callable[[], Ruleset]
    cluster: Cluster
    feed: Feed

    def states(self, partitions: set[int], query: Query | None = None
               ) -> Iterator[tuple[int, IssueState]]:
        """The states of ``partitions``; with ``query``, a value whose header shows a status or
        level the query does not want is passed over without decoding its state (``peek``: a
        few microseconds against tens), e.g. the closed issues when the page asks for the open
        ones. Values without a header (older versions) are decoded and filtered as before."""
        for key, raw in list(self.store.local.items(partitions)):
            if key.startswith(b"\x00"):  # the engine's own records (ticks, retired markers)
                continue
            issue_id = key.decode(errors="replace")
            if query is not None and (query.status is not None or query.level is not None):
                head = peek(issue_id, raw)
                if head is not None and not query.could_match(head.status, head.level):
                    continue
            try:
                stored = self.store.read(issue_id, raw)  # the value in hand: not read again
            except Quarantined:
                continue
            if stored.partition in partitions:
                yield stored.partition, stored.state

    def local_answer(self, query: Query) -> Answer | None:
        if not self.ready():
            return None
        owned = self.owned()
        return answer(self.states(owned, query), query, self.now(), owned)

    def local_lookup(self, issue_id: str) -> Lookup | None:
        if not self.ready():
            return None
        owned = self.owned()
        try:
            stored = self.store.load(issue_id)
        except Quarantined:
            stored = None
        if stored is not None and stored.partition in owned:
            return Lookup(view(stored.partition, stored.state, self.now()), False, sorted(owned))
        marker = self.store.retired(issue_id)
        retired = marker is not None and marker.partition in owned
        return Lookup(None, retired, sorted(owned))

    async def page(self, query: Query) -> tuple[list[Issue], str | None, int, list[int]]:
        answers = await self.cluster.issues(query, lambda: self.local_answer(query))
        items, cursor, total = merge(answers, query.limit)
        return items, cursor, total, sorted(p for a in answers for p in a.partitions)

    async def all_open(self) -> tuple[list[Issue], bool]:
        out: list[Issue] = []
        after: str | None = None
        for _ in range(PAGE_READS):
            items, cursor, _, _ = await self.page(Query(status="open", limit=MAX_LIMIT,
                                                        after=after))
            out += items
            if cursor is None:
                return out, False
            after = items[-1].id
        return out, True

    def name(self, unit: str) -> str:
        return self.rules().registry.name_of(unit)

    async def view(self, worker: str) -> View:
        # the page's topic reader starts with the first request of the page, not the worker: a
        # worker nobody opens the page on reads no topic and parses no event for it (its thread
        # would take CPU from the stream at every start and under load)
        self.feed.start()
        try:
            issues: list[Issue] | None
            issues, truncated = await self.all_open()
            problem = ""
        except Incomplete as exc:
            issues, truncated, problem = None, False, exc.detail
        return View(as_of=self.now(), open_issues=issues, problem=problem, truncated=truncated,
                    figures=self.feed.figures(), recent=self.feed.recent(), name=self.name,
                    worker=worker)


def problem(view: Any, status: int, error: str, detail: str) -> Any:
    return view.json({"error": error, "detail": detail}, status=status)


def _pairs(request: Any) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for k, v in request.query.items()]


def install(app: faust.App, *, store: IssueStore, owned: Callable[[], set[int]],
            ready: Callable[[], bool], now: Callable[[], datetime],
            rules: Callable[[], Ruleset], topics: Topics, partitions: int, changelog: str,
            kafka_config: dict[str, Any]) -> Web:
    """Register ``/``, ``/api/issues`` and ``/api/issues/{issue_id}`` on the app's web port
    (the page's topic reader starts at the page's first request)."""
    def members() -> dict[str, set[int]]:
        assignor: Any = app.assignor
        return {str(url): set(tps.get(changelog, ()))
                for url, tps in assignor.tables_metadata().items()}

    self_url = str(app.conf.canonical_url)
    cluster = Cluster(self_url=self_url, partitions=partitions, members=members)
    feed = Feed(kafka_config, topics, now,
                lambda: list(rules().registry.departments))
    web = Web(store=store, owned=owned, ready=ready, now=now, rules=rules, cluster=cluster,
              feed=feed)

    @app.page("/api/issues")
    class Issues(faust.web.View):
        async def get(self, request: Any) -> Any:
            try:
                query = parse_query(_pairs(request))
            except BadQuery as exc:
                return problem(self, 400, "bad_parameter", str(exc))
            if request.query.get("scope") == "local":
                mine = web.local_answer(query)
                if mine is None:
                    return problem(self, 503, "not_ready", "this worker is not ready")
                return self.json(mine.to_json())
            try:
                items, cursor, total, parts = await web.page(query)
            except Incomplete as exc:
                return problem(self, 503, "incomplete", exc.detail)
            return self.json({"items": [i.model_dump(mode="json") for i in items],
                              "total": total, "next_cursor": cursor,
                              "as_of": now().isoformat(), "partitions": parts})

    @app.page("/api/issues/{issue_id}")
    class OneIssue(faust.web.View):
        async def get(self, request: Any, issue_id: str) -> Any:
            extra = [k for k in request.query if k != "scope"]
            if extra:
                return problem(self, 400, "bad_parameter",
                               f"{extra[0]}: unknown parameter; this path takes none")
            if request.query.get("scope") == "local":
                mine = web.local_lookup(issue_id)
                if mine is None:
                    return problem(self, 503, "not_ready", "this worker is not ready")
                return self.json(mine.to_json())
            try:
                found = await cluster.issue(issue_id, lambda: web.local_lookup(issue_id))
            except Incomplete as exc:
                return problem(self, 503, "incomplete", exc.detail)
            if found.issue is None:
                why = ("it closed and its state retired from the table after the retention "
                       "window (WHISTLE_RETAIN_CLOSED); its closure is on issues.closed"
                       if found.retired else "no issue with this id is held by any worker")
                return problem(self, 404, "not_found", why)
            return self.json(found.issue.model_dump(mode="json"))

    @app.page("/")
    class Operator(faust.web.View):
        async def get(self, request: Any) -> Any:
            shown = await web.view(self_url)
            if request.query.get("part") == "main":
                return self.html(render_main(shown))
            return self.html(render_page(shown))

    return web
