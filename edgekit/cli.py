"""The ``edgekit`` command: a thin click layer over the stage modules.

Each command translates its options into a call of the function API and prints the result,
as text or (``--json``) as one JSON document. Stage modules are imported inside the commands,
so ``edgekit --help``, ``--version`` and ``models`` never import paddle.
Errors raised as ``EdgekitError`` become one line on stderr and the error's exit code.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Callable, Optional

import click

from edgekit import __version__
from edgekit.errors import EdgekitError


def emit(data: Any, as_json: bool, render: Callable[[Any], str]) -> None:
    """Print ``data`` as one JSON document, or as the text ``render`` makes of it."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(render(data))


def json_option(f: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of text.")(f)


def workspace_option(f: Callable) -> Callable:
    return click.option(
        "--workspace",
        type=click.Path(file_okay=False),
        envvar="EDGEKIT_WORKSPACE",
        help="Folder for all artifacts [env EDGEKIT_WORKSPACE; default ~/.cache/edgekit].",
    )(f)


def open_workspace(path: Optional[str]):
    from edgekit.workspace import Workspace

    return Workspace.open(path)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgekit")
def cli() -> None:
    """Take PaddleClas mobile models to Android phones: export, quantize (PaddleSlim),
    convert (Paddle Lite opt), benchmark over adb, report."""


# --------------------------------------------------------------------------------------- zoo


MODEL_COLUMNS = ("name", "family", "top1", "top5", "flops_g", "params_m", "sd855_ms", "storage_mb")


@cli.command()
@click.option("--family", help="Only this family (MobileNetV1, MobileNetV2, MobileNetV3, ShuffleNetV2).")
@click.option("--sort", "sort_by", default=None, metavar="COLUMN",
              help="Sort by a column (name, top1, flops_g, params_m, sd855_ms, storage_mb, ...).")
@click.option("--reverse", is_flag=True, help="Sort in descending order.")
@json_option
def models(family: Optional[str], sort_by: Optional[str], reverse: bool, as_json: bool) -> None:
    """List the 32 PaddleClas mobile models with the reference values of PaddleClas's table."""
    from edgekit import reference
    from edgekit._table import format_table
    from edgekit.errors import UsageError

    rows = list(reference.reference_models())
    if family:
        known = reference.families()
        matched = [f for f in known if f.lower() == family.lower()]
        if not matched:
            raise UsageError(f"unknown family {family!r} (known: {', '.join(known)})")
        rows = [r for r in rows if r.family == matched[0]]
    if sort_by:
        columns = ("name", "family") + reference.NUMERIC_COLUMNS
        if sort_by not in columns:
            raise UsageError(f"cannot sort by {sort_by!r} (columns: {', '.join(columns)})")
        present = [r for r in rows if getattr(r, sort_by) is not None]
        missing = [r for r in rows if getattr(r, sort_by) is None]
        rows = sorted(present, key=lambda r: getattr(r, sort_by), reverse=reverse) + missing
    elif reverse:
        rows.reverse()

    emit(
        [r.to_dict() for r in rows],
        as_json,
        lambda data: format_table(MODEL_COLUMNS, [[d[c] for c in MODEL_COLUMNS] for d in data]),
    )


@cli.command()
@click.argument("model")
@json_option
def info(model: str, as_json: bool) -> None:
    """Reference values of MODEL plus figures computed from the built network: trainable
    parameters, MACs at 1x3x224x224 and the table's FLOPs / MACs ratio."""
    from edgekit import zoo

    details = zoo.model_info(model)
    emit(details.to_dict(), as_json, lambda _: details.to_text())


# ------------------------------------------------------------------------------ entry point


def main(argv: Optional[list[str]] = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="edgekit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("edgekit: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except EdgekitError as e:
        message = str(e).strip() or type(e).__name__
        click.echo(f"edgekit: error: {message}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("edgekit: interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
