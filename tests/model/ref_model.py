#!/usr/bin/python3
"""An independent PyTorch (float64) reference of the Llama / Qwen2 architecture for retool's engine tests.

Written from the Hugging Face definitions (RMSNorm, rotate_half RoPE with f32 inverse frequencies, grouped-query
attention with a causal mask, SwiGLU MLP, optional q/k/v bias, tied or untied lm_head); each sequence of a batch runs
on its own, so nothing can attend across sequences. safetensors are read and written by hand (no package needed).

  ref_model.py init DIR ARCH SEED      writes DIR/config.json and DIR/model.safetensors (f32, random weights);
                                       ARCH is qwen2 (bias, GQA, tied) or llama (no bias, GQA, untied)
  ref_model.py run DIR BATCH OUT [ADAPTER]
                                       BATCH: JSON {"seqs": [[ids...], ...], "weights": [[w...], ...]};
                                       OUT (safetensors): logits [N,V], logp [N], entropy [N], loss [1] and
                                       grad.<name> for every parameter of loss = -sum w * logp(next token);
                                       with ADAPTER (a PEFT LoRA folder: adapter_config.json and
                                       adapter_model.safetensors), each targeted projection reads
                                       W + (lora_alpha / r) B A, and grad.<name> covers the adapters too
  ref_model.py run DIR BATCH OUT ADAPTER MASKS
                                       LoRA dropout with given masks, as PEFT computes it in training:
                                       x W^T + (lora_alpha / r) ((x * mask) A^T) B^T, MASKS (safetensors) holding
                                       mask.<module> [N, in] for every adapted module over the packed batch's rows
"""
import json
import struct
import sys

import numpy as np
import torch

torch.set_grad_enabled(True)


def read_st(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = blob[8 + n + a:8 + n + b]
        if info["dtype"] == "F32":
            arr = np.frombuffer(raw, dtype=np.float32)
        elif info["dtype"] == "BF16":
            arr = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            raise ValueError(f"{path}: tensor {name}: dtype {info['dtype']} not handled by the reference")
        out[name] = arr.reshape(info["shape"]).astype(np.float32)
    return out


def write_st(path, tensors):
    header, off, parts = {}, 0, []
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        parts.append(raw)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(parts))


def make_config(arch):
    base = dict(vocab_size=61, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, rms_norm_eps=1e-6, max_position_embeddings=128, hidden_act="silu",
                torch_dtype="float32")
    if arch == "qwen2":
        base.update(architectures=["Qwen2ForCausalLM"], model_type="qwen2", rope_theta=1000000.0,
                    tie_word_embeddings=True)
    else:
        base.update(architectures=["LlamaForCausalLM"], model_type="llama", rope_theta=10000.0,
                    tie_word_embeddings=False, attention_bias=False, num_key_value_heads=1)
    return base


def param_shapes(cfg):
    C, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    NH, KVH = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    HS = C // NH
    bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    shapes = {"model.embed_tokens.weight": (V, C)}
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        shapes[p + "input_layernorm.weight"] = (C,)
        shapes[p + "self_attn.q_proj.weight"] = (NH * HS, C)
        shapes[p + "self_attn.k_proj.weight"] = (KVH * HS, C)
        shapes[p + "self_attn.v_proj.weight"] = (KVH * HS, C)
        if bias:
            shapes[p + "self_attn.q_proj.bias"] = (NH * HS,)
            shapes[p + "self_attn.k_proj.bias"] = (KVH * HS,)
            shapes[p + "self_attn.v_proj.bias"] = (KVH * HS,)
        shapes[p + "self_attn.o_proj.weight"] = (C, NH * HS)
        shapes[p + "post_attention_layernorm.weight"] = (C,)
        shapes[p + "mlp.gate_proj.weight"] = (I, C)
        shapes[p + "mlp.up_proj.weight"] = (I, C)
        shapes[p + "mlp.down_proj.weight"] = (C, I)
    shapes["model.norm.weight"] = (C,)
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = (V, C)
    return shapes


def init(d, arch, seed):
    cfg = make_config(arch)
    rng = np.random.default_rng(seed)
    tensors = {}
    for name, shape in param_shapes(cfg).items():
        if name.endswith("norm.weight"):
            t = 1.0 + 0.2 * rng.standard_normal(shape)
        elif name.endswith("bias"):
            t = 0.2 * rng.standard_normal(shape)
        else:
            t = 0.25 * rng.standard_normal(shape)  # large enough for peaked attention and logits
        tensors[name] = t.astype(np.float32)
    with open(f"{d}/config.json", "w") as f:
        json.dump(cfg, f, indent=1)
    write_st(f"{d}/model.safetensors", tensors)


def rmsnorm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rope_cos_sin(T, HS, theta):
    inv = 1.0 / (theta ** (torch.arange(0, HS, 2, dtype=torch.int64).float() / HS))  # f32, as transformers does
    ang = torch.outer(torch.arange(T, dtype=torch.float32), inv)
    emb = torch.cat((ang, ang), dim=-1)
    return emb.cos().double(), emb.sin().double()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def lora_weights(P, adapter):
    """PEFT's formula written out: W + (alpha / r) B A for every adapted module; returns the effective weights."""
    with open(f"{adapter}/adapter_config.json") as f:
        acfg = json.load(f)
    scale = acfg["lora_alpha"] / acfg["r"]
    W = dict(P)
    for name in P:
        if name.startswith("base_model.model.") and name.endswith(".lora_A.weight"):
            module = name[len("base_model.model."):-len(".lora_A.weight")]
            B = P[name.replace(".lora_A.", ".lora_B.")]
            W[module + ".weight"] = P[module + ".weight"] + scale * (B @ P[name])
    return W


def lora_linear(P, adapter, masks, r0):
    """PEFT's LoRA Linear in training: base product plus the adapter on the dropped-out input (rows r0.. of masks)."""
    with open(f"{adapter}/adapter_config.json") as f:
        acfg = json.load(f)
    scale = acfg["lora_alpha"] / acfg["r"]

    def lin(module, x):
        y = x @ P[module + ".weight"].T
        a = "base_model.model." + module + ".lora_A.weight"
        if a in P:
            mask = masks["mask." + module][r0:r0 + x.shape[0]]
            y = y + scale * ((x * mask) @ P[a].T) @ P[a.replace(".lora_A.", ".lora_B.")].T
        return y
    return lin


def forward_seq(P, cfg, ids, lin=None):
    C, NH, KVH = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    HS, T = C // NH, len(ids)
    eps = cfg["rms_norm_eps"]
    bias = cfg["model_type"] == "qwen2" or cfg.get("attention_bias", False)
    cos, sin = rope_cos_sin(T, HS, cfg.get("rope_theta", 10000.0))
    x = P["model.embed_tokens.weight"][torch.tensor(ids)]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    if lin is None:
        def lin(module, x):
            return x @ P[module + ".weight"].T
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rmsnorm(x, P[p + "input_layernorm.weight"], eps)
        q = lin(p + "self_attn.q_proj", h)
        k = lin(p + "self_attn.k_proj", h)
        v = lin(p + "self_attn.v_proj", h)
        if bias:
            q = q + P[p + "self_attn.q_proj.bias"]
            k = k + P[p + "self_attn.k_proj.bias"]
            v = v + P[p + "self_attn.v_proj.bias"]
        q = q.view(T, NH, HS).transpose(0, 1)
        k = k.view(T, KVH, HS).transpose(0, 1)
        v = v.view(T, KVH, HS).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(NH // KVH, dim=0)
        v = v.repeat_interleave(NH // KVH, dim=0)
        s = (q @ k.transpose(1, 2)) / (HS ** 0.5)
        s = s.masked_fill(mask, float("-inf"))
        o = (torch.softmax(s, dim=-1) @ v).transpose(0, 1).reshape(T, NH * HS)
        x = x + lin(p + "self_attn.o_proj", o)
        h2 = rmsnorm(x, P[p + "post_attention_layernorm.weight"], eps)
        g = lin(p + "mlp.gate_proj", h2)
        u = lin(p + "mlp.up_proj", h2)
        x = x + lin(p + "mlp.down_proj", torch.nn.functional.silu(g) * u)
    hf = rmsnorm(x, P["model.norm.weight"], eps)
    lm = P["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else P["lm_head.weight"]
    return hf @ lm.T


def run(d, batch_path, out_path, adapter=None, masks_path=None):
    with open(f"{d}/config.json") as f:
        cfg = json.load(f)
    raw = read_st(f"{d}/model.safetensors")
    if adapter:
        raw.update(read_st(f"{adapter}/adapter_model.safetensors"))
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in raw.items()}
    with open(batch_path) as f:
        batch = json.load(f)
    masks = None
    if masks_path:
        masks = {k: torch.tensor(v, dtype=torch.float64) for k, v in read_st(masks_path).items()}
    logits_all, logp_all, ent_all, loss, r0 = [], [], [], 0, 0
    for ids, w in zip(batch["seqs"], batch["weights"]):
        if masks is not None:
            z = forward_seq(P, cfg, ids, lora_linear(P, adapter, masks, r0))
        else:
            z = forward_seq(lora_weights(P, adapter) if adapter else P, cfg, ids)
        r0 += len(ids)
        lsm = torch.log_softmax(z, dim=-1)
        tgt = torch.tensor(ids[1:] + [0])
        lp = lsm.gather(1, tgt[:, None])[:, 0]
        lp = torch.cat((lp[:-1], torch.zeros(1, dtype=torch.float64)))  # the last token has no target
        ent = -(lsm.exp() * lsm).sum(-1)
        loss = loss - (torch.tensor(w, dtype=torch.float64) * lp).sum()
        logits_all.append(z)
        logp_all.append(lp)
        ent_all.append(ent)
    loss.backward()
    out = {"logits": torch.cat(logits_all).detach().numpy(), "logp": torch.cat(logp_all).detach().numpy(),
           "entropy": torch.cat(ent_all).detach().numpy(), "loss": np.array([loss.item()])}
    for k, v in P.items():
        out["grad." + k] = v.grad.numpy()
    write_st(out_path, out)


if __name__ == "__main__":
    if sys.argv[1] == "init":
        init(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None,
            sys.argv[6] if len(sys.argv) > 6 else None)
    else:
        sys.exit(f"unknown command {sys.argv[1]}")
