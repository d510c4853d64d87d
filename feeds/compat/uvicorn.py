"""uvicorn: the class behind its ``httptools`` HTTP implementation.

uvicorn documents its HTTP implementations by name only. feeds wraps the
httptools one (llhttp, far cheaper in CPU than the h11 one) in its own
protocol, which bounds how long and how large a request head may be (see
``feeds.serve.server._HeadGuard``); wrapping needs the class itself, which uvicorn
keeps in a module it does not export. The wrapper passes uvicorn's
constructor arguments through untouched and uses nothing else of the class
but the asyncio.Protocol interface.
"""

from __future__ import annotations

import asyncio

import uvicorn

from feeds.errors import DependencyError

INTERNAL = "uvicorn.protocols.http.httptools_impl.HttpToolsProtocol"


def httptools_protocol() -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol class; `DependencyError` if it is gone."""
    problem = ""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError as error:
        # httptools itself missing looks the same from here: say which it is.
        protocol, problem = None, f"; importing it failed: {error}"
    else:
        protocol = HttpToolsProtocol
    if not (isinstance(protocol, type) and issubclass(protocol, asyncio.Protocol)):
        raise DependencyError.missing(
            "uvicorn",
            uvicorn.__version__,
            f"{INTERNAL} (an asyncio.Protocol)",
            "the HTTP server's request-head deadline and size limit wrap it" + problem,
        )
    return protocol
