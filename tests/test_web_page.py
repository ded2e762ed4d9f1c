"""The operator page's HTML without a browser: every value from the events is escaped, names
come from the registry, overdue issues come first, and the report rows are the report's own
figures (``engine.report.figures.assess``)."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

from engine.report.figures import assess
from engine.web.feed import Figures, day_of, month_of
from engine.web.issues import view
from engine.web.page import View, render_page
from tests.factories import T0, registry
from tests.test_report import A, B
from tests.test_web_api import state

EVIL = '<script>alert("x")</script>'


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts = 0
        self.rows: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts += 1
        a = dict(attrs)
        if tag in ("tr", "li") and a.get("data-section") in ("issue", "event"):
            self.rows.append(a)


def test_the_page_escapes_event_fields_and_puts_overdue_first() -> None:
    now = T0 + timedelta(minutes=45)
    calm = state("XS-2", at=now - timedelta(minutes=1))
    late = state("XS-1")  # respond limit 30 m: overdue at 45 m
    names = registry()
    day, month = day_of(now), month_of(now)
    figures = Figures(today=assess([A, B], *day), month=assess([A, B], *month),
                      closures_read=2, events_read=1, reading=True)
    html = render_page(View(
        as_of=now, open_issues=[view(0, calm, now), view(1, late, now)], problem="",
        truncated=False, figures=figures, name=names.name_of, worker="http://w",
        recent=[{"type": "issue.warning", "subject": EVIL, "time": now.isoformat(),
                 "data": {"kind": EVIL, "unit": "jinan-g1", "due": now.isoformat(),
                          "level": "grid", "rule": EVIL}}],
    ))
    assert EVIL not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    tags = Tags()
    tags.feed(html)
    assert tags.scripts == 1  # the page's own, nothing injected
    issues = [r for r in tags.rows if r.get("data-section") == "issue"]
    assert [(r["data-id"], r["data-overdue"]) for r in issues] == [("XS-1", "true"),
                                                                 ("XS-2", "false")]
    assert [r["data-id"] for r in tags.rows if r.get("data-section") == "event"] == [EVIL]
    assert "锦安社区第一网格" in html and "东亭街道" in html


def test_an_incomplete_answer_is_said_not_hidden() -> None:
    now = T0
    empty = assess([], *day_of(now))
    html = render_page(View(as_of=now, open_issues=None, problem="partitions [2] did not "
                            "answer", truncated=False,
                            figures=Figures(empty, assess([], *month_of(now)), 0, 0, False),
                            recent=[], name=str, worker="http://w"))
    assert 'id="open-problem"' in html and "partitions [2] did not answer" in html
    assert "the reader is not connected yet" in html
