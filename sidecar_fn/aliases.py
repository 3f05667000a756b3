"""Where a declared field may hide under another name: declared aliases and common renames.

A common rename is a key that equals the field's name once case and the separators
`_`, `-`, `.` and space are ignored (`vendorId`, `VendorID`, `vendor-id`), or such a key
split over one level of nesting (`{"vendor": {"id": ...}}`). Keys that name a declared or
known field are never taken as another field's alias.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sidecar_fn.schema import Schema

Path = tuple[str, ...]
_SEPARATORS = str.maketrans("", "", "_-. ")


def normalise(name: str) -> str:
    """`name` without case and separators: `vendor_id`, `vendorId` and `Vendor-ID` agree."""
    return name.translate(_SEPARATORS).casefold()


@dataclass(frozen=True)
class AliasIndex:
    """The names each declared field may arrive under, built once per schema."""

    declared: Mapping[Path, str]
    """A schema's declared aliases, as key paths (`vendor.id` is `("vendor", "id")`)."""
    by_normal_name: Mapping[str, str]
    """Normalised name of a declared field (or of a parent and child key) to the field."""
    reserved: frozenset[str]
    """Keys that are fields in their own right: never aliases."""

    @classmethod
    def from_schema(cls, schema: Schema) -> AliasIndex:
        """The index for `schema`; a normalised name two fields share is left out."""
        declared: dict[Path, str] = {}
        normal: dict[str, str] = {}
        clashes: set[str] = set()
        for spec in schema.fields:
            for alias in spec.aliases:
                declared[tuple(alias.split(".", 1))] = spec.name
            key = normalise(spec.name)
            if key in normal and normal[key] != spec.name:
                clashes.add(key)
            normal[key] = spec.name
        for key in clashes:
            del normal[key]
        reserved = frozenset(schema.names) | (schema.known or frozenset())
        return cls(declared, normal, reserved)

    def candidates(
        self, record: Mapping[str, Any], wanted: Collection[str]
    ) -> dict[str, list[Path]]:
        """For each of the `wanted` fields, the key paths in `record` that may hold it."""
        found: dict[str, list[Path]] = {}
        declared = self.declared
        normal = self.by_normal_name
        for key, value in record.items():
            if key in self.reserved:
                continue
            field = declared.get((key,)) or normal.get(normalise(key))
            if field is not None and field in wanted:
                found.setdefault(field, []).append((key,))
            if type(value) is dict:
                prefix = normalise(key)
                for child in value:
                    if type(child) is not str:
                        continue
                    field = declared.get((key, child)) or normal.get(prefix + normalise(child))
                    if field is not None and field in wanted:
                        found.setdefault(field, []).append((key, child))
        return found


def read_path(record: Mapping[str, Any], path: Path) -> Any:
    """The value at `path` (one key, or a key and its child)."""
    value = record[path[0]]
    return value if len(path) == 1 else value[path[1]]


def remove_path(record: dict[str, Any], path: Path) -> None:
    """Remove the value at `path`; a parent object left empty goes too (parents are copied)."""
    if len(path) == 1:
        del record[path[0]]
        return
    parent = dict(record[path[0]])
    del parent[path[1]]
    if parent:
        record[path[0]] = parent
    else:
        del record[path[0]]
