#!/usr/bin/python3
"""An independent safetensors writer and reader for retool's tests (struct + json + numpy; no safetensors package).

Follows the format as Hugging Face's safetensors library defines it: an 8-byte little-endian header length N, N bytes
of JSON (padded with spaces to a multiple of 8), then the data area; each tensor has dtype, shape and data_offsets
relative to the data area.

  write_safetensors.py good FILE [--no-pad]  a file of several dtypes; expected values in FILE.expected.json
  write_safetensors.py sharded DIR           two shards + model.safetensors.index.json; DIR/expected.json
  write_safetensors.py bad DIR               one malformed file per case: DIR/<case>.safetensors
  write_safetensors.py convert FILE          f32 bit patterns with their bf16 (torch) and f16 (numpy) roundings
  write_safetensors.py read FILE OUT.json    reads FILE with Hugging Face's strict rules; writes values to OUT.json
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
          "U8": np.uint8, "BOOL": np.bool_}
SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "U8": 1, "BOOL": 1}


def bf16_truncate(x):
    """float32 array -> (bf16 bit patterns, the float32 values they stand for); values chosen exactly bf16."""
    bits = (x.astype(np.float32).view(np.uint32) & np.uint32(0xFFFF0000))
    return (bits >> 16).astype(np.uint16), bits.view(np.float32)


def pack(entries, metadata=None, pad=True, extra_header=None):
    """entries: list of (name, dtype, shape, raw bytes). Returns the whole file as bytes."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    data = b""
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data += raw
    if extra_header:
        header.update(extra_header)
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def good_entries(seed):
    rng = np.random.default_rng(seed)
    entries, expected = [], {}
    a = rng.standard_normal((3, 5)).astype(np.float32)
    entries.append(("model.a.weight", "F32", a.shape, a.tobytes()))
    expected["model.a.weight"] = a
    h = (rng.standard_normal((4, 2)) * 100).astype(np.float16)
    h[0, 0] = np.float16(6.0e-8)  # the smallest f16 subnormal
    entries.append(("half", "F16", h.shape, h.tobytes()))
    expected["half"] = h.astype(np.float32)
    bits, vals = bf16_truncate(rng.standard_normal(7).astype(np.float32) * 3)
    entries.append(("bf", "BF16", (7,), bits.tobytes()))
    expected["bf"] = vals
    d = rng.standard_normal(2)
    entries.append(("double", "F64", (2,), d.tobytes()))
    expected["double"] = d.astype(np.float32)
    s = np.array(2.5, dtype=np.float32)
    entries.append(("scalar", "F32", (), s.tobytes()))
    expected["scalar"] = s.reshape(1)
    entries.append(("empty", "F32", (0, 3), b""))
    expected["empty"] = np.zeros(0, np.float32)
    i = np.arange(6, dtype=np.int64)
    entries.append(("ids", "I64", (2, 3), i.tobytes()))
    return entries, expected


def dump_expected(path, expected, shapes):
    out = {}
    for name, v in expected.items():
        out[name] = {"values": [float(x) for x in np.asarray(v, np.float32).ravel()], "shape": list(shapes[name])}
    with open(path, "w") as f:
        json.dump(out, f)


def cmd_good(path, pad):
    entries, expected = good_entries(1234)
    with open(path, "wb") as f:
        f.write(pack(entries, metadata={"format": "pt", "note": "written by write_safetensors.py"}, pad=pad))
    dump_expected(path + ".expected.json", expected, {e[0]: e[2] for e in entries})


def cmd_sharded(d):
    rng = np.random.default_rng(99)
    shards = [[], []]
    expected, shapes, weight_map = {}, {}, {}
    for k in range(5):
        name = "model.layers.%d.w" % k
        x = rng.standard_normal((2, k + 1)).astype(np.float32)
        shard = k % 2
        shards[shard].append((name, "F32", x.shape, x.tobytes()))
        expected[name], shapes[name] = x, x.shape
        weight_map[name] = "model-%05d-of-00002.safetensors" % (shard + 1)
    for s in range(2):
        with open("%s/model-%05d-of-00002.safetensors" % (d, s + 1), "wb") as f:
            f.write(pack(shards[s], metadata={"format": "pt"}))
    total = sum(len(e[3]) for sh in shards for e in sh)
    with open(d + "/model.safetensors.index.json", "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    dump_expected(d + "/expected.json", expected, shapes)


def raw_file(header_obj, data, pad=True):
    text = json.dumps(header_obj).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def cmd_bad(d):
    x = np.arange(6, dtype=np.float32).tobytes()  # 24 bytes
    cases = {}
    good = pack([("t", "F32", (2, 3), x), ("u", "F32", (6,), x)])
    cases["truncated"] = good[: len(good) - 10]
    cases["tiny"] = b"\x05\x00\x00"
    cases["hlen_past_end"] = struct.pack("<Q", 10 ** 6) + good[8:]
    cases["hlen_huge"] = struct.pack("<Q", 2 ** 63) + good[8:]
    cases["offsets_outside"] = raw_file({"t": {"dtype": "F32", "shape": [2, 3], "data_offsets": [24, 48]}}, x)
    cases["overlap"] = raw_file({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                                 "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}, x)
    cases["shape_mismatch"] = raw_file({"t": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 24]}}, x)
    cases["unknown_dtype"] = raw_file({"t": {"dtype": "F33", "shape": [6], "data_offsets": [0, 24]}}, x)
    cases["not_json"] = struct.pack("<Q", 8) + b"{\"t\": [}" + x
    cases["not_object"] = raw_file([1, 2, 3], x)
    cases["negative_offset"] = raw_file({"t": {"dtype": "F32", "shape": [6], "data_offsets": [-4, 20]}}, x)
    cases["reversed_offsets"] = raw_file({"t": {"dtype": "F32", "shape": [0], "data_offsets": [20, 4]}}, x)
    cases["missing_shape"] = raw_file({"t": {"dtype": "F32", "data_offsets": [0, 24]}}, x)
    cases["fractional_shape"] = raw_file({"t": {"dtype": "F32", "shape": [1.5, 4], "data_offsets": [0, 24]}}, x)
    cases["shape_overflow"] = raw_file(
        {"t": {"dtype": "F32", "shape": [2 ** 40, 2 ** 40], "data_offsets": [0, 24]}}, x)
    cases["duplicate"] = struct.pack("<Q", 0)  # replaced below: JSON with a repeated key
    text = (b'{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},'
            b'"t":{"dtype":"F32","shape":[3],"data_offsets":[12,24]}}')
    text += b" " * ((8 - len(text) % 8) % 8)
    cases["duplicate"] = struct.pack("<Q", len(text)) + text + x
    cases["bad_metadata"] = raw_file({"__metadata__": {"k": 1},
                                      "t": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}, x)
    # not malformed: unused bytes between and after tensors (Hugging Face's writer never leaves any; readers may allow)
    cases["gap_ok"] = raw_file({"t": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, x)
    for name, blob in cases.items():
        with open("%s/%s.safetensors" % (d, name), "wb") as f:
            f.write(blob)


def cmd_convert(path):
    import torch
    rng = np.random.default_rng(7)
    special = [0x00000000, 0x80000000, 0x3F800000, 0x3F808000, 0x3F818000, 0x3F808001, 0x3F817FFF,
               0x7F800000, 0xFF800000, 0x7F7FFFFF, 0x7F7F8000, 0x7F7F7FFF, 0x00000001, 0x00400000, 0x807FFFFF,
               0x00800000, 0x3FFFFFFF, 0x477FE000, 0x477FF000, 0x477FEFFF, 0x38800000, 0x387FC000,
               0x33800000, 0x33000000, 0x33000001, 0x337FFFFF, 0x35000000, 0x35400000, 0x35200000,
               0xC7800000, 0x3DCCCCCD, 0x40490FDB, 0xBF7FFFFF]
    rand = list(rng.integers(0, 2 ** 32, size=4000, dtype=np.uint64))
    small = list(rng.integers(0x30000000, 0x39000000, size=2000, dtype=np.uint64))  # around f16 subnormals
    bits = np.array(special + rand + small, dtype=np.uint64).astype(np.uint32)
    f = bits.view(np.float32)
    keep = ~np.isnan(f)  # NaN is checked separately (torch makes every NaN 0x7FC0)
    bits, f = bits[keep], f[keep]
    bf = torch.from_numpy(f.copy()).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    with np.errstate(over="ignore"):
        h = f.astype(np.float16).view(np.uint16)
    back = h.view(np.float16).astype(np.float32).view(np.uint32)
    with open(path, "w") as fp:
        json.dump({"f32": [int(b) for b in bits], "bf16": [int(b) for b in bf], "f16": [int(b) for b in h],
                   "f16_to_f32": [int(b) for b in back]}, fp)


def cmd_read(path, out):
    """Reads path the way Hugging Face's safetensors does (strict: contiguous offsets covering the whole data area)."""
    blob = open(path, "rb").read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0, "header length %d not a multiple of 8" % n
    assert 8 + n <= len(blob)
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None)
    data = blob[8 + n:]
    spans = sorted((v["data_offsets"][0], v["data_offsets"][1], k) for k, v in header.items())
    pos = 0
    for b, e, k in spans:
        assert b == pos, "tensor %s starts at %d, expected %d" % (k, b, pos)
        pos = e
    assert pos == len(data), "data area %d bytes, tensors cover %d" % (len(data), pos)
    result = {"__metadata__": meta, "__order__": list(header.keys()), "tensors": {}}
    for k, v in header.items():
        b, e = v["data_offsets"]
        raw = data[b:e]
        count = int(np.prod(v["shape"])) if v["shape"] else 1
        assert len(raw) == count * SIZES[v["dtype"]], k
        if v["dtype"] == "BF16":
            vals = (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            vals = np.frombuffer(raw, DTYPES[v["dtype"]]).astype(np.float64)
        result["tensors"][k] = {"dtype": v["dtype"], "shape": v["shape"],
                                "values": [float(x) if np.isfinite(x) else None  # JSON has no NaN / inf
                                           for x in np.asarray(vals, np.float64)]}
    with open(out, "w") as f:
        json.dump(result, f)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "good":
        cmd_good(argv[2], pad="--no-pad" not in argv)
    elif cmd == "sharded":
        cmd_sharded(argv[2])
    elif cmd == "bad":
        cmd_bad(argv[2])
    elif cmd == "convert":
        cmd_convert(argv[2])
    elif cmd == "read":
        cmd_read(argv[2], argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
