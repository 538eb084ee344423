#!/usr/bin/env python3
"""Recover Flower's Fleet-API `.proto` schemas from an installed `flwr` wheel.

The flwr wheel ships only generated `*_pb2.py` modules. Each embeds its file's
serialized `FileDescriptorProto`; this script renders those descriptors back into
`.proto` source (for the files the Rust client needs and everything they import) so
that `build.rs` can compile them with `protox`, and so a Flower upgrade shows up as a
plain text diff.

Usage (from the repository root, with flwr installed in the venv):

    .cache/flower-venv/bin/python fedmoa-flower/scripts/recover_protos.py \
        fedmoa-flower/proto

The recovered schemas are Flower's (Apache-2.0); see fedmoa-flower/proto/NOTICE.
"""

import importlib
import sys
from pathlib import Path

from google.protobuf import descriptor_pb2

import flwr

ROOTS = ["flwr.proto.fleet_pb2"]

TYPES = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64",
    7: "fixed32", 8: "bool", 9: "string", 12: "bytes", 13: "uint32", 15: "sfixed32",
    16: "sfixed64", 17: "sint32", 18: "sint64",
}
TYPE_MESSAGE, TYPE_ENUM = 11, 14
LABEL_REPEATED = 3


def load(module_name):
    """FileDescriptorProto of one generated module."""
    module = importlib.import_module(module_name)
    fdp = descriptor_pb2.FileDescriptorProto()
    fdp.ParseFromString(module.DESCRIPTOR.serialized_pb)
    return fdp


def type_name(field, package):
    if field.type in (TYPE_MESSAGE, TYPE_ENUM):
        name = field.type_name.lstrip(".")
        prefix = package + "."
        return name[len(prefix):] if name.startswith(prefix) else "." + name
    return TYPES[field.type]


def render_enum(enum, indent):
    pad = "  " * indent
    out = [f"{pad}enum {enum.name} {{"]
    for v in enum.value:
        out.append(f"{pad}  {v.name} = {v.number};")
    out.append(f"{pad}}}")
    return out


def render_message(msg, package, indent):
    pad = "  " * indent
    out = [f"{pad}message {msg.name} {{"]
    maps = {n.name: n for n in msg.nested_type if n.options.map_entry}
    for nested in msg.nested_type:
        if not nested.options.map_entry:
            out.extend(render_message(nested, package, indent + 1))
    for enum in msg.enum_type:
        out.extend(render_enum(enum, indent + 1))
    # Real oneofs: fields with oneof_index set and not proto3-optional.
    oneof_fields = {}
    for f in msg.field:
        if f.HasField("oneof_index") and not f.proto3_optional:
            oneof_fields.setdefault(f.oneof_index, []).append(f)
    emitted_oneofs = set()
    for f in msg.field:
        if f.HasField("oneof_index") and not f.proto3_optional:
            idx = f.oneof_index
            if idx in emitted_oneofs:
                continue
            emitted_oneofs.add(idx)
            out.append(f"{pad}  oneof {msg.oneof_decl[idx].name} {{")
            for of in oneof_fields[idx]:
                out.append(f"{pad}    {type_name(of, package)} {of.name} = {of.number};")
            out.append(f"{pad}  }}")
            continue
        entry_name = f.type_name.rsplit(".", 1)[-1]
        if f.label == LABEL_REPEATED and f.type == TYPE_MESSAGE and entry_name in maps:
            entry = maps[entry_name]
            key = type_name(entry.field[0], package)
            val = type_name(entry.field[1], package)
            out.append(f"{pad}  map<{key}, {val}> {f.name} = {f.number};")
            continue
        label = "repeated " if f.label == LABEL_REPEATED else ""
        if f.proto3_optional:
            label = "optional "
        out.append(f"{pad}  {label}{type_name(f, package)} {f.name} = {f.number};")
    out.append(f"{pad}}}")
    return out


def render_file(fdp):
    out = [
        "// Recovered from the descriptors of flwr "
        f"{flwr.__version__} ({fdp.name}) by scripts/recover_protos.py.",
        "// Copyright Flower Labs GmbH, Apache-2.0; see NOTICE in this directory.",
        "",
        f'syntax = "{fdp.syntax or "proto2"}";',
        "",
        f"package {fdp.package};",
        "",
    ]
    for dep in fdp.dependency:
        out.append(f'import "{dep}";')
    if fdp.dependency:
        out.append("")
    for enum in fdp.enum_type:
        out.extend(render_enum(enum, 0))
        out.append("")
    for msg in fdp.message_type:
        out.extend(render_message(msg, fdp.package, 0))
        out.append("")
    for svc in fdp.service:
        out.append(f"service {svc.name} {{")
        for m in svc.method:
            inp = m.input_type.lstrip(".").removeprefix(fdp.package + ".")
            outp = m.output_type.lstrip(".").removeprefix(fdp.package + ".")
            out.append(f"  rpc {m.name}({inp}) returns ({outp});")
        out.append("}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: recover_protos.py OUT_DIR")
    out_dir = Path(sys.argv[1])
    seen, queue = {}, list(ROOTS)
    while queue:
        module = queue.pop()
        fdp = load(module)
        if fdp.name in seen:
            continue
        seen[fdp.name] = fdp
        for dep in fdp.dependency:
            if dep.startswith("flwr/"):
                queue.append(dep.removesuffix(".proto").replace("/", ".") + "_pb2")
    for name, fdp in sorted(seen.items()):
        path = out_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_file(fdp))
        print(f"wrote {path}")
    (out_dir / "FLWR_VERSION").write_text(flwr.__version__ + "\n")


if __name__ == "__main__":
    main()
