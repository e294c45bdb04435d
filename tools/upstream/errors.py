"""The tool's one exception type."""


class ToolError(Exception):
    """An expected failure, reported as one line."""
