"""The ``edgekit`` command: thin click drivers over the stage modules, one module per command group.

Each command translates its options into a call of the function API and prints the result,
as text or (``--json``) as one JSON document. Stage modules are imported inside the commands,
so ``edgekit --help``, ``--version`` and ``models`` never import paddle.
Errors raised as ``EdgekitError`` become one line on stderr and the error's exit code.
"""

from __future__ import annotations

import sys
from typing import Optional

import click

from edgekit import __version__
from edgekit.cli import app, bench, device, estimate, model, quantize, zoo
from edgekit.cli import onnx as onnx_cli
from edgekit.errors import EdgekitError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="edgekit")
def cli() -> None:
    """Take PaddleClas mobile models to Android phones: export, quantize (PaddleSlim),
    convert (Paddle Lite opt), benchmark over adb, report."""


for _command in (zoo.models, zoo.info, model.export, model.convert, model.predict, zoo.zoo_group,
                 quantize.quantize, bench.bench, bench.results_group, bench.report, device.devices,
                 device.device_group, app.app_group, estimate.estimate, estimate.select):
    cli.add_command(_command)
cli.add_command(onnx_cli.import_onnx)


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


