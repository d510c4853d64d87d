"""Every place feeds relies on a dependency's internals: one module per dependency.

A name a dependency does not document (an underscored attribute, a module it
does not export) is used only from here, where no public API does the job.
Each use is checked by tests/compat/test_compat.py, which fails naming the
dependency, its version and the internal when an upgrade changes it; at run
time a missing internal is a `DependencyError` at start, never a defense that
quietly stops. README.md ("Maintainers") says why each one is needed.
"""

from __future__ import annotations

from feeds.errors import FeedsError


class DependencyError(FeedsError):
    """An installed dependency lacks an internal that feeds relies on."""


def missing(dependency: str, version: str, internal: str, why: str) -> DependencyError:
    """The error for ``internal`` gone from ``dependency``: what, where, and why it matters."""
    return DependencyError(
        f"{dependency} {version} has no {internal}, which feeds needs ({why}); "
        f"install the {dependency} version that feeds' pyproject.toml allows"
    )
