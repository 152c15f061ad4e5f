"""A header value a problem's detail quotes reads as the client wrote it: its bytes as UTF-8
(the server hands headers over decoded latin-1), a byte that is not UTF-8 as U+FFFD."""

from __future__ import annotations

import pytest

from nm_workflow.interface.http.problems import as_sent
from tests.e2e.api import DRAFT, Api
from tests.e2e.test_errors import _assert_problem

JSON = b"application/json"
ON_SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # no database-specific part


def _draft(api: Api, headers: dict[bytes, bytes]) -> dict[str, object]:
    item = api.planned()
    return dict(
        api.client.post(
            f"/items/{item}/drafts",
            json=DRAFT,
            headers={b"Authorization": f"Bearer {api.marketing}".encode(), **headers},
        ).json()
    )


@ON_SQLITE
def test_if_match_is_echoed_as_utf8(api: Api) -> None:
    item = api.planned()
    response = api.client.post(
        f"/items/{item}/drafts",
        json=DRAFT,
        headers={b"Authorization": f"Bearer {api.marketing}".encode(), b"If-Match": '"٣"'.encode()},
    )

    body = _assert_problem(response, 400, "/problems/invalid-request")
    assert str(body["detail"]).endswith("""got '"٣"'.""")


@ON_SQLITE
def test_content_type_and_encoding_are_echoed_as_utf8(api: Api) -> None:
    assert "not 'text/plaîn'" in str(_draft(api, {b"Content-Type": "text/plaîn".encode()})["detail"])
    encoded = _draft(api, {b"Content-Type": JSON, b"Content-Encoding": "Gzîp".encode()})
    assert "Content-Encoding 'Gzîp'" in str(encoded["detail"])


def test_a_byte_that_is_not_utf8_is_shown_as_the_replacement_character() -> None:
    # The test client re-encodes header values, so this byte is checked here, as the server hands it over.
    assert as_sent(b'"\xff3"'.decode("latin-1")) == '"\ufffd3"'
    assert as_sent("٣") == "٣"  # not from the wire: as it is
