"""The proxy router answers as Powertools' APIGatewayRestResolver did for vitrine's routes: the same
matching, the exact request bytes, and the same proxy result (``multiValueHeaders``)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from devtools.proxy_event import build_event
from vitrine.service.http import PROBLEM_JSON, HttpAnswer, accepted, problem
from vitrine.service.proxy_router import ProxyRequest, ProxyRouter

PUSH = "/aviv/<token>/classifieds/<classified_id>/statuses"


def echo(request: ProxyRequest) -> HttpAnswer:
    return accepted(
        {
            "headers": dict(request.headers),
            "body": base64.b64encode(request.body).decode(),
            "parameters": dict(request.path_parameters),
        }
    )


def router() -> ProxyRouter:
    app = ProxyRouter()
    app.route("POST", "/webhooks/listings")(echo)
    app.route("post", PUSH)(echo)
    return app


def event(path: str, method: str = "POST", body: bytes = b"{}", headers: Any = None) -> dict[str, Any]:
    pairs = [("Content-Type", "application/json")] if headers is None else headers
    return build_event(
        method=method, raw_path=path, resource="/x", path_parameters=None, header_pairs=pairs, body=body
    )


def echoed(result: dict[str, Any]) -> dict[str, Any]:
    assert result["statusCode"] == 202, result
    answer: dict[str, Any] = json.loads(result["body"])
    return answer


def assert_no_route(result: dict[str, Any]) -> None:
    assert result["statusCode"] == 404
    assert result["multiValueHeaders"] == {"Content-Type": [PROBLEM_JSON]}
    assert json.loads(result["body"]) == {
        "type": "about:blank",
        "title": "Not found",
        "status": 404,
        "detail": "no route of this API matches the path",
    }


def test_a_matching_request_gets_the_routes_answer_as_a_proxy_result() -> None:
    result = router().resolve(event("/webhooks/listings"))

    assert result == {
        "statusCode": 202,
        "body": result["body"],
        "isBase64Encoded": False,
        "multiValueHeaders": {"Content-Type": ["application/json"]},
    }
    assert echoed(result)["parameters"] == {}


@pytest.mark.parametrize("path", ["/webhooks/listings/", "/webhooks/listings///", "/webhooks/listings?a=1"])
def test_trailing_slashes_and_a_query_string_still_match(path: str) -> None:
    assert router().resolve(event(path))["statusCode"] == 202


@pytest.mark.parametrize("method", ["post", "Post"])
def test_the_method_matches_in_any_case(method: str) -> None:
    assert router().resolve(event("/webhooks/listings", method=method))["statusCode"] == 202


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/webhooks/listings"),
        ("OPTIONS", "/webhooks/listings"),
        ("POST", "/webhooks/listings/extra"),
        ("POST", "/local/webhooks/listings"),
        ("POST", "/webhooks//listings"),
        ("POST", "/"),
    ],
)
def test_another_method_or_path_is_a_404_problem(method: str, path: str) -> None:
    assert_no_route(router().resolve(event(path, method=method)))


def test_an_event_without_method_or_path_is_a_404_problem() -> None:
    assert_no_route(router().resolve({}))


def test_path_parameters_are_passed_by_name() -> None:
    result = router().resolve(event("/aviv/t%20o:k@!/classifieds/cl.1~x/statuses/"))

    assert echoed(result)["parameters"] == {"token": "t o:k@!", "classified_id": "cl.1~x"}


@pytest.mark.parametrize(
    "path",
    [
        '/aviv/a"b/classifieds/cl-1/statuses',
        "/aviv/a\\b/classifieds/cl-1/statuses",
        "/aviv/token/classifieds/cl`1/statuses",
        "/aviv//classifieds/cl-1/statuses",
        "/aviv/a/b/classifieds/cl-1/statuses",
    ],
)
def test_a_parameter_with_a_refused_character_or_none_at_all_matches_no_route(path: str) -> None:
    assert_no_route(router().resolve(event(path)))


def test_headers_reach_the_route_with_lower_case_names_the_last_spelling_winning() -> None:
    request = event("/webhooks/listings")
    request["headers"] = {"Content-Type": "text/plain", "content-type": "application/json", "X-A": "1"}

    assert echoed(router().resolve(request))["headers"] == {"content-type": "application/json", "x-a": "1"}


def test_an_event_without_headers_or_body_reaches_the_route_with_none() -> None:
    request = event("/webhooks/listings", body=b"", headers=[])

    assert request["headers"] is None and request["body"] is None
    assert echoed(router().resolve(request)) == {"headers": {}, "body": "", "parameters": {}}


def test_a_base64_body_reaches_the_route_as_the_bytes_sent() -> None:
    sent = b"\xff\xfe{}"
    request = event("/webhooks/listings", body=sent)

    assert request["isBase64Encoded"] is True
    assert base64.b64decode(echoed(router().resolve(request))["body"]) == sent


def test_a_text_body_reaches_the_route_as_its_utf8_bytes() -> None:
    sent = '{"title": "Maison à vendre"}'.encode()

    assert base64.b64decode(echoed(router().resolve(event("/webhooks/listings", body=sent)))["body"]) == sent


def test_the_first_matching_route_answers() -> None:
    app = ProxyRouter()
    app.route("POST", "/a/<name>")(lambda request: accepted({"route": "first"}))
    app.route("POST", "/a/b")(lambda request: accepted({"route": "second"}))

    assert json.loads(app.resolve(event("/a/b"))["body"]) == {"route": "first"}


def test_a_routes_exception_propagates_so_the_invocation_fails() -> None:
    app = ProxyRouter()

    @app.route("POST", "/boom")
    def boom(request: ProxyRequest) -> HttpAnswer:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        app.resolve(event("/boom"))


def test_extra_headers_of_an_answer_come_with_its_content_type() -> None:
    answer = problem(415, "not JSON", headers={"Accept-Post": "application/json"})

    assert answer.to_proxy_result()["multiValueHeaders"] == {
        "Accept-Post": ["application/json"],
        "Content-Type": [PROBLEM_JSON],
    }


def test_a_content_type_given_in_the_headers_wins_over_the_default() -> None:
    answer = HttpAnswer.of(200, "application/json", "{}", {"Content-Type": "application/hal+json"})

    assert answer.headers == {"Content-Type": "application/hal+json"}
