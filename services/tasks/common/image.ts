/**
 * Turns untrusted image bytes into one upright RGB raster, decoded once per request and shared by
 * every model that looks at it.
 *
 * Defences, in order: bytes only (a string given to sharp() is a file path), the container format is
 * sniffed from the magic bytes and allow-listed before libvips parses anything (so SVG, TIFF, GIF
 * and friends never reach their loaders, whatever the Content-Type claimed), the pixel count from
 * the header is capped (decompression bombs), and decoding fails on truncated or corrupt data.
 */
import sharp, { type Metadata, type Sharp } from 'sharp';
import { EdgeError } from '../../core/errors.ts';

// libvips' operation cache would keep recent users' decoded images in memory for no gain: every
// request brings new bytes. (A process-wide setting; this layer is the only user of sharp.)
sharp.cache(false);

export type ImageFormat = 'jpeg' | 'png' | 'webp';

export interface DecodeLimits {
  /** Largest width x height accepted (config images.maxPixels). */
  maxPixels: number;
  /** Formats accepted (config images.formats). */
  formats: readonly ImageFormat[];
}

/** An upright (EXIF orientation applied) 8-bit RGB raster, 3 bytes per pixel, rows top to bottom. */
export interface RgbImage {
  data: Buffer;
  width: number;
  height: number;
}

/**
 * A checked image, not necessarily decoded yet: its upright size, and a way to run a libvips
 * pipeline over its upright 8-bit RGB pixels. A model that only needs a resized copy asks for that
 * directly, so decoding and resizing are one pass and the full-size raster never reaches JavaScript
 * (less work, and no megabytes of garbage per request for the collector).
 */
export interface ImageSource {
  width: number;
  height: number;
  format: ImageFormat;
  /** Runs `shape` over the upright RGB pixels and returns the raw 8-bit result (3 channels). */
  rasterize(shape: (pipeline: Sharp) => Sharp): Promise<Buffer>;
}

/** A fully decoded image: its raster in memory, for tasks that cut several crops out of it. */
export interface DecodedImage extends RgbImage, ImageSource {}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, signature: readonly number[], offset = 0): boolean {
  if (bytes.length < offset + signature.length) return false;
  return signature.every((value, index) => bytes[offset + index] === value);
}

/** The container format from its magic bytes, or undefined when it is none we decode. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, PNG_SIGNATURE)) return 'png';
  // RIFF <size> WEBP
  if (startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) return 'webp';
  return undefined;
}

function describeLeadingBytes(bytes: Uint8Array): string {
  const head = Buffer.from(bytes.subarray(0, 12));
  if (head.toString('latin1').trimStart().startsWith('<')) return 'markup (SVG/XML/HTML)';
  if (startsWith(bytes, [0x47, 0x49, 0x46, 0x38])) return 'GIF';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'TIFF';
  return `bytes ${head.subarray(0, 4).toString('hex')}`;
}

/** libvips reports everything as text; these are the failures a client caused. */
function classifySharpError(error: unknown, format: ImageFormat): EdgeError {
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) {
    return new EdgeError('EDGE_ERR_IMAGE_TOO_LARGE', `image exceeds the pixel limit: ${message}`, { cause: error });
  }
  if (/unsupported image format/i.test(message)) {
    return new EdgeError('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED', `image format not recognised: ${message}`, { cause: error });
  }
  return new EdgeError('EDGE_ERR_IMAGE_CORRUPT', `${format} image is truncated or corrupt: ${message}`, {
    cause: error,
    details: { format },
  });
}

/**
 * Checks image bytes without decoding the pixels: empty, format (magic bytes, allow-list, agreement
 * with libvips' loader), pixel count (decompression bombs). Throws EDGE_ERR_BODY_EMPTY,
 * EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED, EDGE_ERR_IMAGE_TOO_LARGE or EDGE_ERR_IMAGE_CORRUPT (unreadable
 * header); truncated or corrupt pixel data is found, as EDGE_ERR_IMAGE_CORRUPT, when rasterized.
 */
export async function openImage(bytes: Uint8Array, limits: DecodeLimits): Promise<ImageSource> {
  if (!(bytes instanceof Uint8Array)) {
    // Never let a string through: sharp('...') would open it as a file path.
    throw new EdgeError('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED', `image must be bytes, got ${typeof bytes}`);
  }
  if (bytes.length === 0) throw new EdgeError('EDGE_ERR_BODY_EMPTY', 'image body is empty');

  const format = sniffImageFormat(bytes);
  if (format === undefined || !limits.formats.includes(format)) {
    const seen = format ?? describeLeadingBytes(bytes);
    throw new EdgeError('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED', `image format ${seen} is not accepted; send ${limits.formats.join(', ')}`, {
      details: { accepted: [...limits.formats] },
    });
  }

  const open = (): Sharp =>
    sharp(bytes, {
      // 'error' also rejects truncated data; 'warning' would refuse common benign JPEG quirks.
      failOn: 'error',
      limitInputPixels: limits.maxPixels,
      autoOrient: true,
    });

  let metadata: Metadata;
  try {
    metadata = await open().metadata();
  } catch (error) {
    throw classifySharpError(error, format);
  }
  // The sniffed container and libvips' loader must agree (a PNG signature in front of other data).
  if (metadata.format !== format) {
    throw new EdgeError('EDGE_ERR_IMAGE_FORMAT_UNSUPPORTED', `image claims ${format} but decodes as ${metadata.format}`);
  }
  const pixels = (metadata.width ?? 0) * (metadata.height ?? 0);
  if (pixels > limits.maxPixels) {
    throw new EdgeError('EDGE_ERR_IMAGE_TOO_LARGE', `image is ${metadata.width}x${metadata.height} = ${pixels} pixels; the limit is ${limits.maxPixels}`, {
      details: { width: metadata.width, height: metadata.height, maxPixels: limits.maxPixels },
    });
  }
  // EXIF orientations 5-8 turn the image a quarter: the upright size swaps width and height.
  const quarterTurn = (metadata.orientation ?? 1) >= 5;
  const width = (quarterTurn ? metadata.height : metadata.width) ?? 0;
  const height = (quarterTurn ? metadata.width : metadata.height) ?? 0;

  return {
    width,
    height,
    format,
    async rasterize(shape) {
      try {
        // toColourspace('srgb') folds grey, CMYK and 16-bit inputs into 8-bit RGB; alpha is dropped.
        const { data, info } = await shape(open().removeAlpha().toColourspace('srgb')).raw().toBuffer({ resolveWithObject: true });
        if (info.channels !== 3) throw new EdgeError('EDGE_ERR_IMAGE_CORRUPT', `decoded image has ${info.channels} channels, expected 3`);
        return data;
      } catch (error) {
        if (error instanceof EdgeError) throw error;
        throw classifySharpError(error, format);
      }
    },
  };
}

/** A raster already in memory as an ImageSource: pipelines read its pixels instead of decoding again. */
function rasterSource(image: RgbImage, format: ImageFormat): DecodedImage {
  return {
    ...image,
    format,
    rasterize: (shape) => shape(sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })).raw().toBuffer(),
  };
}

/**
 * Checks and decodes image bytes to the full upright RGB raster (for tasks that need it whole, e.g.
 * to cut face crops). Throws the codes of openImage, and EDGE_ERR_IMAGE_CORRUPT for bad pixel data.
 */
export async function decodeImage(bytes: Uint8Array, limits: DecodeLimits): Promise<DecodedImage> {
  const source = await openImage(bytes, limits);
  const data = await source.rasterize((pipeline) => pipeline);
  return rasterSource({ data, width: source.width, height: source.height }, source.format);
}
