// DuckDB's side of bench/parquet_read.c (and the writer of the file it reads):
//   node parquet_bench.mjs write FILE [ROWS]   a DAPO-Math-17k-shaped file of ROWS rows (default 100000), DuckDB's
//                                              defaults (snappy, row groups of 122880 rows); deterministic
//   node parquet_bench.mjs write-v2 FILE [ROWS] the same rows written by DuckDB with PARQUET_VERSION v2 (data pages
//                                              v2, strings DELTA_LENGTH_BYTE_ARRAY; snappy)
//   node parquet_bench.mjs write-rs FILE [ROWS] the same rows written by arrow-rs (parquet-wasm) with its defaults
//                                              but snappy: pages of about 1 MB, row groups of up to 1,048,576 rows
//   node parquet_bench.mjs read FILE [THREADS] reads every row into a JS object (DuckDB's own conversion of each
//                                              value: strings, nested arrays and objects) and prints one JSON line:
//                                              {"rows", "seconds", "cpu_seconds", "rss_mb", "threads"}
// THREADS: DuckDB's worker threads (default: DuckDB's own default, one per core).
import { DuckDBInstance } from '@duckdb/node-api';

const [mode, file, arg] = process.argv.slice(2);
if (!file || !['write', 'write-v2', 'write-rs', 'read'].includes(mode)) {
    console.error('usage: node parquet_bench.mjs write|write-v2|write-rs FILE [ROWS] | read FILE [THREADS]');
    process.exit(2);
}
const esc = (s) => s.replace(/'/g, "''");

if (mode === 'write' || mode === 'write-v2') {
    const rows = Number(arg || 100000);
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    const prefix = 'Solve the following math problem step by step. The last line of your response should be of the ' +
        'form Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n';
    const suffix = '\n\nRemember to put your answer on its own line after "Answer:".';
    // Problem statements of varying length (about 300 to 900 characters, 650 on average).
    await con.run(`COPY (SELECT 'math_dapo' AS data_source,
        [{'content': '${esc(prefix)}' || 'Let $f(x) = ' || (i % 97) || 'x^2 + ' || (i % 13) || '$. ' ||
            repeat('Consider the sequence a_' || (i % 31) || ' defined above and its sum. ', 1 + i % 12) ||
            'Find the value of f(' || i || ') modulo ' || (1000 + i % 7) || '.' || '${esc(suffix)}',
          'role': 'user'}] AS prompt,
        'MATH' AS ability,
        {'ground_truth': ((i * 7919) % 100003)::VARCHAR, 'style': 'rule-lighteval/MATH_v2'} AS reward_model,
        {'index': printf('%08x-%04x-4%03x-a%03x-%012x', i * 2654435761 % 4294967296, i % 65536, i % 4096,
            (i * 7) % 4096, i * 11400714819323198485 % 281474976710656), 'split': 'train'} AS extra_info
      FROM range(${rows}) r(i)) TO '${esc(file)}' (FORMAT parquet${mode === 'write-v2' ? ', PARQUET_VERSION v2' : ''})`);
    con.closeSync?.();
    process.exit(0);
}

if (mode === 'write-rs') {
    const arrow = await import('apache-arrow');
    const pw = await import('parquet-wasm/node');
    const { writeFileSync } = await import('node:fs');
    const rows = Number(arg || 100000);
    const prefix = 'Solve the following math problem step by step. The last line of your response should be of the ' +
        'form Answer: $Answer (without quotes) where $Answer is the answer to the problem.\n\n';
    const suffix = '\n\nRemember to put your answer on its own line after "Answer:".';
    const idx = [...Array(rows).keys()];
    const hex = (v, w) => v.toString(16).padStart(w, '0');
    const msg = new arrow.Struct([new arrow.Field('content', new arrow.Utf8(), true),
        new arrow.Field('role', new arrow.Utf8(), true)]);
    const table = arrow.makeTable({
        data_source: arrow.vectorFromArray(idx.map(() => 'math_dapo'), new arrow.Utf8()),
        prompt: arrow.vectorFromArray(idx.map((i) => [{ content: prefix + `Let $f(x) = ${i % 97}x^2 + ${i % 13}$. ` +
            `Consider the sequence a_${i % 31} defined above and its sum. `.repeat(1 + (i % 12)) +
            `Find the value of f(${i}) modulo ${1000 + (i % 7)}.` + suffix, role: 'user' }]),
        new arrow.List(new arrow.Field('item', msg, true))),
        ability: arrow.vectorFromArray(idx.map(() => 'MATH'), new arrow.Utf8()),
        reward_model: arrow.vectorFromArray(idx.map((i) => ({ ground_truth: String((i * 7919) % 100003),
            style: 'rule-lighteval/MATH_v2' })), new arrow.Struct([new arrow.Field('ground_truth', new arrow.Utf8(), true),
            new arrow.Field('style', new arrow.Utf8(), true)])),
        extra_info: arrow.vectorFromArray(idx.map((i) => ({ index: `${hex((i * 2654435761) % 4294967296, 8)}-` +
            `${hex(i % 65536, 4)}-4${hex(i % 4096, 3)}-a${hex((i * 7) % 4096, 3)}-${hex(i, 12)}`, split: 'train' })),
        new arrow.Struct([new arrow.Field('index', new arrow.Utf8(), true), new arrow.Field('split', new arrow.Utf8(), true)])),
    });
    const props = new pw.WriterPropertiesBuilder().setCompression(pw.Compression.SNAPPY).build();
    writeFileSync(file, pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), props));
    process.exit(0);
}

const config = arg ? { threads: String(arg) } : {};
const db = await DuckDBInstance.create(':memory:', config);
const con = await db.connect();
const threads = (await con.runAndReadAll(`SELECT current_setting('threads')`)).getRows()[0][0];
const c0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
const result = await con.stream(`SELECT * FROM read_parquet('${esc(file)}')`);
let rows = 0, chars = 0;
for await (const objs of result.yieldRowObjectJs()) {
    for (const o of objs) {
        rows++;
        chars += o.prompt[0].content.length; // touch a nested value so that nothing is left lazy
    }
}
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cu = process.cpuUsage(c0);
const rss = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({ rows, seconds, cpu_seconds: (cu.user + cu.system) / 1e6, rss_mb: rss,
    threads: Number(threads), chars }));
