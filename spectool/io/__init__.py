"""The only code that touches files and streams."""
