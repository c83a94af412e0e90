"""The contracts file's specification (`sources/contracts.yml`): what each key takes, the problems
it reports by feed, column and key, and the contract model it is parsed into (loaded once).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from pydantic_core import ErrorDetails, InitErrorDetails

from orchestration.contracts.model import TABLE_FORMATS, ColumnContract, ContractError, Contracts, FeedContract
from orchestration.contracts.rules import RULES, VALID_FROM, VALID_TO, Regex, contract_problem, number_form, path_groups
from orchestration.settings import CONTRACTS_FILE, REPO_ROOT

# The column types the readers, Pandera schemas and dbt sources all handle (and DECIMAL(p,s)).
_DUCKDB_TYPES = ("VARCHAR", "BIGINT", "INTEGER", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP")
_DECIMAL = re.compile(r"DECIMAL\((\d+),(\d+)\)")
_DECIMAL_MAX_PRECISION = 38  # DuckDB's limit


def _duckdb_type(value: str) -> str:
    if value in _DUCKDB_TYPES:
        return value
    decimal = _DECIMAL.fullmatch(value)
    if decimal is None:
        raise contract_problem(f"{value!r} is not one of {', '.join(_DUCKDB_TYPES)}, DECIMAL(p,s)")
    precision, scale = map(int, decimal.groups())
    if not 1 <= precision <= _DECIMAL_MAX_PRECISION or scale > precision:
        raise contract_problem(f"{value!r} needs a precision p from 1 to {_DECIMAL_MAX_PRECISION} and a scale s from 0 to p")
    return value


DuckDBTypeName = Annotated[str, AfterValidator(_duckdb_type)]
Location = tuple[str | int, ...]


class _Spec(BaseModel):
    # Strict: YAML already gives booleans, numbers and lists, so nothing is coerced from text.
    model_config = ConfigDict(extra="forbid", strict=True)


def _refuse(spec: _Spec, problems: list[tuple[Location, str]]) -> None:
    """Report what a model validator found, each problem at its own location in the document."""
    if problems:
        raise ValidationError.from_exception_data(type(spec).__name__, [InitErrorDetails(type=contract_problem(text), loc=loc, input=None) for loc, text in problems])


# The options of the rule vocabulary (orchestration.contracts.rules), each optional.
_Rules = create_model("_Rules", __base__=_Spec, **{rule.name: (rule.option | None, None) for rule in RULES if rule.option is not None})


class _Column(_Spec):
    name: str
    type: DuckDBTypeName
    description: str
    rules: _Rules = _Rules()


class _Unpivot(_Spec):
    category_column: str
    value_column: str


class _HeaderRow(_Spec):
    """One row of an official table's header, from the header's first: what its cells give each
    value column. `period: year` cells are years (text '2012' or a number 2013.0), each spanning
    the columns up to the next; `period: month` cells are month names (Indonesian or English,
    `Mei`, `Agst`, `Dec`), perhaps with a marker (`Jun*`, `DesR`); else the cells are labels, each
    mapped by `codes` to the code it gives `column`."""

    column: str
    period: Literal["year", "month"] | None = None
    codes: dict[str, str] | None = None

    @model_validator(mode="after")
    def _one_meaning(self) -> _HeaderRow:
        if (self.period is None) == (self.codes is None):
            _refuse(self, [((), "needs either `period` (year or month) or `codes` (header label: code)")])
        return self


class _Override(_Spec):
    """A cell the publisher filled with something that is not its figure (DKI Jakarta's rural `0`,
    where no rural household exists): the cell of the row whose label resolves to `name` and of
    the column whose header codes are `columns` holds `cell`; it loads as no value, with `status`
    and `reason`. Any other content of that cell loads as the figure it is."""

    name: str
    columns: dict[str, str] = Field(min_length=1)
    cell: str
    status: str
    reason: str


class _Layout(_Spec):
    """How a formatted table is laid out, and which contract column each part fills.

    Both formats: a label column whose labels resolve to the `name_column` codes (through the
    `name_lookup` columns of the feed its `references` rule points at), and a national total line
    that goes to `totals_table`. `ministry_table`: one header line (`name_header` first),
    `value_columns` by header, Indonesian number format. `official_table`: title rows, then the
    `header_rows`, then the table's lines, then notes; see sources/README.md.
    """

    name_column: str
    name_lookup: list[str] = Field(min_length=1)
    name_noun: str
    national_total_label: str
    totals_table: str
    delimiter: str | None = None
    name_header: str | None = None
    footnote_prefix: str | None = None
    value_columns: dict[str, str] | None = None
    unpivot: _Unpivot | None = None
    # official_table
    sheets: dict[str, dict[str, str]] | None = None
    name_header_en: str | None = None
    header_rows: list[_HeaderRow] | None = None
    value_column: str | None = None
    status_column: str | None = None
    note_column: str | None = None
    markers: dict[str, str] = Field(default_factory=dict)
    header_markers: dict[str, str] = Field(default_factory=dict)
    overrides: list[_Override] = Field(default_factory=list)
    notes_start: list[str] = Field(default_factory=list)
    additive: bool = True

    def required(self, table_format: str) -> list[str]:
        """The options a table of this format cannot do without."""
        if table_format == "ministry_table":
            return ["delimiter", "name_header", "footnote_prefix", "value_columns"]
        return ["header_rows", "value_column", "status_column"]

    def filled(self, table_format: str) -> list[str]:
        """The contract columns the table itself fills (the others come from the file's path)."""
        if table_format == "official_table":
            constants = {c for columns in (self.sheets or {}).values() for c in columns}
            headers = {row.column for row in self.header_rows or []}
            note = [self.note_column] if self.note_column else []
            return [self.name_column, *sorted(headers), *sorted(constants), self.value_column, self.status_column, *note]
        values = [self.unpivot.category_column, self.unpivot.value_column] if self.unpivot else list((self.value_columns or {}).values())
        return [self.name_column, *values]


class _Feed(_Spec):
    title: str
    description: str
    files: list[str] = Field(min_length=1)
    format: Literal["csv", "ministry_table", "official_table"]
    key: list[str] = Field(min_length=1)
    columns: list[_Column] = Field(min_length=1)
    path_pattern: Regex | None = None
    layout: _Layout | None = None
    publisher: str | None = None
    licence: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> _Feed:
        names = [c.name for c in self.columns]
        problems: list[tuple[Location, str]] = [(("key",), f"{k!r} is not a column (columns: {', '.join(names)})") for k in self.key if k not in names]
        if self.format in TABLE_FORMATS and self.layout is None:
            problems.append((("layout",), f"required for format {self.format}"))
        if self.format not in TABLE_FORMATS and self.layout is not None:
            problems.append((("layout",), f"only for the formats {', '.join(TABLE_FORMATS)}, not {self.format}"))
        groups = list(re.compile(self.path_pattern).groupindex) if self.path_pattern else []
        if self.layout is not None:
            problems += [(("layout", option), f"required for format {self.format}") for option in self.layout.required(self.format) if getattr(self.layout, option) is None]
            filled = [c for c in self.layout.filled(self.format) if c is not None]
            problems += [(("layout",), f"fills {c!r}, which is not a column (columns: {', '.join(names)})") for c in filled if c not in names]
            problems += [
                (("layout",), f"leaves column {c!r} unfilled: the table does not fill it and the path_pattern has no group {c!r}")
                for c in names
                if c not in filled and c not in groups
            ]
            name_rules = next((c.rules for c in self.columns if c.name == self.layout.name_column), None)
            if name_rules is not None and name_rules.references is None:
                problems.append((("layout", "name_column"), "needs a `references` rule: the feed whose rows the names resolve to"))
        for i, column in enumerate(self.columns):
            # Every number has a range, so no value is published however absurd: a lower and an upper
            # bound, each by definition (`min`, `max`) or judged (`plausible`, with its reason).
            if number_form(column.type) is not None:
                plausible = column.rules.plausible
                missing = [
                    f"`{bound}` or `plausible.{bound}`"
                    for bound in ("min", "max")
                    if getattr(column.rules, bound) is None and (plausible is None or getattr(plausible, bound) is None)
                ]
                if missing:
                    problems.append((("columns", i, "rules"), f"a {column.type} column needs a range: {' and '.join(missing)}"))
            # These rules compare the value with a named group of the file's path (in_file_month: `month`).
            path_rules = path_groups(column.rules.model_dump(exclude_none=True))
            problems += [
                (
                    ("columns", i, "rules", rule),
                    f"needs a path_pattern with a group named {group!r} " + (f"(groups: {', '.join(groups) or 'none'})" if self.path_pattern else "(the feed has no path_pattern)"),
                )
                for rule, group in path_rules.items()
                if group not in groups
            ]
        _refuse(self, problems)
        return self


class _Document(_Spec):
    code_lists: dict[str, list[str | list[str]]]
    feeds: dict[str, _Feed]

    @model_validator(mode="after")
    def _references_resolve(self) -> _Document:
        problems: list[tuple[Location, str]] = []
        for feed_name, feed in self.feeds.items():
            for i, column in enumerate(feed.columns):
                at: Location = ("feeds", feed_name, "columns", i, "rules")
                code_list = column.rules.accepted_values
                if isinstance(code_list, str) and code_list not in self.code_lists:
                    problems.append(((*at, "accepted_values"), f"unknown code list {code_list!r} (code lists: {', '.join(self.code_lists)})"))
                if (reference := column.rules.references) is not None:
                    target, _, target_column = reference.partition(".")
                    if target not in self.feeds:
                        problems.append(((*at, "references"), f"unknown reference {reference!r} (<feed>.<column>; feeds: {', '.join(self.feeds)})"))
                    elif target_column not in (columns := [c.name for c in self.feeds[target].columns]):
                        problems.append(((*at, "references"), f"unknown reference {reference!r} (columns of {target}: {', '.join(columns)})"))
                if column.rules.valid_in_period is not None:
                    problems += [((*at, "valid_in_period"), p) for p in self._validity_problems(column.rules.references)]
            if feed.layout is not None:
                problems += [(("feeds", feed_name, "layout", "name_lookup"), p) for p in self._lookup_problems(feed)]
        _refuse(self, problems)
        return self

    def _lookup_problems(self, feed: _Feed) -> list[str]:
        """Why a ministry table's names cannot be looked up in the feed its name column references."""
        column = next((c for c in feed.columns if c.name == feed.layout.name_column), None)
        target = column.rules.references.partition(".")[0] if column and column.rules.references else None
        if target not in self.feeds:
            return []  # reported on the layout or on `references`
        columns = [c.name for c in self.feeds[target].columns]
        return [f"{name!r} is not a column of {target} (columns: {', '.join(columns)})" for name in feed.layout.name_lookup if name not in columns]

    def _validity_problems(self, reference: str | None) -> list[str]:
        """Why a `valid_in_period` rule cannot look up the validity of the row its `references` points at."""
        if reference is None:
            return ["needs a `references` rule naming the rows whose validity it checks"]
        target, _, target_column = reference.partition(".")
        if target not in self.feeds:
            return []  # reported on `references`
        feed = self.feeds[target]
        # One row per referenced value: the value's validity is that row's.
        problems = [] if feed.key == [target_column] else [f"needs {reference} to be the key of {target} (key: {', '.join(feed.key)})"]
        types = {c.name: c.type for c in feed.columns}
        problems += [f"needs a DATE column `{name}` in {target}" for name in (VALID_FROM, VALID_TO) if types.get(name) != "DATE"]
        return problems


def _spec_at(loc: Location) -> type[_Spec]:
    """The model validating the mapping at a location of the document (it knows the allowed keys)."""
    node: Any = _Document
    for part in loc:
        # A field of a model, else a key of a dict or an index of a list: their value type.
        node = node.model_fields[part].annotation if isinstance(node, type) and issubclass(node, _Spec) else get_args(node)[-1]
        if isinstance(node, UnionType):  # an optional mapping (layout)
            node = next(a for a in get_args(node) if isinstance(a, type) and issubclass(a, _Spec))
    return node


def _column_label(document: Any, feed: Any, index: Any) -> str:
    try:
        name = document["feeds"][feed]["columns"][index]["name"]
    except (LookupError, TypeError):
        name = None
    return name if isinstance(name, str) else f"#{index + 1}"


def _describe(error: ErrorDetails, document: Any) -> str:
    """One problem in words: `feed F, column C: key.path: what is wrong`."""
    loc = list(error["loc"])
    if error["type"] == "extra_forbidden":
        key = loc.pop()
        text = f"unknown key {key!r} (allowed: {', '.join(_spec_at(tuple(loc)).model_fields)})"
    elif error["type"] == "missing":
        text = f"missing key {loc.pop()!r}"
    elif error["type"] == "model_type":
        text = f"expected a mapping with keys {', '.join(_spec_at(tuple(loc)).model_fields)}"
    else:
        text = error["msg"]
    where = []
    if loc[:1] == ["feeds"] and len(loc) > 1:
        where.append(f"feed {loc[1]}")
        if loc[2:3] == ["columns"] and len(loc) > 3:
            where.append(f"column {_column_label(document, loc[1], loc[3])}")
            del loc[:2]
        del loc[:2]
    problem = f"{'.'.join(map(str, loc))}: {text}" if loc else text
    return f"{', '.join(where)}: {problem}" if where else problem


def _parse(document: Any, source: Path = CONTRACTS_FILE) -> Contracts:
    try:
        spec = _Document.model_validate(document)
    except ValidationError as error:
        shown = source.relative_to(REPO_ROOT) if source.is_relative_to(REPO_ROOT) else source
        raise ContractError("\n".join(f"{shown}: {_describe(e, document)}" for e in error.errors())) from None
    return Contracts(
        # A list inside a code list is another code list (a YAML alias), spliced in.
        code_lists={name: tuple(code for item in values for code in ([item] if isinstance(item, str) else item)) for name, values in spec.code_lists.items()},
        feeds={
            name: FeedContract(
                name=name,
                title=feed.title,
                description=" ".join(feed.description.split()),
                files=tuple(feed.files),
                format=feed.format,
                key=tuple(feed.key),
                columns=tuple(ColumnContract(c.name, c.type, c.description, c.rules.model_dump(exclude_none=True)) for c in feed.columns),
                path_pattern=feed.path_pattern,
                layout=feed.layout.model_dump() if feed.layout else {},
                publisher=feed.publisher,
                licence=feed.licence,
            )
            for name, feed in spec.feeds.items()
        },
    )


@cache
def load_contracts(path: Path = CONTRACTS_FILE) -> Contracts:
    return _parse(yaml.safe_load(path.read_text(encoding="utf-8")), path)
