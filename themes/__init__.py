"""Theme files for the terminal UI, one YAML file per theme (DESIGN §13)."""
