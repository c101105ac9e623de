"""The operations pack of template.yaml: IAM, logs, access logs, dashboard, alarms, and their docs."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

from devtools.template import load_template, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
METRIC_UNITS = {"Count", "Seconds", "Milliseconds"}
SQS_POLLING_ACTIONS = {
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ChangeMessageVisibility",
}


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _render_sub(value: dict[str, Any]) -> str:
    """An ``Fn::Sub`` string with every ``${…}`` replaced by a placeholder (numbers stay numbers)."""
    text = value["Fn::Sub"]
    numeric = {"ConsolidationWindowSeconds", "MaxDelaySeconds"}
    return re.sub(r"\$\{([^}]+)\}", lambda m: "60" if m.group(1) in numeric else f"x-{m.group(1)}", text)


def _dashboard() -> dict[str, Any]:
    body = resources_of_type("AWS::CloudWatch::Dashboard")["OperationsDashboard"]["Properties"]
    rendered: dict[str, Any] = json.loads(_render_sub(body["DashboardBody"]))
    return rendered


def _alarms() -> dict[str, dict[str, Any]]:
    return {name: res["Properties"] for name, res in resources_of_type("AWS::CloudWatch::Alarm").items()}


def _documented_metrics() -> dict[str, dict[str, str]]:
    """The metric table of docs/operations.md: name -> its columns."""
    rows: dict[str, dict[str, str]] = {}
    for line in OPERATIONS_DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"`\w+`", cells[0]) and cells[1] in METRIC_UNITS:
            name = cells[0].strip("`")
            rows[name] = {"unit": cells[1], "dimensions": cells[2], "emitted_by": cells[3]}
    return rows


def _vitrine_metrics_of_the_dashboard() -> dict[str, set[str]]:
    """Metric name -> the dimension names the dashboard uses, for metrics of vitrine's namespace."""
    namespace = "x-MetricsNamespace"
    found: dict[str, set[str]] = {}
    for widget in _dashboard()["widgets"]:
        for entry in widget.get("properties", {}).get("metrics", []):
            if isinstance(entry[0], dict):
                search = re.search(r"\{([^}]*)\} MetricName=\"(\w+)\"", entry[0]["expression"])
                if search and search.group(1).split(",")[0] == namespace:
                    found[search.group(2)] = set(search.group(1).split(",")[1:])
            elif entry[0] == namespace:
                labels = [x for x in entry[2:] if isinstance(x, str)]
                found[entry[1]] = set(labels[0::2])
    return found


def _vitrine_metrics_of_the_alarms() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for props in _alarms().values():
        metrics = [props] + [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
        for metric in metrics:
            if metric.get("Namespace") == {"Ref": "MetricsNamespace"}:
                found[metric["MetricName"]] = {d["Name"] for d in metric.get("Dimensions", [])}
    return found


def test_the_sync_role_is_the_stacks_own_with_no_managed_policy():
    sync = resources_of_type("AWS::Serverless::Function")["SyncFunction"]["Properties"]
    assert sync["Role"] == {"Fn::GetAtt": ["SyncFunctionRole", "Arn"]}
    assert "Policies" not in sync, "with a Role, SAM silently ignores Policies"
    role = resources_of_type("AWS::IAM::Role")["SyncFunctionRole"]["Properties"]
    assert not role.get("ManagedPolicyArns"), "a managed policy would grant on every resource"


def test_the_sync_role_polls_only_the_sync_queue_and_never_scans():
    role = resources_of_type("AWS::IAM::Role")["SyncFunctionRole"]
    granted_on_queue: set[str] = set()
    for statement in _statements(role):
        actions = _actions(statement)
        assert "dynamodb:Scan" not in actions
        if any(a.startswith("sqs:") for a in actions):
            assert statement["Resource"] == {"Fn::GetAtt": ["SyncQueue", "Arn"]}
            granted_on_queue.update(actions)
        if statement["Resource"] == "*":
            assert all(a.startswith("xray:") for a in actions), "only X-Ray needs every resource"
    assert granted_on_queue >= SQS_POLLING_ACTIONS


def test_every_function_logs_to_its_stack_log_group_kept_for_the_retention_parameter():
    log_groups = resources_of_type("AWS::Logs::LogGroup")
    for name, res in resources_of_type("AWS::Serverless::Function").items():
        group = res["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    assert log_groups["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert load_template()["Parameters"]["LogRetentionDays"]["Default"] == 30


def test_the_api_access_log_is_json_naming_the_route_never_the_raw_path():
    setting = resources_of_type("AWS::Serverless::Api")["VitrineApi"]["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    line_format = setting["Format"]
    assert "$context.path" not in line_format, "the status push path carries its secret token"
    sample = json.loads(re.sub(r"\$context\.[\w.]+", "200", line_format))
    assert {"requestId", "ip", "status", "resourcePath"} <= set(sample)


def test_the_dashboard_body_is_json_with_a_widget_for_each_operating_question():
    titles = " | ".join(w["properties"].get("title", "") for w in _dashboard()["widgets"]).lower()
    for topic in (
        "webhooks accepted",
        "refused, by reason",
        "aviv calls by operation and result",
        "no-op skipped",
        "downloads caused",
        "sync lag",
        "dead-letter queue",
        "open problems",
        "reconcile runs",
        "errors and throttles",
    ):
        assert topic in titles, topic


def test_every_vitrine_metric_of_the_dashboard_and_alarms_is_in_the_operations_table():
    documented = _documented_metrics()
    used = {**_vitrine_metrics_of_the_dashboard(), **_vitrine_metrics_of_the_alarms()}
    assert used, "no vitrine metric found: the parsing above is broken"
    for name, dimensions in used.items():
        assert name in documented, f"{name} is on the dashboard or an alarm but not in docs/operations.md"
        documented_dimensions = {d.strip() for d in documented[name]["dimensions"].split(",")}
        assert dimensions == documented_dimensions, name


def test_metrics_documented_as_emitted_are_emitted_by_the_code():
    source = "\n".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "layers" / "vitrine").rglob("*.py")
    )
    for name, row in _documented_metrics().items():
        if "to add" in row["emitted_by"]:
            continue
        # ``Sync_sent`` is emitted as f"Sync_{outcome.status}" with the status "sent" elsewhere.
        prefix, _, suffix = name.partition("_")
        built = bool(suffix) and f"{prefix}_{{" in source and f'"{suffix}"' in source
        assert f'"{name}"' in source or built, f"{name} is not emitted"
        extra_dimensions = {d.strip() for d in row["dimensions"].split(",")} - {"service"}
        if extra_dimensions:
            # Emitted on its own, with its own dimensions, so they never attach to other metrics.
            call = re.search(rf'add_dimensioned_metric\(\s*"{name}",[^\n]*\n?[^\n]*', source)
            assert call, f"{name} has dimensions of its own but is not emitted by add_dimensioned_metric"
            for dimension in extra_dimensions:
                assert f'"{dimension}":' in call.group(0), f"{name} is emitted without its {dimension}"


def test_vitrine_metrics_use_the_namespace_and_service_dimension_the_functions_get():
    variables = load_template()["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == {"Ref": "MetricsNamespace"}
    service = variables["POWERTOOLS_SERVICE_NAME"]
    for props in _alarms().values():
        if props.get("Namespace") == {"Ref": "MetricsNamespace"}:
            assert props["Dimensions"] == [{"Name": "service", "Value": service}]
    body = resources_of_type("AWS::CloudWatch::Dashboard")["OperationsDashboard"]["Properties"]
    assert '"service", "vitrine"' in body["DashboardBody"]["Fn::Sub"]
    assert service == "vitrine"


def test_every_alarm_notifies_the_operators_topic_on_alarm_and_on_recovery():
    for name, props in _alarms().items():
        for key in ("AlarmActions", "OKActions"):
            _, with_extra_topic, operators_only = props[key]["Fn::If"]
            assert operators_only == [{"Ref": "OperatorAlarmsTopic"}], name
            assert {"Ref": "OperatorAlarmsTopic"} in with_extra_topic, name
    subscription = resources_of_type("AWS::SNS::Subscription")["OperatorAlarmsEmail"]
    assert subscription["Condition"] == "HasAlarmEmail"


def test_alarms_cover_what_operators_must_hear_about():
    alarms = _alarms()
    lambda_alarms = {
        (p["MetricName"], p["Dimensions"][0]["Value"]["Ref"])
        for p in alarms.values()
        if p.get("Namespace") == "AWS/Lambda"
    }
    for function in resources_of_type("AWS::Serverless::Function"):
        assert ("Errors", function) in lambda_alarms
        assert ("Throttles", function) in lambda_alarms
    metrics = {p.get("MetricName") for p in alarms.values()}
    assert {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "5XXError"} <= metrics
    assert {"WebhookMisconfigured", "AvivUnauthorized", "AvivForbidden", "ReconcileFailed"} <= metrics
    assert alarms["SyncLagAlarm"]["Threshold"] == {"Ref": "MaxDelaySeconds"}
    assert {"SyncDeadLetterAlarm", "ReconcileErrorsAlarm", "Aviv5xxRateAlarm"} <= set(alarms)


def test_saved_queries_follow_a_listing_by_the_field_the_code_logs():
    queries = resources_of_type("AWS::Logs::QueryDefinition")
    one_listing = queries["OneListingQuery"]["Properties"]
    assert "filter listing_id =" in one_listing["QueryString"]
    groups = {g["Ref"] for g in one_listing["LogGroupNames"]}
    assert groups == {"IngestLogGroup", "SyncLogGroup", "ReconcileLogGroup"}
    service_source = "\n".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "layers" / "vitrine").rglob("*.py")
    )
    assert "log_keys(listing_id=" in service_source  # per-invocation keys (vitrine.observability)
    assert '"listing_id": ' in service_source
    assert {"RefusedWebhooksQuery", "AvivErrorsQuery"} <= set(queries)


def test_samconfig_holds_sandbox_and_production_for_a_non_interactive_deploy():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    parameters = load_template()["Parameters"]
    for environment in ("sandbox", "production"):
        deploy = config[environment]["deploy"]["parameters"]
        assert deploy["stack_name"] == f"vitrine-{environment}"
        assert deploy["region"] == "eu-west-3"
        assert deploy["resolve_s3"] is True
        assert "CAPABILITY_IAM" in deploy["capabilities"]
        assert isinstance(deploy["confirm_changeset"], bool)
        overrides = dict(pair.split("=", 1) for pair in deploy["parameter_overrides"].split())
        assert set(overrides) <= set(parameters), set(overrides) - set(parameters)
        assert overrides["Environment"] == environment
    assert config["sandbox"]["deploy"]["parameters"]["confirm_changeset"] is False
