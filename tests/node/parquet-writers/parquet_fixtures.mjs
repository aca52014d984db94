// Writes the Parquet fixtures retool's reader is tested on, each with the writer's own read-back as JSONL (one JSON
// object a row), so the C test compares retool's rows against an independent implementation. Two writers:
// DuckDB (@duckdb/node-api, C++) and arrow-rs (parquet-wasm, Rust, with apache-arrow building the tables).
//   cd tests/node/parquet-writers && npm ci && node parquet_fixtures.mjs ../../fixtures/parquet
// Binary values appear in the read-back as base64 strings, as retool delivers them. Deterministic: no clock, no RNG.
import { mkdirSync, readFileSync, readdirSync, writeFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import * as arrow from 'apache-arrow';
import * as pw from 'parquet-wasm/node';

const out = resolve(process.argv[2] || 'tests/fixtures/parquet');
mkdirSync(out, { recursive: true });

function writeJsonl(name, rows) {
    writeFileSync(join(out, name + '.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

// ---- DuckDB ----
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();

// to_json of each row, with BLOB columns turned into base64 first.
async function duckReadBack(file, blobCols = []) {
    const repl = blobCols.length ? ` REPLACE (${blobCols.map((c) => `base64(${c}) AS ${c}`).join(', ')})` : '';
    const r = await con.runAndReadAll(
        `SELECT to_json(t)::VARCHAR AS j FROM (SELECT *${repl} FROM read_parquet('${file}')) t`);
    return r.getRows().map((row) => JSON.parse(row[0]));
}

async function duck(name, select, opts, blobCols = []) {
    const file = join(out, name + '.parquet');
    await con.run(`COPY (${select}) TO '${file}' (FORMAT parquet, ${opts})`);
    writeJsonl(name, await duckReadBack(file, blobCols));
}

// Every type, with nulls; 2500 rows in row groups of 2048 (DuckDB's smallest) and 452.
const types = `SELECT
    CASE WHEN i % 7 = 0 THEN NULL ELSE i % 3 = 0 END AS b,
    CASE WHEN i % 11 = 0 THEN NULL ELSE (i * 7919 % 100003 - 50000)::INTEGER END AS i32,
    (i::BIGINT * 1000003 - 2000000000)::BIGINT AS i64,
    CASE WHEN i % 5 = 0 THEN NULL ELSE (i / 8.0)::FLOAT END AS f,
    (i * 0.25 - 100)::DOUBLE AS d,
    CASE WHEN i % 13 = 0 THEN NULL WHEN i % 17 = 0 THEN '' ELSE 'row ' || i || ' é ☃ ' || repeat('x', i % 9) END AS s,
    'k' || (i % 20) AS cat,
    CASE WHEN i % 3 = 0 THEN NULL ELSE ('\\x00\\x01' || (i % 256)::VARCHAR)::BLOB END AS bin
  FROM range(2500) r(i)`;
for (const codec of ['uncompressed', 'snappy', 'gzip', 'zstd'])
    await duck(`duck_types_${codec}`, types, `COMPRESSION ${codec}, ROW_GROUP_SIZE 2048`, ['bin']);
await duck('duck_types_v2', types, `COMPRESSION zstd, ROW_GROUP_SIZE 2048, PARQUET_VERSION v2`, ['bin']);

// Nested: lists with null and empty cases, lists of lists, structs holding lists, null structs.
const nested = `SELECT
    i AS id,
    CASE WHEN i % 4 = 3 THEN NULL WHEN i % 4 = 2 THEN [] ELSE
      [{'role': 'system', 'content': 'sys ' || i}, {'role': 'user', 'content': 'problem ' || i}] END AS prompt,
    CASE WHEN i % 5 = 0 THEN NULL ELSE [i, NULL, i + 1][1:(i % 4)] END AS ints,
    CASE WHEN i % 6 = 0 THEN NULL ELSE [[i], [], NULL, [i, i * 2]][1:(i % 5)] END AS lol,
    CASE WHEN i % 7 = 0 THEN NULL ELSE {'ground_truth': (i * 3)::VARCHAR, 'style': 'rule',
      'tags': CASE WHEN i % 2 = 0 THEN NULL ELSE ['a', NULL, 'c'] END} END AS reward_model,
    [CASE WHEN i % 3 = 0 THEN NULL ELSE {'x': i, 'y': NULL::VARCHAR} END] AS list_of_null_structs,
    CASE WHEN i % 8 = 0 THEN NULL WHEN i % 8 = 1 THEN MAP {}::MAP(VARCHAR, INTEGER)
      ELSE MAP {'a': i, 'b': CASE WHEN i % 3 = 0 THEN NULL ELSE i * 2 END} END AS attrs
  FROM range(300) r(i)`;
await duck('duck_nested', nested, `COMPRESSION snappy`);
await duck('duck_nested_v2', nested, `COMPRESSION zstd, PARQUET_VERSION v2`);

// The public layouts: DAPO-Math-17k, AIME 2024 and GSM8K.
const prefix = 'Solve the following math problem step by step. The last line of your response should be of the form ' +
    'Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n';
const suffix = '\n\nRemember to put your answer on its own line after "Answer:".';
await duck('dapo_shaped', `SELECT 'math_dapo' AS data_source,
    [{'content': '${prefix}' || 'What is ' || i || ' + ' || (i * 2) || '?' || '${suffix}', 'role': 'user'}] AS prompt,
    'MATH' AS ability,
    {'ground_truth': (i * 3)::VARCHAR, 'style': 'rule-lighteval/MATH_v2'} AS reward_model,
    {'index': 'idx-' || i} AS extra_info
  FROM range(40) r(i)`, `COMPRESSION snappy`);
await duck('aime_shaped', `SELECT '2024-I-' || (i + 1) AS ID, 'Find the value of ' || i || ' squared.' AS Problem,
    'It is ' || (i * i) || '.' AS Solution, (i * i)::BIGINT AS Answer FROM range(30) r(i)`, `COMPRESSION zstd`);
await duck('gsm8k_shaped', `SELECT 'Tom has ' || i || ' apples and buys ' || (i + 2) || ' more. How many?' AS question,
    'He has ' || i || ' + ' || (i + 2) || ' = ' || (2 * i + 2) || ' apples.' || chr(10) || '#### ' || (2 * i + 2) AS answer
  FROM range(25) r(i)`, `COMPRESSION gzip`);
// ReTool-SFT (JoeYing/ReTool-SFT): one conversation a row, `messages` a list of {role, content}: an optional system
// message, the user's problem, the assistant turn with 1-3 <code> blocks each followed by its <interpreter> output
// (empty, one line, multi-line, non-ASCII, tracebacks, indented, tag-like), ending with <answer>\boxed{N}</answer>.
// Built here as JSON, then written by DuckDB from that JSON with the column typed as the published file types it.
const sftOuts = ['', '42', 'line 1\nline 2\nline 3', 'π ≈ 3.14159 — 数学 ✓ naïve', '[1, 2]\n\nend',
    '    indented\ttab', 'Traceback (most recent call last):\n  File "<stdin>", line 1\nNameError: name \'y\' is not defined',
    'a <code> b', 'Ünïcödé\n\n\nthree blank lines above'];
const sftRows = [];
for (let i = 0; i < 200; i++) {
    const ans = i * (i + 3);
    const msgs = [];
    if (i % 4 === 0) msgs.push({ role: 'system', content: 'You are a helpful assistant that can run Python code.' });
    msgs.push({ role: 'user', content: `Problem ${i}: what is ${i} times ${i + 3}?` + (i % 5 === 0 ? ' (réponse en entier)' : '') });
    let text = i % 3 === 0 ? 'Let me compute this with code.\n\n' : '';
    for (let b = 0; b < 1 + (i % 3); b++) {
        const out = sftOuts[(i * 7 + b * 3) % sftOuts.length];
        text += `Step ${b + 1}: check part ${b}.\n<code>\n\`\`\`python\nx${b} = ${i} * ${i + 3}\nprint(x${b})\n\`\`\`\n</code>` +
            (b % 2 ? '\n\n' : '\n') + `<interpreter>\n${out}\n</interpreter>` + (i % 2 ? '\n' : '\n\n');
    }
    text += `So the product is ${ans}.\n<answer>\n\\boxed{${ans}}\n</answer>`;
    msgs.push({ role: 'assistant', content: text });
    sftRows.push({ messages: msgs });
}
{
    const tmp = join(out, 'retool_sft_shaped.input.json');
    writeFileSync(tmp, sftRows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await duck('retool_sft_shaped', `SELECT messages FROM read_json('${tmp}', format = 'newline_delimited',
        columns = {messages: 'STRUCT(role VARCHAR, content VARCHAR)[]'})`, `COMPRESSION snappy, ROW_GROUP_SIZE 2048`);
    rmSync(tmp);
}
con.closeSync?.();

// ---- arrow-rs (parquet-wasm) ----
function b64(u8) {
    return Buffer.from(u8).toString('base64');
}

// The arrow JS value of type t as plain JSON (the read-back side).
function norm(v, t) {
    if (v === null || v === undefined) return null;
    switch (t.typeId) {
    case arrow.Type.Int:
        return Number(v);
    case arrow.Type.Float:
        return Number(v);
    case arrow.Type.Bool:
    case arrow.Type.Utf8:
        return v;
    case arrow.Type.Binary:
    case arrow.Type.FixedSizeBinary:
        return b64(v);
    case arrow.Type.List: {
        const a = [];
        for (const x of v) a.push(norm(x, t.children[0].type));
        return a;
    }
    case arrow.Type.Struct: {
        const o = {};
        for (const f of t.children) o[f.name] = norm(v[f.name], f.type);
        return o;
    }
    default:
        throw new Error('unexpected arrow type ' + t);
    }
}

function rsReadBack(bytes) {
    const t = arrow.tableFromIPC(pw.readParquet(bytes).intoIPCStream());
    const rows = [];
    for (let i = 0; i < t.numRows; i++) {
        const o = {};
        for (const f of t.schema.fields) o[f.name] = norm(t.getChild(f.name).get(i), f.type);
        rows.push(o);
    }
    return rows;
}

function rsWrite(name, table, build) {
    const ipc = arrow.tableToIPC(table, 'stream');
    const props = build(new pw.WriterPropertiesBuilder()).build();
    const bytes = pw.writeParquet(pw.Table.fromIPCStream(ipc), props);
    writeFileSync(join(out, name + '.parquet'), bytes);
    writeJsonl(name, rsReadBack(readFileSync(join(out, name + '.parquet'))));
}

const N = 400;
const idx = [...Array(N).keys()];
const msg = new arrow.Struct([new arrow.Field('role', new arrow.Utf8(), true),
    new arrow.Field('content', new arrow.Utf8(), true)]);
const rm = new arrow.Struct([new arrow.Field('ground_truth', new arrow.Utf8(), true),
    new arrow.Field('style', new arrow.Utf8(), true)]);
const flat = arrow.makeTable({
    b: arrow.vectorFromArray(idx.map((i) => (i % 7 === 0 ? null : i % 3 === 0)), new arrow.Bool()),
    i32: arrow.vectorFromArray(idx.map((i) => (i % 11 === 0 ? null : ((i * 7919) % 100003) - 50000)), new arrow.Int32()),
    i64: arrow.vectorFromArray(idx.map((i) => BigInt(i) * 1000003n - 2000000000n), new arrow.Int64()),
    f: arrow.vectorFromArray(idx.map((i) => (i % 5 === 0 ? null : i / 8)), new arrow.Float32()),
    d: arrow.vectorFromArray(idx.map((i) => i * 0.25 - 100), new arrow.Float64()),
    s: arrow.vectorFromArray(idx.map((i) => (i % 13 === 0 ? null : `row ${i} é ☃ ` + 'x'.repeat(i % 9))), new arrow.Utf8()),
    s2: arrow.vectorFromArray(idx.map((i) => `prefix-shared-${Math.floor(i / 3)}-${i % 3}`), new arrow.Utf8()),
    bin: arrow.vectorFromArray(idx.map((i) => (i % 3 === 0 ? null : new Uint8Array([0, 1, i % 256, 255]))), new arrow.Binary()),
    fixed: arrow.vectorFromArray(idx.map((i) => (i % 4 === 0 ? null : new Uint8Array([i % 256, 2, 3, 4]))), new arrow.FixedSizeBinary(4)),
});
const C = pw.Compression, E = pw.Encoding, V = pw.WriterVersion;
rsWrite('rs_plain_v1_snappy', flat, (b) => b.setCompression(C.SNAPPY).setDictionaryEnabled(false)
    .setWriterVersion(V.V1).setMaxRowGroupSize(64));
rsWrite('rs_dict_v1_gzip', flat, (b) => b.setCompression(C.GZIP).setDictionaryEnabled(true)
    .setWriterVersion(V.V1).setMaxRowGroupSize(150).setDataPageSizeLimit(256));
rsWrite('rs_delta_v2_zstd', flat, (b) => b.setCompression(C.ZSTD).setDictionaryEnabled(false)
    .setWriterVersion(V.V2).setMaxRowGroupSize(100).setDataPageSizeLimit(512)
    .setColumnEncoding('i32', E.DELTA_BINARY_PACKED).setColumnEncoding('i64', E.DELTA_BINARY_PACKED)
    .setColumnEncoding('s', E.DELTA_LENGTH_BYTE_ARRAY).setColumnEncoding('s2', E.DELTA_BYTE_ARRAY)
    .setColumnEncoding('bin', E.DELTA_LENGTH_BYTE_ARRAY).setColumnEncoding('f', E.BYTE_STREAM_SPLIT)
    .setColumnEncoding('d', E.BYTE_STREAM_SPLIT));
rsWrite('rs_dict_v2_uncompressed', flat, (b) => b.setCompression(C.UNCOMPRESSED).setDictionaryEnabled(true)
    .setWriterVersion(V.V2).setMaxRowGroupSize(128));

const nestedRs = arrow.makeTable({
    prompt: arrow.vectorFromArray(idx.map((i) => (i % 9 === 4 ? null : i % 9 === 5 ? [] :
        [{ role: 'user', content: `problem ${i}` }, ...(i % 2 ? [{ role: 'assistant', content: i % 3 ? `a${i}` : null }] : [])])),
        new arrow.List(new arrow.Field('item', msg, true))),
    reward_model: arrow.vectorFromArray(idx.map((i) => (i % 10 === 0 ? null : { ground_truth: `${i * 3}`, style: i % 4 ? 'rule' : null })), rm),
    nums: arrow.vectorFromArray(idx.map((i) => (i % 6 === 0 ? null : idx.slice(0, i % 5).map((k) => (k === 2 ? null : BigInt(k + i))))),
        new arrow.List(new arrow.Field('item', new arrow.Int64(), true))),
});
rsWrite('rs_nested_v1', nestedRs, (b) => b.setCompression(C.SNAPPY).setWriterVersion(V.V1).setMaxRowGroupSize(100));
rsWrite('rs_nested_v2', nestedRs, (b) => b.setCompression(C.ZSTD).setWriterVersion(V.V2).setMaxRowGroupSize(128)
    .setDictionaryEnabled(false));
// Small pages (a write batch of 7 rows, pages of at most 64 bytes): the reader decodes one page at a time and lists
// of one row are read across pages as it goes.
rsWrite('rs_nested_small_pages_v1', nestedRs, (b) => b.setCompression(C.SNAPPY).setWriterVersion(V.V1)
    .setMaxRowGroupSize(150).setDataPageSizeLimit(64).setWriteBatchSize(7).setDictionaryEnabled(false));
rsWrite('rs_nested_small_pages_v2', nestedRs, (b) => b.setCompression(C.ZSTD).setWriterVersion(V.V2)
    .setMaxRowGroupSize(150).setDataPageSizeLimit(64).setWriteBatchSize(7));
// REQUIRED fields (non-nullable in Arrow): top level, inside a list's struct, a list's elements.
const ridx = [...Array(50).keys()];
const rmsg = new arrow.Struct([new arrow.Field('role', new arrow.Utf8(), false),
    new arrow.Field('content', new arrow.Utf8(), true)]);
const rfields = [
    new arrow.Field('id', new arrow.Int64(), false),
    new arrow.Field('name', new arrow.Utf8(), false),
    new arrow.Field('msgs', new arrow.List(new arrow.Field('item', rmsg, false)), false),
    new arrow.Field('opt_list', new arrow.List(new arrow.Field('item', new arrow.Int32(), false)), true),
];
const rdata = {
    id: ridx.map((i) => BigInt(i)),
    name: ridx.map((i) => `n${i}`),
    msgs: ridx.map((i) => ridx.slice(0, i % 3).map((k) => ({ role: 'r' + k, content: k === 1 ? null : `c${i}` }))),
    opt_list: ridx.map((i) => (i % 4 === 0 ? null : ridx.slice(0, i % 3))),
};
const rschema = new arrow.Schema(rfields);
const required = new arrow.Table(rschema, new arrow.RecordBatch(rschema, arrow.makeData({
    type: new arrow.Struct(rfields), length: ridx.length, nullCount: 0,
    children: rfields.map((f) => arrow.vectorFromArray(rdata[f.name], f.type).data[0]),
})));
rsWrite('rs_required_v1', required, (b) => b.setCompression(C.SNAPPY).setWriterVersion(V.V1).setMaxRowGroupSize(20));
rsWrite('rs_required_v2', required, (b) => b.setCompression(C.GZIP).setWriterVersion(V.V2).setMaxRowGroupSize(20)
    .setDictionaryEnabled(false));

// Small files for the malformed-input sweeps (every byte truncated or flipped): uncompressed so that a flipped byte
// lands in levels, indices and values rather than only in a codec's checksum.
const tidx = [...Array(20).keys()];
const tiny = arrow.makeTable({
    id: arrow.vectorFromArray(tidx.map((i) => (i % 6 === 5 ? null : i * 3)), new arrow.Int32()),
    s: arrow.vectorFromArray(tidx.map((i) => (i % 7 === 6 ? null : `v${i % 4}`)), new arrow.Utf8()),
    prompt: arrow.vectorFromArray(tidx.map((i) => (i % 5 === 4 ? null : [{ role: 'user', content: `p${i % 3}` }])),
        new arrow.List(new arrow.Field('item', msg, true))),
});
rsWrite('tiny_dict_v1', tiny, (b) => b.setCompression(C.UNCOMPRESSED).setDictionaryEnabled(true)
    .setWriterVersion(V.V1).setMaxRowGroupSize(10));
rsWrite('tiny_delta_v2', tiny, (b) => b.setCompression(C.UNCOMPRESSED).setDictionaryEnabled(false)
    .setWriterVersion(V.V2).setMaxRowGroupSize(10).setColumnEncoding('id', E.DELTA_BINARY_PACKED)
    .setColumnEncoding('s', E.DELTA_LENGTH_BYTE_ARRAY));
rsWrite('tiny_snappy', tiny, (b) => b.setCompression(C.SNAPPY).setDictionaryEnabled(true)
    .setWriterVersion(V.V1).setMaxRowGroupSize(10));

// Committed gzipped: the Makefile unpacks tests/fixtures/**/*.gz into build/fixtures/.
for (const f of readdirSync(out)) {
    if (!f.endsWith('.parquet') && !f.endsWith('.jsonl')) continue;
    writeFileSync(join(out, f + '.gz'), gzipSync(readFileSync(join(out, f)), { level: 9 }));
    rmSync(join(out, f));
}
console.log('parquet fixtures written to ' + out);
