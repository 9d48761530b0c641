"""pgferry: carry PostgreSQL databases across many releases.

One import package: `pgferry.engine` (the migration engine; never imports Textual), `pgferry.tui`
(the command line and the terminal UI), and data: `pgferry.migrations` (the bundled product's
definitions) and `pgferry.themes`. The repository keeps them as top-level folders beside this one;
pyproject.toml's package-dir maps each under this package, so an installed copy holds them inside it.
"""
import os as _os

__version__ = "0.1.0"

_here = _os.path.dirname(_os.path.abspath(__file__))
_checkout = _os.path.dirname(_here)
if not _os.path.isdir(_os.path.join(_here, "engine")) and _os.path.isfile(_os.path.join(_checkout, "pyproject.toml")):
    # A source checkout: the subpackages are its sibling folders. Found here first, they are always
    # this checkout's, even when the interpreter's editable install points at another checkout.
    __path__.append(_checkout)
