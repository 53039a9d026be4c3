from __future__ import annotations

import click

from paperfeed.runtime import Runtime

pass_runtime = click.make_pass_decorator(Runtime)
