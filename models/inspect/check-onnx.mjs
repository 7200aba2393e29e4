// Runs models/repository/defect/1/model.onnx in onnxruntime-node on the frames that
// reference.py wrote, compares with torch, and times one frame on one intra-op thread.
//   /usr/bin/python3 models/inspect/reference.py && node models/inspect/check-onnx.mjs [REFERENCE_DIR [MODEL]]
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

const referenceDir = process.argv[2] ?? '/tmp/inspect-reference';
const modelPath = process.argv[3] ?? new URL('../repository/defect/1/model.onnx', import.meta.url).pathname;
const readF32 = (name) => {
  const bytes = readFileSync(`${referenceDir}/${name}.f32`);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
};

const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const image = readF32('image');
const batch = image.length / (3 * 256 * 256);
const outputs = await session.run({ image: new ort.Tensor('float32', image, [batch, 3, 256, 256]) });

let failed = false;
for (const name of ['defect_map', 'score']) {
  const expected = readF32(name);
  const actual = outputs[name].data;
  let maxDiff = 0;
  for (let i = 0; i < expected.length; i++) maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
  const shapeOk = actual.length === expected.length;
  console.log(`${name} dims [${outputs[name].dims}] max |onnx - torch| = ${maxDiff.toExponential(2)}`);
  if (!shapeOk || maxDiff > 1e-4) failed = true;
}

const one = new ort.Tensor('float32', image.slice(0, 3 * 256 * 256), [1, 3, 256, 256]);
const times = [];
for (let i = 0; i < 40; i++) {
  const started = process.hrtime.bigint();
  await session.run({ image: one });
  times.push(Number(process.hrtime.bigint() - started) / 1e6);
}
times.sort((a, b) => a - b);
console.log(`one 256x256 frame, 1 thread: median ${times[20].toFixed(2)} ms, min ${times[0].toFixed(2)} ms`);
process.exit(failed ? 1 : 0);
