"""Domain errors and the one funnel that turns every failure into one line on stderr and an exit code.

Exit codes:
    0    success
    1    domain error: bad input file, weights that do not fit, a missing optional dependency, an output that
         cannot be written (a file in the way, permissions, a full disk)
    2    usage error: unknown option, missing argument, invalid value (reported by Click)
    3    finished, but some inputs could not be read (``segment`` on a folder: they are listed)
    130  interrupted (Ctrl-C)
"""

from __future__ import annotations

import errno
import os
import sys

import click
import typer
from rich.markup import escape

from efficientps_app.console import stderr

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
DEBUG_ENV = "EFFICIENTPS_DEBUG"


class EfficientPSError(Exception):
    """An error the user can fix; its message is shown as one line."""


class SourceError(EfficientPSError):
    """An input image, video or stream cannot be opened or read."""


class OutputError(EfficientPSError):
    """An output cannot be written as asked (exists without --overwrite, a format that does not fit)."""


class WeightsError(EfficientPSError):
    """A weights file cannot be used."""


class ExportError(EfficientPSError):
    """A model cannot be exported."""


def error_line(message: str) -> None:
    """Print ``error: message`` (one line) on stderr."""
    stderr.print(f"[bold red]error:[/] {escape(' '.join(str(message).split()))}")


# Errors of the library packages that mean "bad input", checked by name so that the CLI does not import
# torch just to recognise them.
_LIBRARY_ERRORS = (
    ("model.device", "DeviceError"),
    ("model.weights", "WeightsFileError"),
    ("train.data", "DatasetError"),
    ("train.checkpoint", "CheckpointError"),
    ("train.loop", "TrainingError"),
)


# What the system says when a file cannot be written (or read) for a reason the user fixes: the disk or quota
# is full, the file system is read-only, permissions, a file where a folder should be.
_SYSTEM_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM,
                            errno.ENOTDIR, errno.EISDIR})


def _system_error_text(err: Exception) -> str | None:
    """``PATH: reason`` for an :class:`OSError` the user can fix (full disk, read-only, permissions), else None."""
    if not isinstance(err, OSError) or err.errno not in _SYSTEM_ERRNOS:
        return None
    where = f"{err.filename}: " if err.filename else ""
    return f"{where}{err.strerror or os.strerror(err.errno)}"


def _is_domain_error(err: Exception) -> bool:
    if isinstance(err, EfficientPSError):
        return True
    for module_name, class_name in _LIBRARY_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(err, getattr(module, class_name)):
            return True
    return False


def run_funnelled(command: click.Command, args: list[str] | None = None) -> int:
    """Run the Typer/Click command; map every outcome to an exit code with one line of error text.

    A command that was interrupted and finalised its outputs returns :data:`EXIT_INTERRUPTED` (the one
    signal for that); a Ctrl-C that reaches the funnel (while loading, say) ends the same way. Set
    ``EFFICIENTPS_DEBUG=1`` to let unexpected exceptions raise with their traceback.
    """
    try:
        result = command.main(args=args, prog_name="efficientps", standalone_mode=False)
    except typer.Abort as err:
        if not isinstance(err.__cause__, KeyboardInterrupt):  # Click turns Ctrl-C into Abort
            error_line("aborted")
            return EXIT_ERROR
        result = EXIT_INTERRUPTED
    except KeyboardInterrupt:
        result = EXIT_INTERRUPTED
    except SystemExit as err:  # --show-completion and --install-completion end with sys.exit
        return err.code if isinstance(err.code, int) else EXIT_OK if err.code is None else EXIT_ERROR
    except typer.TyperException as err:  # Click's usage errors (Typer vendors Click)
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        if message:  # empty for "no arguments: help shown"
            error_line(f"{message} (try 'efficientps --help')")
        return int(getattr(err, "exit_code", EXIT_USAGE))
    except Exception as err:
        if _is_domain_error(err):
            error_line(str(err))
            return EXIT_ERROR
        if (text := _system_error_text(err)) is not None:
            error_line(text)
            return EXIT_ERROR
        if os.environ.get(DEBUG_ENV):  # a bug: still one line unless debugging
            raise
        error_line(f"internal error: {type(err).__name__}: {err} (set {DEBUG_ENV}=1 for the traceback)")
        return EXIT_ERROR
    if result == EXIT_INTERRUPTED:  # Typer turns Ctrl-C into exit code 130
        error_line("interrupted")
    return result if isinstance(result, int) else EXIT_OK
