"""The command's options: one parser, read by main, the man page and shell completion."""

import sys

from . import __version__, status
from .output import FORMATS
from .shellscripts import SCRIPTS

# Options whose next word is their value, not the verb.
OPTIONS_WITH_VALUE = ("-o", "--output", "-f", "--file", "-d", "--deploy", "--lang", "--complete",
                      "--completions")


def build_parser():
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message):          # a bad option is a CLI error: status 1, not 2
            self.print_usage(sys.stderr)
            self.exit(status.CLI_ERROR, f"{self.prog}: error: {message}\n")

    p = Parser(
        prog="zstack-cli",
        description="An interactive shell for a small KVM cloud, speaking ZStack's API.",
        epilog="Without a command and with a terminal on stdin, opens the >>> shell; "
               "with stdin from a pipe, runs its lines. Exit status: 0 success, 1 CLI error, "
               "3 API error, 130 interrupted.")
    p.add_argument("-o", "--output", choices=FORMATS, default="json",
                   help="reply format (default json)")
    p.add_argument("-f", "--file", metavar="FILE",
                   help="run the commands in FILE, one per line ('-' for stdin)")
    p.add_argument("-d", "--deploy", metavar="FILE",
                   help="deploy the environment (zones, clusters, hosts, storage, images, "
                        "offerings, networks, VMs) described in the YAML FILE ('-' for stdin), "
                        "idempotently: what exists (matched by name) is not created again")
    p.add_argument("--keep-going", action="store_true",
                   help="batch: go on after a failure; exit with the first failure's status")
    p.add_argument("--lang", choices=("en", "zh"), help="language of messages")
    p.add_argument("--version", action="version", version=f"zstack-cli {__version__}")
    p.add_argument("--completions", metavar="SHELL", choices=tuple(SCRIPTS),
                   help=f"print the completion script for SHELL ({', '.join(SCRIPTS)})")
    p.add_argument("--complete", metavar="LINE", help=argparse.SUPPRESS)
    p.add_argument("command", nargs="*", metavar="Verb key=value",
                   help="one command to run, e.g. QueryZone name=zone1")
    return p


def split_argv(argv):
    """Options before the verb are ours; everything from the verb on is the
    command, even words that look like options."""
    for i, word in enumerate(argv):
        if not word.startswith("-"):
            previous = argv[i - 1] if i else ""
            if previous in OPTIONS_WITH_VALUE:
                continue
            return argv[:i], argv[i:]
    return argv, []
