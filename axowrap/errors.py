"""The one exception hierarchy of axowrap: every user-facing failure is an AxowrapError."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from axowrap.problems import Problem


class AxowrapError(Exception):
    """A failure the user can act on: one line of message, an optional hint, an exit code."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled whole (all keyword fields), so an error raised in a `--jobs` worker process
        # reaches the parent as it was raised.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[AxowrapError], args: tuple[Any, ...], state: dict[str, Any]) -> AxowrapError:
    exc = cls.__new__(cls)
    Exception.__init__(exc, *args)
    exc.__dict__.update(state)
    return exc


class UsageError(AxowrapError):
    """The command line itself is wrong (exit 2)."""

    exit_code = 2


class SpecError(AxowrapError):
    """A spec or config file cannot be read at all (missing, unreadable, not YAML)."""


class ValidationFailed(AxowrapError):
    """One or more problems were found; all of them are carried, sorted."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        from axowrap.problems import sort_problems

        self.problems = sort_problems(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        super().__init__(f"{len(errors)} error(s) found")


class StepFailed(AxowrapError):
    """A pipeline step failed; when a child process failed, its command, exit code, log and
    last lines are carried (and recorded in state.json)."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        argv: list[str] | None = None,
        exit_code: int | str | None = None,
        log: str | None = None,
        tail: list[str] | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.argv = argv
        self.child_exit_code = exit_code
        self.log = log
        self.tail = tail

    @property
    def details(self) -> dict[str, object]:
        """What state.json records beside the message (only the fields that are set)."""
        found = {"argv": self.argv, "exit_code": self.child_exit_code, "log": self.log, "tail": self.tail}
        return {k: v for k, v in found.items() if v is not None}


class StepInterrupted(AxowrapError):
    """Ctrl-C / SIGTERM stopped a step; the run can be resumed (exit 130)."""

    exit_code = 130
