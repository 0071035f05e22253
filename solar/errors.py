"""One error type for bad user input, and the wrapper that turns it into a one-line exit."""
from __future__ import annotations

import functools
import sys


class SolarError(Exception):
    """A problem the user can fix (bad flag, missing file, wrong columns...)."""


def cli(main):
    """Run a script's main(); a SolarError becomes `error: ...` on stderr and exit code 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except SolarError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted: finished work is kept; rerun the same command to resume", file=sys.stderr)
            sys.exit(130)

    return wrapper


def require_columns(df, columns, what: str, allow_empty: bool = False):
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SolarError(f"{what}: missing column(s) {missing}; found {list(df.columns)}")
    if len(df) == 0 and not allow_empty:
        raise SolarError(f"{what}: no rows")
