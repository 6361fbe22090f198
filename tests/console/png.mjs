// png.mjs - makes the docs' screenshots small: a PNG from chromium (8-bit
// RGB or RGBA, not interlaced) rewritten as an 8-bit palette PNG of its 256
// most frequent colours (the flat colours of the page stay exact; the rarer
// anti-aliasing shades go to the nearest of them), compressed at level 9.
// A 1280x800 page of text goes from about 150 KB to about 50 KB. Only for
// the pictures in docs/console/: nothing here is security-relevant.
import { deflateSync, inflateSync } from 'node:zlib';

const CRC = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++)
    c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

function crc32(buf) {
  let c = -1;
  for (const b of buf)
    c = CRC[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function chunk(type, body) {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  body.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

// The pixels of png as RGB(A) rows without filter bytes, or null when it is
// not a kind this reads.
function decode(png) {
  let pos = 8;
  const idat = [];
  let w = 0;
  let h = 0;
  let bpp = 0;
  while (pos + 8 <= png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    const body = png.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      w = body.readUInt32BE(0);
      h = body.readUInt32BE(4);
      if (body[8] !== 8 || (body[9] !== 2 && body[9] !== 6) || body[12] !== 0)
        return null;
      bpp = body[9] === 6 ? 4 : 3;
    } else if (type === 'IDAT') {
      idat.push(body);
    }
    pos += 12 + len;
  }
  if (!bpp)
    return null;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = w * bpp;
  const px = Buffer.alloc(h * stride);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? px[row + x - bpp] : 0;
      const b = y > 0 ? px[row - stride + x] : 0;
      const c = x >= bpp && y > 0 ? px[row - stride + x - bpp] : 0;
      let v = raw[src + x];
      if (f === 1) {
        v += a;
      } else if (f === 2) {
        v += b;
      } else if (f === 3) {
        v += (a + b) >> 1;
      } else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      px[row + x] = v & 0xff;
    }
  }
  return { w, h, bpp, px };
}

// smallPng(png) -> a palette PNG of the same picture (png itself when it
// cannot be read).
export function smallPng(png) {
  const img = decode(png);
  if (!img)
    return png;
  const { w, h, bpp, px } = img;
  const key = (i) => (px[i] << 16) | (px[i + 1] << 8) | px[i + 2];
  const counts = new Map();
  for (let i = 0; i < px.length; i += bpp)
    counts.set(key(i), (counts.get(key(i)) || 0) + 1);
  const palette = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 256).map(([c]) => c);
  const index = new Map(palette.map((c, i) => [c, i]));
  const nearest = (c) => {
    let best = 0;
    let bestD = Infinity;
    for (let i = 0; i < palette.length; i++) {
      const p = palette[i];
      const dr = (p >> 16) - (c >> 16);
      const dg = ((p >> 8) & 255) - ((c >> 8) & 255);
      const db = (p & 255) - (c & 255);
      const d = 3 * dr * dr + 4 * dg * dg + 2 * db * db;
      if (d < bestD) {
        bestD = d;
        best = i;
      }
    }
    index.set(c, best);
    return best;
  };
  const out = Buffer.alloc(h * (w + 1));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const c = key((y * w + x) * bpp);
      const k = index.get(c);
      out[y * (w + 1) + 1 + x] = k === undefined ? nearest(c) : k;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 3;
  const plte = Buffer.alloc(palette.length * 3);
  palette.forEach((c, i) => {
    plte[i * 3] = c >> 16;
    plte[i * 3 + 1] = (c >> 8) & 255;
    plte[i * 3 + 2] = c & 255;
  });
  return Buffer.concat([png.subarray(0, 8), chunk('IHDR', ihdr), chunk('PLTE', plte),
    chunk('IDAT', deflateSync(out, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}
