/**
 * Training features: runs the service's own front end (services/tasks/speech/front-end.ts, the
 * frozen melspec and speech_embedding models on onnxruntime-node) over a synthesised split, so
 * the acoustic model trains on exactly what the node computes when serving.
 *
 *   npx tsx models/asr/features.ts DATA_DIR train val test
 *
 * writes DATA_DIR/features/{split}.mel.f32 (all clips' [frames, 32] one after another),
 * {split}.emb.f32 ([windows, 96]) and {split}.index.json (per clip: id, text, frames, windows and
 * where its rows start).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { computeFeatures, MEL_BANDS, EMBEDDING_SIZE, type RunModel } from '../../services/tasks/speech/front-end.ts';
import { decodeWav } from '../../services/tasks/speech/wav.ts';

const repository = new URL('../repository/', import.meta.url).pathname;

async function runner(model: string): Promise<RunModel> {
  const session = await ort.InferenceSession.create(join(repository, model, '1', 'model.onnx'), { intraOpNumThreads: 2, interOpNumThreads: 1 });
  const input = session.inputNames[0]!;
  const output = session.outputNames[0]!;
  return async (data, dims) => (await session.run({ [input]: new ort.Tensor('float32', data, dims as number[]) }))[output]!.data as Float32Array;
}

function write(stream: NodeJS.WritableStream, values: Float32Array): Promise<void> {
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  return new Promise((resolve) => (stream.write(bytes) ? resolve() : stream.once('drain', resolve)));
}

async function main(): Promise<void> {
  const [dataDir, ...splits] = process.argv.slice(2);
  if (!dataDir || splits.length === 0) throw new Error('usage: features.ts DATA_DIR SPLIT...');
  const models = { melspec: await runner('melspec'), embedding: await runner('speech_embedding') };
  const out = join(dataDir, 'features');
  await mkdir(out, { recursive: true });
  for (const split of splits) {
    const clips = (await readFile(join(dataDir, `${split}.jsonl`), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { id: string; file: string; text: string });
    const melStream = createWriteStream(join(out, `${split}.mel.f32`));
    const embStream = createWriteStream(join(out, `${split}.emb.f32`));
    const index = [];
    let melRow = 0;
    let embRow = 0;
    const started = performance.now();
    for (const [n, clip] of clips.entries()) {
      const wav = decodeWav(await readFile(join(dataDir, clip.file)), { maxSeconds: 60, maxChannels: 2 });
      if (wav.sampleRate !== 16_000) throw new Error(`${clip.file}: expected 16 kHz, got ${wav.sampleRate}`);
      const features = await computeFeatures(wav.samples, models);
      await write(melStream, features.mel);
      await write(embStream, features.embeddings);
      index.push({ id: clip.id, text: clip.text, frames: features.frames, windows: features.windows, melRow, embRow });
      melRow += features.frames;
      embRow += features.windows;
      if ((n + 1) % 1000 === 0) console.log(`${split}: ${n + 1}/${clips.length} clips, ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
    await Promise.all([melStream, embStream].map((stream) => new Promise((resolve) => stream.end(resolve))));
    await writeFile(join(out, `${split}.index.json`), JSON.stringify({ melBands: MEL_BANDS, embeddingSize: EMBEDDING_SIZE, clips: index }));
    console.log(`${split}: ${clips.length} clips, ${melRow} mel frames, ${embRow} embeddings, ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
}

await main();
