"""The `facade` sub-commands, one module per noun; main.py assembles them into one Typer app."""
