"""pgferry's migration engine: definitions, graphs, planning and running. Never imports Textual."""

__version__ = "0.1.0"
