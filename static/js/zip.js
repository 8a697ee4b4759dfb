// A store-only ZIP writer (no compression: the members here are PNGs, already compressed).
// Local headers, a central directory and its end record, CRC-32 per member; no ZIP64, so at
// most 65535 members and 4 GB in all.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as in ZIP and PNG) of `bytes`, a Uint8Array; an unsigned 32-bit number. */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** MS-DOS time and date words of `date` (local time, 2-second resolution). */
function dosTime(date) {
  const time = (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1);
  const day = ((Math.max(1980, date.getFullYear()) - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate();
  return [time, day];
}

function header(size, fill) {
  const buf = new Uint8Array(size);
  fill(new DataView(buf.buffer));
  return buf;
}

/** Collects members with `add(name, bytes)`; `blob()` gives the archive (application/zip). */
export class ZipWriter {
  constructor(date = new Date()) {
    this.parts = [];
    this.entries = [];
    this.offset = 0;
    [this.time, this.day] = dosTime(date);
  }

  /** name: a relative path (ASCII or UTF-8); bytes: the member's content, a Uint8Array. */
  add(name, bytes) {
    if (this.entries.length >= 65535) throw new Error("a ZIP without ZIP64 holds at most 65535 members");
    const nameBytes = new TextEncoder().encode(name);
    const crc = crc32(bytes);
    const local = header(30, (v) => {
      v.setUint32(0, 0x04034b50, true);
      v.setUint16(4, 20, true);            // version needed: 2.0
      v.setUint16(6, 0x0800, true);        // flags: UTF-8 names
      v.setUint16(8, 0, true);             // method: stored
      v.setUint16(10, this.time, true);
      v.setUint16(12, this.day, true);
      v.setUint32(14, crc, true);
      v.setUint32(18, bytes.length, true); // compressed size
      v.setUint32(22, bytes.length, true); // uncompressed size
      v.setUint16(26, nameBytes.length, true);
      v.setUint16(28, 0, true);            // extra field length
    });
    this.entries.push({ nameBytes, crc, size: bytes.length, offset: this.offset });
    this.parts.push(local, nameBytes, bytes);
    this.offset += local.length + nameBytes.length + bytes.length;
  }

  blob() {
    const start = this.offset;
    const central = [];
    let size = 0;
    for (const e of this.entries) {
      const h = header(46, (v) => {
        v.setUint32(0, 0x02014b50, true);
        v.setUint16(4, 20, true);          // version made by
        v.setUint16(6, 20, true);          // version needed
        v.setUint16(8, 0x0800, true);
        v.setUint16(10, 0, true);
        v.setUint16(12, this.time, true);
        v.setUint16(14, this.day, true);
        v.setUint32(16, e.crc, true);
        v.setUint32(20, e.size, true);
        v.setUint32(24, e.size, true);
        v.setUint16(28, e.nameBytes.length, true);
        // extra, comment, disk number, internal and external attributes: all 0
        v.setUint32(42, e.offset, true);
      });
      central.push(h, e.nameBytes);
      size += h.length + e.nameBytes.length;
    }
    const end = header(22, (v) => {
      v.setUint32(0, 0x06054b50, true);
      v.setUint16(8, this.entries.length, true);
      v.setUint16(10, this.entries.length, true);
      v.setUint32(12, size, true);
      v.setUint32(16, start, true);
    });
    return new Blob([...this.parts, ...central, end], { type: "application/zip" });
  }
}
