"""dsv3: text generation with dsv3-compiled DeepSeek models.

    python -m dsv3 generate --model DeepSeek-V3/ --module model.so \\
        --prompt "The capital of France is" --max-new-tokens 32

The module comes from dsv3-import + dsv3-compile; generation runs on
python/dsv3rt.py (Session.generate, a ctypes binding of libdsv3rt).
Tokenization uses the Hugging Face `tokenizers` package and the model
directory's tokenizer.json; --chat renders tokenizer_config.json's chat
template with `jinja2`. Only this front end needs them (requirements.txt
lists both; --prompt-ids works without). See docs/generate.md.
"""

import json
import os
import sys

try:
    import dsv3rt
except ImportError:  # python/dsv3rt.py next to this package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import dsv3rt

Error = dsv3rt.Error

__all__ = ["Error", "eos_token_ids", "load_tokenizer", "chat_prompt", "TextStream"]


def eos_token_ids(model_dir):
    """config.json's eos_token_id as a list: an int or a list of ints;
    absent, null or no config.json -> []."""
    path = os.path.join(model_dir, "config.json")
    if not os.path.exists(path):
        return []
    try:
        with open(path) as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise Error(f"{path}: not valid JSON: {e}") from None
    value = config.get("eos_token_id") if isinstance(config, dict) else None
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise Error(f"{path}: eos_token_id must be a non-negative integer or a list of them, "
                    f"got {json.dumps(value)}")
    return values


def load_tokenizer(model_dir):
    """tokenizers.Tokenizer from MODEL_DIR/tokenizer.json."""
    path = os.path.join(model_dir, "tokenizer.json")
    if not os.path.exists(path):
        raise Error(f"{model_dir} has no tokenizer.json, so text cannot be tokenized "
                    "(copy the model's tokenizer.json there, or pass token ids with --prompt-ids)")
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise Error("text prompts need the Hugging Face tokenizers package "
                    "(pip install tokenizers), or pass token ids with --prompt-ids") from None
    return Tokenizer.from_file(path)


def _special(config, key):
    value = config.get(key)
    if isinstance(value, dict):  # AddedToken serialisation
        value = value.get("content")
    return value or ""


def chat_prompt(model_dir, text, system=None):
    """The chat template of MODEL_DIR/tokenizer_config.json rendered for one
    user message (and an optional system message), ending with the
    generation prompt (the assistant's turn)."""
    path = os.path.join(model_dir, "tokenizer_config.json")
    if not os.path.exists(path):
        raise Error(f"--chat: {model_dir} has no tokenizer_config.json (which holds the chat template)")
    with open(path) as f:
        config = json.load(f)
    template = config.get("chat_template")
    if isinstance(template, list):  # [{"name": ..., "template": ...}]
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    if not isinstance(template, str) or not template:
        raise Error(f"--chat: {path} has no chat_template")
    try:
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:
        raise Error("--chat needs the jinja2 package to render the chat template (pip install jinja2)") from None

    def raise_exception(message):
        raise Error(f"--chat: the chat template refused the conversation: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": text}]
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=True,
        bos_token=_special(config, "bos_token"), eos_token=_special(config, "eos_token"))


class TextStream:
    """Turns generated ids into text increments: decodes everything so far
    (skipping special tokens) and returns what is new, holding back a
    trailing incomplete UTF-8 sequence (decoded as U+FFFD until its last
    byte arrives). finish() returns what is still held back: bytes that never
    became valid UTF-8 (a random model emits them) print as U+FFFD."""

    def __init__(self, tokenizer):
        self.tokenizer, self.ids, self.printed = tokenizer, [], 0

    def _text(self):
        return self.tokenizer.decode(self.ids, skip_special_tokens=True)

    def add(self, token):
        self.ids.append(int(token))
        text = self._text()
        if text.endswith("\ufffd"):
            return ""
        new, self.printed = text[self.printed:], len(text)
        return new

    def finish(self):
        text = self._text()
        new, self.printed = text[self.printed:], len(text)
        return new
