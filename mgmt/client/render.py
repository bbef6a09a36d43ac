"""How the CLI shows answers: rich tables of inventories, operations and their parameters.

A list of inventories is one row each, with the columns that tell them apart (uuid, name,
state first; long or nested fields left to ``--json`` and ``Get…``); a single inventory is
a field/value table with every field. Cell text is never read as rich markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from mgmt.client.spec import OperationInfo

_FIRST = ("uuid", "name", "state", "status")
#: shown by ``Get…`` and ``--json``, left out of lists to keep rows on one line
_LIST_HIDDEN = frozenset({"description", "createDate", "lastOpDate", "ownerAccountUuid"})
_MAX_COLUMNS = 8


def cell(value: Any) -> Text:
    """A value as table text: JSON-ish for booleans, null and nested values."""
    if value is None:
        return Text("")
    if isinstance(value, bool):
        return Text("true" if value else "false")
    if isinstance(value, str):
        return Text(value)
    if isinstance(value, int | float):
        return Text(str(value))
    return Text(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def list_columns(inventories: Sequence[Mapping[str, Any]]) -> list[str]:
    """The columns of a list: uuid/name/state first, then other scalar fields in order."""
    keys: dict[str, bool] = {}  # name -> scalar in every row so far
    for inv in inventories:
        for key, value in inv.items():
            scalar = not isinstance(value, dict | list)
            keys[key] = keys.get(key, True) and scalar
    scalars = [k for k, ok in keys.items() if ok]
    first = [k for k in _FIRST if k in keys]
    rest = [k for k in scalars if k not in _FIRST and k not in _LIST_HIDDEN]
    return (first + rest)[:_MAX_COLUMNS] or list(keys)[:_MAX_COLUMNS]


def inventory_list(
    inventories: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    total: int | None = None,
) -> Table:
    cols = list(columns) if columns else list_columns(inventories)
    caption = None
    if total is not None and total != len(inventories):
        caption = f"{len(inventories)} of {total}"
    table = Table(
        box=box.SIMPLE, show_edge=False, pad_edge=False, caption=caption, caption_justify="left"
    )
    for col in cols:
        table.add_column(col, no_wrap=col == "uuid")
    for inv in inventories:
        table.add_row(*(cell(inv.get(col)) for col in cols))
    return table


def key_values(data: Mapping[str, Any], title: str | None = None) -> Table:
    table = Table(
        box=box.SIMPLE,
        show_edge=False,
        pad_edge=False,
        show_header=False,
        title=title,
        title_justify="left",
    )
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in data.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            text = Text(", ".join(value))
        else:
            text = cell(value)
        table.add_row(Text(str(key)), text)
    return table


def say(console: Console, text: str) -> None:
    """Print text as it is: no markup, highlighting, emoji codes or wrapping."""
    console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)


def emit(console: Console, renderable: RenderableType) -> None:
    """Print; when piped, without the padding rich puts at the ends of lines (so scripts can
    split the rows on whitespace)."""
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    lines = [line.rstrip() for line in captured.get().splitlines()]
    console.file.write("\n".join(lines).strip("\n") + "\n")


def render_body(
    console: Console, body: Mapping[str, Any], columns: Sequence[str] | None = None
) -> None:
    """Show an API answer: ``inventories`` as a list, ``inventory`` as field/value,
    ZQL ``results`` one after the other, anything else as field/value."""
    if "inventories" in body and isinstance(body["inventories"], list):
        total = body.get("total")
        invs = body["inventories"]
        if invs:
            emit(console, inventory_list(invs, columns, total if isinstance(total, int) else None))
        else:
            shown = f" (total {total})" if isinstance(total, int) and total else ""
            say(console, f"no results{shown}")
        return
    if isinstance(body.get("inventory"), dict):
        emit(console, key_values(body["inventory"]))
        return
    results = body.get("results")
    if isinstance(results, list) and all(isinstance(r, dict) for r in results):
        for result in results:
            render_body(console, result, columns)
        return
    if "total" in body and set(body) <= {"total", "kind"}:  # a count (ZQL says its kind)
        say(console, str(body["total"]))
        return
    if body:
        emit(console, key_values(body))
    else:
        say(console, "done")


def operations_table(ops: Iterable[OperationInfo]) -> Table:
    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    for col in ("API", "method", "path", "summary"):
        table.add_column(col, no_wrap=col != "summary")
    for op in ops:
        table.add_row(Text(op.name), Text(op.method), Text(op.path), Text(op.summary))
    return table


def show_operation(console: Console, op: OperationInfo) -> None:
    """An API's help: what it does, then its parameters."""
    say(console, f"{op.name}: {op.method} {op.path}")
    if op.description or op.summary:
        say(console, op.description or op.summary)
    table = Table(box=box.SIMPLE, show_edge=False, pad_edge=False)
    for col in ("parameter", "in", "type", "required", "default", "description"):
        table.add_column(col)
    for p in op.params:
        default = "" if p.required or p.default is None else json.dumps(p.default)
        table.add_row(
            Text(p.name),
            Text(p.location),
            Text(p.type),
            Text("yes" if p.required else ""),
            Text(default),
            Text(p.description),
        )
    console.print()
    emit(console, table)
