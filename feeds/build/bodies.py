"""Article bodies kept in a file in the cache folder, out of memory.

A body (title, summary, images, related articles: `model.Body`) is most of
an article's bytes, and only rendering reads it. The seed set hands each
article it keeps to a `BodyStore`, which writes the body to a file and gives
the article back holding a `StoredBody`: where the body is, and its sizes
(what planning reads of it). Rendering reads a body back when a document
that holds the article is rendered again.

The file is a temporary file of this process alone: made in the cache folder
(never the output folder, never a tmpfs that would count as memory), without
a name (or unlinked at once where the OS cannot make it so), written only by
this process. So nothing else can read or change it, a kill -9 leaves
nothing behind, and no other process's store is ever trusted: the parse cache
(`feeds.build.parsecache`) is what outlives a process, and it is checked.

Bodies are appended; a replaced article's old body stays as garbage until
the garbage outweighs the live bodies, when `BodyStore.tidy` copies the live
ones to a new file. Articles still holding the old file (a plan not yet
replaced) keep it open until they are gone.
"""

from __future__ import annotations

import errno
import logging
import marshal
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import IO, overload

from feeds.errors import CacheError
from feeds.model import Article, Body, BodySizes
from feeds.model.compact import Images, Related

_log = logging.getLogger("feeds.cache")

#: Garbage below this is never worth a new file.
MIN_GARBAGE = 64 * 1024 * 1024
#: Bodies read back and kept at hand: rendering asks for each part of an
#: article's body several times in a row.
_AT_HAND = 64
_LOW = (1 << 32) - 1
_COUNT = (1 << 16) - 1
#: A StoredBody's sizes: link << 64 | text << 32 | images << 16 | related.
_SIZES_BITS = 96
_SIZES = (1 << _SIZES_BITS) - 1
#: The version of marshal written; the file lives only as long as this process.
_MARSHAL_VERSION = 4


class _File:
    """One store file and the bodies read back from it lately."""

    __slots__ = ("_at_hand", "_stream", "end")

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        # buffering=0: pread and pwrite only, so a forked renderer shares it safely.
        # Held open for the store's life (closed with it), not within one block.
        self._stream: IO[bytes] = tempfile.TemporaryFile(dir=folder, buffering=0)  # noqa: SIM115
        self.end = 0
        self._at_hand: dict[int, Body] = {}

    def __del__(self) -> None:
        # Closed once no article holds it: the store, and every StoredBody here.
        stream = getattr(self, "_stream", None)  # None: made no file
        if stream is not None:
            stream.close()

    def append(self, data: bytes) -> int:
        """Writes ``data`` at the end; returns where it starts. Raises OSError."""
        start, view = self.end, memoryview(data)
        while view:
            written = os.pwrite(self._stream.fileno(), view, start + len(data) - len(view))
            if not written:
                raise OSError(errno.ENOSPC, "nothing written")
            view = view[written:]
        self.end += len(data)
        return start

    def raw(self, offset: int, length: int) -> bytes:
        data = os.pread(self._stream.fileno(), length, offset)
        if len(data) != length:
            raise OSError(errno.EIO, "the file is shorter than written")
        return data

    def body(self, where: int) -> Body:
        at_hand = self._at_hand
        body = at_hand.get(where)
        if body is None:
            body = self._read(where)
            if len(at_hand) >= _AT_HAND:
                at_hand.clear()
            at_hand[where] = body
        return body

    def _read(self, where: int) -> Body:
        try:
            return _body_of(self.raw(where >> 32, where & _LOW))
        except OSError as error:
            reason = _reason(error)
        except (ValueError, TypeError, EOFError):  # our own bytes, so a disk's fault
            reason = "damaged"
        raise CacheError(f"cannot read back an article's text from the cache folder ({reason})")


class StoredBody:
    """A body in a store's file: equal to the `Body` it stands for."""

    __slots__ = ("_at", "_file")

    def __init__(self, file: _File, where: int, sizes: int) -> None:
        self._file = file
        #: Where (offset << 32 | length) and the sizes (`_SIZES_BITS`), as
        #: one int: a daemon holds one per article.
        self._at = (where << _SIZES_BITS) | sizes

    def value(self) -> Body:
        return self._file.body(self._at >> _SIZES_BITS)

    def sizes(self) -> BodySizes:
        sizes = self._at
        text, images, related = (sizes >> 32) & _LOW, (sizes >> 16) & _COUNT, sizes & _COUNT
        return BodySizes(text, images, related, (sizes >> 64) & _LOW)

    @property
    def length(self) -> int:
        return (self._at >> _SIZES_BITS) & _LOW

    def moved(self, file: _File, where: int) -> None:
        """Now in ``file`` at ``where`` (the same bytes: `BodyStore.tidy`)."""
        self._file, self._at = file, (where << _SIZES_BITS) | (self._at & _SIZES)

    def raw(self) -> bytes:
        where = self._at >> _SIZES_BITS
        return self._file.raw(where >> 32, where & _LOW)

    def kept_in(self, file: _File) -> bool:
        return self._file is file

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StoredBody | Body):
            return self.value() == other.value()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.value())

    def __repr__(self) -> str:
        return repr(self.value())


class BodyStore:
    """The bodies of the articles a seed set keeps, in a file of the cache folder."""

    def __init__(self, folder: Path | None) -> None:
        """A store in ``folder``; None: a store that keeps bodies in memory."""
        self._folder = folder or Path()
        self._file: _File | None = None
        #: Bytes of the bodies the seed set still keeps.
        self._live = 0
        #: False once writing failed: bodies then stay in memory.
        self._usable = folder is not None

    @overload
    def kept(self, article: Article) -> Article: ...
    @overload
    def kept(self, article: None) -> None: ...
    def kept(self, article: Article | None) -> Article | None:
        """``article`` with its body in the store; as it is when the body is
        already stored, or cannot be (it is then kept in memory)."""
        if article is None or not self._usable:
            return article
        body = article.body
        if not isinstance(body, Body):
            return article
        sizes = body.sizes()
        if max(sizes.images, sizes.related) > _COUNT or max(sizes.text, sizes.link) > _LOW:
            return article
        data = _data_of(body)
        try:
            file = self._open()
            offset = file.append(data)
        except OSError as error:
            self._give_up(error)
            return article
        self._live += len(data)
        packed = (sizes.link << 64) | (sizes.text << 32) | (sizes.images << 16) | sizes.related
        stored = StoredBody(file, (offset << 32) | len(data), packed)
        return replace(article, body=stored)

    def replaced(
        self,
        before: Iterable[Article | None],
        after: Iterable[Article | None],
        kept: Callable[[], Iterable[Article]],
    ) -> None:
        """Notes that the seed set kept the articles ``before`` and now keeps
        those ``after`` in their place; then `tidy`."""
        now = [id(article) for article in after]
        for article in before:
            if article is not None and id(article) not in now:
                body = article.body
                if isinstance(body, StoredBody):
                    self._live -= body.length
        self.tidy(kept)

    def tidy(self, kept: Callable[[], Iterable[Article]]) -> None:
        """Copies the bodies of the articles ``kept`` gives (every article
        the seed set keeps) to a new file, when the old one is mostly garbage."""
        old = self._file
        if old is None or old.end - self._live <= max(self._live, MIN_GARBAGE):
            return
        try:
            new = _File(self._folder)
            for article in kept():
                body = article.body
                if isinstance(body, StoredBody) and body.kept_in(old):
                    body.moved(new, (new.append(body.raw()) << 32) | body.length)
        except OSError as error:
            self._give_up(error)
            return
        self._file, self._live = new, new.end

    def _open(self) -> _File:
        if self._file is None:
            self._file = _File(self._folder)
        return self._file

    def _give_up(self, error: OSError) -> None:
        self._usable = False
        _log.warning(
            "cannot keep article texts in the cache folder %s (%s); keeping them in memory",
            self._folder,
            _reason(error),
        )


def _data_of(body: Body) -> bytes:
    # A Body keeps both compact (its __post_init__): these only tell mypy so.
    images = body.images if isinstance(body.images, Images) else Images(body.images)
    related = body.related if isinstance(body.related, Related) else Related(body.related)
    fields = (body.title_utf8, body.summary_utf8, images.blob, len(images), related.blob)
    return marshal.dumps((*fields, len(related), body.link, body.original_link), _MARSHAL_VERSION)


def _body_of(data: bytes) -> Body:
    fields = marshal.loads(data)  # noqa: S302 - our own file
    title, summary, images, image_count, related, related_count, link, original = fields
    images = Images.own_blob(images, image_count)
    related = Related.own_blob(related, related_count)
    return Body(title, summary, images, related, link, original)


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__
