// A drawing -> the 28x28 digit the network sees, prepared as predict.py prepares an image file: the RGBA pixels
// laid over white paper (predict.over_white_paper), then predict.mnist_style (ink found, cropped, scaled into
// 20x20 with Pillow's Lanczos filter, centred by mass in 28x28) and predict.to_input (normalized as in training).
// It follows the Python step by step, in float32 where NumPy computes in float32, so that the two agree to the
// grey level; tests/test_page.py compares them.

const f32 = Math.fround;
const INK_CONTRAST = f32(0.15); // predict.INK_CONTRAST: the darkest and lightest pixels differ by this much
const INK_LEVEL = f32(0.2); // a pixel brighter than this (after normalizing) is ink when cropping

export class NoInk extends Error {}

// Python's round(): halves go to the even neighbour.
function roundHalfEven(x) {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function range(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

// predict.luma: Pillow's "L" of 8-bit RGB, in integers.
function luma(r, g, b) {
  return Math.floor((r * 19595 + g * 38470 + b * 7471 + 0x8000) / 65536);
}

// predict.over_white_paper: RGBA bytes -> floats in [0, 1], 1 = white.
export function grayOverWhitePaper(rgba) {
  const n = rgba.length / 4;
  const composed = new Float32Array(n);
  const alpha = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const gray = f32(luma(rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]) / 255);
    alpha[i] = f32(rgba[4 * i + 3] / 255);
    composed[i] = f32(f32(gray * alpha[i]) + f32(1 - alpha[i]));
  }
  const spread = (values) => {
    const [lo, hi] = range(values);
    return f32(hi - lo);
  };
  if (spread(composed) < INK_CONTRAST && INK_CONTRAST <= spread(alpha)) {
    return alpha.map((a) => f32(1 - a)); // white strokes on a transparent canvas: the opacity is the ink
  }
  return composed;
}

function median(values) {
  const sorted = Float32Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : f32(f32(sorted[mid - 1] + sorted[mid]) / 2);
}

// predict.mnist_style: a grayscale image (floats in [0, 1], row by row) -> 28x28 floats in [0, 1], white ink on black.
export function mnistStyle(gray, width, height) {
  const [lo, hi] = range(gray);
  if (f32(hi - lo) < INK_CONTRAST) throw new NoInk("no ink found");
  const at = (x, y) => gray[y * width + x];
  const border = [];
  for (let x = 0; x < width; x++) border.push(at(x, 0));
  for (let x = 0; x < width; x++) border.push(at(x, height - 1));
  for (let y = 0; y < height; y++) border.push(at(0, y));
  for (let y = 0; y < height; y++) border.push(at(width - 1, y));
  let background = median(border);
  if (width === 28 && height === 28 && background < 0.5) return Float32Array.from(gray); // already MNIST's form
  let ink = background < 0.5 ? Float32Array.from(gray) : gray.map((v) => f32(1 - v));
  background = Math.min(background, f32(1 - background));
  const [, inkMax] = range(ink);
  const scale = Math.max(f32(inkMax - background), 1e-6);
  ink = ink.map((v) => Math.min(Math.max(f32(f32(v - background) / f32(scale)), 0), 1));
  let [top, bottom, left, right] = [height, -1, width, -1];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > INK_LEVEL) {
        [top, bottom] = [Math.min(top, y), Math.max(bottom, y)];
        [left, right] = [Math.min(left, x), Math.max(right, x)];
      }
    }
  }
  if (bottom < 0) throw new NoInk("no ink found");
  const [w, h] = [right - left + 1, bottom - top + 1];
  const crop = new Uint8Array(w * h); // (crop * 255).astype(np.uint8): truncated
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) crop[y * w + x] = Math.trunc(f32(ink[(y + top) * width + x + left] * 255));
  }
  return centreByMass(...fit20x20(crop, w, h));
}

// predict.fit_20x20: 8-bit ink with its longer side scaled to 20 pixels, the aspect ratio kept.
function fit20x20(crop, w, h) {
  const scale = 20.0 / Math.max(h, w);
  const [outW, outH] = [Math.max(1, roundHalfEven(w * scale)), Math.max(1, roundHalfEven(h * scale))];
  return [resizeLanczos(crop, w, h, outW, outH), outW, outH];
}

// predict.centre_by_mass: 8-bit ink pasted into 28x28 with its centre of mass at (14, 14), as floats in [0, 1].
// The moments are sums of integers, exact in any order.
function centreByMass(digit, w, h) {
  let [total, my, mx] = [0, 0, 0];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = digit[y * w + x];
      total += v;
      my += v * y;
      mx += v * x;
    }
  }
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
  const top = clamp(roundHalfEven(14 - my / total), 28 - h);
  const left = clamp(roundHalfEven(14 - mx / total), 28 - w);
  const out = new Float32Array(28 * 28);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) out[(y + top) * 28 + x + left] = f32(digit[y * w + x] / 255);
  }
  return out;
}

// predict.to_input's grey levels: np.rint(digit * 255) as bytes.
export function greyLevels(digit) {
  return Uint8Array.from(digit, (v) => {
    const x = f32(v * 255);
    return roundHalfEven(x);
  });
}

// predict.to_input: grey levels normalized with MNIST's mean and std, as the training images are.
export function toInput(digit, mean, std) {
  return Float32Array.from(greyLevels(digit), (v) => f32(f32(f32(v / 255) - f32(mean)) / f32(std)));
}

// predict.resize_lanczos: Lanczos resampling as Pillow's libImaging/Resample.c does it on 8-bit images, the
// horizontal pass first, weights in fixed point with 22 fractional bits, each pass rounded and clipped to bytes.
const PRECISION_BITS = 22;
const LANCZOS_LOBES = 3.0;

function sinc(x) {
  if (x === 0.0) return 1.0;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

function lanczos(x) {
  return -LANCZOS_LOBES <= x && x < LANCZOS_LOBES ? sinc(x) * sinc(x / LANCZOS_LOBES) : 0.0;
}

// predict.lanczos_weights, one row per output pixel: [first input pixel, integer weights from there].
function lanczosWeights(inSize, outSize) {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1.0);
  const support = LANCZOS_LOBES * filterScale;
  const rows = [];
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const first = Math.max(Math.trunc(centre - support + 0.5), 0);
    const stop = Math.min(Math.trunc(centre + support + 0.5), inSize);
    const w = [];
    for (let x = first; x < stop; x++) w.push(lanczos((x - centre + 0.5) * (1.0 / filterScale)));
    const total = w.reduce((a, b) => a + b, 0.0); // in order, as the C loop does
    const fixed = w.map((v) => {
      const k = total !== 0.0 ? v / total : v;
      return Math.trunc((k < 0 ? -0.5 : 0.5) + k * 2 ** PRECISION_BITS);
    });
    rows.push([first, fixed]);
  }
  return rows;
}

function clip8(sum) {
  return Math.min(Math.max(Math.floor(sum / 2 ** PRECISION_BITS), 0), 255);
}

// One pass along the rows (stride 1) or the columns of an 8-bit image of n lines.
function resamplePass(pixels, lines, inSize, outSize, along, across) {
  const out = new Uint8Array(lines * outSize);
  const weights = lanczosWeights(inSize, outSize);
  for (let line = 0; line < lines; line++) {
    weights.forEach(([first, fixed], i) => {
      let sum = 2 ** (PRECISION_BITS - 1);
      fixed.forEach((k, j) => {
        sum += pixels[line * across.in + (first + j) * along.in] * k;
      });
      out[line * across.out + i * along.out] = clip8(sum);
    });
  }
  return out;
}

export function resizeLanczos(pixels, w, h, outW, outH) {
  let image = Uint8Array.from(pixels);
  if (outW !== w) image = resamplePass(image, h, w, outW, { in: 1, out: 1 }, { in: w, out: outW });
  if (outH !== h) image = resamplePass(image, outW, h, outH, { in: outW, out: outW }, { in: 1, out: 1 });
  return image;
}
