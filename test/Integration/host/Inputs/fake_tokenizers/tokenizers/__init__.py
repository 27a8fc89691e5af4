"""A stand-in for the Hugging Face tokenizers package (generate.test): one
token per character, id = ord(c) (ASCII, within a 256-token vocabulary),
BOS 0 prepended when add_special_tokens; ids 0 and 1 are special. Only what
python -m dsv3 uses: Tokenizer.from_file, encode(...).ids, decode."""
import json


class _Encoding:
    def __init__(self, ids):
        self.ids = ids


class Tokenizer:
    def __init__(self, path):
        with open(path) as f:
            if json.load(f).get("fake") != "chars":
                raise ValueError(f"{path}: not a fake tokenizer")

    @staticmethod
    def from_file(path):
        return Tokenizer(path)

    def encode(self, text, add_special_tokens=True):
        return _Encoding(([0] if add_special_tokens else []) + [ord(c) for c in text])

    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(i) for i in ids if not (skip_special_tokens and i in (0, 1)))
