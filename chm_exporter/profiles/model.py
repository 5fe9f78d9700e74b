"""Pydantic models of a profile file (``profiles/data/*.yaml``).

A profile says *what* to read and how it becomes metrics; the SNMP prober knows *how* to read.

    name: if_mib
    description: ...
    match: {sys_object_id: [1.3.6.1.4.1.9.]}      # for module=auto (vendor profiles)
    device_info: {vendor: {value: cisco}, model: {oid: ..., table: true, where: [...]}}
    oids: {ifOperStatus: 1.3.6.1.2.1.2.2.1.8, ifName: 1.3.6.1.2.1.31.1.1.1.1, ...}
    tables:
      - name: interfaces
        labels: {ifindex: {index: 0}, ifname: {oid: [ifName, ifDescr]}}
        metrics:
          - {name: chm_interface_up, oid: ifOperStatus, map: {1: 1}, default: 0}

A ``chm_*`` metric's HELP, type and label names come from the metric catalogue
(``chm_exporter/catalogue.yaml``); a profile says only where a vendor's value comes from. Any
OID may be written as an alias the profile declares under ``oids:``, with an instance suffix
(``sysName.0``) where one is needed.

A table's rows are the indexes its metric columns answer with; a `scalar: true` table reads
instance OIDs with GET and has one row. Labels come from the row index, from a column of the same
row, or from a column of another table looked up by part of the index or by the value of a column
(e.g. entPhysicalName of cpmCPUTotalPhysicalIndex).
"""

from __future__ import annotations

import re
from contextlib import suppress
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chm_exporter.catalogue import CATALOGUE_PATH, RESERVED_PREFIXES, catalogue

_OID = re.compile(r"^[0-9]+(\.[0-9]+)+$")
_ALIAS = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)((?:\.[0-9]+)*)$")
ALIASES = "oids"
"""Key of the validation context holding the profile's OID aliases (name -> numeric OID)."""
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _oid(value: str) -> str:
    text = str(value).strip().lstrip(".")
    if not _OID.match(text):
        raise ValueError(f"{value!r} is not a numeric OID")
    return text


def _resolve_alias(value: Any, info: ValidationInfo) -> Any:
    """An alias the profile declares under `oids:` (``ifName``, ``sysName.0``) as its OID."""
    text = str(value).strip()
    match = _ALIAS.match(text)
    if match is None:
        return value
    aliases: dict[str, str] = (info.context or {}).get(ALIASES, {})
    name, suffix = match.groups()
    if name not in aliases:
        raise ValueError(f"{name!r} is neither a numeric OID nor an alias declared under `oids:`")
    return aliases[name] + suffix


def _as_list(value: Any) -> Any:
    return value if value is None or isinstance(value, list) else [value]


NumericOid = Annotated[str, BeforeValidator(str), AfterValidator(_oid)]
Oid = Annotated[str, BeforeValidator(str), BeforeValidator(_resolve_alias), AfterValidator(_oid)]
"""A numeric OID, or an alias the profile declares under `oids:` (with an instance suffix)."""
OidList = Annotated[list[Oid], BeforeValidator(_as_list)]


def _compiles(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"regex does not compile: {exc}") from None
    return value


Regex = Annotated[str, AfterValidator(_compiles)]


def _one_part(value: Any) -> Any:
    return (value, value + 1) if isinstance(value, int) else value


IndexSlice = Annotated[tuple[int, int], BeforeValidator(_one_part)]
"""Sub-identifiers [start, end) of a row index; a single number N means [N, N+1)."""


def _check_label_names(value: dict[str, LabelSpec]) -> dict[str, LabelSpec]:
    for name in value:
        if not _LABEL_NAME.match(name):
            raise ValueError(f"{name!r} is not a valid label name")
    return value


Format = Literal[
    "text", "hex", "mac", "oid", "int", "ip", "iana_address", "number", "enterprise", "product"
]
"""How a raw value becomes label text; `enterprise`: an OID's vendor slug by its IANA
enterprise number (sysObjectID 1.3.6.1.4.1.2011.x is `huawei`); `product`: the product name
a vendor's PRODUCTS MIB gives a sysObjectID (products.tsv), no value where it names none."""


class FormatBy(_Model):
    """The format of a label's first column chosen by another column of the same row.

    LLDP says what an id is in a subtype column: a chassis id of subtype macAddress(4) is a
    MAC, of networkAddress(5) an IANA address family byte and an address, of local(7) text.
    A subtype the map does not name keeps the label's `format`.
    """

    oid: Oid
    formats: dict[int, Format]


class LookupKey(_Model):
    """How to find the row of a lookup column: part of our index, or a column's value."""

    index: IndexSlice | None = Field(
        default=None, description="slice [start, end) of the row index's sub-identifiers"
    )
    oid: Oid | None = Field(default=None, description="column whose value is the key")

    @model_validator(mode="after")
    def _one_key(self) -> LookupKey:
        if (self.index is None) == (self.oid is None):
            raise ValueError("a key needs exactly one of `index` or `oid`")
        return self


class Condition(_Model):
    """Keep a row only when a column's value is (or is not) in a set, or its text matches.

    The column is read at the row's own index, or at another row with `key:` (e.g. the
    ifIndex part of a per-lane index, to test the per-module table). `regex` searches the
    column's text (e.g. a sensor named "... Receive Power Sensor"); a row without the column
    does not match. With `index:` in place of `oid:` the test is on part of the row's own
    index (a table indexed by entity and averaging interval: `{index: 1, in: [2]}`).
    """

    oid: Oid | None = None
    index: IndexSlice | None = Field(
        default=None, description="test this part of the row index instead of a column"
    )
    key: LookupKey | None = Field(default=None, description="row of `oid` to test; default ours")
    in_: list[int | str] | None = Field(default=None, alias="in")
    not_in: list[int | str] | None = None
    regex: Regex | None = Field(default=None, description="the column's text must match (search)")
    not_regex: Regex | None = Field(
        default=None, description="the column's text must not match (a row without it passes)"
    )

    @model_validator(mode="after")
    def _one_subject(self) -> Condition:
        if (self.oid is None) == (self.index is None):
            raise ValueError("a condition needs exactly one of `oid` or `index`")
        if self.index is not None and self.key is not None:
            raise ValueError("`key` goes with `oid`: `index` tests the row's own index")
        return self

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = (self.in_, self.not_in, self.regex, self.not_regex)
        if sum(t is not None for t in tests) != 1:
            raise ValueError(
                "a condition needs exactly one of `in`, `not_in`, `regex` or `not_regex`"
            )
        return self


class Rewrite(_Model):
    """A rule that renames a label's text: where `regex` matches (search), the text becomes
    `to` with the match's groups filled in, ``{regex: '^FGT_(.+)', to: 'FortiGate \\1'}``."""

    regex: Regex
    to: str


class LabelSpec(_Model):
    """Where a label's value comes from; the first source that yields a value wins (a column
    whose text `regex` does not match yields none, and the next one is tried)."""

    value: str | None = Field(default=None, description="a constant")
    index: IndexSlice | None = Field(default=None, description="row index part(s)")
    oid: OidList | None = Field(default=None, description="column(s) or instance OID(s)")
    key: LookupKey | None = Field(default=None, description="row of `oid` to read; default ours")
    table: bool = Field(default=False, description="device_info: `oid` is a column, take a row")
    where: list[Condition] = Field(default_factory=list, description="device_info: which row")
    fallback: bool = Field(
        default=False, description="device_info: only when no earlier profile set the field"
    )
    last_resort: bool = Field(
        default=False,
        description="device_info: only when no profile at all set the field (after every other)",
    )
    format: Format = "text"
    format_by: FormatBy | None = Field(
        default=None, description="the first column's format by another column of the row"
    )
    index_suffix_of: Oid | None = Field(
        default=None,
        description="the rest of the index of this column's first row that begins with ours",
    )
    map: dict[int | str, str] | None = None
    regex: Regex | None = Field(
        default=None, description="keep the first group of a match that took part in it"
    )
    rewrite: list[Rewrite] = Field(
        default_factory=list,
        description="after `regex`: the first rule that matches renames the text; none: kept",
    )
    template: str | None = Field(
        default=None,
        description="the text put in a template, `{}` standing for it (`Fan tray {}`)",
        pattern=r"^[^{}]*\{\}[^{}]*$",
    )
    default: str = ""

    @model_validator(mode="after")
    def _has_source(self) -> LabelSpec:
        if (
            self.value is None
            and self.index is None
            and not self.oid
            and self.index_suffix_of is None
        ):
            raise ValueError("a label needs one of `value`, `index`, `oid` or `index_suffix_of`")
        return self


class RowSum(_Model):
    """The sum of a column over the rows of its table that meet conditions (hrStorageUsed of
    the "Memory buffers" and "Cached memory" rows), in the row's own units."""

    oid: Oid
    where: list[Condition] = Field(min_length=1)
    at_most: Oid | None = Field(
        default=None,
        description="a column of the row the sum may not exceed, else the source does not apply",
    )


class Source(_Model):
    """One place a metric's value may come from, with its unit conversion.

    `minus` subtracts other columns of the same row first (free = size - used), `plus` adds
    them (free = available + buffers + cached); a missing one gives no value. `minus_rows`
    and `plus_rows` do the same with a column summed over other rows of the table (none
    matching: 0).
    """

    oid: Oid
    minus: OidList = Field(default_factory=list)
    plus: OidList = Field(default_factory=list)
    minus_rows: list[RowSum] = Field(default_factory=list)
    plus_rows: list[RowSum] = Field(default_factory=list)
    scale: float = 1.0
    offset: float = 0.0


class Factor(_Model):
    """Multiply the value by a factor read from another column of the row.

    `map` turns the column's value into the factor (ENTITY-SENSOR's entPhySensorScale);
    `pow10: -1` multiplies by 10**(-value) (entPhySensorPrecision); `value: true` multiplies
    by the column's value itself (hrStorageAllocationUnits), or by `column x scale + offset`
    when those are given (`scale: -0.01, offset: 1`: the share a percentage leaves free).
    """

    oid: Oid
    map: dict[int, float] | None = None
    pow10: Literal[-1, 1] | None = None
    value: bool = False
    scale: float = Field(default=1.0, description="value: the factor is column x scale + offset")
    offset: float = 0.0

    @model_validator(mode="after")
    def _one_kind(self) -> Factor:
        if sum((self.map is not None, self.pow10 is not None, self.value)) != 1:
            raise ValueError("a factor needs exactly one of `map`, `pow10` or `value: true`")
        if not self.value and (self.scale != 1.0 or self.offset != 0.0):
            raise ValueError("`scale` and `offset` of a factor go with `value: true`")
        return self


class Log10(_Model):
    """A last step: value = scale x log10(value) + offset (watts to dBm: 10, 30). A value of 0
    (no light) is -inf dBm: no sample, counted as dropped ``not_finite``; a negative value
    has no logarithm and gives no sample."""

    scale: float = 10.0
    offset: float = 0.0


class MetricSpec(_Model):
    """One metric of a table: which column(s), how to convert, extra labels.

    A catalogue metric (every ``chm_*`` name) takes its HELP and type from the catalogue and
    may not state them; a metric outside it (snmp_exporter's compat names, a site's own) states
    its help and, unless a gauge, its type.
    """

    name: str
    help: str = ""
    type: Literal["gauge", "counter", "info"] = "gauge"
    oid: OidList | None = Field(default=None, description="shorthand for sources")
    sources: list[Source] = Field(default_factory=list)
    scale: float = 1.0
    offset: float = 0.0
    factors: list[Factor] = Field(default_factory=list)
    map: dict[int | str, float] | None = Field(default=None, description="enum to value")
    default: float | None = Field(default=None, description="value for an unmapped enum")
    log10: Log10 | None = Field(default=None, description="after factors: scale*log10+offset")
    skip: list[int | float | str] = Field(
        default_factory=list, description="raw values that mean 'no reading': no sample"
    )
    regex: Regex | None = Field(
        default=None,
        description="a text value: the number is the first group of the first match (search)",
    )
    unless: list[str] = Field(
        default_factory=list,
        description="metrics listed before in the table: no sample on a row where one gave one",
    )
    labels: dict[str, LabelSpec] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _METRIC_NAME.match(value):
            raise ValueError(f"{value!r} is not a valid metric name")
        return value

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, LabelSpec]) -> dict[str, LabelSpec]:
        return _check_label_names(value)

    @model_validator(mode="after")
    def _normalise(self) -> MetricSpec:
        self._take_catalogue_entry()
        if self.type == "info":
            if self.oid or self.sources:
                raise ValueError(f"{self.name}: an info metric takes no oid: its value is 1")
            return self
        if bool(self.oid) == bool(self.sources):
            raise ValueError(f"{self.name}: a metric needs exactly one of `oid` or `sources`")
        if self.oid:
            srcs = [Source(oid=o, scale=self.scale, offset=self.offset) for o in self.oid]
            object.__setattr__(self, "sources", srcs)
            object.__setattr__(self, "oid", None)
        return self

    def _take_catalogue_entry(self) -> None:
        cat = catalogue()
        known = cat.get(self.name)
        if known is None:
            if self.name.startswith(RESERVED_PREFIXES):
                raise ValueError(
                    f"metric {self.name} is not in the metric catalogue ({CATALOGUE_PATH})"
                )
            if not self.help:
                raise ValueError(
                    f"metric {self.name} is not in the catalogue: a metric outside "
                    f"{', '.join(p + '*' for p in RESERVED_PREFIXES)} needs its own `help`"
                )
            return
        emitter = cat.emitter(known)
        if emitter == "device_info":
            raise ValueError(
                f"metric {self.name} is built from `device_info:`, not defined as a table metric"
            )
        if emitter != "profiles" or known.type == "histogram":
            raise ValueError(f"metric {self.name} is emitted by the {emitter}, not by a profile")
        stated = sorted({"help", "type"} & self.model_fields_set)
        if stated:
            keys = " and ".join(f"`{k}`" for k in stated)
            raise ValueError(
                f"metric {self.name}: {keys} {'come' if len(stated) > 1 else 'comes'} from the "
                f"metric catalogue ({CATALOGUE_PATH}), not from a profile"
            )
        object.__setattr__(self, "help", known.help)
        object.__setattr__(self, "type", known.type)


class Table(_Model):
    """A group of metrics sharing rows (a conceptual SNMP table) and labels."""

    name: str
    scalar: bool = Field(default=False, description="sources are instance OIDs read by GET")
    rows: OidList | None = Field(default=None, description="columns whose indexes are rows")
    where: list[Condition] = Field(default_factory=list)
    labels: dict[str, LabelSpec] = Field(default_factory=dict)
    metrics: list[MetricSpec] = Field(min_length=1)
    replaces: list[str] = Field(
        default_factory=list,
        description="`profile.table`s left out when this table's rows or sources answered",
    )

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, LabelSpec]) -> dict[str, LabelSpec]:
        return _check_label_names(value)

    @model_validator(mode="after")
    def _unless_names_earlier_metrics(self) -> Table:
        """A metric's `unless` names metrics listed before it in the same table (a row's
        samples are made in the table's order)."""
        for position, metric in enumerate(self.metrics):
            earlier = {m.name for m in self.metrics[:position]}
            unknown = [name for name in metric.unless if name not in earlier]
            if unknown:
                raise ValueError(
                    f"metric {metric.name}: `unless` names {unknown}, not metrics listed before "
                    "it in this table"
                )
        return self

    @model_validator(mode="after")
    def _catalogue_labels(self) -> Table:
        cat = catalogue()
        for metric in self.metrics:
            known = cat.get(metric.name)
            if known is None:
                continue
            names = [*self.labels, *metric.labels]  # the table's, then the metric's own
            if names != list(known.labels):
                raise ValueError(
                    f"metric {metric.name} has labels {names}; the catalogue says "
                    f"{list(known.labels)} (in that order)"
                )
        return self


DEVICE_INFO_METRIC = "chm_device_info"
DEVICE_INFO_LABELS: tuple[str, ...] = catalogue()[DEVICE_INFO_METRIC].labels
"""The fields of chm_device_info, as the catalogue names its labels."""


class Match(_Model):
    """Which devices a vendor profile is for (module=auto); a profile may list several rules
    (VOSS: its own enterprise, or Extreme's universal hardware with a VOSS sysDescr)."""

    sys_object_id: OidList = Field(min_length=1, description="prefixes of sysObjectID")
    sys_descr: str | None = Field(default=None, description="regex sysDescr must match too")
    not_sys_object_id: OidList = Field(
        default_factory=list,
        description="prefixes of sysObjectID this rule leaves out (other products of the vendor)",
    )


class Profile(_Model):
    """A profile file."""

    name: str = Field(pattern=r"^[a-z0-9_]+$")
    description: str = ""
    oids: dict[str, NumericOid] = Field(
        default_factory=dict, description="aliases: a MIB object name for its numeric OID"
    )
    match: Annotated[list[Match], BeforeValidator(_as_list)] = Field(
        default_factory=list,
        description="module=auto: one rule, or a list of rules (any may match)",
    )
    includes: list[str] = Field(
        default_factory=list, description="profiles that always run with this one"
    )
    device_info: dict[str, LabelSpec] = Field(default_factory=dict)
    tables: list[Table] = Field(default_factory=list)
    unsigned32: list[Oid] = Field(
        default_factory=list,
        description="Integer32 columns agents overflow: a negative value is read as the "
        "unsigned 32-bit number it wrapped from (value + 2^32)",
    )

    @field_validator("oids")
    @classmethod
    def _alias_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _ALIAS.match(name) or "." in name:
                raise ValueError(f"{name!r} is not a valid alias name (letters, digits, _)")
        return value

    @classmethod
    def parse(cls, data: Any) -> Profile:
        """Validate a profile file's data, resolving the OID aliases it declares under `oids:`.

        Raises:
            pydantic.ValidationError: the data is not a valid profile.
        """
        aliases = data.get(ALIASES) if isinstance(data, dict) else None
        numeric: dict[str, str] = {}
        if isinstance(aliases, dict):
            for name, oid in aliases.items():
                with suppress(ValueError):  # reported by the field's validation, with its place
                    numeric[str(name)] = _oid(str(oid))
        return cls.model_validate(data, context={ALIASES: numeric})

    @field_validator("device_info")
    @classmethod
    def _known_fields(cls, value: dict[str, LabelSpec]) -> dict[str, LabelSpec]:
        for name in value:
            if name not in DEVICE_INFO_LABELS:
                raise ValueError(f"device_info.{name}: not one of {', '.join(DEVICE_INFO_LABELS)}")
        return value
