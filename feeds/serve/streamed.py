"""Files too large to keep in memory, streamed from disk.

One descriptor per response, opened before anything is said about the file:
its validators and length come from that descriptor's `fstat`, so they always
describe the bytes sent, even when the writer replaces the file meanwhile.
gzip is decided by the caller (the same negotiation as for kept files, so a
HEAD, a GET and a 304 agree) and made as the file is read, a chunk at a time
in a worker thread. Ranges are served from the identity bytes only: a range
of a gzip body would name bytes of a body made anew for each response.
"""

from __future__ import annotations

import errno
import os
import re
import zlib
from collections.abc import Callable, Mapping
from typing import BinaryIO

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from feeds.serve.filecache import GZIP_LEVEL, GZIP_MINIMUM, last_modified, stat_etag

CHUNK = 64 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _open(path: str) -> tuple[BinaryIO, os.stat_result]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    file = os.fdopen(fd, "rb", buffering=0)
    try:
        return file, os.fstat(file.fileno())
    except BaseException:
        file.close()
        raise


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The one range ``header`` asks for, as (first, end) with ``end``
    exclusive; None to send the whole file (a syntax we do not serve, or
    several ranges, RFC 9110 14.2 allows ignoring); ``(size, size)`` when no
    byte of it is in the file (416)."""
    match = _RANGE.fullmatch(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        return (max(0, size - suffix), size) if suffix else (size, size)
    start = int(first)
    if start >= size:
        return size, size
    end = size if not last else min(size, int(last) + 1)
    return (start, end) if end > start else None


class StreamedFile:
    """The ASGI response for one large file; ``done`` is called once it is over."""

    def __init__(
        self,
        path: str,
        *,
        media_type: str,
        cache_control: str,
        accepts_gzip: bool,
        extra_headers: Mapping[str, str],
        done: Callable[[], None],
    ) -> None:
        self.path = path
        self.media_type = media_type
        self.cache_control = cache_control
        self.accepts_gzip = accepts_gzip
        self.extra_headers = extra_headers
        self.done = done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            try:
                file, stat = await anyio.to_thread.run_sync(_open, self.path)
            except (FileNotFoundError, NotADirectoryError):
                raise HTTPException(status_code=404) from None  # deleted since the lookup
            except OSError as error:
                if error.errno == errno.ELOOP:  # a symlink put in its place since the lookup
                    raise HTTPException(status_code=404) from None
                raise
            try:
                await self._respond(file, stat, scope, receive, send)
            finally:
                file.close()
        finally:
            self.done()

    async def _respond(
        self, file: BinaryIO, stat: os.stat_result, scope: Scope, receive: Receive, send: Send
    ) -> None:
        size = stat.st_size
        etag = stat_etag(stat)
        modified = last_modified(stat)
        encoded = self.accepts_gzip and size >= GZIP_MINIMUM
        headers = self._headers(etag, modified, size, encoded)
        status, start, end = 200, 0, size
        chosen = None if encoded else _asked_range(scope, (etag, modified), size)
        if chosen == (size, size):
            refusal = PlainTextResponse(
                "Range Not Satisfiable",
                status_code=416,
                headers={"Content-Range": f"bytes */{size}"},
            )
            await refusal(scope, receive, send)
            return
        if chosen is not None:
            status, (start, end) = 206, chosen
            headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
            headers["content-length"] = str(end - start)
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b""})
            return
        body = _Body(self.path, file, start, end, gzip=encoded)
        await body.send_while_connected(receive, send)

    def _headers(self, etag: str, modified: str, size: int, encoded: bool) -> dict[str, str]:
        headers = {
            "content-type": self.media_type,
            "last-modified": modified,
            "cache-control": self.cache_control,
            "vary": "Accept-Encoding",
        }
        if encoded:
            headers["content-encoding"] = "gzip"
            # A strong ETag names the identity bytes; these are other bytes.
            headers["etag"] = "W/" + etag
        else:
            headers["etag"] = etag
            headers["accept-ranges"] = "bytes"
            headers["content-length"] = str(size)
        headers.update(self.extra_headers)
        return headers


def _asked_range(scope: Scope, validators: tuple[str, str], size: int) -> tuple[int, int] | None:
    """The range of the identity bytes a GET asks for (see `byte_range`), if
    its If-Range, if any, is one of ``validators`` (the ETag and the date)."""
    if scope["method"] != "GET":  # Range means nothing to HEAD (RFC 9110 14.2)
        return None
    request = Headers(scope=scope)
    wanted = request.get("range")
    if_range = request.get("if-range")
    if wanted is None or (if_range is not None and if_range not in validators):
        return None
    return byte_range(wanted, size)


class _Body:
    """The bytes ``start`` to ``end`` of ``file``, read (and gzipped) a chunk
    at a time in a worker thread."""

    def __init__(self, path: str, file: BinaryIO, start: int, end: int, *, gzip: bool) -> None:
        self._path = path
        self._file = file
        self._start = start
        self._end = end
        self._position = start
        self._compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if gzip else None

    def _next_chunk(self) -> bytes:
        end = self._end
        os.lseek(self._file.fileno(), self._position, os.SEEK_SET)
        data = self._file.read(min(CHUNK, end - self._position))
        if not data:
            # Cut short by a write in place: what was said of its length is wrong.
            raise OSError(errno.EIO, f"{self._path} shrank while being sent")
        self._position += len(data)
        compressor = self._compressor
        if compressor is None:
            return data
        compressed = compressor.compress(data)
        if self._position >= end:
            compressed += compressor.flush()
        return compressed

    async def _stream(self, send: Send) -> None:
        end = self._end
        while self._position < end:
            chunk = await anyio.to_thread.run_sync(self._next_chunk)
            more = self._position < end
            if chunk or not more:
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
        if self._start == end:
            last = self._compressor.flush() if self._compressor else b""
            await send({"type": "http.response.body", "body": last})

    async def send_while_connected(self, receive: Receive, send: Send) -> None:
        # uvicorn takes what is sent to a connection gone as sent: without
        # listening for the end, the rest of the file would still be read (and
        # compressed), and its slot held, for nobody.
        async with anyio.create_task_group() as group:

            async def then_stop() -> None:
                await self._stream(send)
                group.cancel_scope.cancel()

            group.start_soon(then_stop)
            while (await receive())["type"] != "http.disconnect":
                pass
            group.cancel_scope.cancel()
