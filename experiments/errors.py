"""The error boundary of every ``csdm`` command: user-caused failures exit 2 with one line, Ctrl-C exits
130 saying how to continue, internal bugs keep their traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable

import typer

# What a user can cause: bad values and data (ValueError), files, folders and permissions (OSError), truncated
# files read to their end (EOFError: click would print a bare "Aborted!"), a model too large for memory.
USER_ERRORS = (ValueError, OSError, EOFError, MemoryError)


def one_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message; for a file-system error, the file and the reason."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename is not None else ""
        return f"{where}{exc.strerror}; check the path and its permissions"
    if isinstance(exc, MemoryError):
        return "out of memory; use a smaller --n-neurons or dataset"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def friendly_errors(interrupted: str = "interrupted") -> Callable[[Callable], Callable]:
    """One error boundary per command: user-caused failures exit 2 with one line (``error: ...``),
    Ctrl-C exits 130 with ``interrupted`` (how to continue); internal bugs keep their traceback."""

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            try:
                return command(*args, **kwargs)
            except KeyboardInterrupt:
                typer.echo(interrupted, err=True)
                raise typer.Exit(130) from None
            except USER_ERRORS as exc:
                typer.echo(f"error: {one_line(exc)}", err=True)
                raise typer.Exit(2) from None

        return wrapper

    return decorate
