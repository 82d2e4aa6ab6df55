"""``zstack-cli``: choose the mode from argv and return a fixed exit status.

Kept light on purpose: a one-shot ``zstack-cli QueryZone`` imports the
catalogue, the parser and sqlite3, never prompt_toolkit or Pygments.
"""

import os
import sys

from . import status
from .i18n import choose, t
from .options import build_parser, split_argv
from .output import write_error


def main(argv=None):
    try:
        return _main(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        write_error(t("interrupted"))
        return status.INTERRUPTED
    except SystemExit:
        raise
    except BrokenPipeError:
        # `zstack-cli QueryZone | head`: the reader left; not our failure.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return status.OK
    except Exception as e:       # a bug of ours: one line for the user, the trace in the log
        from .crash import report

        report(e)
        return status.CLI_ERROR


def _main(argv):
    options, command = split_argv(argv)
    args = build_parser().parse_args(options)
    choose(args.lang)
    if args.complete is not None:
        from .shellcomplete import run

        return run(args.complete)
    if args.completions:
        from .shellscripts import SCRIPTS

        sys.stdout.write(SCRIPTS[args.completions])
        return status.OK

    if args.deploy is not None and (command or args.file):
        from .deploy.text import say

        write_error(say("bad_combination"))
        return status.CLI_ERROR

    from .client import Client
    from .runner import Runner

    client = Client()
    try:
        if args.deploy is not None:
            from .deploy import run

            return run(client, args.deploy, args.output, colour=sys.stdout.isatty())
        if command:
            runner = Runner(client, args.output, colour=sys.stdout.isatty())
            return runner.run_argv(command)
        if args.file:
            return _batch(client, args)
        if sys.stdin.isatty():
            from .repl import run_repl

            client.write_behind = True
            code = run_repl(client, args.output)
            for warning in client.close():  # (run_repl waited for what runs behind)
                write_error(warning)
                client.warned = True
            return status.API_ERROR if client.warned and code == status.OK else code
        runner = Runner(client, args.output, batch=True)
        return runner.run_stream(_stdin(), args.keep_going)
    finally:
        client.close()


def _batch(client, args):
    from .runner import Runner

    if args.file == "-":
        return Runner(client, args.output, batch=True).run_stream(_stdin(), args.keep_going)
    try:
        # A BOM is dropped; bytes that are not UTF-8 reach the line they are on (and fail
        # it there) instead of failing the whole file before its first line runs.
        f = open(args.file, encoding="utf-8-sig", errors="surrogateescape")
    except OSError as e:
        write_error(t("cannot_open", path=args.file, reason=e.strerror))
        return status.CLI_ERROR
    with f:
        runner = Runner(client, args.output, batch=True,
                        base_dir=os.path.dirname(os.path.abspath(args.file)))
        return runner.run_stream(f, args.keep_going)


def _stdin():
    """stdin for a batch: bytes that are not UTF-8 fail their own line, whatever the locale."""
    try:
        sys.stdin.reconfigure(errors="surrogateescape")
    except (AttributeError, ValueError):
        pass
    return sys.stdin


if __name__ == "__main__":
    sys.exit(main())
