"""What the daemon shows the world: the output folder over HTTP, and the
WebSub hubs told of every feed that changed."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from feeds.build.report import BuildReport
from feeds.config import Config
from feeds.formats import FORMATS
from feeds.plan.plans import ARCHIVE_DIR
from feeds.service.metrics import Metrics
from feeds.service.websub import HubNotifier
from feeds.urls import join_url

if TYPE_CHECKING:  # the server brings uvicorn and starlette: imported when it starts
    from feeds.serve.server import ServerThread

log = logging.getLogger("feeds.daemon")

FEED_SUFFIXES = tuple(fmt.suffix for fmt in FORMATS)


class Frontend:
    """The HTTP server and the WebSub hubs of ``config()`` (the daemon's
    current config); ``health`` answers /healthz, ``metrics`` /metrics
    (with ``server.metrics``) and records every request."""

    def __init__(
        self,
        config: Callable[[], Config],
        health: Callable[[], Mapping[str, object]],
        metrics: Metrics,
    ) -> None:
        self._config = config
        self._health = health
        self._metrics = metrics
        self._hubs = HubNotifier(config().websub.hubs)
        self._server: ServerThread | None = None
        # From the command line, over the config's; None: the config's.
        self._host: str | None = None
        self._port: int | None = None

    # --- HTTP ----------------------------------------------------------

    @property
    def serving(self) -> bool:
        return self._server is not None

    def serve(self, host: str | None, port: int | None) -> None:
        """Starts the server, on ``host`` and ``port`` unless None."""
        self._host, self._port = host, port
        self._start_server()

    def restart_server(self) -> None:
        """Serves anew, after the output folder or the server's settings changed."""
        if self._server is not None:
            self._server.stop()
            self._start_server()

    def _start_server(self) -> None:
        # Here: `feeds run --no-serve` never pays for uvicorn and starlette.
        from feeds.serve.connections import raise_open_files_limit
        from feeds.serve.server import ServerThread, create_app

        config = self._config()
        app = create_app(
            config.output,
            cache_max_age=config.server.cache_max_age,
            cors=config.server.cors,
            health=self._health,
            extra_headers=self._link_headers,
            base_url=config.base_url,
            metrics=self._metrics if config.server.metrics else None,
        )
        host = self._host or config.server.host
        port = self._port if self._port is not None else config.server.port
        open_files = raise_open_files_limit()
        self._server = ServerThread(app, host, port)
        self._server.start()
        log.info("serving %s on http://%s:%d/", config.output, host, self._server.port)
        log.info(
            "HTTP: up to %d connections (open-files limit %d)",
            self._server.connections.limit,
            open_files,
        )

    def _link_headers(self, path: str) -> Mapping[str, str]:
        """WebSub discovery in HTTP: ``Link: <hub>; rel="hub", <self>; rel="self"``."""
        config = self._config()
        if not config.websub.hubs or not path.endswith(FEED_SUFFIXES):
            return {}
        links = [f'<{hub}>; rel="hub"' for hub in config.websub.hubs]
        links.append(f'<{join_url(config.base_url, path)}>; rel="self"')
        return {"Link": ", ".join(links)}

    # --- WebSub --------------------------------------------------------

    def ping(self, report: BuildReport) -> None:
        """Tells the hubs about every feed whose file changed (archives are not subscribed to)."""
        base_url = self._config().base_url
        self._hubs.notify(
            join_url(base_url, name)
            for name in report.written
            if name.endswith(FEED_SUFFIXES) and not name.startswith(f"{ARCHIVE_DIR}/")
        )

    def notify(self, feed_urls: Iterable[str]) -> None:
        """Tells the hubs about ``feed_urls`` (a publish target's, once pushed)."""
        self._hubs.notify(feed_urls)

    def replace_hubs(self, hubs: tuple[str, ...]) -> None:
        self._hubs.close(1.0)
        self._hubs = HubNotifier(hubs)

    def close(self) -> None:
        self._hubs.wait_idle(1.0)  # a last change deserves its push if hubs answer quickly
        self._hubs.close(1.0)
        if self._server is not None:
            self._server.stop()
