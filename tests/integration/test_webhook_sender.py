"""The webhook sender connects where its one look-up of the receiver's name said, and nowhere else.

A name whose answer changes between the address check and the connection (DNS rebinding) must
not reach an address the check never saw. The resolver here is a fake with scripted answers;
the receiver is a real HTTP server on the loopback.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from nm_workflow.application.webhook_http import Sender
from tests.support.receiver import Receiver, receiver

NAME = "receiver.nm-workflow.test"  # never resolvable by a real resolver (RFC 6761 .test)
PUBLIC = "1.1.1.1"  # a global address: the check lets it through


class ScriptedResolver:
    """Answers each look-up with the next list of addresses; the last list is repeated."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers, self.asked = list(answers), 0

    def __call__(self, host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        assert host == NAME
        addresses = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in addresses]


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def url_of(hook: Receiver) -> str:
    return hook.url.replace("127.0.0.1", NAME)


def send(sender: Sender, url: str) -> Any:
    return sender.send(url, "whsec_test", b"{}", {}, 1_700_000_000)


def test_the_connection_goes_to_the_address_looked_up_once_and_the_name_goes_in_host(hook: Receiver) -> None:
    # A second look-up would answer TEST-NET-1, where nothing listens.
    resolver = ScriptedResolver(["127.0.0.1"], ["192.0.2.1"])
    outcome = send(Sender(2.0, allow_private=True, resolve=resolver), url_of(hook))
    assert (outcome.error, outcome.status_code) == (None, 204)
    assert resolver.asked == 1
    (request,) = hook.requests
    assert request.headers["Host"] == url_of(hook).split("/")[2]


def test_a_name_that_changes_its_answer_after_the_check_never_reaches_the_private_address(
    hook: Receiver,
) -> None:
    # Checked: a public address (nothing of this test listens there); asked again, the name
    # would say loopback, where the receiver listens.
    resolver = ScriptedResolver([PUBLIC], ["127.0.0.1"])
    outcome = send(Sender(0.3, allow_private=False, resolve=resolver), url_of(hook))
    assert outcome.status_code is None
    assert outcome.error
    assert resolver.asked == 1
    assert hook.requests == []


def test_a_private_answer_is_refused_before_any_connection(hook: Receiver) -> None:
    resolver = ScriptedResolver([PUBLIC, "127.0.0.1"])
    outcome = send(Sender(2.0, allow_private=False, resolve=resolver), url_of(hook))
    assert outcome.error == f"ValueError: {NAME} resolves to the non-public address 127.0.0.1"
    assert hook.requests == []


def test_each_address_of_the_answer_is_tried_in_turn(hook: Receiver) -> None:
    # 127.0.0.2 is loopback too, but the receiver listens on 127.0.0.1 only: refused, then the next.
    resolver = ScriptedResolver(["127.0.0.2", "127.0.0.1"])
    outcome = send(Sender(2.0, allow_private=True, resolve=resolver), url_of(hook))
    assert (outcome.error, outcome.status_code) == (None, 204)
    assert len(hook.requests) == 1
