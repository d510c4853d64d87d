"""Every place feeds relies on a dependency's internals: one module per dependency.

A name a dependency does not document (an underscored attribute, a module it
does not export) is used only from here, where no public API does the job.
Each use is checked by tests/compat/test_compat.py, which fails naming the
dependency, its version and the internal when an upgrade changes it; at run
time a missing internal is a `DependencyError` at start, never a defense that
quietly stops. README.md ("Maintainers") says why each one is needed.
"""
