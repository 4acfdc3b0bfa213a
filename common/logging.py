"""No phone number in a log line: the path segment after /api/v1/dnc/ and anything shaped
like a US number are redacted from every log record.

`GET /api/v1/dnc/{number}/` (API.md) puts a number in the URL, and Django
logs the path of every 4xx answer ("Bad Request: /api/v1/dnc/..."), runserver
and granian (with --access-log) log every request line. Two layers:

1. `RedactPhi`, a logging filter, cleans each record a handler receives
   (LOGGING attaches it to every handler).
2. Configuring that filter also installs a log record factory that cleans
   every record when it is created, in this process, whichever logger or
   handler it goes to: granian's access log (written by the worker that
   loaded Django), a library's own handler, a test's capture.

Query strings are cleaned too: the admin's search box puts what staff typed (a
number, a name) in `?q=`, and keeps it, encoded once more, in the
`_changelist_filters` of every page reached from the results. A search term is
redacted whatever it holds; any other value is redacted when, decoded, it holds
a phone-shaped number.

A record is cleaned by formatting its message once (msg % args), redacting
it, and keeping the result as the message with no args; a traceback is
formatted and redacted the same way. Records that hold nothing to redact keep
their message and args unchanged.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import quote, unquote_plus

REDACTED = "[redacted]"

# The segment after /api/v<n>/dnc/ (not the literal `lookup/` endpoint), up to the
# next "/", "?", "#", quote, " HTTP/" of a request line, or the end of the line.
# Only API URLs: file paths of the dnc app in a traceback stay readable.
_DNC_SEGMENT = re.compile(
    r"(/api/v\d+/dnc/)(?!lookup(?:/|\b))(.+?)(?=[/?#\"']| HTTP/|$)", re.MULTILINE
)
# A 10-digit US number in the usual spellings, optionally with +1 / 1, URL-encoded
# separators included; not part of a longer word or number (hashes, ids).
_SEP = r"(?:[\s.\-]|%20|%2[dD])?"
_PHONE = re.compile(
    r"(?<![\w+%])(?:(?:\+|%2[bB])?1"
    + _SEP
    + r")?(?:\(|%28)?\d{3}(?:\)|%29)?"
    + _SEP
    + r"\d{3}"
    + _SEP
    + r"\d{4}(?!\w)"
)


# A URL's query string, up to the end of the URL in a request line or a message.
_QUERY = re.compile(r"\?([^\s\"'#<>]+)")
# The admin's search parameter (django.contrib.admin.views.main.SEARCH_VAR): free text.
_SEARCH_PARAMS = frozenset({"q"})
# Parameters that carry another query string, url-encoded (the admin's preserved filters).
_NESTED_PARAMS = frozenset({"_changelist_filters"})


def _decoded(value: str) -> str:
    """The value with every layer of url-encoding removed (nested queries are encoded twice)."""
    for _ in range(3):
        plain = unquote_plus(value)
        if plain == value:
            break
        value = plain
    return value


def _redact_query(query: str) -> str:
    """A query string with search terms and phone-shaped values redacted; the rest as is."""
    pairs = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        key = unquote_plus(name)
        if key in _SEARCH_PARAMS and value:
            value = REDACTED
        elif key in _NESTED_PARAMS:
            inner = unquote_plus(value)
            clean = _redact_query(inner)
            if clean != inner:
                value = quote(clean, safe="[]")
        elif _PHONE.search(_decoded(value)) or _PHONE.search(_decoded(name)):
            name, value = (REDACTED, "") if not eq else (name, REDACTED)
        pairs.append(f"{name}{eq}{value}")
    return "&".join(pairs)


def redact(text: str) -> str:
    """The text with /dnc/ path segments, search terms and phone-shaped numbers in query
    strings, and phone-shaped numbers anywhere replaced by [redacted]."""
    if "/dnc/" in text:  # cheap test first
        text = _DNC_SEGMENT.sub(lambda m: m.group(1) + REDACTED, text)
    if "?" in text:
        text = _QUERY.sub(lambda m: "?" + _redact_query(m.group(1)), text)
    return _PHONE.sub(REDACTED, text)


_traceback_formatter = logging.Formatter()


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Clean one record in place (idempotent); never raises."""
    if getattr(record, "_phi_redacted", False):
        return record
    try:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _traceback_formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
    except Exception:  # a bad record is for logging to report, not for us
        return record
    setattr(record, "_phi_redacted", True)  # noqa: B010
    return record


_install_lock = threading.Lock()
_installed = False


def install_record_redaction() -> None:
    """Wrap the process's log record factory so every record is cleaned at creation."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = True


class RedactPhi(logging.Filter):
    """Redact /dnc/ path segments and phone-shaped numbers; never drops a record."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        install_record_redaction()

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True
