// Runs the page's preparation (demo/prepare.js) under Node for tests/test_page.py: reads a JSON list of RGBA images
// ({width, height, rgba: base64}) on stdin and prints, for each, the 28x28 grey levels the network would see, or
// the error.
import { grayOverWhitePaper, greyLevels, mnistStyle } from "../demo/prepare.js";

let text = "";
for await (const chunk of process.stdin) text += chunk;
const out = JSON.parse(text).map(({ width, height, rgba }) => {
  try {
    const pixels = Uint8Array.from(Buffer.from(rgba, "base64"));
    return { levels: Array.from(greyLevels(mnistStyle(grayOverWhitePaper(pixels), width, height))) };
  } catch (err) {
    return { error: err.message };
  }
});
process.stdout.write(JSON.stringify(out));
