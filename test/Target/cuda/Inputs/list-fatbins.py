"""Lists the fatbins embedded in a shared object (found by their magic,
0xBA55ED50) and, for each, its entries: kind (elf: a cubin for one chip;
ptx: code the driver can compile for a newer chip) and the sm it is for.
The layout is the one fatbinary writes (CUDA 12/13): a 16-byte header
(magic, version, header size, payload size), then entries, each a header
(kind u16 at 0, header size u32 at 4, payload size u64 at 8, sm u32 at 28)
followed by its payload."""
import struct
import sys

MAGIC = struct.pack("<I", 0xBA55ED50)
data = open(sys.argv[1], "rb").read()
at = data.find(MAGIC)
count = without_ptx = 0
while at >= 0:
    _, _, header, size = struct.unpack_from("<IHHQ", data, at)
    entry, end = at + header, at + header + size
    kinds = []
    while entry < end:
        kind, _, entry_header, payload = struct.unpack_from("<HHIQ", data, entry)
        sm = struct.unpack_from("<I", data, entry + 28)[0]
        kinds.append(f"{ {1: 'ptx', 2: 'elf'}.get(kind, kind)} sm_{sm}")
        entry += entry_header + payload
    print("fatbin: " + ", ".join(kinds))
    count += 1
    without_ptx += not any(k.startswith("ptx") for k in kinds)
    at = data.find(MAGIC, end)
print(f"{count} fatbins, {without_ptx} without PTX")
