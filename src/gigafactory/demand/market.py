"""Sourced market data: API token prices by provider (prices.yaml) and market anchors (market.yaml).

Every number in those files is a mapping ``{value, unit, source, date, confidence[, note]}``
(the catalog's convention); ``value`` is a number or a ``[low, high]`` range and a source is an
http(s) URL or a key of the file's ``sources:`` table.  The loaders return frozen objects whose
numbers are :class:`Sourced` records, so every figure keeps its provenance.

Malformed data raises an error naming the file, the entry, the field and the fix: an
:class:`~gigafactory.errors.InputError` for a file the user passed, a
:class:`~gigafactory.errors.CatalogDataError` for the bundled files (a bug in the package).

``price_summary(model_id)`` gives the median input / output price across providers (routers
excluded), the spread and the number of providers - the market price a demand model starts from.
"""
from __future__ import annotations

import difflib
import re
import statistics
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from gigafactory.catalog.schema import CONFIDENCE_LEVELS
from gigafactory.errors import CatalogDataError, InputError, Problem

SOURCED_KEYS = ("value", "unit", "source", "date", "confidence", "note")
_REQUIRED = ("value", "unit", "source", "date", "confidence")
_DATE = re.compile(r"^(\d{4}(-\d{2}(-\d{2})?)?|n\.d\.)$")
_URL = re.compile(r"^https?://\S+$")
PRICE_FIELDS = ("input_usd_per_mtok", "output_usd_per_mtok", "cached_input_usd_per_mtok")
PRICE_UNIT = "USD/Mtok"
PROVIDER_KINDS = ("first-party", "inference", "hyperscaler", "router")
#: input:output token weights of the "blended" price, as Artificial Analysis quotes it
BLEND_INPUT_WEIGHT = 0.75


# ---------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True)
class Sourced:
    """A number with its provenance.  ``value`` is a float or a (low, high) range [unit]."""

    value: float | tuple[float, float]
    unit: str
    source: tuple[str, ...]  # URLs (keys of the file's sources table are resolved)
    date: str  # YYYY, YYYY-MM, YYYY-MM-DD or "n.d."
    confidence: str
    note: str | None = None

    @property
    def is_range(self) -> bool:
        return isinstance(self.value, tuple)

    @property
    def low(self) -> float:
        return self.value[0] if isinstance(self.value, tuple) else self.value

    @property
    def high(self) -> float:
        return self.value[1] if isinstance(self.value, tuple) else self.value

    @property
    def mid(self) -> float:
        """Midpoint of a range, or the value [unit]."""
        return 0.5 * (self.low + self.high)

    def as_dict(self) -> dict[str, Any]:
        return {"value": list(self.value) if self.is_range else self.value, "unit": self.unit, "source": list(self.source),
                "date": self.date, "confidence": self.confidence, "note": self.note}


@dataclass(frozen=True)
class Provider:
    id: str
    name: str
    kind: str  # first-party | inference | hyperscaler | router
    pricing_url: str


@dataclass(frozen=True)
class PriceQuote:
    """One provider's list price for one model."""

    model_id: str
    provider: str
    offer: str
    input: Sourced  # [USD/Mtok]
    output: Sourced  # [USD/Mtok]
    cached_input: Sourced | None = None  # cache-hit input price, where published [USD/Mtok]
    router: bool = False  # a router's listed price repeats an upstream provider's; not in medians
    note: str | None = None


@dataclass(frozen=True)
class PriceSummary:
    """Market price of one model across providers (routers excluded unless asked) [USD/Mtok]."""

    model_id: str
    median_input_usd_per_mtok: float
    median_output_usd_per_mtok: float
    min_input_usd_per_mtok: float
    max_input_usd_per_mtok: float
    min_output_usd_per_mtok: float
    max_output_usd_per_mtok: float
    median_blended_usd_per_mtok: float  # median of 0.75 x input + 0.25 x output (3:1)
    min_blended_usd_per_mtok: float
    max_blended_usd_per_mtok: float
    n_providers: int
    providers: tuple[str, ...]

    @property
    def median_input(self) -> float:
        """Short name of ``median_input_usd_per_mtok`` [USD/Mtok]."""
        return self.median_input_usd_per_mtok

    @property
    def median_output(self) -> float:
        """Short name of ``median_output_usd_per_mtok`` [USD/Mtok]."""
        return self.median_output_usd_per_mtok

    def __iter__(self) -> Iterator[float | int]:
        """Unpacks as (median_input, median_output, min_blended, max_blended, n_providers)."""
        return iter((self.median_input_usd_per_mtok, self.median_output_usd_per_mtok,
                     self.min_blended_usd_per_mtok, self.max_blended_usd_per_mtok, self.n_providers))


@dataclass(frozen=True)
class PriceBook:
    """prices.yaml: providers, quotes per catalog model id, provider-level schemes."""

    file: str
    providers: Mapping[str, Provider]
    quotes: Mapping[str, tuple[PriceQuote, ...]]
    schemes: Mapping[str, Mapping[str, Sourced | str]]

    def models(self) -> list[str]:
        return sorted(self.quotes)

    def scheme(self, path: str) -> Sourced:
        """A provider-level figure, e.g. ``"deepseek.off_peak_discount_r1"``."""
        prov, _, key = path.partition(".")
        item = self.schemes.get(prov, {}).get(key)
        if not isinstance(item, Sourced):
            raise KeyError(f"no numeric scheme entry '{path}' in {self.file}")
        return item


@dataclass(frozen=True)
class MarketData:
    """market.yaml flattened: every number by its dotted path, text notes alongside."""

    file: str
    entries: Mapping[str, Sourced]
    texts: Mapping[str, str]

    def get(self, path: str) -> Sourced:
        """The figure at a dotted path, e.g. ``"neoclouds.coreweave.revenue_q3_2025"``."""
        try:
            return self.entries[path]
        except KeyError:
            hint = difflib.get_close_matches(path, list(self.entries), n=1, cutoff=0.6)
            raise KeyError(f"no market figure '{path}' in {self.file}" + (f"; did you mean '{hint[0]}'?" if hint else "")) from None

    def section(self, prefix: str) -> dict[str, Sourced]:
        """Every figure under a dotted prefix, keyed by the rest of its path."""
        head = prefix.rstrip(".") + "."
        return {k[len(head):]: v for k, v in self.entries.items() if k.startswith(head)}

    def __iter__(self) -> Iterator[tuple[str, Sourced]]:
        return iter(self.entries.items())


# ---------------------------------------------------------------------------------------------
# validation


class _Errors:
    """Collects problems, then raises the right error type once."""

    def __init__(self, file: str, bundled: bool):
        self.file, self.bundled, self.problems = file, bundled, []

    def add(self, message: str, entry: str, fld: str | None = None, value: Any = None, fix: str | None = None) -> None:
        where = ".".join(p for p in (entry, fld) if p)
        kwargs: dict[str, Any] = {"file": self.file, "field": where or None, "fix": fix}
        if value is not None:
            kwargs["value"] = value
        self.problems.append(Problem(message, **kwargs))

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        if self.bundled:
            lines = [f"bundled demand data is malformed ({len(self.problems)} problem(s)):"] + [p.render() for p in self.problems]
            raise CatalogDataError("\n".join(lines))
        raise InputError(self.problems)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _sources_table(doc: dict, err: _Errors) -> dict[str, str]:
    table = doc.get("sources") or {}
    if not isinstance(table, dict):
        err.add("'sources' must map short keys to URLs", "sources")
        return {}
    for key, url in table.items():
        if not isinstance(url, str) or not _URL.match(url):
            err.add("source key must map to an http(s) URL", "sources", str(key), url, fix="write the full URL")
    return {str(k): str(v) for k, v in table.items()}


def parse_sourced(raw: Any, entry: str, err: _Errors, sources: Mapping[str, str]) -> Sourced | None:
    """Validate one ``{value, unit, source, date, confidence[, note]}`` mapping (None if invalid)."""
    if not isinstance(raw, dict):
        err.add("expected a mapping {value, unit, source, date, confidence}", entry, None, raw,
                fix="wrap the number as {value: ..., unit: ..., source: URL, date: YYYY-MM, confidence: ...}")
        return None
    ok = True
    for key in _REQUIRED:
        if key not in raw:
            err.add(f"missing '{key}'", entry, key, fix=f"add '{key}:' (every number needs value, unit, source, date, confidence)")
            ok = False
    extra = sorted(set(raw) - set(SOURCED_KEYS))
    if extra:
        err.add(f"unknown key(s) {extra}", entry, None, fix=f"allowed keys: {', '.join(SOURCED_KEYS)}; put remarks in 'note'")
        ok = False
    if not ok:
        return None
    value = raw["value"]
    if _is_number(value):
        val: float | tuple[float, float] = float(value)
    elif isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value) and value[0] <= value[1]:
        val = (float(value[0]), float(value[1]))
    else:
        err.add("value must be a number or a [low, high] range with low <= high", entry, "value", value)
        return None
    unit = raw["unit"]
    if not isinstance(unit, str) or not unit.strip():
        err.add("unit must be a non-empty text", entry, "unit", unit, fix="e.g. USD/Mtok, tokens/day, MW, '1' for ratios")
        return None
    src_raw = raw["source"] if isinstance(raw["source"], list) else [raw["source"]]
    urls = []
    for s in src_raw:
        if isinstance(s, str) and _URL.match(s.strip()):
            urls.append(s.strip())
        elif isinstance(s, str) and s in sources:
            urls.append(sources[s])
        else:
            err.add("source must be an http(s) URL or a key of the sources table", entry, "source", s,
                    fix="use the URL read, or add the key under 'sources:'")
            return None
    if not urls:
        err.add("source must not be empty", entry, "source", fix="cite the URL the number was read from")
        return None
    date = str(raw["date"])
    if not _DATE.match(date):
        err.add("date must be YYYY, YYYY-MM, YYYY-MM-DD or n.d.", entry, "date", raw["date"])
        return None
    conf = raw["confidence"]
    if conf not in CONFIDENCE_LEVELS:
        err.add(f"confidence must be one of {', '.join(CONFIDENCE_LEVELS)}", entry, "confidence", conf)
        return None
    note = raw.get("note")
    return Sourced(val, unit.strip(), tuple(urls), date, str(conf), None if note is None else str(note))


def _walk(node: Any, path: str, err: _Errors, sources: Mapping[str, str], entries: dict, texts: dict) -> None:
    """Every mapping with 'value' is a Sourced number; text leaves are notes; bare numbers are errors."""
    if isinstance(node, dict):
        if "value" in node:
            item = parse_sourced(node, path, err, sources)
            if item is not None:
                entries[path] = item
            return
        for key, child in node.items():
            _walk(child, f"{path}.{key}" if path else str(key), err, sources, entries, texts)
    elif isinstance(node, str):
        texts[path] = node
    elif _is_number(node) or isinstance(node, list):
        err.add("bare number: every number needs its unit, source, date and confidence", path, None, node,
                fix="write {value: ..., unit: ..., source: URL, date: YYYY-MM, confidence: ...}")
    elif node is None:
        err.add("empty entry", path, None, fix="remove it or give it a value")


def _read(path: Path, label: str, bundled: bool) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        if bundled:
            raise CatalogDataError(f"{label}: cannot read bundled file ({exc.strerror})") from None
        raise InputError.single(f"cannot read file: {exc.strerror}", file=label, fix="check the path") from None
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml when present
    except yaml.YAMLError as exc:
        if bundled:
            raise CatalogDataError(f"{label}: not valid YAML: {exc}") from None
        raise InputError.single(f"not valid YAML: {exc}", file=label, fix="fix the YAML syntax") from None


# ---------------------------------------------------------------------------------------------
# market.yaml


def parse_market(doc: Any, file: str, bundled: bool = True) -> MarketData:
    err = _Errors(file, bundled)
    if not isinstance(doc, dict):
        err.add("expected a mapping of sections", "file", fix="see src/gigafactory/demand/data/market.yaml")
        err.raise_if_any()
    sources = _sources_table(doc, err)
    entries: dict[str, Sourced] = {}
    texts: dict[str, str] = {}
    for key, node in doc.items():
        if key in ("schema_version", "sources"):
            continue
        _walk(node, str(key), err, sources, entries, texts)
    if not entries and not err.problems:
        err.add("no figures found", "file", fix="add sections of {value, unit, source, date, confidence} entries")
    err.raise_if_any()
    return MarketData(file, MappingProxyType(entries), MappingProxyType(texts))


def _data_path(name: str) -> Path:
    return Path(str(resources.files("gigafactory.demand") / "data" / name))


@lru_cache(maxsize=1)
def _bundled_market() -> MarketData:
    label = "demand/data/market.yaml"
    return parse_market(_read(_data_path("market.yaml"), label, True), label, bundled=True)


def load_market(path: str | Path | None = None) -> MarketData:
    """The bundled market anchors (cached), or a user file at ``path``."""
    if path is None:
        return _bundled_market()
    return parse_market(_read(Path(path), str(path), False), str(path), bundled=False)


# ---------------------------------------------------------------------------------------------
# prices.yaml


def parse_prices(doc: Any, file: str, bundled: bool = True) -> PriceBook:
    err = _Errors(file, bundled)
    if not isinstance(doc, dict) or not isinstance(doc.get("models"), dict) or not isinstance(doc.get("providers"), dict):
        err.add("expected mappings 'providers' and 'models'", "file", fix="see src/gigafactory/demand/data/prices.yaml")
        err.raise_if_any()
    sources = _sources_table(doc, err)
    providers: dict[str, Provider] = {}
    for pid, raw in doc["providers"].items():
        entry = f"providers.{pid}"
        if not isinstance(raw, dict) or not all(k in raw for k in ("name", "kind", "pricing_url")):
            err.add("provider needs name, kind and pricing_url", entry, fix="add the missing keys")
            continue
        if raw["kind"] not in PROVIDER_KINDS:
            err.add(f"kind must be one of {', '.join(PROVIDER_KINDS)}", entry, "kind", raw["kind"])
            continue
        if not isinstance(raw["pricing_url"], str) or not _URL.match(raw["pricing_url"]):
            err.add("pricing_url must be an http(s) URL", entry, "pricing_url", raw["pricing_url"])
            continue
        providers[str(pid)] = Provider(str(pid), str(raw["name"]), str(raw["kind"]), str(raw["pricing_url"]))
    quotes: dict[str, tuple[PriceQuote, ...]] = {}
    for model_id, items in doc["models"].items():
        if not isinstance(items, list) or not items:
            err.add("a model needs a non-empty list of quotes", f"models.{model_id}")
            continue
        seen: set[str] = set()
        parsed = []
        for i, raw in enumerate(items):
            entry = f"models.{model_id}[{i}]"
            if not isinstance(raw, dict):
                err.add("a quote must be a mapping", entry, None, raw)
                continue
            prov = raw.get("provider")
            if prov not in providers:
                err.add("unknown provider", entry, "provider", prov, fix=f"use one of: {', '.join(sorted(providers))} (or add it under providers:)")
                continue
            if prov in seen:
                err.add("two quotes from the same provider", entry, "provider", prov, fix="keep one quote per provider and model")
                continue
            seen.add(prov)
            extra = sorted(set(raw) - {"provider", "offer", "note", *PRICE_FIELDS})
            if extra:
                err.add(f"unknown key(s) {extra}", entry, fix=f"allowed: provider, offer, note, {', '.join(PRICE_FIELDS)}")
                continue
            vals: dict[str, Sourced | None] = {}
            for fld in PRICE_FIELDS:
                if fld not in raw:
                    if fld != "cached_input_usd_per_mtok":
                        err.add(f"missing '{fld}'", entry, fld, fix="every quote needs input and output prices")
                    vals[fld] = None
                    continue
                item = parse_sourced(raw[fld], f"{entry}.{fld}", err, sources)
                if item is not None:
                    if item.unit != PRICE_UNIT:
                        err.add(f"price unit must be {PRICE_UNIT}", f"{entry}.{fld}", "unit", item.unit, fix="convert to USD per million tokens")
                        item = None
                    elif item.is_range or item.low < 0:
                        err.add("a price is one non-negative number", f"{entry}.{fld}", "value", item.value)
                        item = None
                vals[fld] = item
            if vals["input_usd_per_mtok"] is None or vals["output_usd_per_mtok"] is None:
                continue
            parsed.append(PriceQuote(
                model_id=str(model_id), provider=str(prov), offer=str(raw.get("offer", "")),
                input=vals["input_usd_per_mtok"], output=vals["output_usd_per_mtok"],
                cached_input=vals["cached_input_usd_per_mtok"], router=providers[prov].kind == "router",
                note=None if raw.get("note") is None else str(raw["note"]),
            ))
        quotes[str(model_id)] = tuple(parsed)
    schemes: dict[str, Mapping[str, Sourced | str]] = {}
    for prov, items in (doc.get("schemes") or {}).items():
        entries: dict[str, Sourced] = {}
        texts: dict[str, str] = {}
        _walk(items, f"schemes.{prov}", err, sources, entries, texts)
        head = f"schemes.{prov}."
        merged: dict[str, Sourced | str] = {k[len(head):]: v for k, v in texts.items()}
        merged.update({k[len(head):]: v for k, v in entries.items()})
        schemes[str(prov)] = MappingProxyType(merged)
    err.raise_if_any()
    return PriceBook(file, MappingProxyType(providers), MappingProxyType(quotes), MappingProxyType(schemes))


@lru_cache(maxsize=1)
def _bundled_prices() -> PriceBook:
    label = "demand/data/prices.yaml"
    return parse_prices(_read(_data_path("prices.yaml"), label, True), label, bundled=True)


def load_prices(path: str | Path | None = None) -> PriceBook:
    """The bundled price book (cached), or a user file at ``path``."""
    if path is None:
        return _bundled_prices()
    return parse_prices(_read(Path(path), str(path), False), str(path), bundled=False)


class NoPriceError(InputError, KeyError):
    """No quotes for a model: an InputError (exit code 2, with a fix) that ``except KeyError`` also catches."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.render()


def _resolve_model(book: PriceBook, model_id: str) -> str:
    if model_id in book.quotes:
        return model_id
    try:  # accept catalog aliases (meta-llama/Llama-3.3-70B-Instruct -> llama-3.3-70b)
        from gigafactory.catalog import load_catalog

        canonical = load_catalog().resolve_id("models", model_id)
    except Exception:  # noqa: BLE001 - the catalog is optional here; fall through to the error
        canonical = None
    if canonical in book.quotes:
        return canonical
    hint = difflib.get_close_matches(model_id.lower(), book.models(), n=1, cutoff=0.5)
    raise NoPriceError([Problem(
        f"no market prices for model '{model_id}'" + (f" - did you mean '{hint[0]}'?" if hint else ""),
        file=book.file, field="model", value=model_id, expected="a catalog model id with quotes in prices.yaml",
        fix=f"use one of: {', '.join(book.models())}",
    )])


def price_summary(model_id: str, include_routers: bool = False, prices: PriceBook | None = None) -> PriceSummary:
    """Median, spread and provider count of a model's API list prices [USD/Mtok].

    Parameters
    ----------
    model_id : catalog model id or alias, e.g. ``"llama-3.3-70b"``
    include_routers : also count router quotes (OpenRouter), which repeat an upstream price
    prices : a PriceBook (default: the bundled one)

    Unpacking a summary gives ``(median_input, median_output, min, max, n_providers)`` with
    min / max of the 3:1 blended price; the named fields give the per-direction spreads.
    """
    book = prices or load_prices()
    mid = _resolve_model(book, model_id)
    quotes = [q for q in book.quotes[mid] if include_routers or not q.router]
    if not quotes:
        raise InputError.single(f"model '{mid}' has only router quotes", file=book.file, field=f"models.{mid}",
                                fix="pass include_routers=True or add provider quotes")
    ins = [q.input.low for q in quotes]
    outs = [q.output.low for q in quotes]
    blended = [BLEND_INPUT_WEIGHT * i + (1 - BLEND_INPUT_WEIGHT) * o for i, o in zip(ins, outs)]
    return PriceSummary(
        model_id=mid,
        median_input_usd_per_mtok=float(statistics.median(ins)),
        median_output_usd_per_mtok=float(statistics.median(outs)),
        min_input_usd_per_mtok=min(ins), max_input_usd_per_mtok=max(ins),
        min_output_usd_per_mtok=min(outs), max_output_usd_per_mtok=max(outs),
        median_blended_usd_per_mtok=float(statistics.median(blended)),
        min_blended_usd_per_mtok=min(blended), max_blended_usd_per_mtok=max(blended),
        n_providers=len(quotes),
        providers=tuple(q.provider for q in quotes),
    )


def cache_hit_ratio(model_id: str, prices: PriceBook | None = None) -> float:
    """Median over providers of cache-hit input price / cache-miss input price for a model [1].

    Only quotes that publish a cache-hit price count (DeepSeek, Groq, Fireworks); raises
    :class:`NoPriceError` (a ``KeyError``) when no provider of the model publishes one.
    """
    book = prices or load_prices()
    mid = _resolve_model(book, model_id)
    ratios = [q.cached_input.low / q.input.low for q in book.quotes[mid] if q.cached_input is not None and q.input.low > 0]
    if not ratios:
        raise NoPriceError([Problem(f"no provider of '{mid}' publishes a cache-hit input price", file=book.file,
                                    field=f"models.{mid}", fix="assume no cache discount (ratio 1) or add a cached_input_usd_per_mtok quote")])
    return float(statistics.median(ratios))
