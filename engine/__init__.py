"""pgferry's migration engine: definitions, graphs, planning and running. Never imports Textual."""
