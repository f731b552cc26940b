"""Credentials never reach messages, logs or records: one redaction for the whole tool."""

from __future__ import annotations

import re

__all__ = ["redact"]

# scheme://userinfo@ anywhere in the text (a URL, or a requirement line holding one).
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")


def redact(text: str) -> str:
    """``https://user:token@host/x`` -> ``https://***@host/x``. The user name goes too:
    tokens are often passed as the user name alone (``https://<token>@host``)."""
    return _USERINFO.sub(r"\1***@", text)
