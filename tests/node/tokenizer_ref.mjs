// Reference tokenizer runs for retool's tests and benchmark, on Hugging Face's tokenizers.js
// (@huggingface/tokenizers, installed by scripts/install-deps.sh --test).
//   node tests/node/tokenizer_ref.mjs encode DIR CORPUS.jsonl OUT.jsonl
//     CORPUS: one JSON string a line. OUT: one object a line: ids (add_special_tokens: true), ids_plain (false),
//     and decodes of ids, of its first half (cuts UTF-8 characters), of ids without the first id, and of ids with
//     skip_special_tokens (null where the id list is empty: the reference refuses to decode []).
//   node tests/node/tokenizer_ref.mjs decode DIR IDS.jsonl OUT.jsonl
//     IDS: one JSON array of ids a line. OUT: one JSON string a line (the reference's default decode).
//   node tests/node/tokenizer_ref.mjs bench DIR TEXT_FILE
//     Encodes the file line by line; prints {"bytes", "seconds" (wall), "cpu_seconds" (process CPU: all threads,
//     GC included), "tokens", "rss_mb"} as JSON.
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "fs";

const [mode, dir, input, output] = process.argv.slice(2);
const tok = new Tokenizer(
  JSON.parse(fs.readFileSync(`${dir}/tokenizer.json`, "utf8")),
  fs.existsSync(`${dir}/tokenizer_config.json`) ? JSON.parse(fs.readFileSync(`${dir}/tokenizer_config.json`, "utf8")) : {},
);
const dec = (ids, opts) => (ids.length ? tok.decode(ids, opts) : null);
const lines = (path) => fs.readFileSync(path, "utf8").split("\n").filter((l) => l.length);

if (mode === "encode") {
  const out = [];
  for (const line of lines(input)) {
    const s = JSON.parse(line);
    const ids = tok.encode(s).ids;
    const plain = tok.encode(s, { add_special_tokens: false }).ids;
    out.push(JSON.stringify({
      ids, ids_plain: plain, dec: dec(ids), dec_half: dec(ids.slice(0, Math.ceil(ids.length / 2))),
      dec_tail: dec(ids.slice(1)), dec_skip: dec(ids, { skip_special_tokens: true }),
    }));
  }
  fs.writeFileSync(output, out.join("\n") + "\n");
} else if (mode === "decode") {
  const out = lines(input).map((l) => JSON.stringify(dec(JSON.parse(l))));
  fs.writeFileSync(output, out.join("\n") + "\n");
} else if (mode === "bench") {
  const text = fs.readFileSync(input, "utf8").split("\n");
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let tokens = 0;
  for (const l of text) tokens += tok.encode(l, { add_special_tokens: false }).ids.length;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ bytes: Buffer.byteLength(fs.readFileSync(input, "utf8")), seconds,
                               cpu_seconds: (c.user + c.system) / 1e6, tokens,
                               rss_mb: process.memoryUsage().rss / 1048576 }));
} else {
  console.error("usage: tokenizer_ref.mjs encode|decode|bench DIR ...");
  process.exit(2);
}
