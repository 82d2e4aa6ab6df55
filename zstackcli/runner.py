"""Run statements: parse, built-in or API call, print, and the exit status.

One engine for every mode: argv, batch (-f FILE, -f -, a pipe) and the REPL.
"""

import sys

from . import builtins, status
from .binder import CliError, bind
from .builtins import ExitShell  # noqa: F401  (the REPL catches it from here)
from .i18n import t
from .output import FORMATS, format_api_error, render, write_error
from .parser import Command, ParseError, is_incomplete, parse, split_statements
from .progress import ProgressBar


class Runner:
    def __init__(self, client, output="json", colour=False, stream=None, base_dir=None,
                 batch=False):
        self.client = client
        self.output = output
        self.colour = colour
        self.stream = stream or sys.stdout
        self.base_dir = base_dir
        self.batch = batch
        self.results = []        # (verb, reply) of this session, for `more`
        self.pager = None        # set by the REPL: long replies go through it

    # -- printing -------------------------------------------------------------
    def emit(self, text):
        if self.pager is not None and self.pager(text):
            return
        self.stream.write(text)
        self.stream.flush()

    def cli_error(self, message, line=None):
        if self.batch and line is not None:
            message = t("line_prefix", line=line, message=message)
        write_error(message, colour=self.colour or None)
        return status.CLI_ERROR

    # -- running ------------------------------------------------------------------
    def run_text(self, text, line=1):
        """One statement (possibly several physical lines)."""
        try:
            command = parse(text, line)
        except ParseError as e:
            return self.cli_error(str(e), e.line or line)
        if command is None:
            return status.OK
        return self.run_command(command)

    def run_command(self, command):
        builtin = builtins.find(command.verb)
        if builtin is not None:
            try:
                return builtin(self, command.tokens)
            except CliError as e:
                return self.cli_error(str(e), command.line)
        try:
            api, params = bind(command, self.base_dir)
        except CliError as e:
            return self.cli_error(str(e), command.line)
        bar = ProgressBar()
        try:
            reply = self.client.call(api.name, params, bar)
        finally:
            bar.close()
        for warning in self.client.take_warnings():     # from behind an earlier reply
            write_error(warning, colour=self.colour or None)
        self.results.append((api.name, reply))
        if not reply.get("success"):
            write_error(format_api_error(api.name, reply.get("error", {})),
                        colour=self.colour or None)
            if self.client.session_dropped:
                write_error(t("session_dropped"), colour=self.colour or None)
            return status.API_ERROR
        self.show(reply, api)
        return status.OK

    def show(self, reply, api=None):
        from backend.catalogue import RESOURCES

        resource = RESOURCES.get(api.resource) if api is not None else None
        self.emit(render(reply, self.output, colour=self.colour, resource=resource))
        if self.output == "json":
            self.emit("\n")

    def run_argv(self, argv):
        if len(argv) == 1 and " " in argv[0].strip():
            return self.run_text(argv[0])        # zstack-cli "QueryZone name=z1"
        return self.run_command(Command(argv[0], tuple(argv[1:]), 1))

    def run_stream(self, lines, keep_going=False):
        """A batch: statements as they arrive (a pipe is processed while it flows).

        Stops at the first failure unless ``keep_going``; then the status is
        the first failure's.
        """
        first_failure = status.OK
        buffer, start, number = "", 1, 0
        try:
            for raw in lines:
                number += 1
                if not buffer:
                    start = number
                buffer += raw if raw.endswith("\n") else raw + "\n"
                if is_incomplete(buffer[:-1]):   # without the newline just added
                    continue
                code = self.run_buffer(buffer, start)
                buffer = ""
                if code != status.OK:
                    if not keep_going:
                        return code
                    first_failure = first_failure or code
            if buffer.strip():
                code = self.run_buffer(buffer, start)   # reports the unterminated quote
                first_failure = first_failure or code
        except ExitShell:
            pass
        return first_failure

    def run_buffer(self, buffer, start=1, keep_going=False):
        """Complete statements (one, or several pasted at once); the first failure's status."""
        first_failure = status.OK
        try:
            # Lazily: the statements before an unterminated quote still run.
            for offset, text in split_statements(buffer, start):
                code = self.run_text(text, start + offset - 1)
                if code != status.OK:
                    if not keep_going:
                        return code
                    first_failure = first_failure or code
        except ParseError as e:
            return self.cli_error(str(e), e.line or start)
        return first_failure

    def set_output(self, fmt):
        if fmt not in FORMATS:
            return False
        self.output = fmt
        return True
