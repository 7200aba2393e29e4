/**
 * Hand-built RIFF/WAVE files for the tests: the layouts sox never writes and headers that lie
 * (every size, tag and field can be set). One builder for the decoder's tests and the HTTP ones.
 */

export interface FmtFields {
  tag: number;
  channels: number;
  rate: number;
  bits: number;
  blockAlign?: number;
}

export function fmtBody({ tag, channels, rate, bits, blockAlign = channels * (bits / 8) }: FmtFields): Uint8Array {
  const body = new DataView(new ArrayBuffer(16));
  body.setUint16(0, tag, true);
  body.setUint16(2, channels, true);
  body.setUint32(4, rate, true);
  body.setUint32(8, rate * blockAlign, true);
  body.setUint16(12, blockAlign, true);
  body.setUint16(14, bits, true);
  return new Uint8Array(body.buffer);
}

/** A WAVE_FORMAT_EXTENSIBLE fmt body (40 bytes) whose sub-format GUID starts with `subFormat`. */
export function extensibleFmtBody(fields: Omit<FmtFields, 'tag'>, subFormat: number, guidTail = [0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]): Uint8Array {
  const body = new Uint8Array(40);
  body.set(fmtBody({ ...fields, tag: 0xfffe }));
  const view = new DataView(body.buffer);
  view.setUint16(16, 22, true); // cbSize
  view.setUint16(18, fields.bits, true); // valid bits
  view.setUint32(20, 0, true); // channel mask
  view.setUint32(24, subFormat, true);
  body.set(guidTail, 28);
  return body;
}

export interface Chunk {
  id: string;
  body: Uint8Array;
  /** The size written in the header, when it should lie. */
  size?: number;
  /** Leave out the pad byte an odd-sized chunk is followed by. */
  noPad?: boolean;
}

export function riff(chunks: Chunk[], { form = 'WAVE', riffSize }: { form?: string; riffSize?: number } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const chunk of chunks) {
    const header = new Uint8Array(8);
    header.set(Buffer.from(chunk.id, 'latin1'));
    new DataView(header.buffer).setUint32(4, chunk.size ?? chunk.body.length, true);
    parts.push(header, chunk.body);
    if (chunk.body.length % 2 === 1 && !chunk.noPad) parts.push(new Uint8Array(1));
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(riffSize ?? body.length + 4, 4);
  head.write(form, 8, 'latin1');
  return new Uint8Array(Buffer.concat([head, body]));
}

export const fmt = (fields: FmtFields): Chunk => ({ id: 'fmt ', body: fmtBody(fields) });
export const data = (body: Uint8Array, size?: number): Chunk => (size === undefined ? { id: 'data', body } : { id: 'data', body, size });
