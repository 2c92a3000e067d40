"""Secrets out of text: passwords in URLs become ``***`` before anything is logged or shown."""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url

# scheme://user:password@host: the password is everything between the user's colon and the @.
_URL_PASSWORD = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)[^\s/@]+@")


def mask_url(url: str) -> str:
    """Return the URL with its password replaced by ``***``, safe for logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is masked by pattern instead
        return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def mask_passwords(text: str) -> str:
    """Replace the password of every URL inside a text, such as a driver's error message."""
    return _URL_PASSWORD.sub(r"\1***@", text)
