"""Reading dbt manifest nodes: their merged meta, and the models of a layer."""

from __future__ import annotations

from typing import Any


def node_meta(node: Any) -> dict[str, Any]:
    """A node's meta: its YAML `meta` overlaid with its config's meta."""
    meta = dict(getattr(node, "meta", None) or {})
    meta.update(getattr(getattr(node, "config", None), "meta", None) or {})
    return meta


def models(manifest: Any) -> list[Any]:
    """Every model node of the manifest, by unique id."""
    return [node for _, node in sorted(manifest.nodes.items()) if node.resource_type == "model"]
