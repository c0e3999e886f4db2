"""Command line: ``python -m GenerateMeterData COMMAND`` (also installed as ``generatemeterdata``).

Exit codes scripts can rely on (``EXIT_*`` below; README "Exit codes"):

====  =====================================================================================
0     success (a dry run included)
1     ``verify`` found violations (``decode``: the frame did not decode)
2     bad input or settings: a usage error, a value out of range, a file that is not a
      meter.db, a load or meter that is not in the ledger, a db_path that does not exist
3     the target failed: locked, unreachable, rejected; a meter's port failed (``capture``);
      an unexpected internal error
130   interrupted (Ctrl-C); the message says what is known of the target's state
====  =====================================================================================

Errors are one line on stderr, never a traceback (``GENERATEMETERDATA_DEBUG=1`` shows it).
A command imports only what it needs: a local ``seed`` never imports paramiko, matplotlib or
the protocol modules.

The package: ``parser.py`` the argument definitions, ``output.py`` what the user sees,
``common.py`` exit codes and the target of a command line, one module per command group
(``seeding.py``, ``loads.py``, ``database.py``; the protocol commands in ``imitation/cli.py``);
the work on several targets at once is ``targets/fleet.py``."""
from __future__ import annotations

import os
import sys
from typing import Callable, Dict, Optional, Sequence

from ..errors import GenerateMeterDataError, InterruptedLoad
from .common import (EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_TARGET, EXIT_VIOLATIONS,  # noqa: F401
                     exit_code, interrupted_message)
from .database import cmd_backup, cmd_init, cmd_plot, cmd_restore, cmd_verify
from .loads import cmd_clear, cmd_loads
from .output import Output, meter_id_ranges, seed_document, summarize  # noqa: F401
from .parser import PROG, build_parser, command_line, command_word  # noqa: F401
from .seeding import cmd_seed

COMMANDS: Dict[str, Callable] = {"init": cmd_init, "seed": cmd_seed, "verify": cmd_verify,
                                 "clear": cmd_clear, "loads": cmd_loads, "backup": cmd_backup,
                                 "restore": cmd_restore, "plot": cmd_plot}


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit code (errors are one line on stderr)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = command_word(argv)
    try:
        parser = build_parser(argv)
    except GenerateMeterDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    args = parser.parse_args(argv)
    command = args.command
    out = Output(quiet=args.quiet, verbose=args.verbose, json_output=getattr(args, "json", False))
    handler = COMMANDS.get(command) or getattr(args, "handler", None)
    if handler is None:  # the parser requires a command and every command has a handler
        parser.error(f"command {command!r} has no handler")
    from ..targets.base import Target

    recorded, Target.command = Target.command, command_line(argv)  # what the ledger records as the command
    try:
        return handler(args, out)
    except InterruptedLoad as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INTERRUPTED
    except GenerateMeterDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code(exc, command)
    except KeyboardInterrupt:
        print(interrupted_message(command), file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader (head, less) went away: nothing more to say
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK
    except OSError as exc:
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_TARGET
    except Exception as exc:
        if os.environ.get("GENERATEMETERDATA_DEBUG"):
            raise
        first = (str(exc).splitlines() or [""])[0][:300]
        print(f"error: unexpected {type(exc).__name__} in {command}: {first} (a bug: please report it; "
              "GENERATEMETERDATA_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_TARGET
    finally:
        Target.command = recorded


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if os.environ.get("GENERATEMETERDATA_DEBUG"):  # pragma: no cover - developer aid
    import faulthandler

    faulthandler.enable()


__all__ = ["main", "run", "build_parser", "command_line", "COMMANDS", "Output", "summarize", "seed_document",
           "meter_id_ranges", "PROG", "EXIT_OK", "EXIT_VIOLATIONS", "EXIT_INPUT", "EXIT_TARGET", "EXIT_INTERRUPTED"]
