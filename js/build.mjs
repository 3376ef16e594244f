// Builds the scrubber's one ES module, repscope/widgets/static/scrubber.js, from js/src.
// `node build.mjs --check` builds to memory and fails if the committed file differs.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const target = join(here, "..", "repscope", "widgets", "static", "scrubber.js");
const result = await build({
  entryPoints: [join(here, "src", "index.js")],
  bundle: true,
  format: "esm",
  target: "es2020",
  write: false,
  legalComments: "none",
  charset: "utf8",
  banner: { js: "// Built from js/src by js/build.mjs (esbuild); edit the sources, then `npm run build` in js/." },
});
const text = result.outputFiles[0].text;
if (process.argv.includes("--check")) {
  const committed = readFileSync(target, "utf8");
  if (committed !== text) {
    console.error(`${target} differs from a build of js/src: run \`npm run build\` in js/`);
    process.exit(1);
  }
  console.log("scrubber.js matches its sources");
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target} (${text.length} bytes)`);
}
