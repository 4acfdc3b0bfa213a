"""config.wsgi: a response held in memory goes to the server as one list of bytes, closed
(request_finished sent) before the server writes it; a streaming one is passed on."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.signals import request_finished
from django.http import StreamingHttpResponse

import config.wsgi


def _environ(path: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
    }


@pytest.fixture
def finished() -> Iterator[list[object]]:
    sent: list[object] = []

    def receiver(sender: object, **kwargs: object) -> None:
        sent.append(sender)

    request_finished.connect(receiver)
    yield sent
    request_finished.disconnect(receiver)


@pytest.mark.django_db
def test_a_json_answer_is_one_list_and_the_request_is_finished(finished: list[object]) -> None:
    started: list[str] = []
    body = config.wsgi.application(
        _environ("/api/v1/queues/"), lambda status, headers, *_: started.append(status)
    )
    assert isinstance(body, list) and len(body) == 1
    assert started == ["401 Unauthorized"]
    assert json.loads(body[0])["error"]["code"] == "not_authenticated"
    assert finished  # closed here: Django's end of request ran before the server wrote


def test_a_streaming_answer_is_passed_on(
    monkeypatch: pytest.MonkeyPatch, finished: list[object]
) -> None:
    stream = StreamingHttpResponse(iter([b"a", b"b"]))
    monkeypatch.setattr(config.wsgi, "_django", lambda environ, start_response: stream)
    body = config.wsgi.application(_environ("/"), lambda *_: None)
    assert body is stream
    assert not finished  # the server closes it after the last chunk
    assert b"".join(body) == b"ab"
