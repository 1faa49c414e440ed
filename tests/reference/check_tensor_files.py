"""make crosscheck, part 3: the .npy and .safetensors files archlab.tensor wrote, read by a parser of the two
formats written here from their specifications (struct, json and ast only: no NumPy, no safetensors library),
against the values in expected.json (written by tests/reference/tensor_files.lua from plain Lua tables).
Usage: python3 check_tensor_files.py DIR"""
import ast
import json
import struct
import sys


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:6] == b"\x93NUMPY", f"{path}: no magic"
    major = data[6]
    if major == 1:
        (hl,) = struct.unpack("<H", data[8:10])
        start = 10
    else:
        (hl,) = struct.unpack("<I", data[8:12])
        start = 12
    header = data[start:start + hl].decode("latin1")
    assert (start + hl) % 64 == 0, f"{path}: data not aligned to 64 bytes"
    assert header.endswith("\n"), f"{path}: header does not end with a newline"
    d = ast.literal_eval(header)
    assert not d["fortran_order"], f"{path}: fortran order"
    fmt = {"<f4": "f", "<f8": "d"}[d["descr"]]
    shape = d["shape"]
    n = 1
    for s in shape:
        n *= s
    body = data[start + hl:]
    size = struct.calcsize(fmt)
    assert len(body) == n * size, f"{path}: {len(body)} data bytes for {n} elements"
    return d["descr"], shape, list(struct.unpack("<%d%s" % (n, fmt), body))


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (hl,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hl])
    body = data[8 + hl:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        fmt = {"F32": "f", "F64": "d"}[info["dtype"]]
        b, e = info["data_offsets"]
        n = (e - b) // struct.calcsize(fmt)
        out[name] = (info["dtype"], tuple(info["shape"]), list(struct.unpack("<%d%s" % (n, fmt), body[b:e])))
    return out


def flatten(v):
    if isinstance(v, list):
        out, shape = [], None
        for x in v:
            f, s = flatten(x)
            out += f
            shape = s
        return out, (len(v),) + (shape or ())
    return [v], ()


def close(a, b, f32):
    if f32:
        return struct.unpack("<f", struct.pack("<f", b))[0] == a
    return a == b


def main():
    d = sys.argv[1]
    expected = json.load(open(d + "/expected.json"))
    st = read_safetensors(d + "/all.safetensors")
    bad = 0
    for name, e in expected.items():
        values, shape = flatten(e["values"])
        f32 = e["dtype"] == "f32"
        descr, s, got = read_npy(d + "/" + name + ".npy")
        ok = descr == ("<f4" if f32 else "<f8") and tuple(s) == shape and all(close(g, v, f32) for g, v in zip(got, values))
        print(f"  {name}.npy: {descr} {tuple(s)} {'PASS' if ok else 'FAIL'}")
        bad += not ok
        if name in st:
            dt, s2, got2 = st[name]
            ok = dt == ("F32" if f32 else "F64") and s2 == shape and all(close(g, v, f32) for g, v in zip(got2, values))
            print(f"  all.safetensors[{name}]: {dt} {s2} {'PASS' if ok else 'FAIL'}")
            bad += not ok
    print("tensor files:", "PASS" if bad == 0 else f"FAIL ({bad})")
    sys.exit(1 if bad else 0)


main()
