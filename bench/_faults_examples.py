"""Example values for the schemas of an OpenAPI document: minimal (required fields) or full."""

from __future__ import annotations

from typing import Any

DIM = 384  # the vector length of the configured model (all-MiniLM-L6-v2)


class Examples:
    """Minimal ("required only") and full example values for the document's schemas."""

    def __init__(self, doc: dict[str, Any], names: dict[str, str]) -> None:
        self.schemas = doc.get("components", {}).get("schemas", {})
        self.names = names  # property name -> a value that exists (index names, versions)

    def value(self, schema: dict[str, Any], full: bool, key: str = "", depth: int = 0) -> Any:
        """An example instance of `schema` (`full`: every property, else the required ones)."""
        if "$ref" in schema:
            return self.value(self.schemas[schema["$ref"].rsplit("/", 1)[-1]], full, key, depth + 1)
        for combo in ("oneOf", "anyOf"):
            if combo in schema:
                options = [o for o in schema[combo] if o.get("type") != "null"] or [{"type": "null"}]
                return self.value(options[0], full, key, depth + 1)
        if key in self.names and schema.get("type") in ("string", None):
            return self.names[key]
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type")
        if kind == "object" or "properties" in schema:
            return self._object(schema, full, depth)
        if kind == "array":
            if key == "vector":
                return [0.1] * DIM
            return [self.value(schema.get("items", {}), full, depth=depth + 1)]
        if kind == "integer":
            return max(int(schema.get("minimum", 1)), 1)
        if kind == "number":
            return 0.5
        if kind == "boolean":
            return False
        if schema.get("format") == "date-time":
            return "2026-01-01T00:00:00Z"
        return "x"

    def _object(self, schema: dict[str, Any], full: bool, depth: int) -> dict[str, Any]:
        props = schema.get("properties", {})
        keys = props if full else schema.get("required", [])
        if depth > 6:  # recursive schemas (filters): stop at the first level that needs nothing
            keys = schema.get("required", [])
        out = {k: self.value(props[k], full, k, depth + 1) for k in keys if k in props}
        if full and not props and schema.get("additionalProperties") is not None:
            out["k"] = "x"
        return out
