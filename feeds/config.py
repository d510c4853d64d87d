"""Configuration: read once, validated, frozen.

Relative paths in a config file are relative to the file's own folder, so the
same file works from any working directory (cron, systemd, a shell).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from feeds.build.parsecache import default_cache_dir
from feeds.errors import ConfigError, kind_of
from feeds.formats import FORMATS, formats_named
from feeds.model import XML_FORBIDDEN
from feeds.plan.matching import PatternError, compile_pattern, shown
from feeds.remote.targets import parse_s3_url
from feeds.seeds.yamlload import describe_yaml_error, load_yaml
from feeds.system.folders import placement_problems
from feeds.urls import check_http_url

#: The longest ``ttl``, in minutes: a year (the longest syndication period).
MAX_TTL = 365 * 24 * 60

#: Read when present and no ``--config`` is given.
DEFAULT_CONFIG_PATH = Path("config/feeds.yaml")


class SettingKind(Enum):
    """What a setting changes. Every setting declares its kind beside its field
    (``Annotated[int, SettingKind.RENDERING]``); the parse cache's identity, the
    config digest of the last publish and the daemon's reload derive from these."""

    #: How seed files are read: part of the parse cache's identity, so another
    #: value reads every file again (and, changing the output, the digest too).
    READING = "reading"
    #: The output, its bytes or its place: part of the config digest, so
    #: another value renders the feeds again.
    RENDERING = "rendering"
    #: How feeds runs (the daemon, where the cache lives), never a byte of
    #: output: `feeds run` with its own port must not re-render every feed
    #: that `feeds build` just wrote.
    RUNTIME = "runtime"


class _Refused(ValueError):
    """A value refused with a message that says all: it is not quoted back."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @field_validator("*")
    @classmethod
    def _only_xml_characters(cls, value: object) -> object:
        # A title or a name holding such a character would stop every build
        # that renders it (lxml refuses it): refused here, once, instead.
        texts = value if isinstance(value, tuple) else (value,)
        for text in texts:
            found = XML_FORBIDDEN.search(text) if isinstance(text, str) else None
            if found is not None:
                raise _Refused(f"holds U+{ord(found.group()):04X}, a character no feed may carry")
        return value


class AuthorConfig(_Section):
    name: Annotated[str, SettingKind.RENDERING] = Field(default="feeds", min_length=1)
    email: Annotated[str | None, SettingKind.RENDERING] = None
    uri: Annotated[str | None, SettingKind.RENDERING] = None

    @field_validator("uri")
    @classmethod
    def _uri_is_http(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)


class ServerConfig(_Section):
    """The embedded HTTP server of ``feeds run``."""

    host: Annotated[str, SettingKind.RUNTIME] = Field(default="127.0.0.1", min_length=1)
    port: Annotated[int, SettingKind.RUNTIME] = Field(default=8080, ge=0, le=65535)
    #: Seconds a reader or proxy may reuse a response without asking again.
    cache_max_age: Annotated[int, SettingKind.RUNTIME] = Field(default=60, ge=0)
    #: ``Access-Control-Allow-Origin`` of every answer, so browser-based readers
    #: can fetch the feeds; ``*`` or one origin, None (``null``) for no CORS.
    cors: Annotated[str | None, SettingKind.RUNTIME] = Field(
        default="*", pattern=r"^(\*|https?://[^/\s]+)$"
    )
    #: Prometheus metrics at ``/metrics`` (``feeds.service.metrics``).
    metrics: Annotated[bool, SettingKind.RUNTIME] = True


class WebSubConfig(_Section):
    """W3C WebSub: hubs told about every changed feed, and named in every feed."""

    hubs: Annotated[tuple[str, ...], Field(strict=False), SettingKind.RENDERING] = ()

    @field_validator("hubs")
    @classmethod
    def _hubs_are_http(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_http_url(hub) for hub in value)


class CustomFeedConfig(_Section):
    """A named feed of the articles that pass every filter given."""

    #: File name: written as custom/<name> and each format's suffix.
    name: Annotated[str, SettingKind.RENDERING] = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,79}$")
    title: Annotated[str | None, SettingKind.RENDERING] = Field(default=None, min_length=1)
    description: Annotated[str | None, SettingKind.RENDERING] = Field(default=None, min_length=1)
    topics_any: Annotated[tuple[str, ...], Field(strict=False), SettingKind.RENDERING] = ()
    topics_all: Annotated[tuple[str, ...], Field(strict=False), SettingKind.RENDERING] = ()
    categories: Annotated[tuple[str, ...], Field(strict=False), SettingKind.RENDERING] = ()
    provider_domains: Annotated[tuple[str, ...], Field(strict=False), SettingKind.RENDERING] = ()
    min_quality: Annotated[float | None, SettingKind.RENDERING] = Field(default=None, strict=False)
    published_only: Annotated[bool, SettingKind.RENDERING] = False
    #: Regular expressions, matched case-insensitively against title and summary.
    include: Annotated[tuple[str, ...], Field(strict=False), SettingKind.RENDERING] = ()
    exclude: Annotated[tuple[str, ...], Field(strict=False), SettingKind.RENDERING] = ()

    @field_validator("include", "exclude")
    @classmethod
    def _patterns_compile(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # Refused here, not when the first seed meets them (feeds/plan/matching.py).
        name = info.data.get("name")
        feed = f"custom feed {name!r}" if name else "this custom feed"
        for index, pattern in enumerate(value):
            try:
                compile_pattern(pattern)
            except PatternError as error:
                raise _Refused(
                    f"{feed}: {info.field_name}[{index}] {shown(pattern)}: {error}"
                ) from None
        return value


class FacetsConfig(_Section):
    """Extra feeds per category and per provider (off by default)."""

    categories: Annotated[bool, SettingKind.RENDERING] = False
    providers: Annotated[bool, SettingKind.RENDERING] = False


#: A header value: printable ASCII only, so no value can end the header line.
_HEADER_VALUE = r"^[\x20-\x7e]{1,256}$"
#: Keys a credential would hide under; refused by name, never quoted back.
_CREDENTIAL_WORDS = ("key", "secret", "token", "password", "credential")


class CacheControlConfig(_Section):
    """``Cache-Control`` of each kind of object a publish target holds."""

    #: Every feed's main document, which changes with every new article.
    feeds: Annotated[str, SettingKind.RUNTIME] = Field(
        default="public, max-age=60", pattern=_HEADER_VALUE
    )
    #: Archive documents. A feed's newest archive still changes as entries
    #: leave its main document, so the default stays short of a day.
    archives: Annotated[str, SettingKind.RUNTIME] = Field(
        default="public, max-age=3600", pattern=_HEADER_VALUE
    )
    #: The pages for people: index.html, each feed's page, feeds.opml.
    pages: Annotated[str, SettingKind.RUNTIME] = Field(
        default="public, max-age=300", pattern=_HEADER_VALUE
    )


class PublishTargetConfig(_Section):
    """Object storage the output folder is pushed to (`feeds.remote`).

    Credentials never come from here: only from the standard AWS chain
    (environment, shared config and ``profile``, container or instance role).
    """

    #: ``s3://bucket/prefix/``: the bucket and the key prefix of every object.
    url: Annotated[str, SettingKind.RUNTIME]
    #: Another S3 API than AWS's: R2, GCS, MinIO, Ceph.
    endpoint_url: Annotated[str | None, SettingKind.RUNTIME] = None
    region: Annotated[str | None, SettingKind.RUNTIME] = Field(
        default=None, pattern=r"^[a-z0-9-]{1,40}$"
    )
    #: A profile of the shared AWS config (its name, never its keys).
    profile: Annotated[str | None, SettingKind.RUNTIME] = Field(
        default=None, pattern=r"^[A-Za-z0-9_.@+=,-]{1,64}$"
    )
    #: Where readers find this target's objects (WebSub pings, purged paths);
    #: default: ``base_url``, the public address of the feeds.
    public_url: Annotated[str | None, SettingKind.RUNTIME] = None
    cache_control: CacheControlConfig = CacheControlConfig()
    #: Run after each push with the public paths that changed, as arguments.
    purge_command: Annotated[
        tuple[str, ...], Field(strict=False, max_length=64), SettingKind.RUNTIME
    ] = ()

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: object) -> object:
        if isinstance(data, dict):
            for key in data:
                if isinstance(key, str) and any(w in key.lower() for w in _CREDENTIAL_WORDS):
                    raise _Refused(
                        f"{_shown(key)}: credentials are never read from the config; "
                        "give them through the AWS environment variables, the shared "
                        "AWS config (profile) or a container or instance role"
                    )
        return data

    @field_validator("url")
    @classmethod
    def _s3_url(cls, value: str) -> str:
        bucket, prefix = parse_s3_url(value)
        return f"s3://{bucket}/{prefix}"

    @field_validator("endpoint_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        url = check_http_url(value)
        if "@" in url.split("/")[2]:
            raise _Refused("must not hold a user name or password; credentials come from AWS")
        return url

    @field_validator("public_url")
    @classmethod
    def _public_url_is_a_folder(cls, value: str | None) -> str | None:
        return value if value is None or value.endswith("/") else value + "/"

    @field_validator("purge_command")
    @classmethod
    def _command(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if value and not value[0]:
            raise _Refused("must start with the program to run")
        return value


LaxPath = Annotated[Path, Field(strict=False)]


class Config(_Section):
    title: Annotated[str, SettingKind.RENDERING] = Field(default="Feeds", min_length=1)
    description: Annotated[str, SettingKind.RENDERING] = Field(
        default="Articles from the seeds folder", min_length=1
    )
    language: Annotated[str, SettingKind.RENDERING] = Field(
        default="en", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
    )
    author: AuthorConfig = AuthorConfig()
    #: Where the output folder is served; every feed's self link starts here.
    base_url: Annotated[str, SettingKind.RENDERING] = "http://127.0.0.1:8080/"
    #: The human-facing site the feeds belong to; defaults to ``base_url``.
    home_url: Annotated[str | None, SettingKind.RENDERING] = None
    seeds: Annotated[LaxPath, SettingKind.READING] = Path("seeds")
    #: Where the output is written is part of it: another folder is written anew.
    output: Annotated[LaxPath, SettingKind.RENDERING] = Path("output")
    #: The parse cache's folder (default: $CACHE_DIRECTORY under systemd,
    #: else ~/.cache/feeds). Never inside the output folder.
    cache_dir: Annotated[Path | None, Field(strict=False), SettingKind.RUNTIME] = None
    #: What ``feeds run`` keeps across restarts (subscriber counts); default:
    #: `default_state_dir`. Never inside the output folder, which is served.
    state_dir: Annotated[Path | None, Field(strict=False), SettingKind.RUNTIME] = None
    patterns: Annotated[tuple[str, ...], Field(strict=False, min_length=1), SettingKind.READING] = (
        "*.txt",
        "*.md",
    )
    timezone: Annotated[str, SettingKind.READING] = "UTC"
    max_items: Annotated[int, SettingKind.RENDERING] = Field(default=50, ge=1, le=100_000)
    published_only: Annotated[bool, SettingKind.RENDERING] = False
    #: How ``feeds run`` notices changes: ``auto`` (inotify, falling back to
    #: polling), ``inotify``, or ``poll`` (network filesystems, some containers).
    watch: Annotated[Literal["auto", "inotify", "poll"], SettingKind.RUNTIME] = "auto"
    #: Quiet time after the last change before a rebuild starts.
    debounce_ms: Annotated[int, SettingKind.RUNTIME] = Field(default=100, ge=0, le=60_000)
    #: Seconds between full rescans that repair anything the watcher missed.
    rescan_interval: Annotated[int, SettingKind.RUNTIME] = Field(default=600, ge=1)
    #: Seconds a rebuild may run before ``feeds run`` counts it stuck.
    rebuild_timeout: Annotated[int, SettingKind.RUNTIME] = Field(default=300, ge=1)
    server: ServerConfig = ServerConfig()
    websub: WebSubConfig = WebSubConfig()
    custom_feeds: Annotated[tuple[CustomFeedConfig, ...], Field(strict=False)] = ()
    facets: FacetsConfig = FacetsConfig()
    #: RFC 5005 archives: entries older than the newest ``max_items`` stay
    #: reachable in archive documents, in every chosen format: one a month,
    #: or parts of a month for a busy feed (docs/ARCHIVES.md).
    archives: Annotated[bool, SettingKind.RENDERING] = True
    #: Most entries in one archive document; a busier month is cut into parts.
    #: The bytes one save rewrites grow with it.
    archive_max_items: Annotated[int, SettingKind.RENDERING] = Field(default=50, ge=1, le=100_000)
    #: The formats every feed is written in, a non-empty selection of
    #: `feeds.formats.FORMATS`; kept in the registry's order, whose first is
    #: the one the index page and OPML subscribe to. By default every format
    #: (``[atom, rss, json]``), so a format added to the registry is written.
    formats: Annotated[
        tuple[str, ...], Field(strict=False, min_length=1), SettingKind.RENDERING
    ] = tuple(fmt.name for fmt in FORMATS)
    #: Minutes a reader may wait between polls: RSS ``<ttl>`` and ``sy:`` hints.
    ttl: Annotated[int, SettingKind.RENDERING] = Field(default=15, ge=1, le=MAX_TTL)
    #: An HTML page beside each feed's main document (``all.html``), for people.
    pages: Annotated[bool, SettingKind.RENDERING] = True
    #: Largest size of one feed document; the oldest entries go first.
    max_bytes: Annotated[int, SettingKind.RENDERING] = Field(default=512 * 1024, ge=16 * 1024)
    #: Summaries longer than this many characters are cut at a word boundary.
    summary_length: Annotated[int, SettingKind.READING] = Field(default=1000, ge=50)
    #: Repair mojibake such as "cityâ€™s" (ftfy).
    fix_text: Annotated[bool, SettingKind.READING] = True
    #: Object storage the output is pushed to (``feeds publish``, ``feeds run``).
    publish: Annotated[tuple[PublishTargetConfig, ...], Field(strict=False)] = ()
    #: Reject an article for any optional field of the wrong shape, instead
    #: of publishing it without that field: for pipelines that would rather fail.
    #: Applied to each seed's cached warnings after reading, so not a reading
    #: setting: switching it reads nothing again.
    strict: Annotated[bool, SettingKind.RENDERING] = False

    @field_validator("custom_feeds")
    @classmethod
    def _unique_names(cls, value: tuple[CustomFeedConfig, ...]) -> tuple[CustomFeedConfig, ...]:
        names = [feed.name for feed in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"custom feed names must be unique: {', '.join(duplicates)}")
        return value

    @field_validator("publish")
    @classmethod
    def _unique_targets(
        cls, value: tuple[PublishTargetConfig, ...]
    ) -> tuple[PublishTargetConfig, ...]:
        urls = [target.url for target in value]
        duplicates = sorted({url for url in urls if urls.count(url) > 1})
        if duplicates:
            raise _Refused(f"each target once: {', '.join(duplicates)} is named twice")
        return value

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        known = [fmt.name for fmt in FORMATS]
        for name in value:
            if name not in known:
                hint = _suggest(name, known)
                raise _Refused(f"unknown format {_shown(name)}{hint}; known: {', '.join(known)}")
        return tuple(fmt.name for fmt in formats_named(value))

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        url = check_http_url(value)
        return url if url.endswith("/") else url + "/"

    @field_validator("home_url")
    @classmethod
    def _home_url_is_http(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a folder
            raise ValueError("is not a known IANA time zone such as UTC or Europe/Berlin") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def site_url(self) -> str:
        return self.home_url or self.base_url


def settings_of(config: Config, kind: SettingKind) -> dict[str, Any]:
    """The settings of ``kind`` by name, a section's as a dict of its own."""
    return config.model_dump(include=settings_spec(kind))


@cache
def settings_spec(kind: SettingKind, model: type[BaseModel] = Config) -> Mapping[str, Any]:
    """The settings of ``kind`` as pydantic's ``include``/``exclude`` take them:
    a section is named whole when all its settings are of that kind."""
    spec: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        section = _model_in(field.annotation)
        if section is None:
            if kind in field.metadata:
                spec[name] = True
            continue
        inner = settings_spec(kind, section)
        if inner and inner == dict.fromkeys(section.model_fields, True):
            spec[name] = True
        elif inner:
            # A tuple of sections (custom feeds) names its items' fields through "__all__".
            spec[name] = inner if field.annotation is section else {"__all__": inner}
    return spec


def load_config(
    path: Path | None = None,
    *,
    seeds: Path | None = None,
    output: Path | None = None,
    cache_dir: Path | None = None,
    strict: bool | None = None,
) -> Config:
    """The config from ``path`` (or the default file when present), with flags applied.

    Flags win over the file. Raises ``ConfigError`` with a message that names
    the file, the key and what was expected.
    """
    if path is None and DEFAULT_CONFIG_PATH.is_file():
        path = DEFAULT_CONFIG_PATH
    raw: Mapping[str, Any] = {}
    base_dir = Path.cwd()
    if path is not None:
        raw = _read_mapping(path)
        base_dir = path.parent
    try:
        config = Config.model_validate(raw)
    except ValidationError as error:
        where = str(path) if path is not None else "config"
        raise ConfigError(_describe_validation_error(where, error)) from None
    updates: dict[str, Any] = {
        "seeds": seeds if seeds is not None else _join(base_dir, config.seeds),
        "output": output if output is not None else _join(base_dir, config.output),
    }
    if cache_dir is not None:
        updates["cache_dir"] = cache_dir
    elif config.cache_dir is not None:
        updates["cache_dir"] = _join(base_dir, config.cache_dir)
    if config.state_dir is not None:
        updates["state_dir"] = _join(base_dir, config.state_dir)
    if strict is not None:
        updates["strict"] = strict
    result = config.model_copy(update=updates)
    where = str(path) if path is not None else "config"
    cache = result.cache_dir or default_cache_dir()
    problems = placement_problems(result.seeds, result.output, cache, state_dir_of(result))
    if problems:
        raise ConfigError("\n".join(f"{where}: {problem}" for problem in problems))
    return result


def default_state_dir() -> Path:
    """systemd's StateDirectory=, else $XDG_STATE_HOME/feeds, else ~/.local/state/feeds."""
    systemd = os.environ.get("STATE_DIRECTORY")
    if systemd:
        return Path(systemd.split(":")[0])
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "feeds"


def state_dir_of(config: Config) -> Path:
    return config.state_dir or default_state_dir()


def _join(base_dir: Path, path: Path) -> Path:
    """``path`` relative to ``base_dir``, tidied (``config/../seeds`` reads ``seeds``)."""
    return Path(os.path.normpath(base_dir / path))


def _read_mapping(path: Path) -> Mapping[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config: {error.strerror}") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: {describe_yaml_error(error)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {kind_of(data)}")
    return data


def _describe_validation_error(where: str, error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        location = ".".join(str(part) for part in problem["loc"])
        if problem["type"] == "extra_forbidden":
            key = str(problem["loc"][-1])
            hint = _suggest(key, _fields_at(problem["loc"][:-1]))
            lines.append(f"{where}: unknown key '{location}'{hint}")
        else:
            # A validator's own error in its own words (not pydantic's wrapping).
            raised = problem.get("ctx", {}).get("error")
            if isinstance(raised, _Refused):  # says all; the value is not quoted
                lines.append(f"{where}: {location}: {raised}")
                continue
            message = str(raised) if isinstance(raised, ValueError) else problem["msg"]
            lines.append(f"{where}: {location}: {message} (got {_shown(problem['input'])})")
    return "\n".join(lines)


def _fields_at(location: tuple[int | str, ...]) -> list[str]:
    model: type[BaseModel] = Config
    for part in location:
        if isinstance(part, int):  # an index into a list of sections
            continue
        field = model.model_fields.get(part)
        found = _model_in(field.annotation) if field is not None else None
        if found is None:
            return []
        model = found
    return list(model.model_fields)


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The section model an annotation holds, also inside tuple[...] or Annotated[...]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _suggest(key: str, candidates: list[str]) -> str:
    lowered = {candidate.lower(): candidate for candidate in candidates}
    matches = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[matches[0]]}'?)" if matches else ""


def _shown(value: object) -> str:
    """Short scalars are quoted back (a config holds no secrets); the rest is named."""
    if isinstance(value, int) and value.bit_length() > 200:  # repr() of a huge int raises
        return kind_of(value)
    if isinstance(value, str | int | float) and len(repr(value)) <= 60:
        return repr(value)
    return kind_of(value)
