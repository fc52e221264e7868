"""A multi-style graph with its style mix baked in as a constant, so ONNX Runtime folds it away.

A multi-style translator's ``head.onnx`` takes the mix as a second input (``style``, (S,) float32),
which keeps every normalisation's scale and shift a run-time value: ONNX Runtime can then fold
each BatchNorm's statistics into its convolution but not the style's scale and shift, and its
fast blocked-layout convolutions need constant weights, so the graph runs about twice as slow as
a single-style one (``benchmarks/bench_multi_style.py``). With the mix as an initializer instead,
the session's constant folding computes every scale and shift once and fuses them into the
convolutions: the same speed as a single style, the same numbers.

:func:`bake_style_input` makes that graph from the file's bytes with a minimal protobuf rewrite
(drop the ``style`` graph input, add an initializer of that name), so the runtime needs neither
the ``onnx`` package nor PyTorch. Protobuf wire format: each field is a varint key
``(number << 3) | wire type``; ModelProto.graph is field 7, GraphProto.initializer 5 and .input
11, ValueInfoProto.name 1; TensorProto.dims 1, .data_type 2 (1 = FLOAT), .name 8, .raw_data 9.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bake_style_input"]

_LEN, _VARINT = 2, 0
_MODEL_GRAPH, _GRAPH_INITIALIZER, _GRAPH_INPUT, _VALUE_NAME = 7, 5, 11, 1


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            return value, i
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _fields(data: bytes) -> list[tuple[int, int, bytes, bytes]]:
    """Top-level fields of a message: (number, wire type, the whole field's bytes, LEN payload or b"")."""
    out, i = [], 0
    while i < len(data):
        start = i
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        payload = b""
        if wire == _VARINT:
            _, i = _varint(data, i)
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == _LEN:
            n, i = _varint(data, i)
            payload, i = data[i:i + n], i + n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, wire, data[start:i], payload))
    return out


def _len_field(number: int, payload: bytes) -> bytes:
    return _encode_varint((number << 3) | _LEN) + _encode_varint(len(payload)) + payload


def _name(value_info: bytes) -> bytes | None:
    return next((p for n, w, _, p in _fields(value_info) if n == _VALUE_NAME and w == _LEN), None)


def _float_tensor(name: str, values: np.ndarray) -> bytes:
    values = np.ascontiguousarray(values, dtype="<f4").reshape(-1)
    return (_encode_varint((1 << 3) | _VARINT) + _encode_varint(values.size)  # dims
            + _encode_varint((2 << 3) | _VARINT) + _encode_varint(1)  # data_type FLOAT
            + _len_field(8, name.encode()) + _len_field(9, values.tobytes()))


def bake_style_input(model: bytes, style: np.ndarray, input_name: str = "style") -> bytes:
    """The serialized ONNX ``model`` with graph input ``input_name`` replaced by the constant ``style``
    ((S,) float32). ValueError when the model has no such input."""
    out, found = bytearray(), False
    for number, wire, raw, payload in _fields(model):
        if number != _MODEL_GRAPH or wire != _LEN:
            out += raw
            continue
        graph = bytearray()
        for g_number, g_wire, g_raw, g_payload in _fields(payload):
            if g_number == _GRAPH_INPUT and g_wire == _LEN and _name(g_payload) == input_name.encode():
                found = True
                continue
            graph += g_raw
        graph += _len_field(_GRAPH_INITIALIZER, _float_tensor(input_name, style))
        out += _len_field(_MODEL_GRAPH, bytes(graph))
    if not found:
        raise ValueError(f"the graph has no input {input_name!r} to bake")
    return bytes(out)
