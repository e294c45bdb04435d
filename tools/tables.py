"""Plain-text Markdown tables, the one format the tools print their summaries in, and the verdict under them."""
import statistics
from typing import Sequence


def markdown_table(head: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """A Markdown table with padded columns, readable as plain text too."""
    widths = [max(len(r[i]) for r in (head, *body)) for i in range(len(head))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, body)])


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """A measured figure as `median [min-max]`, each formatted with `fmt`."""
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def print_verdict(summary: str, failed: Sequence[str], passed: str, where: str = "") -> int:
    """Print a tool's summary table and its last line; the tool's exit status (1: something failed).

    `failed`: what failed, named; `passed`: the line when nothing did; `where`: where to look if something did.
    """
    print()
    print(summary)
    if failed:
        print(f"\nFAILED: {', '.join(failed)}{'; ' + where if where else ''}")
        return 1
    print(f"\n{passed}")
    return 0
