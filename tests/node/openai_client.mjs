// Drives a running `retool serve` with the official openai npm client and prints what it saw as one JSON object.
// Usage: node tests/node/openai_client.mjs BASE_URL MODEL   (BASE_URL like http://127.0.0.1:8000/v1)
import OpenAI from 'openai';

const [baseURL, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0, timeout: 60000 });
const messages = [{ role: 'user', content: 'Compute 12*15.' }];
const out = {};

async function error(fn) {
  try {
    await fn();
    return { status: 0 };
  } catch (e) {
    return { status: e.status ?? -1, code: e.code ?? null, param: e.param ?? null, type: e.type ?? null,
             message: e.message ?? '', name: e.constructor?.name ?? '' };
  }
}

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

const plain = await client.chat.completions.create({ model, messages, max_tokens: 24, seed: 5 });
const c0 = plain.choices[0];
out.plain = { content: c0.message.content, finish_reason: c0.finish_reason, role: c0.message.role,
              retool: c0.retool ?? null, usage: plain.usage, id: plain.id, object: plain.object };

const stream = await client.chat.completions.create({ model, messages, max_tokens: 24, seed: 5, stream: true,
                                                      stream_options: { include_usage: true } });
let text = '', chunks = 0, finish = null, usage = null, retool = null;
for await (const chunk of stream) {
  chunks++;
  if (chunk.usage) usage = chunk.usage;
  for (const ch of chunk.choices) {
    if (ch.delta?.content) text += ch.delta.content;
    if (ch.finish_reason) finish = ch.finish_reason;
    if (ch.retool) retool = ch.retool;
  }
}
out.stream = { content: text, finish_reason: finish, chunks, usage, retool };

const many = await client.chat.completions.create({ model, messages, max_tokens: 16, n: 3 });
out.n3 = { count: many.choices.length, indices: many.choices.map((c) => c.index),
           answers: many.choices.map((c) => c.retool?.answer ?? null), top: many.retool ?? null };

out.errors = {
  unknown: await error(() => client.chat.completions.create({ model, messages, frequency_penalti: 1 })),
  model: await error(() => client.chat.completions.create({ model: 'no-such-model', messages })),
  cap: await error(() => client.chat.completions.create({ model, messages, max_tokens: 1e6 })),
  big: await error(() => client.chat.completions.create({ model,
                                                          messages: [{ role: 'user', content: 'x'.repeat(2 << 20) }] })),
};

// The server still answers after the errors.
const after = await client.chat.completions.create({ model, messages, max_tokens: 8 });
out.after = after.choices.length;
console.log(JSON.stringify(out));
