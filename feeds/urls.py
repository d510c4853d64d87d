"""Absolute http(s) URLs: the only links a feed may carry."""

from __future__ import annotations

import hashlib
import re
import uuid
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Also refused: what XML cannot hold (lone surrogates, U+FFFE/U+FFFF) and the
# invisible controls that make a link read as something else (bidi overrides
# such as "https://example.org/\u202egnp.exe", zero-width space, BOM).
_UNSAFE = re.compile(
    r"[\s<>\"\\^`{|}\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff"
    r"\u200b\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
#: Links that start like this pass every check after ``_UNSAFE`` (an http(s)
#: scheme, then a host name without userinfo, port or brackets): most links,
#: spared urlsplit. Anything else is checked in full.
_PLAIN_HTTP = re.compile(r"[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.\-]+(?:[/?#]|\Z)")
#: Longer links are refused: every entry and feed repeats them, and browsers
#: and servers commonly stop at a few thousand characters.
MAX_URL_LENGTH = 4096


def check_http_url(value: str) -> str:
    """Returns ``value`` stripped if it is an absolute http(s) URL, else raises ValueError."""
    url = value.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"is too long (over {MAX_URL_LENGTH} characters)")
    if _UNSAFE.search(url):
        raise ValueError("is not a valid URL (it contains spaces or characters URLs cannot hold)")
    if _PLAIN_HTTP.match(url):
        return url
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        raise ValueError("must be an absolute http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must be an absolute URL with a host name")
    del port
    return url


def is_host_name(text: str) -> bool:
    """Whether ``text`` is a bare host name such as ``example.org`` (no scheme, path or port)."""
    if _UNSAFE.search(text) or not text:
        return False
    try:
        parts = urlsplit(f"https://{text}/")
    except ValueError:
        return False
    return parts.hostname == text.lower() and parts.path == "/" and not parts.query


#: Links whose parts are plain to see: an http(s) scheme, then a host name
#: without userinfo, port or brackets, ending where urlsplit ends it. (urlsplit
#: also drops tabs and line breaks anywhere: links holding any go through it.)
_PLAIN_PARTS = re.compile(r"([Hh][Tt][Tt][Pp][Ss]?)://([A-Za-z0-9.\-]+)(?=[/?#]|\Z)")
_DROPPED_BY_URLSPLIT = re.compile("[\t\r\n]")


def canonical_url(url: str) -> str:
    """The form two spellings of one link share: scheme and host lower-cased,
    default port and fragment dropped. Used for identity, never for display."""
    plain = _PLAIN_PARTS.match(url)
    if plain is not None and _DROPPED_BY_URLSPLIT.search(url) is None:
        # What urlsplit and urlunsplit below make of such a link, without them.
        path, _, query = url[plain.end() :].partition("#")[0].partition("?")
        canonical = f"{plain[1].lower()}://{plain[2].lower()}{path or '/'}"
        return f"{canonical}?{query}" if query else canonical
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{parts.port}"
    if parts.username or parts.password:
        userinfo = parts.username or ""
        if parts.password:
            userinfo += f":{parts.password}"
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def entry_id(link: str) -> str:
    """A stable, opaque entry id derived from the canonical link alone.

    A name-based UUID keeps the id a valid IRI whatever the link holds, and
    the same article keeps its id across files, machines and builds.
    """
    # uuid.uuid5(uuid.NAMESPACE_URL, ...).urn, spelled out: the UUID object
    # was most of the cost, and every article's id is made this way.
    name = _URL_NAMESPACE + canonical_url(link).encode()
    digest = bytearray(hashlib.sha1(name, usedforsecurity=False).digest()[:16])
    digest[6] = digest[6] & 0x0F | 0x50  # version 5
    digest[8] = digest[8] & 0x3F | 0x80  # the variant of RFC 4122
    hexa = digest.hex()
    return f"urn:uuid:{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


def join_url(base: str, path: str) -> str:
    """``base`` ends with a slash (the config guarantees it); ``path`` is relative."""
    return base + path.lstrip("/")
