"""`gigafactory catalog list/show/schema` and `scenario init`."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from gigafactory.catalog import KINDS, load_catalog
from gigafactory.cli.common import JsonOpt, out, print_json
from gigafactory.display import human
from gigafactory.errors import InputError
from gigafactory.cli.app import catalog_app, scenario_app
from gigafactory.catalog.schema import schema_rows


_LIST_COLUMNS: dict[str, list[str]] = {
    "accelerators": ["generation", "hbm_capacity_bytes", "hbm_bandwidth_bytes_per_s", "dense_fp8_flop_per_s", "dense_fp4_flop_per_s", "tdp_w"],
    "systems": ["accelerator", "gpus", "cpus", "max_power_w", "typical_power_w", "cooling", "price_usd"],
    "models": ["architecture", "attention", "total_params", "active_params", "num_layers", "max_context_tokens"],
}


def _columns_for(kind: str) -> list[str]:
    if kind in _LIST_COLUMNS:
        return _LIST_COLUMNS[kind]
    schema = load_catalog().schemas[kind]
    cols = [a.name for a in schema.attributes if a.name == "category"]
    cols += [a.name for a in schema.attributes if a.numeric][:5]
    return cols


def _kind_arg(kind: str) -> str:
    if kind not in KINDS:
        load_catalog().kind(kind)  # raises InputError with a suggestion
    return kind


@catalog_app.command("list")
def catalog_list(
    kind: Optional[str] = typer.Argument(None, help=f"One of: {', '.join(KINDS)}. All kinds (counts) when omitted.", show_default=False),
    as_json: bool = JsonOpt,
) -> None:
    """List catalog entries of one kind, or count entries of every kind."""
    cat = load_catalog()
    if kind is None:
        counts = {k: len(cat.tables[k]) for k in KINDS}
        if as_json:
            print_json({"catalog_version": cat.version, "kinds": counts})
            return
        t = Table(title=f"gigafactory catalog {cat.version}", title_justify="left")
        t.add_column("kind")
        t.add_column("entries", justify="right")
        t.add_column("description")
        for k in KINDS:
            t.add_row(k, str(counts[k]), cat.schemas[k].description.split(".")[0])
        out.print(t)
        return
    kind = _kind_arg(kind)
    schema = cat.schemas[kind]
    cols = _columns_for(kind)
    if as_json:
        print_json([{"id": e.id, "name": e.name, "status": e.status, "aliases": list(e.aliases), **{c: _plain(getattr(e, c)) for c in cols}} for e in cat.tables[kind].values()])
        return
    t = Table(title=f"{kind} ({len(cat.tables[kind])})", title_justify="left")
    t.add_column("id", style="bold", no_wrap=True)
    t.add_column("name", max_width=40, overflow="ellipsis", no_wrap=True)
    for c in cols:
        t.add_column(c, justify="right")
    for e in cat.tables[kind].values():
        spec = {a.name: a for a in schema.attributes}
        cells = [human(getattr(e, c), spec[c].unit if c in spec else None) for c in cols]
        t.add_row(e.id, e.name + (" [yellow](announced)[/]" if e.announced else ""), *cells)
    out.print(t)


def _plain(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v


def entry_as_dict(entry: Any) -> dict[str, Any]:
    cat = load_catalog()
    schema = cat.schemas[entry.kind]
    attrs: dict[str, Any] = {}
    for spec in schema.attributes:
        value = getattr(entry, spec.name)
        if value is None:
            continue
        if spec.name in entry.provenance:
            attrs[spec.name] = entry.provenance[spec.name].as_dict()
        else:
            attrs[spec.name] = {"value": _plain(value)}
    return {
        "id": entry.id,
        "kind": entry.kind,
        "name": entry.name,
        "aliases": list(entry.aliases),
        "status": entry.status,
        "description": entry.description,
        "catalog_version": cat.version,
        "attributes": attrs,
    }


@catalog_app.command("show")
def catalog_show(
    ident: str = typer.Argument(..., metavar="ID", help="Catalog id or alias (Hugging Face ids work for models)."),
    kind: Optional[str] = typer.Option(None, "--kind", help="Restrict to one kind when an id exists in several."),
    as_json: bool = JsonOpt,
) -> None:
    """Show one entry: every attribute with its unit, source, date and confidence."""
    cat = load_catalog()
    if kind:
        hits = [cat.get(_kind_arg(kind), ident)]
    else:
        hits = cat.find(ident)
        if not hits:
            from gigafactory.catalog.loader import _did_you_mean

            guess = _did_you_mean(ident, [i for k in KINDS for i in list(cat.tables[k]) + list(cat.aliases[k])])
            raise InputError.single(
                f"no catalog entry '{ident}'" + (f" — did you mean '{guess}'?" if guess else ""),
                field="ID", value=ident, expected="an id or alias from `gigafactory catalog list KIND`",
                fix=f"try `gigafactory catalog show {guess}`" if guess else "run `gigafactory catalog list` to browse",
            )
        if len(hits) > 1:
            raise InputError.single(
                f"'{ident}' names entries of several kinds: {', '.join(h.kind for h in hits)}",
                field="ID", value=ident, fix=f"add --kind {hits[0].kind} (or another of them)",
            )
    entry = hits[0]
    data = entry_as_dict(entry)
    if as_json:
        print_json(data)
        return
    title = f"{entry.name}  [dim]({entry.kind}: {entry.id})[/]" + ("  [yellow]ANNOUNCED — not shipping[/]" if entry.announced else "")
    out.print(title)
    if entry.aliases:
        out.print(f"aliases: {', '.join(entry.aliases)}")
    if entry.description:
        out.print(entry.description.strip())
    t = Table(show_lines=False)
    for col in ("attribute", "value", "as given", "confidence", "date", "source"):
        t.add_column(col, overflow="fold")
    schema = cat.schemas[entry.kind]
    for spec in schema.attributes:
        value = getattr(entry, spec.name)
        if value is None:
            continue
        prov = entry.provenance.get(spec.name)
        if prov:
            given = f"{prov.given_value} {prov.given_unit}"
            t.add_row(spec.name, human(value, spec.unit), given, prov.confidence, prov.date, "\n".join(prov.source) + (f"\n[dim]{prov.note}[/]" if prov.note else ""))
        else:
            t.add_row(spec.name, human(_plain(value), None), "", "", "", "")
    out.print(t)


@catalog_app.command("schema")
def catalog_schema(kind: str = typer.Argument(..., help=f"One of: {', '.join(KINDS)}."), as_json: bool = JsonOpt) -> None:
    """Show the attributes of one kind: type, unit, required, description."""
    kind = _kind_arg(kind)
    schema = load_catalog().schemas[kind]
    rows = schema_rows(schema)
    if as_json:
        print_json({"kind": kind, "description": schema.description, "attributes": rows})
        return
    out.print(f"[bold]{kind}[/]: {schema.description}")
    t = Table()
    for col in ("attribute", "type", "unit", "required", "description"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["attribute"], r["type"], r["unit"], "yes" if r["required"] else "", r["description"])
    out.print(t)


@scenario_app.command("init")
def scenario_init(
    path: Path = typer.Argument(..., help="Where to write a copy of the bundled default scenario."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write the bundled default scenario to PATH as a starting point."""
    from gigafactory.scenario import default_scenario_path

    if path.exists() and not force:
        raise InputError.single("the file already exists", file=str(path), fix="choose another path or add --force")
    if path.parent and not path.parent.exists():
        raise InputError.single("the folder does not exist", file=str(path), fix=f"create {path.parent} first")
    path.write_text(default_scenario_path().read_text(encoding="utf-8"), encoding="utf-8")
    out.print(f"wrote {path}; edit it, then run `gigafactory check {path}`")
