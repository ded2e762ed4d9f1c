"""The Whistle dashboard as code: writes ``dashboards/whistle.json``.

    .venv/bin/python infra/grafana/generate.py          # rewrite the JSON
    .venv/bin/python infra/grafana/generate.py --check  # exit 1 if the JSON is out of date

Built with grafana-foundation-sdk. Queries read the recording rules of
``infra/prometheus/rules/recording.yml`` where a rate is assessed (report, response, on-time,
satisfaction, local resolution, whistle rates) and the engine's raw metrics elsewhere;
``tests/test_infra.py`` checks every metric name here against what the engine exports.
The window variable picks the recorded window (1h, 1d, 30d).
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, stat, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.builders.common import (
    ReduceDataOptions,
    StackingConfig,
    VizLegendOptions,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    BigValueTextMode,
    LegendDisplayMode,
    LegendPlacement,
    StackingMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableOption,
)

PanelBuilder = timeseries.Panel | bargauge.Panel | stat.Panel

OUT = Path(__file__).resolve().parent / "dashboards" / "whistle.json"

# The provisioned data source (provisioning/datasources/prometheus.yml).
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
WINDOWS = ("1h", "1d", "30d")
REPORT_TARGET = 0.9  # the alert's target (rules/alerts.yml, WhistleReportRateBelowTarget)


def query(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> prom.Dataquery:
    q = prom.Dataquery().expr(expr).ref_id(ref).legend_format(legend or "__auto")
    return q.instant() if instant else q.range()


def rate_thresholds(target: float) -> dash.ThresholdsConfig:
    return dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([
        Threshold(value=None, color="red"),
        Threshold(value=target, color="green"),
    ])


def plain_thresholds() -> dash.ThresholdsConfig:
    return dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(value=None, color="green")])


def series(title: str, description: str, *queries: prom.Dataquery, unit: str = "short",
           span: int = 12, stacked: bool = False) -> timeseries.Panel:
    panel = (
        timeseries.Panel().title(title).description(description).datasource(DATASOURCE)
        .targets(list(queries)).unit(unit).span(span).height(8).fill_opacity(10)
        .legend(VizLegendOptions().display_mode(LegendDisplayMode.LIST)
                .placement(LegendPlacement.BOTTOM).show_legend(True))
    )
    if stacked:
        panel = panel.stacking(StackingConfig().mode(StackingMode.NORMAL))
    return panel


def bars(title: str, description: str, *queries: prom.Dataquery, unit: str = "short",
         span: int = 12, target: float | None = None) -> bargauge.Panel:
    panel = (
        bargauge.Panel().title(title).description(description).datasource(DATASOURCE)
        .targets(list(queries)).unit(unit).span(span).height(8)
        .orientation(VizOrientation.HORIZONTAL).display_mode(BarGaugeDisplayMode.BASIC)
        .min(0).reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if target is not None:
        panel = panel.max(1).thresholds(rate_thresholds(target))
    else:
        panel = panel.thresholds(plain_thresholds())
    return panel


def single(title: str, description: str, q: prom.Dataquery, unit: str = "percentunit",
           span: int = 6, height: int = 5,
           text_mode: BigValueTextMode = BigValueTextMode.VALUE) -> stat.Panel:
    return (
        stat.Panel().title(title).description(description).datasource(DATASOURCE)
        .with_target(q).unit(unit).span(span).height(height).graph_mode(BigValueGraphMode.NONE)
        .color_mode(BigValueColorMode.NONE).text_mode(text_mode).thresholds(plain_thresholds())
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def build() -> dash.Dashboard:
    ids = itertools.count(1)

    def panel(d: dash.Dashboard, p: PanelBuilder) -> dash.Dashboard:
        return d.with_panel(p.id(next(ids)))

    def row(d: dash.Dashboard, title: str) -> dash.Dashboard:
        return d.with_row(dash.Row(title).id(next(ids)))

    window = (
        dash.CustomVariable("window").label("Window").values(",".join(WINDOWS))
        .current(VariableOption(selected=True, text="1d", value="1d"))
        .description("The recording rules' window for the assessed rates.")
    )
    d = (
        dash.Dashboard("Whistle").uid("whistle").tags(["whistle"]).timezone("browser")
        .time("now-24h", "now").refresh("1m").tooltip(DashboardCursorSync.CROSSHAIR)
        .editable().with_variable(window)
        .description("Whistle (吹哨报到): issues, escalations, assessed rates, engine health.")
    )

    # --- issues ---------------------------------------------------------------------------------
    d = row(d, "Issues")
    d = panel(d, series(
        "Open issues by level",
        "Open issues by the level holding them, summed over the workers (each reports the "
        "partitions it owns).",
        query("sum by (level) (whistle_open_issues)", "{{level}}"),
        span=8, stacked=True))
    d = panel(d, series(
        "Raised vs closed (per hour)",
        "Issues raised, and closed by outcome (resolved, withdrawn), per hour.",
        query("sum(rate(whistle_issues_raised_total[$__rate_interval])) * 3600", "raised"),
        query("sum by (outcome) (rate(whistle_issues_closed_total[$__rate_interval])) * 3600",
              "closed {{outcome}}", ref="B"),
        span=8))
    d = panel(d, bars(
        "Escalation funnel (time range)",
        "Issues raised, then escalations into each level over the dashboard's time range. "
        "Rules whose ladder starts above the grid put issues straight into a higher level "
        "(no escalation), and an issue can be escalated more than once, so this is a flow, "
        "not a cohort.",
        query("sum(increase(whistle_issues_raised_total[$__range]))", "raised", instant=True),
        query('sum(increase(whistle_escalations_total{to_level="village"}[$__range]))',
              "→ village", ref="B", instant=True),
        query('sum(increase(whistle_escalations_total{to_level="street"}[$__range]))',
              "→ street", ref="C", instant=True),
        query('sum(increase(whistle_escalations_total{to_level="department"}[$__range]))',
              "→ department", ref="D", instant=True),
        span=8))
    d = panel(d, bars(
        "Issues raised by street ($window)",
        "whistle:issues_raised:increase_$window.",
        query("sort_desc(whistle:issues_raised:increase_$window)", "{{street}}", instant=True),
        span=12))
    d = panel(d, bars(
        "Escalations by reason ($window)",
        "Why issues moved up: a blown whistle, a missed respond or resolve limit, or too many "
        "reopens.",
        query("sort_desc(sum by (reason) (increase(whistle_escalations_total[$window])))",
              "{{reason}}", instant=True),
        span=12))

    # --- assessed rates -------------------------------------------------------------------------
    d = row(d, "Assessed rates ($window)")
    d = panel(d, bars(
        "Report rate by department ($window)",
        "Department reports (报到) on time / all (on time, late, missed): "
        f"whistle:report_rate:ratio_$window. Red under the {REPORT_TARGET:.0%} target.",
        query("sort(whistle:report_rate:ratio_$window)", "{{department}}", instant=True),
        unit="percentunit", span=12, target=REPORT_TARGET))
    d = panel(d, series(
        "Report rate by department (1d, over time)",
        "whistle:report_rate:ratio_1d: the figure the report-rate alert watches.",
        query("whistle:report_rate:ratio_1d", "{{department}}"),
        unit="percentunit", span=12))
    for title, record, description in (
        ("Response rate by street", "response_rate_by_street",
         "Responses on time / all (on time, late, missed), all levels."),
        ("On-time resolution rate by street", "on_time_resolution_rate_by_street",
         "Resolved with no missed limit anywhere on the path / resolved."),
        ("Satisfaction rate by street", "satisfaction_rate_by_street",
         "Satisfied ratings / all ratings (an unsatisfied rating reopens the issue)."),
    ):
        d = panel(d, bars(
            f"{title} ($window)", f"whistle:{record}:ratio_$window. {description}",
            query(f"sort(whistle:{record}:ratio_$window)", "{{street}}", instant=True),
            unit="percentunit", span=8, target=REPORT_TARGET))
    d = panel(d, bars(
        "Local resolution rate by street ($window)",
        "whistle:local_resolution_rate_by_street:ratio_$window. Resolved at grid or village / "
        "all resolved.",
        query("sort(whistle:local_resolution_rate_by_street:ratio_$window)", "{{street}}",
              instant=True),
        unit="percentunit", span=12))
    d = panel(d, bars(
        "Whistle rate by street ($window)",
        "whistle:whistle_rate_by_street:ratio_$window. Escalations for a blown whistle / issues "
        "raised: whistles per issue, not the share of issues whistled.",
        query("sort_desc(whistle:whistle_rate_by_street:ratio_$window)", "{{street}}",
              instant=True),
        unit="percentunit", span=12))
    d = panel(d, bars(
        "Response rate by level ($window)",
        "whistle:response_rate:ratio_$window, by the level that had to respond.",
        query("whistle:response_rate:ratio_$window", "{{level}}", instant=True),
        unit="percentunit", span=8, target=REPORT_TARGET))
    d = panel(d, bars(
        "On-time resolution rate by closing level ($window)",
        "whistle:on_time_resolution_rate_by_level:ratio_$window, by the level that resolved "
        "the issue.",
        query("whistle:on_time_resolution_rate_by_level:ratio_$window", "{{closed_level}}",
              instant=True),
        unit="percentunit", span=8, target=REPORT_TARGET))
    d = panel(d, bars(
        "Closed issues ($window)",
        "Closed issues by closing level and outcome.",
        query("sum by (closed_level, outcome) (whistle:issues_closed:increase_$window)",
              "{{closed_level}} {{outcome}}", instant=True),
        span=8))
    for title, record, description in (
        ("On-time resolution rate", "on_time_resolution_rate",
         "District: resolved with no missed limit / resolved."),
        ("Satisfaction rate", "satisfaction_rate", "District: satisfied ratings / all ratings."),
        ("Local resolution rate", "local_resolution_rate",
         "District: resolved at grid or village / all resolved."),
        ("Whistle rate", "whistle_rate",
         "District: escalations for a blown whistle / issues raised (whistles per issue)."),
    ):
        d = panel(d, single(
            f"{title} ($window)", f"whistle:{record}:ratio_$window. {description}",
            query(f"whistle:{record}:ratio_$window", title, instant=True)))

    # --- the three rates by unit, open overdue counted ----------------------------------------
    d = row(d, "The three rates by unit 三率 ($window, open overdue counted)")
    for title, record, description in (
        ("Response rate 响应率 by unit", "unit_response_rate",
         "Responses on time / (responses settled in the window + limits open overdue now); a "
         "department's response is its report (报到)."),
        ("Resolution rate 解决率 by unit", "unit_resolution_rate",
         "Resolved within the limit / (that + resolve limits missed in the window)."),
        ("Satisfaction rate 满意率 by unit", "unit_satisfaction_rate",
         "Satisfied ratings / (ratings in the window + resolutions open overdue now)."),
    ):
        d = panel(d, bars(
            f"{title} ($window)", f"whistle:{record}:ratio_$window. {description} A unit is a "
            "department, or a street for its grid, village and street holders.",
            query(f"sort(whistle:{record}:ratio_$window)", "{{unit}}", instant=True),
            unit="percentunit", span=8, target=REPORT_TARGET))
    d = panel(d, bars(
        "Open overdue limits by unit (now)",
        "whistle_open_overdue_limits: limits already missed on issues not closed (a response "
        "not given, a report not made, a resolution not done), by kind and unit.",
        query("sort_desc(sum by (kind, unit) (whistle_open_overdue_limits) > 0)"
              " or sum by (kind) (whistle_open_overdue_limits)", "{{kind}} {{unit}}",
              instant=True),
        span=24))

    # --- the workflow moves: returns, extensions, urging and supervision, parking -------------
    d = row(d, "Workflow moves 退单 延期 督办 挂账 ($window)")
    for title, record, description in (
        ("Invalid-return rate 退单不合理率 by unit", "invalid_return_rate",
         "Returns rejected / returns requested in the window (whistle_returns_total)."),
        ("Overdue after extension 延期后仍超期 by unit", "overdue_after_extension_rate",
         "Approved extensions whose moved resolve limit passed all the same / extensions "
         "approved in the window (whistle_extensions_total)."),
    ):
        d = panel(d, bars(
            f"{title} ($window)", f"whistle:{record}:ratio_$window. {description} Lower is "
            "better; the unit is the returning or extending unit's registry id.",
            query(f"sort_desc(whistle:{record}:ratio_$window)", "{{unit}}", instant=True),
            unit="percentunit", span=12))
    d = panel(d, series(
        "Urgings 催办 by step (per hour)",
        "whistle_urgings_total: urging steps sent, by the step of the rule's urging ladder (the "
        "supervise step included).",
        query("sum by (step) (rate(whistle_urgings_total[$__rate_interval])) * 3600",
              "step {{step}}"),
        span=8, stacked=True))
    d = panel(d, bars(
        "Supervision cases 督办 by unit ($window)",
        "whistle_supervisions_total: issues that reached the supervise step, by the unit "
        "supervised.",
        query("sort_desc(sum by (unit) (increase(whistle_supervisions_total[$window])) > 0)",
              "{{unit}}", instant=True),
        span=8))
    d = panel(d, bars(
        "Parked issues 挂账 by unit (now)",
        "whistle_parked_issues: issues parked now, by the unit holding them.",
        query("sort_desc(sum by (unit) (whistle_parked_issues) > 0)", "{{unit}}",
              instant=True),
        span=8))

    # --- overdue work ---------------------------------------------------------------------------
    d = row(d, "Overdue work")
    d = panel(d, series(
        "Missed limits by kind and level (per hour)",
        "Respond, resolve, report and progress limits missed, by the level holding the issue.",
        query("sum by (kind, level) (rate(whistle_deadlines_missed_total[$__rate_interval]))"
              " * 3600", "{{kind}} @ {{level}}"),
        span=8, stacked=True))
    d = panel(d, series(
        "Pre-breach warnings by kind and level (per hour)",
        "Warnings sent at the rules' warn_at point of a limit.",
        query("sum by (kind, level) (rate(whistle_deadline_warnings_total[$__rate_interval]))"
              " * 3600", "{{kind}} @ {{level}}"),
        span=8, stacked=True))
    d = panel(d, bars(
        "Missed limits ($window)",
        "Limits missed in the window, by kind and level.",
        query("sort_desc(sum by (kind, level) (increase(whistle_deadlines_missed_total[$window])))",
              "{{kind}} @ {{level}}", instant=True),
        span=8))

    # --- engine health --------------------------------------------------------------------------
    d = row(d, "Engine health")
    d = panel(d, single(
        "Workers up", "Workers Prometheus scrapes successfully (job whistle).",
        query('sum(up{job="whistle"})', "up", instant=True), unit="none", height=8))
    d = panel(d, single(
        "Rules version", "The rules version in force on each worker (whistle_rules_info).",
        query("count by (version) (whistle_rules_info)", "{{version}}", instant=True),
        unit="none", height=8, text_mode=BigValueTextMode.NAME))
    d = panel(d, series(
        "Rules reloads (per hour)", "Rule file reloads by result; a failure keeps the old rules.",
        query("sum by (result) (rate(whistle_rules_reloads_total[$__rate_interval])) * 3600",
              "{{result}}"),
        span=12))
    d = panel(d, series(
        "Deadline lag p99",
        "Deadline due → its event emitted, 99th percentile per worker (alert above 1s).",
        query("histogram_quantile(0.99, sum by (instance, le) "
              "(rate(whistle_timer_lag_seconds_bucket[$__rate_interval])))", "{{instance}}"),
        unit="s", span=8))
    d = panel(d, series(
        "Inbound events by result (/s)",
        "accepted, duplicate (seen before), stale (did not fit the issue's state), rejected.",
        query("sum by (result) (rate(whistle_events_total[$__rate_interval]))", "{{result}}"),
        span=8, stacked=True))
    d = panel(d, series(
        "Rejected events by reason (/s)",
        "Messages sent to issues.rejected: invalid JSON or data, unknown grid, ...",
        query("sum by (reason) (rate(whistle_events_rejected_total[$__rate_interval]))",
              "{{reason}}"),
        span=8))
    d = panel(d, series(
        "Consumer lag by topic (Faust)",
        "End offset - committed offset per partition, as last seen by the workers "
        "(Faust's sensor; the latest value over workers, as partitions move on rebalance).",
        query("sum by (topic) (max by (topic, partition) (faust_topic_partition_end_offset)"
              " - max by (topic, partition) (faust_topic_partition_offset_commited))",
              "{{topic}}"),
        span=12))
    d = panel(d, series(
        "Batch time p99",
        "Per worker, 99th percentile: deciding a batch, and delivering its records (the batch "
        "is committed only after delivery; see README, Delivery).",
        query("histogram_quantile(0.99, sum by (instance, le) "
              "(rate(whistle_batch_processing_seconds_bucket[$__rate_interval])))",
              "decide {{instance}}"),
        query("histogram_quantile(0.99, sum by (instance, le) "
              "(rate(whistle_batch_delivery_seconds_bucket[$__rate_interval])))",
              "deliver {{instance}}"),
        unit="s", span=12))
    return d


def render() -> str:
    return json.dumps(build().build(), cls=JSONEncoder, indent=2, sort_keys=True,
                      ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not OUT.exists() or OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
