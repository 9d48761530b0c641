"""pgferry's faces: the command line and the terminal UI."""
