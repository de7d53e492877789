"""Live migration, one subject in one folder: the migration itself (`run`), its pre-checks, the
forecast, the stall policy, the job's monitor, the decision about its end, the history, and jobs
found in flight.

Callers import the migration from here (`from vmtui.ops.migrate import MigrationOptions, migrate`);
the parts by their module (`vmtui.ops.migrate.precheck`, ...).
"""

from vmtui.ops.migrate.run import (
    MigrationCancelledError,
    MigrationFailedError,
    MigrationOptions,
    MigrationResult,
    migrate,
)

__all__ = ["MigrationCancelledError", "MigrationFailedError", "MigrationOptions", "MigrationResult", "migrate"]
