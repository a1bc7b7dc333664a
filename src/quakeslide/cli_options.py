"""What the commands share: option declarations, value parsers, one-line errors, quiet logs."""

from __future__ import annotations

import errno
import functools
import inspect
import logging
import types
import typing
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from typer.core import TyperGroup

from quakeslide.errors import InputError
from quakeslide.options import TEXT_ON_COMMAND_LINE, fields_named, problem

try:  # typer >= 0.20 carries its own copy of click
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import NoArgsIsHelpError, UsageError


class OneLineErrorsGroup(TyperGroup):
    """The commands, with click's usage errors (an option's value out of range, an unknown
    option, a missing argument) reported as `error: ...` in one line, exit code 2."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except NoArgsIsHelpError as err:
            typer.echo(err.format_message())
            raise SystemExit(err.exit_code) from None
        except UsageError as err:
            message = " ".join(err.format_message().split())
            typer.secho(f"error: {message}", err=True, fg="red")
            raise SystemExit(2) from None
        if not standalone_mode:
            return result
        raise SystemExit(result if isinstance(result, int) else 0)


# a full disk, a quota, a read-only or forbidden folder: the user's to fix, not a bug
DISK_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def one_line_errors(command: Callable) -> Callable:
    """Report bad input (`InputError`) and disk problems (`DISK_ERRORS`) as one line on
    stderr with exit code 2; every writer writes under temporary names, so nothing is left
    under a final one. Anything else is a bug and keeps its traceback.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with fields_named(flag):
                return command(*args, **kwargs)
        except InputError as err:
            message = " ".join(str(err).split())
        except OSError as err:
            if err.errno not in DISK_ERRORS:
                raise
            message = (
                f"{err.filename or 'output'}: {err.strerror} (nothing was kept under a final name)"
            )
        typer.secho(f"error: {message}", err=True, fg="red")
        raise typer.Exit(2) from None

    return wrapper


def quiet_libraries() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("pyogrio").setLevel(logging.WARNING)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*Dataset is not georeferenced.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*is deprecated.*")
    warnings.filterwarnings("ignore", ".*Checkpoint directory .* exists and is not empty.*")


Device = Annotated[str, typer.Option(help="auto, cpu or cuda")]
Precision = Annotated[str, typer.Option(help="auto, 32-true, bf16-mixed, 16-mixed")]
MODEL_HELP = "checkpoint (.ckpt), run or cv folder, or several joined by commas (an ensemble)"


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _command_line_type(field: FieldInfo) -> type:
    """What click parses: text for choices and for values a field parses itself."""
    kind = field.annotation
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    if field.json_schema_extra == TEXT_ON_COMMAND_LINE or typing.get_origin(kind) is Literal:
        return str
    return typing.get_origin(kind) or kind


def _field_check(name: str, field: FieldInfo, kind: type) -> Callable[[Any], Any]:
    """A click callback checking one value against its field, before the command runs:
    text as `--flag value: problem`, numbers in click's own words for a bad value."""
    checked = field.annotation
    if field.metadata:
        checked = Annotated[(checked, *field.metadata)]
    adapter = TypeAdapter(checked)
    choices = typing.get_origin(field.annotation) is Literal

    def check(value: Any) -> Any:
        if value is None:
            return None
        try:
            adapter.validate_python(value)
        except ValidationError as err:
            why = problem(err.errors()[0])
            if kind is str:
                shown = repr(value) if choices else value
                raise UsageError(f"{flag(name)} {shown}: {why}") from None
            raise typer.BadParameter(f"{value}: {why}") from None
        return value

    return check


def _field_option(name: str, field: FieldInfo) -> Any:
    """The command-line option of one field: its help, its default shown, its checks."""
    kind = _command_line_type(field)
    default = field.get_default(call_default_factory=True)
    help_text = field.description or ""
    if not field.is_required() and default is not None:
        shown = ",".join(map(str, default)) if isinstance(default, list | tuple) else default
        help_text += f" (default {shown})"
    names = f"{flag(name)}/--no-{flag(name)[2:]}" if kind is bool else flag(name)
    option = typer.Option(names, help=help_text, callback=_field_check(name, field, kind))
    return Annotated[kind | None, option]


def stage_options(
    options_type: type[BaseModel], *, without: tuple[str, ...] = ()
) -> Callable[[Callable], Callable]:
    """Add a stage's options to a command, one per field of `options_type` (help, default
    and bounds from the field), handed to the command as one checked object `options`."""
    fields = {n: f for n, f in options_type.model_fields.items() if n not in without}
    return _keyword_options(
        {name: _field_option(name, field) for name, field in fields.items()},
        {name for name, field in fields.items() if field.is_required()},
        "options",
        lambda given: options_type.resolve(**given),
    )


def _keyword_options(
    annotations: dict[str, Any],
    required: set[str],
    handed_as: str,
    build: Callable[[dict[str, Any]], Any],
) -> Callable[[Callable], Callable]:
    """Add keyword-only options `annotations` (None unless given, or required) to a
    command, which receives `build(their values)` as its parameter `handed_as`."""

    def decorate(command: Callable) -> Callable:
        own = inspect.signature(command, eval_str=True)
        kept = [p for p in own.parameters.values() if p.name != handed_as]
        added = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=... if name in required else None,
                annotation=annotation,
            )
            for name, annotation in annotations.items()
        ]

        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            given = {name: kwargs.pop(name) for name in annotations}
            return command(*args, **{handed_as: build(given)}, **kwargs)

        wrapper.__signature__ = own.replace(parameters=kept + added)
        return wrapper

    return decorate


# TrainConfig fields set only in a config file
YAML_ONLY = ("betas", "gamma", "val_fraction")
CONFIG_FILE = Annotated[Path | None, typer.Option("--config", help="YAML file of options")]


def training_options(*, without: tuple[str, ...] = ()) -> Callable[[Callable], Callable]:
    """Add the training options to a command: `--config` and one per `TrainConfig` field
    (help, default and bounds from the field), each None unless given, handed to it as one
    dict `settings`; the config file or the paper's default fills in the rest
    (`TrainConfig.resolve`). `without` names options the command does not take (or declares
    itself)."""
    from quakeslide.config import TrainConfig

    fields = TrainConfig.model_fields
    options = {"config": CONFIG_FILE} | {
        name: _field_option(name, field)
        for name, field in fields.items()
        if name not in (*YAML_ONLY, *without)
    }
    return _keyword_options(options, set(), "settings", lambda given: given)
