"""template.yaml and the code agree: tables, queue timing, environment, handlers, runtime."""

from __future__ import annotations

from pathlib import Path

from devtools.template import function_environment_keys, load_template, resources_of_type
from vitrine.settings import SYNC_VISIBILITY_TIMEOUT_SECONDS

ROOT = Path(__file__).resolve().parents[3]


def test_functions_are_python313_arm64_with_the_shared_layer():
    glob = load_template()["Globals"]["Function"]
    assert glob["Runtime"] == "python3.13"
    assert glob["Architectures"] == ["arm64"]
    layer = resources_of_type("AWS::Serverless::LayerVersion")["VitrineLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert (ROOT / layer["Properties"]["ContentUri"] / "requirements.txt").exists()
    assert (ROOT / layer["Properties"]["ContentUri"] / "vitrine" / "__init__.py").exists()


def test_every_function_has_its_handler_file():
    functions = resources_of_type("AWS::Serverless::Function")
    assert {"IngestFunction", "SyncFunction", "ReconcileFunction"} <= set(functions)
    for res in functions.values():
        props = res["Properties"]
        module, _, attr = props["Handler"].partition(".")
        source = ROOT / props["CodeUri"] / f"{module}.py"
        assert source.exists(), source
        assert f"def {attr}(" in source.read_text(encoding="utf-8")


def test_sync_queue_visibility_is_six_times_the_sync_timeout_and_known_to_the_code():
    queue = resources_of_type("AWS::SQS::Queue")["SyncQueue"]["Properties"]
    sync = resources_of_type("AWS::Serverless::Function")["SyncFunction"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * sync["Timeout"]
    assert queue["VisibilityTimeout"] == SYNC_VISIBILITY_TIMEOUT_SECONDS
    assert "deadLetterTargetArn" in queue["RedrivePolicy"]
    sqs_event = sync["Events"]["SyncMessages"]["Properties"]
    assert sqs_event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_settings_read_every_variable_the_template_sets():
    settings_source = (ROOT / "layers/vitrine/vitrine/settings.py").read_text(encoding="utf-8")
    powertools = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
    for key in function_environment_keys() - powertools:
        assert f'"{key}"' in settings_source, f"{key} is set by template.yaml but never read"


def test_state_table_has_the_sparse_work_indexes():
    table = resources_of_type("AWS::DynamoDB::Table")["StateTable"]["Properties"]
    indexes = {i["IndexName"] for i in table["GlobalSecondaryIndexes"]}
    assert {"DirtyIndex", "WatchIndex"} <= indexes
    assert table["SSESpecification"]["SSEEnabled"] is True


def test_policies_are_least_privilege_and_never_allow_a_scan():
    functions = resources_of_type("AWS::Serverless::Function")
    for name, res in functions.items():
        for policy in res["Properties"].get("Policies", []):
            assert "DynamoDBCrudPolicy" not in policy, f"{name}: CRUD policy grants Scan and more"
            for statement in policy.get("Statement", []):
                assert "dynamodb:Scan" not in statement["Action"], name
    ingest = functions["IngestFunction"]["Properties"]["Policies"][0]["Statement"][0]
    assert sorted(ingest["Action"]) == ["dynamodb:GetItem", "dynamodb:UpdateItem"]


def test_the_api_is_throttled_and_not_traced():
    api = resources_of_type("AWS::Serverless::Api")["VitrineApi"]["Properties"]
    assert api["MethodSettings"][0]["ThrottlingRateLimit"] > 0
    assert api["TracingEnabled"] is False, "the status push URL carries a secret token"
