// The page: a drawing pad, the network's top 3 classes and the 28x28 image it sees. The network is the ONNX file that
// `python -m tools.page` exports beside this script, run by onnxruntime-web's single-threaded WebAssembly backend
// (GitHub Pages sends no cross-origin isolation headers, so threads are not to be had there).
import * as ort from "./ort/ort.wasm.min.mjs";
import { NoInk, grayOverWhitePaper, greyLevels, mnistStyle, toInput } from "./prepare.js";

const pad = document.getElementById("pad");
const seen = document.getElementById("seen");
const status = document.getElementById("status");
const top3 = document.getElementById("top3");
const ink = pad.getContext("2d", { willReadFrequently: true });
const STROKE = 22; // pixels of the 280x280 pad: about MNIST's stroke once scaled into 20x20

// What the browser test reads: when the network was ready, each prediction's latency and the last one's output.
const demo = { readyMs: null, error: null, predictions: 0, pending: 0, latencies: [], last: null };
window.demo = demo;

let session = null;
let meta = null;

function say(text, isError = false) {
  status.textContent = text;
  status.classList.toggle("error", isError);
}

function clearPad() {
  ink.fillStyle = "#fff";
  ink.fillRect(0, 0, pad.width, pad.height);
  seen.getContext("2d").clearRect(0, 0, 28, 28);
  top3.replaceChildren();
  demo.last = null;
  if (session) say("Draw a digit.");
}

async function load() {
  meta = await (await fetch("model.json")).json();
  ort.env.wasm.wasmPaths = new URL("./ort/", import.meta.url).href;
  ort.env.wasm.numThreads = 1;
  session = await ort.InferenceSession.create("model.onnx", { executionProviders: ["wasm"] });
  await classify(new Float32Array(28 * 28)); // warm-up: the first drawing then runs at full speed
  const repo = `https://github.com/${meta.repository}`;
  document.getElementById("about").innerHTML =
    `<code>${meta.model}</code>, ${meta.parameters.toLocaleString("en")} parameters, the weights of its reference ` +
    `run with seed ${meta.seed} (<a href="${repo}">${meta.repository}</a>).`;
  demo.readyMs = performance.now();
  say("Draw a digit.");
}

async function classify(input) {
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", input, [1, 1, 28, 28]) };
  const out = await session.run(feeds);
  return Array.from(out[session.outputNames[0]].data, Math.exp); // the network gives log-probabilities
}

function showSeen(levels) {
  const image = new ImageData(28, 28);
  levels.forEach((v, i) => image.data.set([v, v, v, 255], 4 * i));
  seen.getContext("2d").putImageData(image, 0, 0);
}

function showTop3(probs) {
  const ranked = probs.map((p, c) => [c, p]).sort((a, b) => b[1] - a[1]);
  top3.replaceChildren(
    ...ranked.slice(0, 3).map(([c, p]) => {
      const row = document.createElement("li");
      row.innerHTML =
        `<span class="digit">${c}</span><span class="bar" style="width: ${(100 * p).toFixed(1)}%"></span>` +
        `<span class="prob">${(100 * p).toFixed(1)}%</span>`;
      return row;
    }),
  );
  return ranked;
}

async function predict(strokeEnd) {
  const { data } = ink.getImageData(0, 0, pad.width, pad.height);
  let digit;
  try {
    digit = mnistStyle(grayOverWhitePaper(data), pad.width, pad.height);
  } catch (err) {
    if (!(err instanceof NoInk)) throw err;
    clearPad();
    return;
  }
  const probs = await classify(toInput(digit, meta.mean, meta.std));
  const levels = greyLevels(digit);
  showSeen(levels);
  const ranked = showTop3(probs);
  say(`It is a ${ranked[0][0]}.`);
  const ms = performance.now() - strokeEnd;
  demo.latencies.push(ms);
  demo.predictions += 1;
  demo.last = { probabilities: probs, top3: ranked.slice(0, 3), input: Array.from(levels), ms };
}

// One prediction at a time; a stroke that ends while one runs is answered by the next, with the newest drawing.
let queue = Promise.resolve();
let latest = 0;
function requestPrediction() {
  const strokeEnd = performance.now();
  const id = ++latest;
  demo.pending += 1;
  queue = queue
    .then(() => (id === latest ? predict(strokeEnd) : null))
    .catch((err) => {
      demo.error = String(err.message || err).split("\n")[0];
      say(`Could not classify the drawing: ${demo.error}`, true);
    })
    .finally(() => {
      demo.pending -= 1;
    });
}

// Mouse, touch and pen alike, through pointer events.
let last = null;
function point(event) {
  const box = pad.getBoundingClientRect();
  return [((event.clientX - box.left) * pad.width) / box.width, ((event.clientY - box.top) * pad.height) / box.height];
}

function strokeTo(to) {
  ink.beginPath();
  ink.moveTo(...last);
  ink.lineTo(...to);
  ink.stroke();
  last = to;
}

pad.addEventListener("pointerdown", (event) => {
  if (!session) return;
  pad.setPointerCapture(event.pointerId);
  Object.assign(ink, { strokeStyle: "#000", lineWidth: STROKE, lineCap: "round", lineJoin: "round" });
  last = point(event);
  strokeTo(last);
});
pad.addEventListener("pointermove", (event) => {
  if (last) strokeTo(point(event));
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => {
    if (!last) return;
    last = null;
    requestPrediction();
  });
}
document.getElementById("clear").addEventListener("click", clearPad);

clearPad();
load().catch((err) => {
  demo.error = String(err.message || err).split("\n")[0];
  say(`Could not load the network: ${demo.error}`, true);
});
