"""The network as a graph file for Gephi, R, Python or a spreadsheet.

One query layer (`network_rows`) turns a network's participants and confirmed ties
into plain rows; `pseudonymize` rewrites those rows for research use; the writers turn
rows into GraphML, GEXF, node-link JSON or a ZIP of two CSV files. The command and the
download view both go through `network_export`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any
from xml.etree.ElementTree import SubElement

import networkx as nx
from django.utils import timezone
from networkx.readwrite.gexf import GEXFWriter

from coordination.models import Network, Participant

from .models import Tie
from .pseudonyms import pseudonym

Row = dict[str, Any]

# Columns in the order the CSV files and the graph attributes use.
NODE_FIELDS = [
    "id",
    "full_name",
    "email",
    "region",
    "organization",
    "organization_kind",
    "role",
    "joined_on",
    "left_on",
]
EDGE_FIELDS = [
    "id",
    "source",
    "target",
    "kind",
    "started_on",
    "ended_on",
    "initiated_by",
    "status",
    "origin_event",
    "origin_event_on",
]
# What pseudonymisation removes from a node: everything that names or reaches a person.
PERSONAL_NODE_FIELDS = ("full_name", "email")


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day else ""


def network_rows(network: Network) -> tuple[list[Row], list[Row]]:
    """The network's participants (nodes) and its confirmed, not deleted ties (edges),
    one edge per tie record, in two queries whatever the size of the network.

    Nodes carry `_pk` and `_organization_pk` for `pseudonymize`; writers drop keys that
    start with an underscore."""
    nodes = [
        {
            "id": f"p{row['pk']}",
            "_pk": row["pk"],
            "_organization_pk": row["organization_id"],
            "full_name": row["full_name"],
            "email": row["email"],
            "region": row["organization__region__name"],
            "organization": row["organization__name"],
            "organization_kind": row["organization__kind"],
            "role": row["role"],
            "joined_on": _iso(row["joined_on"]),
            "left_on": _iso(row["left_on"]),
        }
        for row in Participant.objects.filter(network=network)
        .order_by("pk")
        .values(
            "pk",
            "full_name",
            "email",
            "role",
            "joined_on",
            "left_on",
            "organization_id",
            "organization__name",
            "organization__kind",
            "organization__region__name",
        )
    ]
    edges = []
    ties = (
        Tie.objects.filter(network=network, status=Tie.Status.CONFIRMED, deleted_at__isnull=True)
        .order_by("pk")
        .values(
            "pk",
            "source_id",
            "target_id",
            "kind",
            "started_on",
            "ended_on",
            "initiated_by_id",
            "status",
            "origin_event_id",
            "origin_event__title",
            "origin_event__starts_at",
        )
    )
    for row in ties:
        starts_at = row["origin_event__starts_at"]
        edges.append(
            {
                "id": f"t{row['pk']}",
                "_initiated_by_pk": row["initiated_by_id"],
                "_origin_event_pk": row["origin_event_id"],
                "source": f"p{row['source_id']}",
                "target": f"p{row['target_id']}",
                "kind": row["kind"],
                "started_on": _iso(row["started_on"]),
                "ended_on": _iso(row["ended_on"]),
                "initiated_by": f"p{row['initiated_by_id']}" if row["initiated_by_id"] else "",
                "status": row["status"],
                "origin_event": row["origin_event__title"] or "",
                "origin_event_on": _iso(timezone.localdate(starts_at)) if starts_at else "",
            }
        )
    return nodes, edges


def pseudonymize(
    nodes: list[Row], edges: list[Row], network: Network
) -> tuple[list[Row], list[Row]]:
    """New rows with node ids, brokers and organizations replaced by pseudonyms and
    names and e-mails dropped; regions, organization kinds, roles and dates stay (they
    are the study's variables). Event titles often name a host firm, so an origin event
    becomes a pseudonym too (its date stays)."""

    def person(pk: int) -> str:
        return pseudonym(network, pk, "participant")

    new_nodes = []
    for node in nodes:
        row = {key: value for key, value in node.items() if key not in PERSONAL_NODE_FIELDS}
        row["id"] = person(node["_pk"])
        row["organization"] = pseudonym(network, node["_organization_pk"], "organization")
        new_nodes.append(row)
    ids = {node["id"]: person(node["_pk"]) for node in nodes}
    new_edges = []
    for edge in edges:
        row = dict(edge)
        row["source"] = ids.get(edge["source"]) or person(int(edge["source"][1:]))
        row["target"] = ids.get(edge["target"]) or person(int(edge["target"][1:]))
        if edge["_initiated_by_pk"]:
            row["initiated_by"] = person(edge["_initiated_by_pk"])
        if edge["_origin_event_pk"]:
            row["origin_event"] = pseudonym(network, edge["_origin_event_pk"], "event")
        new_edges.append(row)
    return new_nodes, new_edges


# --- writers: rows -> bytes ---------------------------------------------------------


def _public(row: Row) -> Row:
    return {key: value for key, value in row.items() if not key.startswith("_")}


def _fields(rows: list[Row], order: list[str]) -> list[str]:
    present = set().union(*(_public(row).keys() for row in rows)) if rows else set()
    return [name for name in order if name in present] or [
        name for name in order if name not in PERSONAL_NODE_FIELDS
    ]


def _graph(nodes: list[Row], edges: list[Row], meta: Row) -> nx.MultiGraph:
    """An undirected multigraph, so that two ties of different kinds between the same
    pair stay two edges."""
    graph = nx.MultiGraph(**meta)
    for node in nodes:
        attributes = _public(node)
        graph.add_node(attributes.pop("id"), **attributes)
    for edge in edges:
        attributes = _public(edge)
        graph.add_edge(
            attributes.pop("source"),
            attributes.pop("target"),
            key=attributes.pop("id"),
            **attributes,
        )
    return graph


def write_graphml(nodes: list[Row], edges: list[Row], fp: IO[bytes], meta: Row) -> None:
    nx.write_graphml(_graph(nodes, edges, meta), fp, encoding="utf-8")


def write_gexf(nodes: list[Row], edges: list[Row], fp: IO[bytes], meta: Row) -> None:
    graph = _graph(nodes, edges, meta)
    for node_id, data in graph.nodes(data=True):
        # Gephi shows the label: the name when there is one, else the pseudonym.
        data["label"] = data.get("full_name") or node_id
    for _u, _v, key, data in graph.edges(keys=True, data=True):
        data["id"] = key  # GEXF edge ids come from the "id" attribute
    # GEXF keeps no graph attributes, only the name; the rest goes in <meta>.
    writer = GEXFWriter(encoding="utf-8")
    writer.add_graph(graph)
    meta_element = writer.xml.find("meta")
    if meta_element is not None:
        SubElement(meta_element, "description").text = (
            f"Hubless network {meta['network']} ({meta['name']}), exported at "
            f"{meta['exported_at']}, pseudonymized: {str(meta['pseudonymized']).lower()}"
        )
    writer.write(fp)


def write_json(nodes: list[Row], edges: list[Row], fp: IO[bytes], meta: Row) -> None:
    data = nx.node_link_data(_graph(nodes, edges, meta), edges="links")
    fp.write(json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"))


def _csv_bytes(rows: list[Row], fields: list[str]) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=fields, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(_public(row) for row in rows)
    # With a BOM, Excel (also on Japanese Windows) reads the file as UTF-8.
    return text.getvalue().encode("utf-8-sig")


def write_csv_zip(nodes: list[Row], edges: list[Row], fp: IO[bytes], meta: Row) -> None:
    with zipfile.ZipFile(fp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("nodes.csv", _csv_bytes(nodes, _fields(nodes, NODE_FIELDS)))
        archive.writestr("edges.csv", _csv_bytes(edges, EDGE_FIELDS))


@dataclass(frozen=True)
class ExportFormat:
    writer: Callable[[list[Row], list[Row], IO[bytes], Row], None]
    extension: str
    content_type: str


FORMATS: dict[str, ExportFormat] = {
    "graphml": ExportFormat(write_graphml, "graphml", "application/graphml+xml"),
    "gexf": ExportFormat(write_gexf, "gexf", "application/gexf+xml"),
    "json": ExportFormat(write_json, "json", "application/json"),
    "csv": ExportFormat(write_csv_zip, "zip", "application/zip"),
}


def export_filename(network: Network, fmt: str) -> str:
    return f"network-{network.slug}-{timezone.localdate().isoformat()}.{FORMATS[fmt].extension}"


def network_export(*, network: Network, fmt: str, fp: IO[bytes], pseudonymized: bool) -> None:
    """Writes the network in `fmt` (a key of FORMATS) to the binary file `fp`."""
    export_format = FORMATS[fmt]  # KeyError for an unknown format: callers check first
    nodes, edges = network_rows(network)
    if pseudonymized:
        nodes, edges = pseudonymize(nodes, edges, network)
    meta = {
        "name": network.name,
        "network": network.slug,
        "exported_at": timezone.now().isoformat(timespec="seconds"),
        "pseudonymized": pseudonymized,
    }
    export_format.writer(nodes, edges, fp, meta)
