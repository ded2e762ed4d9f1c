"""The engine's Prometheus metrics, on an injected registry (see docs/contract.md, "Metrics").

The core decides what to count (``Decision.counts``); this module only applies those counts, so
a redelivered event, which the core answers as a duplicate with no counts, is never counted
twice. Open issues are a gauge per level summed over the partitions this worker owns, recomputed
from the table after every rebalance, so ``sum()`` across workers is right.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any, get_args

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client import Counter as PromCounter

from engine.domain.decision import Count
from engine.domain.events import (
    ClaimantKind,
    IssueClosed,
    IssueEscalated,
    IssueOverdue,
    IssueReopened,
    ReporterKind,
)
from engine.domain.overdue import Unit, open_overdue, unit_of
from engine.domain.parse import REJECTION_REASONS
from engine.domain.ruleset import LEVELS, OrgRegistry, PointRule
from engine.domain.state import IssueState

RESOLUTION_BUCKETS = (
    600, 1800, 3600, 4 * 3600, 8 * 3600, 86400, 3 * 86400, 7 * 86400, 30 * 86400, 90 * 86400,
)
PARKED_BUCKETS = tuple(d * 86400 for d in (1, 7, 14, 30, 60, 90, 180, 365))
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
HELD_STATUSES = ("open", "resolved", "closed", "retired")
# The three rates (三率) by unit: a unit is a department, or a street for the limits of its grid,
# village and street holders (bounded: the registry's ids, never an issue's or a person's).
UNIT_KINDS = ("respond", "report", "resolve")
RATINGS = "whistle_unit_ratings_total"


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry

        def counter(name: str, doc: str, *labels: str) -> PromCounter:
            return PromCounter(name.removesuffix("_total"), doc, labels, registry=r)

        self.families: dict[str, PromCounter | Histogram] = {
            "whistle_issues_raised_total": counter(
                "whistle_issues_raised_total", "Issues raised.", "street", "category"),
            "whistle_escalations_total": counter(
                "whistle_escalations_total", "Issues moved up a level.",
                "from_level", "to_level", "reason", "street"),
            "whistle_responses_total": counter(
                "whistle_responses_total", "Responses by holding units, by outcome.",
                "level", "outcome", "street"),
            "whistle_report_outcomes_total": counter(
                "whistle_report_outcomes_total",
                "Department reports (报到) by outcome: the report rate.", "department", "outcome"),
            "whistle_deadline_warnings_total": counter(
                "whistle_deadline_warnings_total", "Pre-breach warnings.", "kind", "level"),
            "whistle_deadlines_missed_total": counter(
                "whistle_deadlines_missed_total", "Limits missed.", "kind", "level"),
            "whistle_issues_closed_total": counter(
                "whistle_issues_closed_total", "Issues closed.",
                "closed_level", "outcome", "on_time", "street"),
            "whistle_ratings_total": counter(
                "whistle_ratings_total", "Residents' ratings.", "satisfied", "street"),
            "whistle_claims_total": counter(
                "whistle_claims_total", "Claims (认领) by claimant kind and what became of them "
                "(claimed; then released, expired, or held at closure).", "kind", "outcome"),
            "whistle_points_awarded_total": counter(
                "whistle_points_awarded_total", "Points awarded, by person kind and point rule.",
                "kind", "rule"),
            "whistle_points_reversed_total": counter(
                "whistle_points_reversed_total", "Points reversed (reopened or withdrawn), by "
                "person kind and point rule.", "kind", "rule"),
            "whistle_returns_total": counter(
                "whistle_returns_total",
                "Returns (退单) by the returning unit: requested, accepted, rejected (the "
                "invalid-return rate is rejected / requested).", "unit", "stage"),
            "whistle_extensions_total": counter(
                "whistle_extensions_total",
                "Extensions (延期) of a unit's resolve limit: requested, approved, rejected, "
                "missed (overdue even after the extension).", "unit", "stage"),
            "whistle_issue_resolution_seconds": Histogram(
                "whistle_issue_resolution_seconds", "Raised to closed, for resolved issues.",
                ["closed_level"], buckets=RESOLUTION_BUCKETS, registry=r),
            # supervision and parking (engine.domain.urging, engine.domain.parking)
            "whistle_urgings_total": counter(
                "whistle_urgings_total", "Urging steps (催办) sent, by the unit urged.",
                "unit", "step", "level"),
            "whistle_supervisions_total": counter(
                "whistle_supervisions_total", "Supervision cases (督办), by the unit supervised.",
                "unit", "level"),
            "whistle_parks_total": counter(
                "whistle_parks_total", "Park requests (挂账) decided, by the unit and decision.",
                "unit", "decision"),
            "whistle_parked_seconds": Histogram(
                "whistle_parked_seconds", "How long issues stayed parked (wall time), observed "
                "when they resume or close.", ["level"], buckets=PARKED_BUCKETS, registry=r),
        }
        self.events = counter(
            "whistle_events_total", "Inbound events by type and result.", "type", "result")
        self.rejected = counter(
            "whistle_events_rejected_total", "Inbound messages rejected, by reason.", "reason")
        self.timer_lag = Histogram(
            "whistle_timer_lag_seconds", "Deadline due to its event emitted.",
            buckets=LAG_BUCKETS, registry=r)
        self.open_issues = Gauge(
            "whistle_open_issues", "Open issues by level on this worker's partitions.",
            ["level"], registry=r)
        self.rules_reloads = counter(
            "whistle_rules_reloads_total", "Rule reloads by result (success, failure).", "result")
        self.delivery_failures = counter(
            "whistle_delivery_failures_total",
            "Batches whose records were not all delivered (each is sent again, or the worker "
            "stops without committing it).")
        self.beyond_data = counter(
            "whistle_deadlines_beyond_data_total",
            "Deadlines computed past a calendar's known holiday data (counted by law and "
            "estimated there; make-up working days unknown). The worker logs the warning once "
            "per calendar and years; this counts every one.")
        self.state_quarantined = counter(
            "whistle_state_quarantined_total",
            "Stored issue states this version cannot decode (kept as they are; the issue's "
            "events are rejected with reason state_quarantined).")
        self.batch_size = Histogram(
            "whistle_batch_messages", "Messages decided per batch.",
            buckets=(1, 5, 10, 50, 100, 250, 500, 1000), registry=r)
        self.batch_processing = Histogram(
            "whistle_batch_processing_seconds", "Deciding a batch and encoding its records.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)
        self.batch_seconds = Histogram(
            "whistle_batch_delivery_seconds", "From a batch's first send to its last delivery.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), registry=r)
        self.table_issues = Gauge(
            "whistle_table_issues",
            "Issues this worker holds in its table, by status (retired: closed long enough "
            "ago that only a marker is left; see WHISTLE_RETAIN_CLOSED).",
            ["status"], registry=r)
        self.open_overdue = Gauge(
            "whistle_open_overdue_limits",
            "Limits already missed on issues not yet closed (a response not given, a report "
            "not made, a resolution not done), by kind and unit (a department, or the street "
            "of a grid, village or street holder), on this worker's partitions.",
            ["kind", "unit"], registry=r)
        self.unit_resolutions = counter(
            "whistle_unit_resolutions_total",
            "Issues resolved by their holder, by unit and whether within the resolve limit "
            "(on_time) or after it (late).", "unit", "outcome")
        self.unit_limits_missed = counter(
            "whistle_unit_limits_missed_total",
            "Limits missed (issue.overdue: respond, report, resolve), by kind and unit.",
            "kind", "unit")
        self.unit_ratings = counter(
            "whistle_unit_ratings_total",
            "Residents' ratings of a unit's resolution: satisfied (the issue closed) or not "
            "(it was reopened, or climbed as reopened too often).", "unit", "satisfied")
        self.parked_issues = Gauge(
            "whistle_parked_issues", "Parked issues (挂账) by the unit holding them, on this "
            "worker's partitions.", ["unit"], registry=r)
        self.rules_info = Gauge(
            "whistle_rules_info", "The rules version in force (value 1).", ["version"], registry=r)
        self._children: dict[tuple[str, tuple[tuple[str, str], ...]], Any] = {}
        self._pending: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._histograms = {n for n, f in self.families.items() if isinstance(f, Histogram)}
        self._by_name: dict[str, Any] = {
            **self.families, "whistle_events_total": self.events,
            "whistle_unit_limits_missed_total": self.unit_limits_missed,
            "whistle_unit_ratings_total": self.unit_ratings,
            "whistle_unit_resolutions_total": self.unit_resolutions,
        }
        self._overdue_dirty: set[Unit] = set()
        for reason in REJECTION_REASONS:
            self.rejected.labels(reason=reason)
        for result in ("success", "failure"):
            self.rules_reloads.labels(result=result)
        self._open = PartitionGauge(self.open_issues, "level", LEVELS)
        self._held = PartitionGauge(self.table_issues, "status", HELD_STATUSES)
        self._overdue: dict[int, Counter[Unit]] = {}
        self._overdue_keys: set[Unit] = set()  # the gauge's series ever set above 0
        self._parked = PartitionGauge(self.parked_issues, "unit", ())

    def init_series(self, registry: OrgRegistry, categories: Iterable[str] = (),
                    point_rules: Iterable[PointRule] = ()) -> None:
        """Create every bounded label combination at 0 before anything happens.

        A series that first appears at its first increment makes Prometheus's ``increase()``
        extrapolate it differently from its siblings; series that all start at 0 in the same
        scrape keep ratios of increases exact (the report rate, response rate, ...).
        """
        f = self.families
        for kind in get_args(ClaimantKind):
            for outcome in ("claimed", "released", "expired", "held"):
                f["whistle_claims_total"].labels(kind=kind, outcome=outcome)
        for rule in point_rules:
            kinds = rule.kinds or (get_args(ClaimantKind) if rule.role == "claimant"
                                   else get_args(ReporterKind))
            for kind in kinds:
                f["whistle_points_awarded_total"].labels(kind=kind, rule=rule.id)
                if rule.on == "resolved":
                    f["whistle_points_reversed_total"].labels(kind=kind, rule=rule.id)
        outcomes = ("on_time", "late", "missed")
        for unit in (*registry.streets, *registry.departments):  # the usual holders
            self._parked.known(unit)
            for decision in ("approved", "rejected"):
                f["whistle_parks_total"].labels(unit=unit, decision=decision)
        for dept in registry.departments:
            for outcome in outcomes:
                f["whistle_report_outcomes_total"].labels(department=dept, outcome=outcome)
        # returns and extensions, for the units that hold issues longest (grids and villages
        # return too; their series start at their first count)
        for unit in (*registry.departments, *registry.streets):
            for stage in ("requested", "accepted", "rejected"):
                f["whistle_returns_total"].labels(unit=unit, stage=stage)
            for stage in ("requested", "approved", "rejected", "missed"):
                f["whistle_extensions_total"].labels(unit=unit, stage=stage)
        for level in LEVELS:
            for kind in ("respond", "resolve", "report", "progress"):
                f["whistle_deadlines_missed_total"].labels(kind=kind, level=level)
                f["whistle_deadline_warnings_total"].labels(kind=kind, level=level)
        for street in registry.streets:
            for category in categories:
                f["whistle_issues_raised_total"].labels(street=street, category=category)
            for satisfied in ("true", "false"):
                f["whistle_ratings_total"].labels(satisfied=satisfied, street=street)
            for level in LEVELS:
                for outcome in outcomes:
                    f["whistle_responses_total"].labels(level=level, outcome=outcome,
                                                        street=street)
                for outcome in ("resolved", "withdrawn"):
                    for on_time in ("true", "false"):
                        f["whistle_issues_closed_total"].labels(
                            closed_level=level, outcome=outcome, on_time=on_time, street=street)
                for to_level in LEVELS[LEVELS.index(level) + 1:]:
                    for reason in ("whistle", "respond_overdue", "resolve_overdue",
                                   "reopened_too_often"):
                        f["whistle_escalations_total"].labels(
                            from_level=level, to_level=to_level, reason=reason, street=street)

        for street in registry.streets:
            self._unit_series(street, ("respond", "resolve"))
        for dept in registry.departments:
            self._unit_series(dept, ("report", "resolve"))

    def _unit_series(self, unit: str, kinds: tuple[str, ...]) -> None:
        for kind in kinds:
            self.open_overdue.labels(kind=kind, unit=unit)
            self.unit_limits_missed.labels(kind=kind, unit=unit)
        for outcome in ("on_time", "late"):
            self.unit_resolutions.labels(unit=unit, outcome=outcome)
        for satisfied in ("true", "false"):
            self.unit_ratings.labels(unit=unit, satisfied=satisfied)

    def apply(self, counts: Iterable[Count]) -> None:
        """Add a decision's counts. Counter increments wait in ``_pending`` until ``flush`` (the
        end of the batch): a prometheus_client ``inc`` takes a lock and costs a microsecond or
        more, and a batch repeats the same few series hundreds of times."""
        pending = self._pending
        for c in counts:
            if c.family in self._histograms:
                self._child(c.family, c.labels).observe(c.value)
                continue
            key = (c.family, c.labels)
            pending[key] = pending.get(key, 0.0) + c.value

    def event(self, type_: str, result: str) -> None:
        key = ("whistle_events_total", (("type", type_), ("result", result)))
        self._pending[key] = self._pending.get(key, 0.0) + 1.0

    def _count(self, family: str, labels: tuple[tuple[str, str], ...]) -> None:
        key = (family, labels)
        self._pending[key] = self._pending.get(key, 0.0) + 1.0

    def _child(self, family: str, labels: tuple[tuple[str, str], ...]) -> Any:
        key = (family, labels)
        child = self._children.get(key)
        if child is None:  # prometheus_client's labels() costs ~10 us: look up once
            metric = self._by_name[family]
            child = self._children[key] = metric.labels(**dict(labels)) if labels else metric
        return child

    def flush(self) -> None:
        """Apply what the batch counted: each pending counter series once, and the gauges a
        decision moved set from their per-partition counts. The processor calls it when it
        finishes a batch, so a scrape sees whole batches."""
        pending, self._pending = self._pending, {}
        for (family, labels), value in pending.items():
            self._child(family, labels).inc(value)
        if self._overdue_dirty:
            self._overdue_flush()
        self._open.flush()
        self._held.flush()
        self._parked.flush()

    def reject(self, reason: str, type_: str = "unknown") -> None:
        """``type_``: the event's type when parsing got that far (bounded: known types only)."""
        self.rejected.labels(reason=reason).inc()
        self.events.labels(type=type_, result="rejected").inc()

    def set_rules_version(self, version: str) -> None:
        self.rules_info.clear()
        self.rules_info.labels(version=version).set(1)

    # --- open issues, and what the table holds -------------------------------------------------

    def open_moved(self, partition: int, before: str | None, after: str | None) -> None:
        """An issue on ``partition`` went from level ``before`` to ``after`` (None = not open)."""
        self._open.moved(partition, before, after)

    def open_set(self, partition: int, levels: Counter[str]) -> None:
        """The open issues of ``partition`` by level, counted from the table."""
        self._open.reset(partition, levels)

    def open_keep(self, partitions: set[int]) -> None:
        """After a rebalance: forget the partitions this worker no longer owns."""
        self._open.keep(partitions)
        self._held.keep(partitions)
        self._parked.keep(partitions)
        self._overdue = {p: c for p, c in self._overdue.items() if p in partitions}
        self._overdue_publish()

    # --- the three rates by unit: open overdue limits, resolutions, ratings ------------------

    def decided(self, partition: int, before: IssueState | None, after: IssueState,
                emitted: Iterable[object],
                overdue: tuple[tuple[Unit, ...], tuple[Unit, ...]] | None = None) -> None:
        """After a decision: the open overdue limits moved from ``before`` to ``after``; the
        limits missed and the ratings it emitted, and a resolution it made, counted by unit.
        ``overdue``: ``open_overdue`` of both, when the caller has them already."""
        if after is not before:
            was, now = overdue or (open_overdue(before), open_overdue(after))
            self._overdue_moved(partition, was, now)
        for e in emitted:
            if isinstance(e, IssueOverdue):
                d = e.data
                if d.kind in UNIT_KINDS:
                    self._count("whistle_unit_limits_missed_total", (
                        ("kind", d.kind), ("unit", unit_of(after, d.level, d.unit))))
            elif isinstance(e, IssueClosed):
                if e.data.satisfied is True:
                    unit = unit_of(after, e.data.closed_level, e.data.closed_units[0])
                    self._count(RATINGS, (("unit", unit), ("satisfied", "true")))
            elif isinstance(e, IssueReopened):
                unit = unit_of(after, e.data.level, e.data.units[0])
                self._count(RATINGS, (("unit", unit), ("satisfied", "false")))
            elif isinstance(e, IssueEscalated) and e.data.reason == "reopened_too_often":
                unit = unit_of(after, e.data.from_level, e.data.from_units[0])
                self._count(RATINGS, (("unit", unit), ("satisfied", "false")))
        if (after.status == "resolved" and before is not None and before.status == "open"
                and after.resolved_at is not None):
            holder = after.lead or after.units[0]
            outcome = "on_time" if after.resolved_at <= after.resolve_by else "late"
            self._count("whistle_unit_resolutions_total", (
                ("unit", unit_of(after, after.level, holder)), ("outcome", outcome)))

    def _overdue_moved(self, partition: int, was: tuple[Unit, ...], now: tuple[Unit, ...]
                       ) -> None:
        if was == now:
            return
        counts = self._overdue.get(partition)
        if counts is None:
            counts = self._overdue[partition] = Counter()
        delta: Counter[Unit] = Counter(now)
        delta.subtract(was)
        for key, n in delta.items():
            if n:
                counts[key] += n
                self._overdue_dirty.add(key)

    def _overdue_flush(self) -> None:
        """Set the gauge's series a batch moved from the per-partition counts."""
        dirty, self._overdue_dirty = self._overdue_dirty, set()
        for key in dirty:
            n = sum(counts[key] for counts in self._overdue.values())
            self.open_overdue.labels(kind=key[0], unit=key[1]).set(n)
            self._overdue_keys.add(key)

    def overdue_set(self, partition: int, limits: Iterable[tuple[Unit, ...]]) -> None:
        """The open overdue limits of ``partition``: each issue's in the table (``open_overdue``
        of its state, which a stored value's header holds)."""
        total: Counter[Unit] = Counter()
        for each in limits:
            total.update(each)
        self._overdue[partition] = total
        self._overdue_publish()

    def _overdue_publish(self) -> None:
        self._overdue_dirty.clear()  # every series is set from the counts here
        total: Counter[Unit] = Counter()
        for counts in self._overdue.values():
            total.update(counts)
        for kind, unit in self._overdue_keys - total.keys():
            self.open_overdue.labels(kind=kind, unit=unit).set(0)
        for (kind, unit), n in total.items():
            self.open_overdue.labels(kind=kind, unit=unit).set(n)
        self._overdue_keys = set(total)

    def held_moved(self, partition: int, before: str | None, after: str | None) -> None:
        """An issue of ``partition`` went from status ``before`` to ``after`` (None: absent)."""
        self._held.moved(partition, before, after)

    def held_set(self, partition: int, statuses: Counter[str]) -> None:
        """The issues of ``partition`` by status, counted from the table."""
        self._held.reset(partition, statuses)

    def parked_moved(self, partition: int, before: str | None, after: str | None) -> None:
        """An issue of ``partition`` parked by unit ``before`` is now parked by ``after``."""
        self._parked.moved(partition, before, after)

    def parked_set(self, partition: int, units: Counter[str]) -> None:
        """The parked issues of ``partition`` by unit, counted from the table."""
        self._parked.reset(partition, units)


class PartitionGauge:
    """A gauge by one label, summed over the partitions this worker owns: moved by inc/dec as
    decisions change issues, set per partition from a scan of the table, and the partitions
    given away after a rebalance dropped, so ``sum()`` across workers is right."""

    def __init__(self, gauge: Gauge, label: str, values: Iterable[str]) -> None:
        self._gauge, self._label = gauge, label
        self._children: dict[str, Any] = {}
        self._counts: dict[int, Counter[str]] = {}
        self._dirty: set[str] = set()  # values moved since the last flush
        for v in values:
            self.known(v)

    def known(self, value: str) -> Any:
        """The gauge's child for ``value``, made (at 0) the first time (values from a bounded
        set: levels, statuses, the registry's units)."""
        child = self._children.get(value)
        if child is None:
            child = self._children[value] = self._gauge.labels(**{self._label: value})
            child.set(0)
        return child

    def moved(self, partition: int, before: str | None, after: str | None) -> None:
        if before == after:
            return
        counts = self._counts.get(partition)
        if counts is None:
            counts = self._counts[partition] = Counter()
        if before is not None:
            counts[before] -= 1
            self._dirty.add(before)
        if after is not None:
            counts[after] += 1
            self._dirty.add(after)

    def flush(self) -> None:
        """Set the series ``moved`` changed since the last flush from the partitions' counts."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, set()
        for value in dirty:
            self.known(value).set(sum(c[value] for c in self._counts.values()))

    def reset(self, partition: int, counts: Counter[str]) -> None:
        self._counts[partition] = counts
        self._publish()

    def keep(self, partitions: set[int]) -> None:
        self._counts = {p: c for p, c in self._counts.items() if p in partitions}
        self._publish()

    def _publish(self) -> None:
        self._dirty.clear()  # every series is set from the counts here
        total: Counter[str] = Counter()
        for counts in self._counts.values():
            total.update(counts)
        for value in total:
            self.known(value)
        for value, child in self._children.items():
            child.set(total[value])
