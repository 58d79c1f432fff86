"""deploy/prometheus/alerts.rules.yml: alert rules on the metrics a live `alerts serve` exports.

Every rule names its severity and what to do; every metric (and every label value it matches
exactly) appears on the /metrics of a real `alerts serve` that has sent a message and
refused a webhook; and Prometheus's own promtool checks the rules and evaluates them on
series written for each situation (a stalled dispatcher, no scheduler, a wrong public
address...), each rule firing when it should, with its labels, and staying quiet on a
healthy service. The promtool tests skip where promtool is missing, unless
ALERTS_REQUIRE_PROMTOOL=1 (CI, which extracts it from Debian's prometheus package).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from alerts.sending.alert_reports import DELIVERY_STATES
from tests.support.paths import REPO
from tests.support.processes import clean_env, free_port, run_cli, start_cli, stop, wait_until

RULES = REPO / "deploy" / "prometheus" / "alerts.rules.yml"
SEVERITIES = {"critical", "warning"}
# PromQL words that are not metric names: operators, grouping keywords, special values.
KEYWORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "atan2", "inf", "nan",
}  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}")
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"')


def rules() -> list[dict[str, Any]]:
    """Every rule of every group, as the file gives it."""
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in document["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: identifiers that are not a function (followed by
    a parenthesis), a keyword, a label (inside braces or a grouping clause) or a string."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or match.group().lower() in KEYWORDS:
            continue
        if match.start() and (text[match.start() - 1].isdigit() or text[match.start() - 1] == "."):
            continue  # the exponent or unit of a number (1e3, 0.5)
        names.add(match.group())
    return names


def exact_label_values(expr: str) -> set[tuple[str, str, str]]:
    """(metric, label, value) for each value a selector matches exactly: `label="value"`, and
    each word of `label=~"a|b"` when the pattern is only words."""
    found = set()
    for selector in _SELECTOR.finditer(expr):
        metric, matchers = selector.groups()
        for label, operator, value in _MATCHER.findall(matchers):
            if operator == "=":
                found.add((metric, label, value))
            elif operator == "=~" and re.fullmatch(r"[A-Za-z0-9_]+(\|[A-Za-z0-9_]+)*", value):
                found.update((metric, label, word) for word in value.split("|"))
    return found


def test_the_tokenizer_finds_metric_names_and_only_them() -> None:
    expr = (
        'max without (instance) (delta(alerts_queue_depth{when="due"}[10m])) > 0\n'
        "and on (job) min without (instance) (alerts_heartbeat_age_seconds) > 1e3\n"
        "or absent(alerts_database_up) unless sum by (le) (rate(x_bucket[5m:30s])) > 0.5"
    )
    assert metric_names(expr) == {
        "alerts_queue_depth", "alerts_heartbeat_age_seconds", "alerts_database_up", "x_bucket",
    }  # fmt: skip
    assert exact_label_values('a{state=~"sent|failed", outcome!="ok", s=~"5.."} b{when="due"}') == {
        ("a", "state", "sent"), ("a", "state", "failed"), ("b", "when", "due"),
    }  # fmt: skip


def test_every_rule_says_how_bad_it_is_and_what_to_do() -> None:
    found = rules()
    assert len(found) >= 10
    names = [rule["alert"] for rule in found]
    assert len(names) == len(set(names)), "alert names repeat"
    for rule in found:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"Alerts[A-Z][A-Za-z]+", rule["alert"])
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]
        assert metric_names(rule["expr"]), rule["alert"]


def test_the_issue_s_situations_each_have_a_rule() -> None:
    by_metric: dict[str, set[str]] = {}
    for rule in rules():
        for name in metric_names(rule["expr"]):
            by_metric.setdefault(name, set()).add(rule["alert"])
    assert {"AlertsQueueGrowing", "AlertsDispatchStalled"} <= by_metric["alerts_queue_depth"]
    assert "AlertsDeliveryFailureRate" in by_metric["alerts_deliveries"]
    assert "AlertsNoticesMissed" in by_metric["alerts_scheduler_misfires_total"]
    assert "AlertsSchedulerWithoutLeader" in by_metric["alerts_heartbeat_age_seconds"]
    assert {"AlertsWebhookErrors", "AlertsWebhookRefused"} <= by_metric[
        "alerts_webhook_requests_total"
    ]


@pytest.fixture(scope="module")
def live_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, set[tuple]]]:
    """The samples of a real `alerts serve`'s /metrics, by name (each a set of label sets),
    after its worker sent an alert and its webhook refused an unsigned request."""
    from alerts.demo.run import DEMO_LAYER

    folder = tmp_path_factory.mktemp("live-metrics")
    outbox = folder / "outbox.jsonl"
    (folder / "alerts.toml").write_text(
        f'[database]\nurl = "sqlite:///{folder / "alerts.db"}"\n'
        f'[gateway]\nkind = "file"\nfile_path = "{outbox}"\n'
        "[dispatch]\nrate_per_second = 100\npoll_seconds = 0.05\n",
        encoding="utf-8",
    )
    env = clean_env(("ALERTS_", "TWILIO_"), ALERTS_OPERATOR="test-operator")
    for args in (
        ("zones", "import", str(DEMO_LAYER)),
        ("subscribers", "add", "+14185550101", "--zone", "Saint-Éloi"),
    ):
        done = run_cli(env, folder, *args)
        assert done.returncode == 0, done.stderr
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_cli(env, folder, "serve", "--port", str(port), log=folder / "serve.log")

    def healthy() -> bool:
        try:
            return httpx2.get(f"{base}/health", timeout=1).status_code == 200
        except httpx2.TransportError:
            return False

    try:
        assert wait_until(lambda: server.poll() is not None or healthy(), 60), "no /health"
        sent = run_cli(env, folder, "send", "--kind", "info", "--all", "--message", "Test", "--yes")
        assert sent.returncode == 0, sent.stderr
        assert wait_until(lambda: outbox.exists() and outbox.read_text().strip(), 30)
        refused = httpx2.post(f"{base}/sms/inbound", data={"Body": "x"}, timeout=5)
        assert refused.status_code == 403  # unsigned
        scrape = httpx2.get(f"{base}/metrics", timeout=5)
        assert scrape.status_code == 200
    finally:
        stop(server, timeout=60)
    samples: dict[str, set[tuple]] = {}
    for family in text_string_to_metric_families(scrape.text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, set()).add(labels)
    yield samples


def test_every_metric_the_rules_read_is_on_a_live_metrics_page(
    live_metrics: dict[str, set[tuple]],
) -> None:
    used = {name for rule in rules() for name in metric_names(rule["expr"])}
    assert used - set(live_metrics) == set()
    assert len(used) >= 8


def test_every_label_value_the_rules_match_is_on_a_live_metrics_page(
    live_metrics: dict[str, set[tuple]],
) -> None:
    wanted = {found for rule in rules() for found in exact_label_values(rule["expr"])}
    assert ("alerts_queue_depth", "when", "due") in wanted
    missing = {
        (metric, label, value)
        for metric, label, value in wanted
        if not any((label, value) in labels for labels in live_metrics.get(metric, set()))
    }
    assert missing == set()


def promtool() -> str:
    """promtool's path; skipped (or failed with ALERTS_REQUIRE_PROMTOOL=1) without it."""
    found = shutil.which("promtool")
    if found is None:
        reason = "promtool is not installed (it comes with Debian's prometheus package)"
        if os.environ.get("ALERTS_REQUIRE_PROMTOOL") == "1":
            pytest.fail(f"ALERTS_REQUIRE_PROMTOOL=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return found


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


# --- Situations: series as Prometheus would have scraped them, one sample a minute -------

JOB = {"job": "alerts", "instance": "127.0.0.1:8000"}
MINUTES = 60


def steady(value: float) -> str:
    return f"{value}+0x{MINUTES}"


def rising(per_minute: float, start: float = 0) -> str:
    return f"{start}+{per_minute}x{MINUTES}"


def series_name(metric: str, **labels: str) -> str:
    pairs = ", ".join(f'{key}="{value}"' for key, value in {**JOB, **labels}.items())
    return f"{metric}{{{pairs}}}"


def healthy() -> dict[str, str | None]:
    """A service sending steadily: a small queue replenished as fast as it drains, fresh
    heartbeats, a few planned notices, Twilio answering, webhooks signed."""
    series: dict[str, str | None] = {
        series_name("alerts_database_up"): steady(1),
        series_name("alerts_queue_depth", when="due"): steady(20),
        series_name("alerts_queue_depth", when="later"): steady(0),
        series_name("alerts_heartbeat_age_seconds", role="scheduler"): steady(5),
        series_name("alerts_heartbeat_age_seconds", role="worker"): steady(5),
        series_name("alerts_notices", status="scheduled"): steady(3),
        series_name("alerts_notices", status="missed"): steady(0),
        series_name("alerts_recurrences", status="active"): steady(1),
        series_name("alerts_scheduler_misfires_total"): steady(0),
        series_name("alerts_gateway_request_seconds_count", gateway="twilio", outcome="ok"): (
            rising(1800)
        ),
        series_name(
            "alerts_gateway_request_seconds_count", gateway="twilio", outcome="retryable"
        ): rising(10),
        series_name("alerts_webhook_requests_total", path="/sms/inbound", status="200"): (
            rising(20)
        ),
        series_name("alerts_webhook_requests_total", path="/sms/inbound", status="403"): (
            rising(1)
        ),
        series_name("alerts_webhook_requests_total", path="/sms/status", status="204"): (
            rising(30)
        ),
    }
    for state in DELIVERY_STATES:
        series[series_name("alerts_deliveries", state=state)] = steady(0)
    series[series_name("alerts_deliveries", state="queued")] = steady(20)
    series[series_name("alerts_deliveries", state="sending")] = steady(2)
    series[series_name("alerts_deliveries", state="sent")] = rising(30)
    return series


def deliveries(state: str) -> str:
    return series_name("alerts_deliveries", state=state)


def due() -> str:
    return series_name("alerts_queue_depth", when="due")


def webhook(path: str, status: str) -> str:
    return series_name("alerts_webhook_requests_total", path=path, status=status)


@dataclass
class Situation:
    """Series changed from the healthy ones, and at given minutes the alerts that fire
    (each as its labels beyond alertname and severity; an empty list: none fires)."""

    name: str
    changes: dict[str, str | None]
    expected: list[tuple[int, str, list[dict[str, str]]]] = field(default_factory=list)


ON_JOB = {"job": "alerts"}
DUE = {"job": "alerts", "when": "due"}

SITUATIONS = [
    Situation(
        "no /metrics scraped",
        {series_name("alerts_database_up"): None},
        [(3, "AlertsMetricsAbsent", []), (10, "AlertsMetricsAbsent", [{}])],
    ),
    Situation(
        "the database stops answering",
        {series_name("alerts_database_up"): "1x10 0x50"},
        [(12, "AlertsDatabaseDown", []), (15, "AlertsDatabaseDown", [ON_JOB])],
    ),
    Situation(
        "alerts queued faster than sent",
        {due(): rising(20), deliveries("queued"): rising(20)},
        [
            (15, "AlertsQueueGrowing", []),
            (30, "AlertsQueueGrowing", [DUE]),
            (30, "AlertsDispatchStalled", []),  # messages still go out
        ],
    ),
    Situation(
        "a burst queued at once, then sent",
        {due(): "0 3000-50x59", deliveries("queued"): "0 3000-50x59"},
        [(m, "AlertsQueueGrowing", []) for m in (5, 15, 25, 40)],
    ),
    Situation(
        "the workers stop sending at minute 20, alive",
        {deliveries("sent"): "0+30x20 600x40"},
        [
            (28, "AlertsDispatchStalled", []),
            (32, "AlertsDispatchStalled", [DUE]),
            (32, "AlertsNoDispatchWorker", []),
        ],
    ),
    Situation(
        "the workers die at minute 10",
        {
            series_name("alerts_heartbeat_age_seconds", role="worker"): "5x10 65+60x50",
            deliveries("sent"): "0+30x10 300x50",
        },
        [(11, "AlertsNoDispatchWorker", []), (14, "AlertsNoDispatchWorker", [DUE])],
    ),
    Situation(
        "no worker and nothing to send",
        {
            series_name("alerts_heartbeat_age_seconds", role="worker"): "Inf+0x60",
            due(): steady(0),
            deliveries("queued"): steady(0),
            deliveries("sent"): steady(100),
        },
        [(30, "AlertsNoDispatchWorker", []), (30, "AlertsDispatchStalled", [])],
    ),
    Situation(
        "one message in six fails",
        {deliveries("sent"): rising(100), deliveries("failed"): rising(20)},
        [(5, "AlertsDeliveryFailureRate", []), (20, "AlertsDeliveryFailureRate", [ON_JOB])],
    ),
    Situation(
        "three failures among three messages",
        {deliveries("sent"): steady(0), deliveries("failed"): "0x10 3x50"},
        [(30, "AlertsDeliveryFailureRate", [])],  # under the floor of 50 messages
    ),
    Situation(
        "Twilio refuses half the requests",
        {
            series_name(
                "alerts_gateway_request_seconds_count", gateway="twilio", outcome="other"
            ): rising(1800)
        },
        [(20, "AlertsGatewayErrors", [{**ON_JOB, "gateway": "twilio"}])],
    ),
    Situation(
        "deliveries end unknown",
        {deliveries("unknown"): "0x10 4x50"},
        [
            (9, "AlertsUncertainDeliveries", []),
            (12, "AlertsUncertainDeliveries", [{**ON_JOB, "state": "unknown"}]),
        ],
    ),
    Situation(
        "a notice is missed",
        {series_name("alerts_scheduler_misfires_total"): "0x10 1x50"},
        [(12, "AlertsNoticesMissed", [ON_JOB]), (45, "AlertsNoticesMissed", [])],
    ),
    Situation(
        "the scheduler stops at minute 10 with notices planned",
        {series_name("alerts_heartbeat_age_seconds", role="scheduler"): "5x10 70+60x50"},
        [
            (11, "AlertsSchedulerWithoutLeader", []),
            (15, "AlertsSchedulerWithoutLeader", [{**ON_JOB, "role": "scheduler"}]),
        ],
    ),
    Situation(
        "the scheduler stops with only a recurring alert",
        {
            series_name("alerts_heartbeat_age_seconds", role="scheduler"): "5x10 70+60x50",
            series_name("alerts_notices", status="scheduled"): steady(0),
        },
        [(15, "AlertsSchedulerWithoutLeader", [{**ON_JOB, "role": "scheduler"}])],
    ),
    Situation(
        "no scheduler and nothing planned",
        {
            series_name("alerts_heartbeat_age_seconds", role="scheduler"): "Inf+0x60",
            series_name("alerts_notices", status="scheduled"): steady(0),
            series_name("alerts_recurrences", status="active"): steady(0),
        },
        [(30, "AlertsSchedulerWithoutLeader", [])],
    ),
    Situation(
        "the inbound webhook crashes",
        {webhook("/sms/inbound", "500"): rising(2)},
        [(10, "AlertsWebhookErrors", [{**ON_JOB, "path": "/sms/inbound"}])],
    ),
    Situation(
        "a wrong public address: every Twilio request refused",
        {webhook("/sms/inbound", "200"): steady(0), webhook("/sms/inbound", "403"): rising(10)},
        [
            (10, "AlertsWebhookRefused", []),
            (30, "AlertsWebhookRefused", [{**ON_JOB, "path": "/sms/inbound"}]),
        ],
    ),
    Situation(
        "one unsigned request in a quiet night",
        {webhook("/sms/inbound", "200"): steady(0), webhook("/sms/inbound", "403"): "0x10 1x50"},
        [(m, "AlertsWebhookRefused", []) for m in (20, 30, 45)],
    ),
]


def _annotations(rule: dict[str, Any], labels: dict[str, str]) -> dict[str, str]:
    """The rule's annotations as Prometheus renders them (they use only {{ $labels.X }})."""
    rendered = {}
    for key, template in rule["annotations"].items():
        text = re.sub(r"\{\{\s*\$labels\.(\w+)\s*\}\}", lambda m: labels[m.group(1)], template)
        assert "{{" not in text, f"{rule['alert']}: a template this test cannot render"
        rendered[key] = text
    return rendered


def _promtool_test(situation: Situation, folder: Path) -> Path:
    """A `promtool test rules` file for this situation."""
    by_name = {rule["alert"]: rule for rule in rules()}
    series = {**healthy(), **situation.changes}
    checks = []
    for minute, name, alerts in situation.expected:
        rule = by_name[name]
        expected = []
        for labels in alerts:
            full = {**labels, "severity": rule["labels"]["severity"]}
            expected.append({"exp_labels": full, "exp_annotations": _annotations(rule, {**labels})})
        checks.append({"eval_time": f"{minute}m", "alertname": name, "exp_alerts": expected})
    document = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": situation.name,
                "interval": "1m",
                "input_series": [
                    {"series": name, "values": values}
                    for name, values in series.items()
                    if values is not None
                ],
                "alert_rule_test": checks,
            }
        ],
    }
    path = folder / "situation.test.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def _run_promtool_test(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("situation", SITUATIONS, ids=lambda situation: situation.name)
def test_each_rule_fires_in_its_situation_and_only_then(
    situation: Situation, tmp_path: Path
) -> None:
    result = _run_promtool_test(_promtool_test(situation, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_healthy_service_raises_no_alert(tmp_path: Path) -> None:
    quiet = Situation(
        "healthy", {}, [(minute, rule["alert"], []) for rule in rules() for minute in (5, 30, 55)]
    )
    result = _run_promtool_test(_promtool_test(quiet, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_situations_cover_every_rule_and_could_fail(tmp_path: Path) -> None:
    firing = {name for s in SITUATIONS for _, name, alerts in s.expected if alerts}
    assert firing == {rule["alert"] for rule in rules()}
    # An expectation that does not hold is reported as a failure.
    wrong = Situation("wrong", {}, [(30, "AlertsDispatchStalled", [DUE])])
    result = _run_promtool_test(_promtool_test(wrong, tmp_path))
    assert result.returncode != 0 and "AlertsDispatchStalled" in result.stdout + result.stderr
