"""``whistle report --broker``: the closed topic read from a real (embedded Tansu) broker from
the beginning, with no consumer group, until it is idle; redeliveries count once."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.agents.broker import EmbeddedBroker
from engine.agents.processor import Topics
from engine.cli import main
from engine.report.csvout import render_csv
from engine.report.figures import assess, dedupe
from engine.report.names import load_names
from engine.report.period import ReportInputError
from engine.report.rates import assess_rates
from engine.report.readers import read_broker
from engine.report.workflow import assess_moves
from tests.test_report import END, MIXED, START
from tests.test_report_browser import LIFECYCLE
from tests.test_report_moves import urged
from tests.test_report_rates import read

# an urging step and a supervision case for the traffic police, on the lifecycle topic too
URGED = [urged("XS-OPEN", 1, "traffic_police", "department"),
         urged("XS-OPEN", 2, "traffic_police", "department", supervise=True)]

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(log_file=tmp_path_factory.mktemp("broker") / "tansu.log") as b:
        yield b


def publish(broker: EmbeddedBroker, topic: str, events: list[dict[str, object]]) -> None:
    from kafka import KafkaProducer
    from kafka.admin import KafkaAdminClient, NewTopic

    admin = KafkaAdminClient(bootstrap_servers=[broker.url])
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=[broker.url], acks="all")
    for e in events:
        producer.send(topic, key=str(e["subject"]).encode(), value=json.dumps(e).encode())
    producer.flush()
    producer.close()


def test_report_from_the_broker_equals_the_report_from_the_events(
    broker: EmbeddedBroker, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WHISTLE_RULES", raising=False)
    prefix = f"rep-{uuid.uuid4().hex[:8]}."
    publish(broker, Topics.with_prefix(prefix).closed, MIXED)
    # the lifecycle topic: overdue events (one redelivered), and the closures again (the
    # engine writes issue.closed to both topics; read from the closed topic only)
    publish(broker, Topics.with_prefix(prefix).lifecycle,
            [*LIFECYCLE, LIFECYCLE[0], *MIXED[:3], *URGED, URGED[1]])
    # another lane's closures on the default topic name must not leak in
    publish(broker, f"other-{prefix}issues.closed", MIXED[:2])

    got = read_broker({"bootstrap_servers": [broker.url]}, Topics.with_prefix(prefix).closed,
                      idle_seconds=2)
    assert sorted(e.id for e in got.events) == sorted(str(e["id"]) for e in MIXED)

    assert main(["report", "--from", "2026-11-01", "--to", "2026-12-01", "--broker", broker.url,
                 "--topic-prefix", prefix, "--idle-seconds", "2", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    names = load_names(Path(__file__).resolve().parent.parent / "engine" / "sample" / "xishan")
    kw = {"departments": list(names.departments), "streets": list(names.streets),
          "territory": names.territory}
    rates = assess_rates(dedupe(MIXED)[0], [read(e) for e in LIFECYCLE], START, END, **kw)
    moves = assess_moves(dedupe(MIXED)[0], [read(e) for e in URGED], START, END, **kw)
    expected = render_csv(assess(MIXED, START, END, departments=list(names.departments),
                                 streets=list(names.streets)), names, rates, moves)
    assert out == expected
    rows = list(csv.DictReader(io.StringIO(out)))
    total = next(r for r in rows if r["section"] == "street" and r["id"] == "*")
    assert (total["closed"], total["satisfaction_rate"]) == ("5", "66.7%")
    # the open issue overdue at a grid of 东亭 counts against 东亭 once
    assert (total["unit_responses_open_overdue"], total["response_rate"]) == ("1", "0.0%")
    tp = next(r for r in rows if r["section"] == "department" and r["id"] == "traffic_police")
    assert (tp["urgings"], tp["urgings_step_2"], tp["supervision_cases"]) == ("2", "1", "1")


def test_a_missing_topic_is_a_clear_error(broker: EmbeddedBroker) -> None:
    topic = f"missing-{uuid.uuid4().hex[:8]}.issues.closed"
    with pytest.raises(ReportInputError, match=f"topic {topic} not found"):
        read_broker({"bootstrap_servers": [broker.url]}, topic, idle_seconds=1,
                    connect_seconds=2)
