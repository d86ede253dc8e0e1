"""The real CLIP tokenizer of Stable Diffusion 1.x, built offline from open_clip's bundled BPE merges.

SD 1.x uses OpenAI's CLIP ViT-L/14 tokenizer. Its vocabulary is fully determined by the BPE merge list
that ``open_clip_torch`` ships as ``open_clip/bpe_simple_vocab_16e6.txt.gz``: the 256 byte symbols, the
same symbols with the end-of-word marker, one entry per merge, then the two special tokens (49,408 ids).
The file is located without importing ``open_clip`` (whose import needs torchvision).
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ToolkitError

if TYPE_CHECKING:
    from transformers import CLIPTextModel, CLIPTokenizer

BPE_FILE = "bpe_simple_vocab_16e6.txt.gz"
VOCAB_SIZE = 49408
MAX_LENGTH = 77
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
# The merge list of CLIP's 49,408-entry vocabulary: 49408 - 256 bytes - 256 end-of-word bytes - 2 specials.
_NUM_MERGES = VOCAB_SIZE - 2 * 256 - 2


def bpe_file() -> Path:
    """Path of open_clip's bundled BPE merges; raises ``ToolkitError`` with the install command if absent."""
    spec = importlib.util.find_spec("open_clip")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / BPE_FILE
        if path.is_file():
            return path
    raise ToolkitError(
        f"the CLIP vocabulary file {BPE_FILE} was not found; install it with "
        "`pip install --no-deps open_clip_torch==3.3.0` (only its data file is used)"
    )


def _byte_symbols() -> list[str]:
    """CLIP's (and GPT-2's) printable stand-ins for the 256 byte values, in vocabulary order: printable
    Latin-1 bytes map to themselves, the rest to code points from 256 upwards."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    shifted = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + i) for i in range(len(shifted))]


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[dict[str, int], list[tuple[str, str]]]:
    with gzip.open(bpe_file(), "rt", encoding="utf-8") as file:
        lines = file.read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : _NUM_MERGES + 1]]  # line 0 is a version header
    symbols = _byte_symbols()
    tokens = [*symbols, *(s + "</w>" for s in symbols), *("".join(m) for m in merges), BOS, EOS]
    return {token: i for i, token in enumerate(tokens)}, merges  # type: ignore[return-value]


def clip_tokenizer() -> CLIPTokenizer:
    """A ``transformers.CLIPTokenizer`` identical to SD 1.5's (``"a photo of a cat"`` encodes as
    ``[49406, 320, 1125, 539, 320, 2368, 49407]``), with ``model_max_length=77``. Built in about a second;
    the parsed vocabulary is cached for the process."""
    from transformers import CLIPTokenizer

    vocab, merges = _vocabulary()
    return CLIPTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=MAX_LENGTH)


def clip_text_encoder(
    tokenizer: CLIPTokenizer, *, width: int, intermediate: int, layers: int, heads: int
) -> CLIPTextModel:
    """A randomly initialised ``CLIPTextModel`` over the whole CLIP vocabulary of ``tokenizer`` (from
    :func:`clip_tokenizer`), with 77 positions and the tokenizer's special ids: SD's text encoder, at the
    size given (``width`` hidden channels, ``intermediate`` MLP channels, ``layers`` x ``heads``)."""
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=VOCAB_SIZE,
            hidden_size=width,
            intermediate_size=intermediate,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            max_position_embeddings=MAX_LENGTH,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.convert_tokens_to_ids(EOS),
            pad_token_id=tokenizer.pad_token_id,
        )
    )
