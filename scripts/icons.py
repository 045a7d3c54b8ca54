# Renders the app's icon (the shapes of public/favicon.svg) as the PNGs the
# web app manifest and iOS ask for, into public/icons/. Run from the project
# root when the icon changes: python3 scripts/icons.py (no dependencies).
import struct, zlib, sys

BLUE = (0x2f, 0x7c, 0xf6)

def in_rrect(x, y, x0, y0, x1, y1, r):
    if x < x0 or x > x1 or y < y0 or y > y1:
        return False
    cx = min(max(x, x0 + r), x1 - r)
    cy = min(max(y, y0 + r), y1 - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r

def in_tri(x, y, a, b, c):
    def s(p, q, r):
        return (p[0] - r[0]) * (q[1] - r[1]) - (q[0] - r[0]) * (p[1] - r[1])
    d1, d2, d3 = s((x, y), a, b), s((x, y), b, c), s((x, y), c, a)
    neg = d1 < 0 or d2 < 0 or d3 < 0
    pos = d1 > 0 or d2 > 0 or d3 > 0
    return not (neg and pos)

def bubble(x, y):
    # In the 64-unit drawing: the body and its tail.
    return in_rrect(x, y, 12, 20, 52, 44, 4) or in_tri(x, y, (30, 44), (21, 51), (21, 44))

def render(size, maskable):
    ss = 4
    rows = []
    for py in range(size):
        row = bytearray([0])
        for px in range(size):
            bg = fg = 0
            for sy in range(ss):
                for sx in range(ss):
                    u = (px + (sx + 0.5) / ss) / size * 64
                    v = (py + (sy + 0.5) / ss) / size * 64
                    inside_bg = True if maskable else in_rrect(u, v, 0, 0, 64, 64, 16)
                    if not inside_bg:
                        continue
                    bg += 1
                    # A maskable icon keeps its drawing in the middle 60 %.
                    if maskable:
                        u, v = 32 + (u - 32) / 0.65, 32 + (v - 35.5) / 0.65 + 3.5
                    if bubble(u, v):
                        fg += 1
            n = ss * ss
            a = bg / n
            w = fg / max(bg, 1)
            rgb = [round(c * (1 - w) + 255 * w) for c in BLUE]
            row += bytes(rgb + [round(a * 255)])
        rows.append(bytes(row))
    raw = b"".join(rows)
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")

for name, size, maskable in [("icon-192.png", 192, False), ("icon-512.png", 512, False),
                              ("maskable-512.png", 512, True), ("apple-touch-icon.png", 180, True)]:
    open(f"public/icons/{name}", "wb").write(render(size, maskable))
    print(name)
