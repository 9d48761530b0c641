"""The command line, `pgferry <command>`: main.py parses and maps errors to exit codes; each other
module is one group of commands, adding its subcommands with their handler (`register(sub)`);
flags.py holds the flags several commands share, output.py what they print or write."""
from .main import build_parser, entry, main

__all__ = ["build_parser", "entry", "main"]
