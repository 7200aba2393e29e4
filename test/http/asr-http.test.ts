/**
 * POST /v1/asr and WebSocket /v1/asr/stream over real HTTP: the real stack (startStack: the trained
 * recogniser of models/repository/asr, its front end, Silero VAD, worker threads) listening on a
 * socket, and
 * real audio: a man saying "go forward ten meters" (Debian's pocketsphinx test data), commands
 * spoken by espeak-ng at test time, files converted by sox, and every kind of bad WAV.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL_REPOSITORY, startStack, type Stack } from './helpers.ts';
import { goforwardPcm } from '../support/real-speech.ts';
import { data, fmt, riff, type Chunk } from '../support/wav-builder.ts';

const MAX_STREAMS = 2;

let dir: string;
let stack: Stack;
/** http://127.0.0.1:port */
let baseUrl: string;

/** A RIFF/WAVE file of `pcm`; every field may be set to a lie (an extra chunk goes between fmt and data). */
function wav(pcm: Uint8Array, fields: { formatTag?: number; channels?: number; rate?: number; bits?: number; blockAlign?: number; dataSize?: number; extraChunk?: { id: string; size: number } } = {}): Buffer {
  const { formatTag = 1, channels = 1, rate = 16_000, bits = 16 } = fields;
  const blockAlign = fields.blockAlign ?? channels * Math.ceil(bits / 8);
  const extra: Chunk[] = fields.extraChunk === undefined ? [] : [{ id: fields.extraChunk.id, body: new Uint8Array(0), size: fields.extraChunk.size }];
  return Buffer.from(riff([fmt({ tag: formatTag, channels, rate, bits, blockAlign }), ...extra, data(pcm, fields.dataSize)]));
}

/** 16 kHz 16-bit mono PCM of a silence of `seconds`. */
const silencePcm = (seconds: number) => Buffer.alloc(Math.round(seconds * 16_000) * 2);

/** Runs a tool with `{}` standing for a new file in the temp dir; returns that file's bytes. */
function toolFile(tool: string, name: string, args: string[]): Buffer {
  const file = path.join(dir, name);
  execFileSync(tool, args.map((arg) => (arg === '{}' ? file : arg)), { stdio: 'pipe' });
  return readFileSync(file);
}
const espeak = (text: string, name: string) => toolFile('espeak-ng', name, ['-w', '{}', text]);
/** 16 kHz 16-bit mono PCM (no header) of a WAV, by sox. */
function pcmOf(wavBytes: Buffer, name: string): Buffer {
  const input = path.join(dir, `${name}-in.wav`);
  execFileSync('sh', ['-c', `cat > '${input}'`], { input: wavBytes });
  return toolFile('sox', `${name}.raw`, [input, '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'raw', '{}']);
}

async function post(body: Buffer | string, contentType: string | undefined = 'audio/wav') {
  const response = await fetch(`${baseUrl}/v1/asr`, { method: 'POST', headers: contentType === undefined ? {} : { 'content-type': contentType }, body });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

interface Session {
  messages: Record<string, any>[];
  closed: Promise<{ code: number; reason: string }>;
  socket: WebSocket;
}

async function connect(query = ''): Promise<Session> {
  const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/v1/asr/stream${query}`);
  const messages: Record<string, any>[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(data.toString())));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { messages, closed, socket };
}

/** Sends PCM in 100-ms messages, a little faster than real time (a live microphone, sped up). */
async function sendPcm(socket: WebSocket, pcm: Buffer, bytesPerMessage = 3200): Promise<void> {
  for (let at = 0; at < pcm.length; at += bytesPerMessage) {
    socket.send(pcm.subarray(at, at + bytesPerMessage));
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const texts = (messages: Record<string, any>[], type: string) => messages.filter((m) => m.type === type).map((m) => m.text);

beforeAll(async () => {
  for (const tool of ['espeak-ng', 'sox']) {
    try {
      execFileSync(tool, ['--version'], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(`these tests make their audio with ${tool}, which is not runnable here (apt-get install ${tool}): ${String(error)}`);
    }
  }
  dir = mkdtempSync(path.join(os.tmpdir(), 'asr-http-'));
  stack = await startStack({
    runtime: { workers: 1, intraOpThreads: 1 },
    models: { repository: MODEL_REPOSITORY, load: ['melspec', 'speech_embedding', 'silero_vad', 'asr'] },
    speech: { stream: { maxStreams: MAX_STREAMS } },
  });
  baseUrl = await stack.app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await stack?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/asr', () => {
  it('a real man\'s voice: "go forward ten meters", with word times inside the audio', async () => {
    const pcm = goforwardPcm();
    const { status, body } = await post(wav(pcm));
    expect(status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['duration_ms', 'model', 'placement', 'text', 'timings', 'version', 'words']);
    expect(body.text).toBe('go forward ten meters');
    expect(body.model).toBe('asr');
    expect(body.duration_ms).toBeCloseTo((pcm.length / 2 / 16_000) * 1000, 0);
    expect(body.words.map((w: { word: string }) => w.word)).toEqual(['go', 'forward', 'ten', 'meters']);
    let previous = 0;
    for (const word of body.words) {
      expect(word.start_ms).toBeGreaterThanOrEqual(previous);
      expect(word.end_ms).toBeGreaterThan(word.start_ms);
      expect(word.confidence).toBeGreaterThan(0);
      expect(word.confidence).toBeLessThanOrEqual(1);
      previous = word.start_ms;
    }
    expect(previous).toBeLessThan(body.duration_ms);
    for (const key of ['decode_ms', 'queue_ms', 'infer_ms', 'total_ms']) expect(body.timings[key]).toBeGreaterThanOrEqual(0);
  });

  it.each([
    ['stop conveyor two'],
    ['open valve three'],
    ['set pressure to four point two bar'],
    ['emergency stop'],
    ['check temperature at station five'],
    ['zero one two three four five six seven eight nine'],
  ])('espeak-ng "%s" (22.05 kHz, resampled) is recognised exactly', async (sentence) => {
    const { status, body } = await post(espeak(sentence, `${sentence.replace(/ /g, '-')}.wav`));
    expect(status).toBe(200);
    expect(body.text).toBe(sentence);
  });

  it('the same command as 44.1 kHz stereo 24-bit and as 32-bit float, with every accepted content type', async () => {
    const spoken = espeak('stop conveyor two', 'stop.wav');
    const stereo = toolFile('sox', 'stop-stereo.wav', [path.join(dir, 'stop.wav'), '-r', '44100', '-c', '2', '-b', '24', '{}']);
    const float = toolFile('sox', 'stop-float.wav', [path.join(dir, 'stop.wav'), '-e', 'floating-point', '-b', '32', '{}']);
    const answers = await Promise.all([
      post(stereo, 'audio/x-wav'),
      post(float, 'audio/wave'),
      post(spoken, 'audio/vnd.wave'),
      post(spoken, 'application/octet-stream'),
    ]);
    expect(answers.map((answer) => [answer.status, answer.body.text])).toEqual(Array(4).fill([200, 'stop conveyor two']));
  });

  it('silence gives empty text and no words', async () => {
    const { status, body } = await post(wav(silencePcm(2)));
    expect(status).toBe(200);
    expect(body).toMatchObject({ text: '', words: [], duration_ms: 2000 });
  });

  describe('BAD CALL - each bad body has its code and status', () => {
    const pcm = () => goforwardPcm().subarray(0, 16_000);
    const cases: Array<[string, () => Buffer, number, string]> = [
      ['a chunk whose size lies', () => wav(pcm(), { extraChunk: { id: 'LIST', size: 0x7fff_0000 } }), 422, 'EDGE_ERR_AUDIO_HEADER_INVALID'],
      ['0 channels', () => wav(pcm(), { channels: 0, blockAlign: 2 }), 422, 'EDGE_ERR_AUDIO_CHANNELS_INVALID'],
      ['0 Hz', () => wav(pcm(), { rate: 0 }), 422, 'EDGE_ERR_AUDIO_SAMPLE_RATE_INVALID'],
      ['12-bit samples', () => wav(pcm(), { bits: 12, blockAlign: 2 }), 415, 'EDGE_ERR_AUDIO_CODEC_UNSUPPORTED'],
      ['data shorter than declared (truncated)', () => wav(pcm(), { dataSize: pcm().length * 2 }), 422, 'EDGE_ERR_AUDIO_TRUNCATED'],
    ];
    it.each(cases)('%s', async (_name, make, status, code) => {
      const answer = await post(make());
      expect(answer.status).toBe(status);
      expect(answer.body.error.code).toBe(code);
    });

    it('an ADPCM file written by sox: 415 EDGE_ERR_AUDIO_CODEC_UNSUPPORTED (formatTag 2)', async () => {
      espeak('stop', 'adpcm-source.wav');
      const adpcm = toolFile('sox', 'adpcm.wav', [path.join(dir, 'adpcm-source.wav'), '-e', 'ms-adpcm', '{}']);
      const answer = await post(adpcm);
      expect(answer.status).toBe(415);
      expect(answer.body.error).toMatchObject({ code: 'EDGE_ERR_AUDIO_CODEC_UNSUPPORTED', details: { formatTag: 2 } });
    });

    it('a real file cut in the middle: 422 EDGE_ERR_AUDIO_TRUNCATED', async () => {
      const whole = espeak('go forward', 'cut.wav');
      const answer = await post(whole.subarray(0, Math.floor(whole.length / 2)));
      expect(answer.status).toBe(422);
      expect(answer.body.error.code).toBe('EDGE_ERR_AUDIO_TRUNCATED');
    });

    it('31 s of audio: 413 EDGE_ERR_AUDIO_TOO_LONG', async () => {
      const long = toolFile('sox', 'long.wav', ['-n', '-r', '16000', '-c', '1', '-b', '16', '{}', 'synth', '31', 'sine', '440', 'vol', '0.1']);
      const answer = await post(long);
      expect(answer.status).toBe(413);
      expect(answer.body.error).toMatchObject({ code: 'EDGE_ERR_AUDIO_TOO_LONG', details: { maxSeconds: 30 } });
    });

    it('a body over the audio body limit (30 s of 48 kHz stereo 32-bit + 64 KiB): 413 EDGE_ERR_BODY_TOO_LARGE', async () => {
      const answer = await post(Buffer.alloc(30 * 48_000 * 2 * 4 + 64 * 1024 + 1));
      expect(answer.status).toBe(413);
      expect(answer.body.error.code).toBe('EDGE_ERR_BODY_TOO_LARGE');
    });

    it('a PNG, as image/png or as application/octet-stream: 415 EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED', async () => {
      const png = toolFile('sox', 'spectrogram.png', ['-n', '-r', '8000', '-n', 'synth', '0.1', 'sine', '440', 'spectrogram', '-x', '100', '-y', '65', '-r', '-o', '{}']);
      expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
      for (const type of ['image/png', 'application/octet-stream']) {
        const answer = await post(png, type);
        expect(answer.status, type).toBe(415);
        expect(answer.body.error.code, type).toBe('EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED');
      }
    });

    it('text/plain, JSON or no content type: 415 EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED', async () => {
      for (const [body, type] of [
        ['stop conveyor two', 'text/plain'],
        ['{"audio":"..."}', 'application/json'],
        ['RIFF', undefined],
      ] as const) {
        const answer = await post(body, type);
        expect(answer.status, String(type)).toBe(415);
        expect(answer.body.error.code, String(type)).toBe('EDGE_ERR_AUDIO_FORMAT_UNSUPPORTED');
      }
    });

    it('an empty body: 400 EDGE_ERR_BODY_EMPTY', async () => {
      const answer = await post(Buffer.alloc(0));
      expect(answer.status).toBe(400);
      expect(answer.body.error.code).toBe('EDGE_ERR_BODY_EMPTY');
    });
  });

  it('is documented in the OpenAPI under the speech tag', async () => {
    const spec = (await (await fetch(`${baseUrl}/docs/json`)).json()) as { paths: Record<string, Record<string, { tags?: string[]; responses: Record<string, unknown> }>> };
    expect(spec.paths['/v1/asr']!.post!.tags).toEqual(['speech']);
    expect(Object.keys(spec.paths['/v1/asr']!.post!.responses)).toEqual(expect.arrayContaining(['200', '413', '415', '422']));
  });
});

describe('WebSocket /v1/asr/stream', () => {
  it('16-bit chunks of a real voice with silence around: partials, then ONE final with the right text, on the stream clock, and more utterances after', async () => {
    const { socket, messages, closed } = await connect();
    const speech = goforwardPcm();
    await sendPcm(socket, Buffer.concat([silencePcm(1), speech, silencePcm(1.5)]));
    await until(() => messages.some((m) => m.type === 'final'), 'the first final');
    const spoken = espeak('stop conveyor two', 'ws-stop.wav');
    await sendPcm(socket, Buffer.concat([pcmOf(spoken, 'ws-stop'), silencePcm(1.5)]));
    await until(() => messages.filter((m) => m.type === 'final').length === 2, 'the second final');
    socket.close();
    await closed;

    expect(messages.filter((m) => m.type === 'error')).toEqual([]);
    const finals = messages.filter((m) => m.type === 'final');
    expect(finals.map((m) => [m.utterance, m.text])).toEqual([
      [0, 'go forward ten meters'],
      [1, 'stop conveyor two'],
    ]);
    // Partials of utterance 0 came before its final.
    const firstFinal = messages.indexOf(finals[0]!);
    expect(messages.slice(0, firstFinal).filter((m) => m.type === 'partial').length).toBeGreaterThan(0);
    expect(messages.slice(0, firstFinal).every((m) => m.utterance === 0 && m.final === false)).toBe(true);
    // Word times count from the socket's first sample: after the 1 s of silence, within the speech.
    const speechEndMs = 1000 + (speech.length / 2 / 16);
    expect(finals[0]!.words[0].start_ms).toBeGreaterThan(700);
    expect(finals[0]!.words.at(-1).end_ms).toBeLessThan(speechEndMs + 400);
    expect(finals[1]!.words[0].start_ms).toBeGreaterThan(speechEndMs + 1000);
  });

  it('{"type":"end"} finalises an utterance without its trailing silence, sends the final, then closes 1000; ?format=f32 works the same', async () => {
    const { socket, messages, closed } = await connect('?format=f32');
    const pcm = Buffer.concat([silencePcm(0.5), goforwardPcm()]);
    const floats = Buffer.alloc(pcm.length * 2);
    for (let index = 0; index < pcm.length / 2; index += 1) floats.writeFloatLE(pcm.readInt16LE(index * 2) / 32_768, index * 4);
    await sendPcm(socket, floats, 6400);
    socket.send(JSON.stringify({ type: 'end' }));
    const { code } = await closed;
    expect(code).toBe(1000);
    const finals = messages.filter((m) => m.type === 'final');
    expect(finals.map((m) => m.text)).toEqual(['go forward ten meters']);
    expect(messages.at(-1)!.type).toBe('final');
  });

  it('silence only: no results; end closes 1000', async () => {
    const { socket, messages, closed } = await connect();
    await sendPcm(socket, silencePcm(2), 16_000);
    socket.send(JSON.stringify({ type: 'end' }));
    expect((await closed).code).toBe(1000);
    expect(messages).toEqual([]);
  });

  it('BAD CALL - an odd number of bytes for 16-bit samples (or not whole float32 ones): EDGE_ERR_REQUEST_MALFORMED, close 1007', async () => {
    for (const [query, bytes] of [
      ['', 3201],
      ['?format=f32', 6402],
    ] as const) {
      const { socket, messages, closed } = await connect(query);
      socket.send(Buffer.alloc(3200));
      socket.send(Buffer.alloc(bytes));
      expect((await closed).code, query).toBe(1007);
      expect(messages, query).toEqual([expect.objectContaining({ type: 'error', code: 'EDGE_ERR_REQUEST_MALFORMED' })]);
    }
  });

  it('BAD CALL - a text message other than end: an error message, and the stream goes on', async () => {
    const { socket, messages, closed } = await connect();
    socket.send('hello');
    await until(() => messages.length === 1, 'the error message');
    expect(messages[0]).toMatchObject({ type: 'error', code: 'EDGE_ERR_REQUEST_MALFORMED' });
    socket.send(JSON.stringify({ type: 'end' }));
    expect((await closed).code).toBe(1000);
  });

  it('BAD CALL - ?rate=8000 or ?format=mp3: EDGE_ERR_QUERY_INVALID, close 1008', async () => {
    for (const query of ['?rate=8000', '?format=mp3']) {
      const { messages, closed } = await connect(query);
      expect((await closed).code, query).toBe(1008);
      expect(messages, query).toEqual([expect.objectContaining({ type: 'error', code: 'EDGE_ERR_QUERY_INVALID' })]);
    }
  });

  it(`BAD CALL - more than speech.stream.maxStreams (${MAX_STREAMS}) at once: EDGE_ERR_QUEUE_FULL, close 1013; a slot frees when a socket closes`, async () => {
    const held = [await connect(), await connect()];
    const refused = await connect();
    const { code, reason } = await refused.closed;
    expect(code).toBe(1013);
    expect(reason).toBe('EDGE_ERR_QUEUE_FULL');
    expect(refused.messages).toEqual([expect.objectContaining({ type: 'error', code: 'EDGE_ERR_QUEUE_FULL' })]);
    held[0]!.socket.close();
    await held[0]!.closed;
    await new Promise((resolve) => setTimeout(resolve, 100)); // the node sees the close too
    const again = await connect();
    again.socket.send(JSON.stringify({ type: 'end' }));
    expect((await again.closed).code).toBe(1000);
    held[1]!.socket.close();
    await held[1]!.closed;
  });
});

describe('the two WebSocket routes side by side', () => {
  it('the camera route (streams.ts) is still reached, once: unknown surface -> one error answer, close 1008', async () => {
    const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/v1/streams/cam-1?surface=marble`);
    const messages: Record<string, any>[] = [];
    socket.on('message', (data) => messages.push(JSON.parse(data.toString())));
    const { code } = await new Promise<{ code: number }>((resolve) => socket.on('close', (closeCode) => resolve({ code: closeCode })));
    expect(code).toBe(1008);
    expect(messages).toEqual([expect.objectContaining({ camera_id: 'cam-1', error: expect.objectContaining({ code: 'EDGE_ERR_SURFACE_NOT_FOUND' }) })]);
  });
});

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
