"""HTTP itself: bodies that are too large, not JSON or broken JSON; HEAD; 405's Allow; odd paths."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import pytest

from tests.e2e.api import DRAFT, Api
from tests.e2e.test_errors import _assert_problem

JSON = {"Content-Type": "application/json"}


def _head(api: Api) -> int:
    return int(api.client.app.state.store.head())  # type: ignore[attr-defined]


def _post_raw(api: Api, path: str, content: bytes | Iterator[bytes], **headers: str) -> object:
    return api.client.post(
        path, content=content, headers={"Authorization": f"Bearer {api.marketing}", **headers}
    )


def test_a_chunked_body_over_the_limit_is_413_and_writes_nothing(api: Api) -> None:
    item, head = api.planned(), _head(api)
    big = b'{"title": "t", "source_notes": "s", "body": "' + b"x" * 1_100_000 + b'"}'
    chunks = iter([big[i : i + 65536] for i in range(0, len(big), 65536)])  # no Content-Length: chunked

    response = _post_raw(api, f"/items/{item}/drafts", chunks, **JSON)

    _assert_problem(response, 413, "/problems/payload-too-large")  # type: ignore[arg-type]
    assert _head(api) == head


def test_a_chunked_body_under_the_limit_is_served(api: Api) -> None:
    item = api.planned()
    body = b'{"title": "t", "source_notes": "s", "body": "chunked"}'

    response = _post_raw(api, f"/items/{item}/drafts", iter([body[:10], body[10:]]), **JSON)

    assert response.status_code == 200, response.text  # type: ignore[attr-defined]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_that_is_not_declared_json_is_415(api: Api, content_type: str | None) -> None:
    item, head = api.planned(), _head(api)
    headers = {} if content_type is None else {"Content-Type": content_type}

    response = _post_raw(api, f"/items/{item}/review-requests", b'{"revision": 1}', **headers)

    body = _assert_problem(response, 415, "/problems/unsupported-media-type")  # type: ignore[arg-type]
    assert "application/json" in str(body["detail"])
    assert _head(api) == head


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b'{"title": "\xff", "body": "b", "source_notes": "s"}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"title": ' + b"9" * 5000 + b"}", "not valid JSON"),
        (b'{"title": "t",}', "not valid JSON"),
    ],
    ids=["invalid-utf8", "deep-nesting", "5000-digit-integer", "trailing-comma"],
)
def test_a_body_that_is_not_well_formed_json_is_400_malformed_json(api: Api, raw: bytes, says: str) -> None:
    item, head = api.planned(), _head(api)

    response = _post_raw(api, f"/items/{item}/drafts", raw, **JSON)

    body = _assert_problem(response, 400, "/problems/malformed-json")  # type: ignore[arg-type]
    assert says in str(body["detail"])
    assert _head(api) == head


@pytest.mark.parametrize(
    ("raw", "headers"),
    [(b"", JSON), (b"", {}), (b" \r\n\t ", JSON)],
    ids=["empty", "empty-without-content-type", "whitespace"],
)
def test_a_body_without_json_text_is_400_malformed_json_alike(
    api: Api, raw: bytes, headers: dict[str, str]
) -> None:
    """Empty or only whitespace, it is no JSON at all: one answer, never a 422 about fields."""
    item, head = api.planned(), _head(api)

    response = _post_raw(api, f"/items/{item}/drafts", raw, **headers)

    body = _assert_problem(response, 400, "/problems/malformed-json")  # type: ignore[arg-type]
    assert "empty or only whitespace" in str(body["detail"])
    assert _head(api) == head


def test_an_empty_body_is_no_body_where_the_request_takes_none(api: Api) -> None:
    item = api.drafted()

    response = _post_raw(api, f"/items/{item}/review-requests", b"", **JSON)

    assert response.status_code == 200, response.text  # type: ignore[attr-defined]


def test_json_with_a_charset_or_a_json_suffix_is_accepted(api: Api) -> None:
    item = api.planned()
    raw = b'{"title": "t", "body": "b", "source_notes": "s"}'
    for content_type in ("application/json; charset=utf-8", "application/vnd.nm+json"):
        response = _post_raw(api, f"/items/{item}/drafts", raw, **{"Content-Type": content_type})
        assert response.status_code == 200, response.text  # type: ignore[attr-defined]


def test_head_is_answered_wherever_get_is_with_the_same_headers_and_no_body(api: Api) -> None:
    item = api.planned()
    auth = {"Authorization": f"Bearer {api.marketing}"}
    for path in ("/health", f"/items/{item}", f"/items/{item}/history"):
        got, head = api.client.get(path, headers=auth), api.client.head(path, headers=auth)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"]
        assert head.headers.get("etag") == got.headers.get("etag")


def test_405_names_every_method_served_at_the_path(api: Api) -> None:
    item = api.planned()
    response = api.client.put("/items", headers={"Authorization": f"Bearer {api.marketing}"})
    _assert_problem(response, 405, "/problems/method-not-allowed")
    assert response.headers["allow"] == "GET, HEAD, POST"

    response = api.client.head(f"/items/{item}/drafts")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_a_trailing_slash_is_a_404_problem_not_a_redirect(api: Api) -> None:
    item = api.planned()
    response = api.client.get(
        f"/items/{item}/", headers={"Authorization": f"Bearer {api.marketing}"}, follow_redirects=False
    )
    _assert_problem(response, 404, "/problems/no-such-resource")


def test_drafting_works_after_all_the_refusals(api: Api) -> None:
    item = api.planned()
    _post_raw(api, f"/items/{item}/drafts", b"{", **JSON)
    assert api.post(f"/items/{item}/drafts", DRAFT, api.marketing).status_code == 200


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ('{"title": "t", "body": "b", "source_notes": "s"}'.encode("utf-16"), "not UTF-8"),
        ('{"title": "t", "body": "b", "source_notes": "s"}'.encode("utf-32-le"), "not valid JSON"),
        (b'{"title": "t", "title": "u", "body": "b", "source_notes": "s"}', "'title' appears more than once"),
        (b'{"title": "t", "body": "b", "source_notes": "s", "x": NaN}', "NaN is not a JSON number"),
        (b"[-Infinity]", "-Infinity is not a JSON number"),
    ],
    ids=["utf-16", "utf-32", "repeated-key", "nan", "infinity"],
)
def test_json_is_utf_8_and_unambiguous(api: Api, raw: bytes, says: str) -> None:
    item = api.planned()
    response = _post_raw(api, f"/items/{item}/drafts", raw, **JSON)
    body = _assert_problem(response, 400, "/problems/malformed-json")  # type: ignore[arg-type]
    assert says in str(body["detail"])


def test_a_utf_8_byte_order_mark_is_tolerated(api: Api) -> None:
    item = api.planned()
    raw = b"\xef\xbb\xbf" + b'{"title": "t", "body": "b", "source_notes": "s"}'
    assert _post_raw(api, f"/items/{item}/drafts", raw, **JSON).status_code == 200  # type: ignore[attr-defined]


def test_a_compressed_body_is_415(api: Api) -> None:
    item, head = api.planned(), _head(api)
    raw = gzip.compress(b'{"title": "t", "body": "b", "source_notes": "s"}')
    response = _post_raw(api, f"/items/{item}/drafts", raw, **JSON, **{"Content-Encoding": "gzip"})
    body = _assert_problem(response, 415, "/problems/unsupported-media-type")  # type: ignore[arg-type]
    assert "uncompressed" in str(body["detail"])
    assert _head(api) == head


def test_a_content_type_sent_twice_is_415(api: Api) -> None:
    item, head = api.planned(), _head(api)
    headers = [
        ("Authorization", f"Bearer {api.marketing}"),
        ("Content-Type", "application/json"),
        ("Content-Type", "text/plain"),
    ]
    raw = b'{"title": "t", "body": "b", "source_notes": "s"}'
    response = api.client.post(f"/items/{item}/drafts", content=raw, headers=headers)
    body = _assert_problem(response, 415, "/problems/unsupported-media-type")
    assert body["detail"] == "Send the Content-Type header once."
    assert _head(api) == head


@pytest.mark.parametrize("content_type", ["text/x+json", "application/a/b+json", "multipart/form-data+json"])
def test_only_application_json_types_count_as_json(api: Api, content_type: str) -> None:
    item = api.planned()
    response = _post_raw(api, f"/items/{item}/review-requests", b"{}", **{"Content-Type": content_type})
    _assert_problem(response, 415, "/problems/unsupported-media-type")  # type: ignore[arg-type]


def test_a_body_sent_to_no_route_is_answered_by_routing(api: Api) -> None:
    item = api.planned()
    text = {"Content-Type": "text/plain"}
    _assert_problem(_post_raw(api, "/nothing-here", b"hello", **text), 404, "/problems/no-such-resource")  # type: ignore[arg-type]
    wrong_method = api.client.request("DELETE", f"/items/{item}", content=b"hello", headers=text)
    _assert_problem(wrong_method, 405, "/problems/method-not-allowed")
    assert wrong_method.headers["allow"] == "GET, HEAD"
