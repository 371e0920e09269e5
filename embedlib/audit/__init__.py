"""The embedding audit, as a function and as a command.

``embedlib.audit(vectors, ...)`` (this module is callable) or
``embedlib.audit.audit(vectors, ...)`` returns an :class:`AuditReport`;
``python -m embedlib.audit PATH`` or ``embedlib-audit PATH`` runs it on a file.
See :mod:`embedlib.audit.core` for what is measured and :mod:`embedlib.audit.loaders` for
the formats.
"""

from __future__ import annotations

import sys
import types

from .core import AuditReport, audit
from .loaders import AuditInputError, Table, load_table

__all__ = [
    "AuditInputError",
    "AuditReport",
    "Table",
    "audit",
    "audit_path",
    "load_table",
    "main",
]


def audit_path(path, **options) -> AuditReport:
    """Load the table at ``path`` and audit it: the command's work, returning the report."""
    from .cli import audit_path as run

    return run(path, **options)


def main(argv=None) -> int:
    """The command line (see ``embedlib-audit --help``)."""
    from .cli import main as run

    return run(argv)


class _CallableModule(types.ModuleType):
    """``embedlib.audit`` was a function before it became a package: keep it callable."""

    def __call__(self, *args, **kwargs):
        return audit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
