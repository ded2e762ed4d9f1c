"""What the demo's live summary says, from the engine's own outputs only.

``Tally`` counts the lifecycle events of the demo's issues (each event id once: redeliveries
carry the same id); the department reports come from the engine's ``/metrics``
(``whistle_report_outcomes_total``: a report counts on time or late when it comes, missed when
its issue closes without it). Nothing here knows what the simulator meant to happen.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

LEVELS = ("grid", "village", "street", "department")
REPORT_OUTCOMES = ("on_time", "late", "missed")
_REPORTS = re.compile(
    r'^whistle_report_outcomes_total\{([^}]*)\} (\S+)$', re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def report_outcomes(metrics_text: str) -> dict[str, Counter[str]]:
    """department -> outcome -> count, from a Prometheus text exposition."""
    out: dict[str, Counter[str]] = {}
    for m in _REPORTS.finditer(metrics_text):
        labels = dict(_LABEL.findall(m.group(1)))
        value = int(float(m.group(2)))
        dept, outcome = labels.get("department", ""), labels.get("outcome", "")
        if value and dept and outcome in REPORT_OUTCOMES:
            out.setdefault(dept, Counter())[outcome] += value
    return out


@dataclass
class Tally:
    prefix: str
    counts: Counter[str] = field(default_factory=Counter)
    level: dict[str, str] = field(default_factory=dict)  # open issue -> its level
    seen: set[str] = field(default_factory=set)

    def observe(self, doc: dict[str, Any]) -> bool:
        """Count one lifecycle event; False if it is not the demo's or was seen before."""
        subject, event_id = str(doc.get("subject", "")), doc.get("id")
        if not subject.startswith(self.prefix) or not isinstance(event_id, str):
            return False
        if event_id in self.seen:
            return False
        self.seen.add(event_id)
        c, d = self.counts, doc.get("data") or {}
        kind = str(doc.get("type", "")).removeprefix("issue.")
        if kind == "assigned":
            if d.get("reason") == "raised":
                c["raised"] += 1
            self.level[subject] = str(d.get("level"))
        elif kind == "escalated":
            c[f"escalated:{d.get('reason')}"] += 1
        elif kind == "overdue":
            c[f"overdue:{d.get('kind')}"] += 1
        elif kind == "reopened":
            c["reopened"] += 1
        elif kind == "closed":
            self.level.pop(subject, None)
            c[f"closed:{d.get('outcome')}"] += 1
            if d.get("satisfied") is True:
                c["satisfied"] += 1
        return True

    def summary(self, elapsed: float, now: datetime, reports: dict[str, Counter[str]]) -> str:
        c = self.counts
        total = Counter[str]()
        for per in reports.values():
            total.update(per)
        escalated = sum(v for k, v in c.items() if k.startswith("escalated:"))
        levels = Counter(self.level.values())
        local = now.astimezone(ZoneInfo("Asia/Shanghai"))
        line = (
            f"[demo {int(elapsed):>3}s | Xishan {local:%a %m-%d %H:%M}] raised {c['raised']} | "
            f"whistles {c['escalated:whistle']} | escalated {escalated} (missed respond "
            f"{c['escalated:respond_overdue']}, resolve {c['escalated:resolve_overdue']}, "
            f"unsatisfied again {c['escalated:reopened_too_often']}) | department reports "
            f"on time {total['on_time']}, late {total['late']}, missed {total['missed']} | "
            f"reopened {c['reopened']} | closed {c['closed:resolved'] + c['closed:withdrawn']} "
            f"(satisfied {c['satisfied']}) | open "
            + " ".join(f"{lvl} {levels[lvl]}" for lvl in LEVELS)
        )
        return line + "\n" + report_rates(reports)


def report_rates(reports: dict[str, Counter[str]]) -> str:
    """Report rate by department: reports on time out of those decided so far."""
    parts = []
    for dept in sorted(reports):
        per = reports[dept]
        due = sum(per[o] for o in REPORT_OUTCOMES)
        if due:
            parts.append(f"{dept} {round(100 * per['on_time'] / due)}% ({per['on_time']}/{due})")
    return "    report rate (on time / decided): " + (", ".join(parts) or "none decided yet")
