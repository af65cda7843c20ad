"""Reading an XSpace (``*.xplane.pb``), the trace that TensorFlow's and JAX's profilers write (XLA's
``tsl/profiler/protobuf/xplane.proto``), and the HLO programs it carries.

The protobuf library parses the file against the part of the schema lstm-bench reads, declared here with
its field numbers (the wire format skips the rest), so no framework's private generated modules are
imported: a JAX worker reads its trace without TensorFlow. An XSpace holds planes (``/host:CPU``,
``/device:GPU:0``, ``/host:metadata``); a plane holds lines (one per thread or stream) of events, each
naming an entry of the plane's ``event_metadata`` and carrying stats (``hlo_op``, ``hlo_module``...)
named by its ``stat_metadata``. The metadata plane keeps each XLA program that ran as a serialized
``HloProto``, whose instructions' ``op_name`` is the framework's name scope (``jit(step)/lstm/while/...``):
`hlo_op_names` maps the instruction names a trace shows onto those scopes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_FIELDS = {
    # message: ((field, number, type, repeated), ...); a map<K, V> is its wire form, repeated {key=1, value=2};
    # XStat's fields from double_value on are its oneof ``value``
    "XSpace": (("planes", 1, "XPlane", True),),
    "XPlane": (("id", 1, "int64", False), ("name", 2, "string", False), ("lines", 3, "XLine", True),
               ("event_metadata", 4, "EventMetadataEntry", True), ("stat_metadata", 5, "StatMetadataEntry", True),
               ("stats", 6, "XStat", True)),
    "EventMetadataEntry": (("key", 1, "int64", False), ("value", 2, "XEventMetadata", False)),
    "StatMetadataEntry": (("key", 1, "int64", False), ("value", 2, "XStatMetadata", False)),
    "XLine": (("id", 1, "int64", False), ("name", 2, "string", False), ("timestamp_ns", 3, "int64", False),
              ("events", 4, "XEvent", True)),
    "XEvent": (("metadata_id", 1, "int64", False), ("offset_ps", 2, "int64", False),
               ("duration_ps", 3, "int64", False), ("stats", 4, "XStat", True)),
    "XStat": (("metadata_id", 1, "int64", False), ("double_value", 2, "double", False),
              ("uint64_value", 3, "uint64", False), ("int64_value", 4, "int64", False),
              ("str_value", 5, "string", False), ("bytes_value", 6, "bytes", False), ("ref_value", 7, "uint64", False)),
    "XEventMetadata": (("id", 1, "int64", False), ("name", 2, "string", False), ("stats", 5, "XStat", True)),
    "XStatMetadata": (("id", 1, "int64", False), ("name", 2, "string", False)),
    "HloProto": (("hlo_module", 1, "HloModuleProto", False),),
    "HloModuleProto": (("name", 1, "string", False), ("computations", 3, "HloComputationProto", True)),
    "HloComputationProto": (("name", 1, "string", False), ("instructions", 2, "HloInstructionProto", True)),
    "HloInstructionProto": (("name", 1, "string", False), ("opcode", 2, "string", False),
                            ("metadata", 7, "OpMetadata", False)),
    "OpMetadata": (("op_type", 1, "string", False), ("op_name", 2, "string", False)),
}
"""The subset of ``xplane.proto`` and XLA's ``hlo.proto`` / ``xla_data.proto`` read here (field numbers as
upstream; checked against TensorFlow's generated modules)."""

_PACKAGE = "lstm_bench.xspace"
_SCALARS = {"int64": descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
            "uint64": descriptor_pb2.FieldDescriptorProto.TYPE_UINT64,
            "double": descriptor_pb2.FieldDescriptorProto.TYPE_DOUBLE,
            "string": descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
            "bytes": descriptor_pb2.FieldDescriptorProto.TYPE_BYTES}


@cache
def message_class(name: str) -> type:
    """The protobuf message class of ``name`` (a key of `_FIELDS`), from the declared schema."""
    return message_factory.GetMessageClass(_pool().FindMessageTypeByName(f"{_PACKAGE}.{name}"))


@cache
def _pool() -> descriptor_pool.DescriptorPool:
    """A descriptor pool holding the declared schema (`_FIELDS`), built once."""
    file = descriptor_pb2.FileDescriptorProto(name="lstm_bench_xspace.proto", package=_PACKAGE, syntax="proto3")
    for message, fields in _FIELDS.items():
        declared = file.message_type.add(name=message)
        if message == "XStat":
            declared.oneof_decl.add(name="value")
        for field_name, number, kind, repeated in fields:
            field = declared.field.add(name=field_name, number=number, label=(
                descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED if repeated
                else descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL))
            if message == "XStat" and number > 1:
                field.oneof_index = 0
            if kind in _SCALARS:
                field.type = _SCALARS[kind]
            else:
                field.type = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE
                field.type_name = f".{_PACKAGE}.{kind}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return pool


def read_xspace(path: str) -> Any:
    """The XSpace message in the file at ``path``."""
    space = message_class("XSpace")()
    with open(path, "rb") as file:
        space.ParseFromString(file.read())
    return space


@dataclass(frozen=True)
class TraceEvent:
    """One event of a plane's line, its name resolved and its stats by name (a reference stat as the name
    it refers to)."""

    name: str
    start_seconds: float
    end_seconds: float
    stats: dict[str, Any]


def plane_named(space: Any, name: str) -> Any | None:
    """The plane of ``space`` called ``name``, None when it has none."""
    return next((plane for plane in space.planes if plane.name == name), None)


def line_events(plane: Any) -> Iterator[tuple[str, list[TraceEvent]]]:
    """Each line of ``plane`` (a thread on the host, a stream on a device) with its events in order."""
    events_by_id = {entry.key: entry.value for entry in plane.event_metadata}
    stat_names = {entry.key: entry.value.name for entry in plane.stat_metadata}
    for line in plane.lines:
        events = []
        for event in line.events:
            start = (line.timestamp_ns * 1000 + event.offset_ps) / 1e12
            stats = {stat_names.get(stat.metadata_id, ""): _stat_value(stat, stat_names) for stat in event.stats}
            events.append(TraceEvent(events_by_id[event.metadata_id].name if event.metadata_id in events_by_id else "",
                                     start, start + event.duration_ps / 1e12, stats))
        yield line.name, events


def _stat_value(stat: Any, stat_names: dict[int, str]) -> Any:
    kind = stat.WhichOneof("value")
    if kind == "ref_value":
        return stat_names.get(stat.ref_value, "")
    return getattr(stat, kind) if kind else None


def hlo_op_names(space: Any) -> dict[tuple[str, str], str]:
    """``(module, instruction) -> op_name`` for every instruction of every XLA program the metadata plane
    keeps (the module name as the trace's ``hlo_module`` stat gives it, without the ``(N)`` suffix);
    instructions without an ``op_name`` (XLA's own copies, parameters) are left out."""
    plane = plane_named(space, "/host:metadata")
    if plane is None:
        return {}
    stat_names = {entry.key: entry.value.name for entry in plane.stat_metadata}
    hlo_proto = message_class("HloProto")
    names: dict[tuple[str, str], str] = {}
    for entry in plane.event_metadata:
        for stat in entry.value.stats:
            if stat_names.get(stat.metadata_id) != "Hlo Proto":
                continue
            module = hlo_proto.FromString(stat.bytes_value).hlo_module
            module_name = module.name or entry.value.name.split("(")[0]
            for computation in module.computations:
                for instruction in computation.instructions:
                    if instruction.metadata.op_name:
                        names[(module_name, instruction.name)] = instruction.metadata.op_name
    return names
